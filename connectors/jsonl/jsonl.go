// Package jsonl is a call source that reads normalized events as JSON lines:
// one connectors.Event per line, from a regular file it follows like
// `tail -F`, from a named pipe, or from standard input.
//
// It is for scripting and for PBXes Ringside has no connector for, e.g.
//
//	asterisk-ami-tool | jq -c '…' > /run/ringside.fifo
//
// and it drives Ringside's own end-to-end tests.
package jsonl

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ringside/ringside/connectors"
)

//go:embed sample.toml
var sample string

// Type is the "jsonl" connector type: a Source of JSON-lines events.
func Type() connectors.Type {
	return connectors.Type{
		Name:   "jsonl",
		Doc:    "Read call events as JSON lines from a file, a named pipe or standard input",
		Sample: []byte(sample),
		New:    newSource,
	}
}

// MaxLine is the longest line accepted, in bytes; a longer one is skipped.
const MaxLine = 64 << 10

const defaultPoll = 250 * time.Millisecond

// config is the settings section of a "jsonl" connector.
type config struct {
	Path      string `toml:"path"`
	FromStart bool   `toml:"from_start"`
	Poll      string `toml:"poll"`
}

// Source reads events from one path. Run is called by the runner, one call
// at a time.
type Source struct {
	name      string
	path      string // resolved; "-" is standard input
	display   string // as configured, for messages
	fromStart bool
	poll      time.Duration
	vendor    string // for lines that name none
	phones    *connectors.PhoneParser
	logger    *slog.Logger
	clock     clockwork.Clock
	// stdin opens standard input so that Close unblocks a Read; restore
	// undoes what opening changed, once reading has stopped.
	stdin func() (rc io.ReadCloser, restore func(), err error)

	mu     sync.Mutex
	resume *position // where the last Run left a regular file
}

// position is a place in a regular file: after the last whole line read.
type position struct {
	info   os.FileInfo
	offset int64
}

func newSource(sec connectors.Section, deps connectors.Deps) (any, error) {
	var cfg config
	if err := sec.Decode(&cfg); err != nil {
		return nil, err
	}
	where := sec.Where()
	if strings.TrimSpace(cfg.Path) == "" {
		return nil, fmt.Errorf("%s: path: required: a file, a named pipe, or \"-\" for standard input", where)
	}
	if deps.Phones == nil {
		return nil, fmt.Errorf("%s: no phone parser (a wiring bug)", where)
	}
	s := &Source{
		name:      deps.Name,
		path:      cfg.Path,
		display:   cfg.Path,
		fromStart: cfg.FromStart,
		poll:      defaultPoll,
		vendor:    "jsonl:" + deps.Name,
		phones:    deps.Phones,
		logger:    deps.Logger,
		clock:     deps.Clock,
		stdin:     openStdin,
	}
	if cfg.Path != "-" {
		p, err := connectors.ResolvePath(deps.ConfigDir, cfg.Path)
		if err != nil {
			return nil, fmt.Errorf("%s: path: %w", where, err)
		}
		s.path = p
	} else if cfg.FromStart {
		return nil, fmt.Errorf("%s: from_start: only for a regular file, not for standard input", where)
	}
	if cfg.Poll != "" {
		d, err := time.ParseDuration(cfg.Poll)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%s: poll: %q is not a positive duration such as \"250ms\"", where, cfg.Poll)
		}
		s.poll = d
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.clock == nil {
		s.clock = clockwork.NewRealClock()
	}
	return s, nil
}

// Run reads events until ctx is done, then returns nil. It calls link.Up
// once the file, pipe or standard input is open.
//
//   - A regular file is followed like `tail -F`: reading starts at its end
//     (at its start with from_start, and where the last Run stopped when
//     Run is called again for the same file), growth is polled every poll,
//     and a file that shrinks or is replaced is read again from its start.
//     A last line without its newline waits for it.
//   - A named pipe is opened for reading and writing, so the open does not
//     wait for a writer and a writer closing is not the end: Run goes on
//     reading the next writer. (A writer that closes in the middle of a line
//     has that half line joined to the next writer's first.)
//   - "-" is standard input; its end is the end of the feed, and Run
//     returns an error so the runner backs off.
//
// Errors opening or reading are returned for the runner to retry.
func (s *Source) Run(ctx context.Context, link connectors.Link) error {
	if ctx.Err() != nil {
		return nil
	}
	if s.path == "-" {
		return s.runStdin(ctx, link)
	}
	info, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("jsonl: %w", err)
	}
	switch {
	case info.Mode()&fs.ModeNamedPipe != 0:
		return s.runFIFO(ctx, link)
	case info.Mode().IsRegular():
		return s.runFile(ctx, link)
	}
	return fmt.Errorf("jsonl: %s is neither a regular file nor a named pipe", s.display)
}

func (s *Source) runStdin(ctx context.Context, link connectors.Link) error {
	rc, restore, err := s.stdin()
	if err != nil {
		return fmt.Errorf("jsonl: open standard input: %w", err)
	}
	defer restore()
	link.Info("input", "standard input")
	link.Up("reading standard input")
	return s.readStream(ctx, link, rc, "standard input", errors.New("jsonl: standard input ended: the feed is over"))
}

func (s *Source) runFIFO(ctx context.Context, link connectors.Link) error {
	rc, err := openFIFO(s.path)
	if err != nil {
		return fmt.Errorf("jsonl: %w", err)
	}
	link.Info("input", "named pipe "+s.display)
	link.Up("reading " + s.path)
	return s.readStream(ctx, link, rc, s.display, fmt.Errorf("jsonl: %s: end of input", s.display))
}

// readStream reads rc until ctx is done (nil), its end (atEOF) or an
// error. rc must be such that Close unblocks a pending Read; it is closed
// when readStream returns.
func (s *Source) readStream(ctx context.Context, link connectors.Link, rc io.ReadCloser, what string, atEOF error) error {
	var once sync.Once
	closeRC := func() { once.Do(func() { _ = rc.Close() }) }
	stopped := make(chan struct{})
	// The AfterFunc goroutine runs only once ctx is done; it closes rc to
	// unblock the Read below and exits. We wait for it before returning.
	stop := context.AfterFunc(ctx, func() {
		defer close(stopped)
		closeRC()
	})
	defer func() {
		if !stop() {
			<-stopped
		}
		closeRC()
	}()

	lr := s.newLineReader(link)
	buf := make([]byte, 32<<10)
	for {
		n, err := rc.Read(buf)
		if ctx.Err() != nil {
			return nil
		}
		lr.feed(buf[:n])
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			lr.flush()
			return atEOF
		default:
			return fmt.Errorf("jsonl: read %s: %w", what, err)
		}
	}
}

// runFile follows a regular file like `tail -F`.
func (s *Source) runFile(ctx context.Context, link connectors.Link) error {
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("jsonl: %w", err)
	}
	defer func() { _ = f.Close() }() // f changes when the file is replaced
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("jsonl: %w", err)
	}
	offset := s.startAt(info)
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return fmt.Errorf("jsonl: %w", err)
	}
	link.Info("input", "file "+s.display)
	link.Up("reading " + s.path)

	lr := s.newLineReader(link)
	buf := make([]byte, 32<<10)
	// readToEnd reads what the file has now. Reads of a regular file do not
	// block, so no goroutine is needed to honour ctx.
	readToEnd := func() error {
		for ctx.Err() == nil {
			n, err := f.Read(buf)
			offset += int64(n)
			lr.feed(buf[:n])
			if errors.Is(err, io.EOF) || n == 0 && err == nil {
				return nil
			}
			if err != nil {
				return fmt.Errorf("jsonl: read %s: %w", s.display, err)
			}
		}
		return nil
	}
	defer func() { s.save(info, offset-int64(lr.partial())) }()
	for {
		if err := readToEnd(); err != nil {
			return err
		}
		t := s.clock.NewTimer(s.poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.Chan():
		}

		// Replaced (rotated): finish the old file, then read the new one
		// from its start. Gone: keep the old one until a new one appears.
		if now, err := os.Stat(s.path); err == nil && !os.SameFile(now, info) {
			if err := readToEnd(); err != nil {
				return err
			}
			nf, err := os.Open(s.path)
			if err != nil {
				continue
			}
			nInfo, err := nf.Stat()
			if err != nil {
				_ = nf.Close()
				continue
			}
			_ = f.Close()
			f, info, offset = nf, nInfo, 0
			lr.reset()
			s.logger.Info("jsonl: file replaced, reading the new one from its start", "path", s.display)
			continue
		}
		// Truncated: read again from the start.
		if now, err := f.Stat(); err == nil && now.Size() < offset {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return fmt.Errorf("jsonl: %w", err)
			}
			offset = 0
			lr.reset()
			s.logger.Info("jsonl: file truncated, reading it from its start", "path", s.display)
		}
	}
}

// startAt is where reading a newly opened file starts: where the previous
// Run left the same file, else its start or end as configured.
func (s *Source) startAt(info os.FileInfo) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.resume; r != nil && os.SameFile(r.info, info) && r.offset <= info.Size() {
		return r.offset
	}
	if s.fromStart {
		return 0
	}
	return info.Size()
}

func (s *Source) save(info os.FileInfo, offset int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resume = &position{info: info, offset: max(offset, 0)}
}

// lineReader splits input into lines and hands each to Decode and the link.
type lineReader struct {
	s       *Source
	link    connectors.Link
	pending []byte // the current line so far
	long    int    // >0: length of an over-long line being discarded
	line    int    // lines seen, for messages
}

func (s *Source) newLineReader(link connectors.Link) *lineReader {
	return &lineReader{s: s, link: link}
}

func (r *lineReader) feed(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			r.add(b)
			return
		}
		r.add(b[:i])
		r.end()
		b = b[i+1:]
	}
}

func (r *lineReader) add(b []byte) {
	switch {
	case r.long > 0:
		r.long += len(b)
	case len(r.pending)+len(b) > MaxLine:
		r.long = len(r.pending) + len(b)
		r.pending = r.pending[:0]
	default:
		r.pending = append(r.pending, b...)
	}
}

// end handles the line read so far.
func (r *lineReader) end() {
	r.line++
	if r.long > 0 {
		r.s.logger.Warn("jsonl: line skipped", "line", r.line, "error", fmt.Sprintf("line longer than %d KiB", MaxLine>>10))
		r.long = 0
		return
	}
	line := bytes.TrimSpace(r.pending)
	r.pending = r.pending[:0]
	if len(line) == 0 {
		return
	}
	ev, err := Decode(line, r.s.phones, r.s.vendor)
	if err != nil {
		r.s.logger.Warn("jsonl: line skipped", "line", r.line, "error", err)
		return
	}
	r.link.Emit(ev)
}

// flush handles a last line that has no newline.
func (r *lineReader) flush() {
	if len(r.pending) > 0 || r.long > 0 {
		r.end()
	}
}

// reset forgets a partial line (the file under it changed).
func (r *lineReader) reset() {
	r.pending = r.pending[:0]
	r.long = 0
}

// partial is the number of bytes of the current, unfinished line.
func (r *lineReader) partial() int {
	if r.long > 0 {
		return r.long
	}
	return len(r.pending)
}

// Decode reads one line: a JSON object that unmarshals into
// connectors.Event, with kinds, directions, results and statuses in their
// text spellings, e.g.
//
//	{"kind":"ringing","direction":"in","call_id":"a1","vendor":"pbx","phone":{"raw":"0211234567"},"at":"2026-11-21T10:00:00Z"}
//
// The number is normalized with phones from phone.raw (an "e164" sent is
// ignored, and used as the raw number only when raw is missing). vendor is
// used when the line names none. Unknown fields are ignored. The kind must
// be known and not "unknown"; agent_status needs a status. Source and
// Received are left for the runner. phones must not be nil.
//
// Errors never quote the line's digits, so they may be logged.
func Decode(line []byte, phones *connectors.PhoneParser, vendor string) (connectors.Event, error) {
	if len(line) > MaxLine {
		return connectors.Event{}, fmt.Errorf("line longer than %d KiB", MaxLine>>10)
	}
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return connectors.Event{}, errors.New("not a JSON object")
	}
	var ev connectors.Event
	if err := json.Unmarshal(line, &ev); err != nil {
		return connectors.Event{}, fmt.Errorf("bad JSON: %s", maskDigits(err.Error()))
	}
	switch {
	case ev.Kind == connectors.KindUnknown:
		return connectors.Event{}, errors.New(`kind is missing or "unknown"`)
	case ev.Kind == connectors.KindAgentStatus && ev.Status == connectors.StatusUnknown:
		return connectors.Event{}, errors.New("agent_status without a status")
	}
	raw := ev.Phone.Raw
	if raw == "" {
		raw = ev.Phone.E164
	}
	ev.Phone = connectors.Phone{}
	if raw != "" {
		ev.Phone = phones.Parse(raw)
	}
	if ev.Vendor == "" {
		ev.Vendor = vendor
	}
	ev.Source = ""
	ev.Received = time.Time{}
	return ev, nil
}

// maskDigits hides digits in a message that may quote input.
func maskDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '#'
		}
		return r
	}, s)
}
