// Package contacts looks callers up in local contact files, CSV or vCard, so
// Ringside shows who is calling without any CRM account. It is the embedded
// default CRM: the app core builds a Book from the top-level `contacts`
// setting when no CRM connector is configured, and the "contacts" connector
// type offers the same as a configured Lookuper.
//
// A Book keeps every contact of its files in memory, indexed by
// connectors.Phone.Key. On lookup it checks, at most once a second, whether a
// file changed (modification time or size) and reloads it, so an edited CSV
// takes effect without a restart. A file that fails to load on reload keeps
// its previous contacts.
package contacts

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ringside/ringside/connectors"
)

//go:embed sample.toml
var sample string

// Type is the "contacts" connector type: a Lookuper and Tester over local
// contact files.
func Type() connectors.Type {
	return connectors.Type{
		Name:   "contacts",
		Doc:    "Look callers up in local contact files (CSV or vCard); no CRM account needed",
		Sample: []byte(sample),
		New:    newConnector,
	}
}

// config is the settings section of a "contacts" connector.
type config struct {
	// Files are CSV or vCard files, relative to the settings file's
	// directory; "~/" is the home directory.
	Files []string `toml:"files"`
}

func newConnector(sec connectors.Section, deps connectors.Deps) (any, error) {
	var cfg config
	if err := sec.Decode(&cfg); err != nil {
		return nil, err
	}
	if len(cfg.Files) == 0 {
		return nil, fmt.Errorf("%s: files: list at least one contact file, for example files = [\"contacts.csv\"]", sec.Where())
	}
	if deps.Phones == nil {
		return nil, fmt.Errorf("%s: no phone parser (a wiring bug)", sec.Where())
	}
	specs := make([]fileSpec, len(cfg.Files))
	for i, name := range cfg.Files {
		if strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("%s: files: entry %d is empty", sec.Where(), i+1)
		}
		path, err := connectors.ResolvePath(deps.ConfigDir, name)
		if err != nil {
			return nil, fmt.Errorf("%s: files: %s: %w", sec.Where(), name, err)
		}
		specs[i] = fileSpec{name: name, path: path}
	}
	source := deps.Name
	if source == "" {
		source = "contacts"
	}
	b, err := newBook(specs, deps.Phones, deps.Logger, deps.Clock, source)
	if err != nil {
		return nil, fmt.Errorf("%s: files: %w", sec.Where(), err)
	}
	return b, nil
}

// reloadEvery bounds how often a lookup checks the files for changes.
const reloadEvery = time.Second

// maxFileSize bounds one contact file; larger files are refused.
const maxFileSize = 64 << 20

// Book is an in-memory phone book built from contact files. It is safe for
// concurrent use.
type Book struct {
	phones *connectors.PhoneParser
	logger *slog.Logger
	clock  clockwork.Clock
	source string

	mu      sync.Mutex // guards files and checked; held while (re)loading
	files   []*file
	checked time.Time

	idx atomic.Pointer[index] // replaced whole after a reload
}

// fileSpec names a contact file: as configured (for messages) and resolved.
type fileSpec struct {
	name string
	path string
}

// wrap names the file in err, once, with its resolved path when that
// differs from the configured name.
func (s fileSpec) wrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == s.path {
		if s.name == s.path {
			return fmt.Errorf("%s: %w", s.name, pe.Err)
		}
		return fmt.Errorf("%s (%s): %w", s.name, s.path, pe.Err)
	}
	return fmt.Errorf("%s: %w", s.name, err)
}

// file is one contact file and what was last loaded from it.
type file struct {
	fileSpec
	loaded  stamp  // version the contacts below come from
	data    parsed // contacts and warnings of that version
	err     error  // why the current version could not be loaded; nil when data is current
	errSeen string // err and version already logged, so a failure is logged once
}

// stamp identifies a version of a file.
type stamp struct {
	mod  time.Time
	size int64
}

func (s stamp) same(o stamp) bool { return s.size == o.size && s.mod.Equal(o.mod) }

// index maps phone keys to contacts; the first file and row win.
type index struct {
	byKey map[string]*connectors.Contact
	n     int // contacts with at least one number
}

// NewBook reads the contact files (CSV or vCard, told apart by extension or
// content) and returns a Book over them. Relative paths are relative to the
// working directory: the caller resolves them against the settings file's
// directory. A leading "~/" is the home directory. A file that cannot be read
// or has no usable header is an error naming it; malformed rows are skipped
// and logged. Contacts it returns have Source "contacts".
func NewBook(files []string, phones *connectors.PhoneParser, logger *slog.Logger) (*Book, error) {
	if phones == nil {
		return nil, errors.New("contacts: no phone parser")
	}
	specs := make([]fileSpec, len(files))
	for i, name := range files {
		path, err := connectors.ResolvePath("", name)
		if err != nil {
			return nil, fmt.Errorf("contacts: %s: %w", name, err)
		}
		specs[i] = fileSpec{name: name, path: path}
	}
	b, err := newBook(specs, phones, logger, nil, "contacts")
	if err != nil {
		return nil, fmt.Errorf("contacts: %w", err)
	}
	return b, nil
}

func newBook(specs []fileSpec, phones *connectors.PhoneParser, logger *slog.Logger, clock clockwork.Clock, source string) (*Book, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	b := &Book{
		phones: phones,
		logger: logger, // the app tags it with the connector name
		clock:  clock,
		source: source,
	}
	for _, s := range specs {
		f := &file{fileSpec: s}
		st, data, err := load(s.path, phones)
		if err != nil {
			return nil, s.wrap(err)
		}
		f.loaded, f.data = st, data
		b.warnSkipped(f)
		b.files = append(b.files, f)
	}
	b.checked = clock.Now()
	b.rebuild()
	return b, nil
}

// load reads and parses one file, returning the version it read.
func load(path string, phones *connectors.PhoneParser) (stamp, parsed, error) {
	fh, err := os.Open(path)
	if err != nil {
		return stamp{}, parsed{}, err
	}
	defer fh.Close()
	info, err := fh.Stat()
	if err != nil {
		return stamp{}, parsed{}, err
	}
	if !info.Mode().IsRegular() {
		return stamp{}, parsed{}, errors.New("not a regular file")
	}
	if info.Size() > maxFileSize {
		return stamp{}, parsed{}, fmt.Errorf("file too large (%d MiB); contact files may be up to %d MiB", info.Size()>>20, maxFileSize>>20)
	}
	data, err := io.ReadAll(io.LimitReader(fh, maxFileSize+1))
	if err != nil {
		return stamp{}, parsed{}, fmt.Errorf("read: %w", err)
	}
	st := stamp{mod: info.ModTime(), size: info.Size()}
	var p parsed
	if isVCard(path, data) {
		p, err = parseVCard(data, phones)
	} else {
		p, err = parseCSV(data, phones)
	}
	return st, p, err
}

// isVCard tells the format by extension, then by content.
func isVCard(path string, data []byte) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".vcf", ".vcard":
		return true
	case ".csv", ".tsv", ".txt":
		return false
	}
	head := strings.TrimLeft(string(data[:min(len(data), 64)]), "\ufeff \t\r\n")
	return len(head) >= 11 && strings.EqualFold(head[:11], "BEGIN:VCARD")
}

// rebuild indexes every file's contacts, in order; the first wins a number.
func (b *Book) rebuild() {
	idx := &index{byKey: make(map[string]*connectors.Contact)}
	for _, f := range b.files {
		for i := range f.data.contacts {
			e := &f.data.contacts[i]
			c := e.contact
			c.Source = b.source
			for _, k := range e.keys {
				if _, dup := idx.byKey[k]; !dup {
					idx.byKey[k] = &c
				}
			}
			idx.n++
		}
	}
	b.idx.Store(idx)
}

// refresh reloads the files that changed, at most once per reloadEvery
// unless force is set. A lookup that finds another one reloading does not
// wait for it and answers from the current index.
func (b *Book) refresh(force bool) {
	if force {
		b.mu.Lock()
	} else if !b.mu.TryLock() {
		return
	}
	defer b.mu.Unlock()
	now := b.clock.Now()
	if !force && now.Sub(b.checked) < reloadEvery && !now.Before(b.checked) {
		return
	}
	b.checked = now
	changed := false
	for _, f := range b.files {
		info, err := os.Stat(f.path)
		if err != nil {
			b.fail(f, stamp{}, err)
			continue
		}
		st := stamp{mod: info.ModTime(), size: info.Size()}
		if st.same(f.loaded) {
			f.err, f.errSeen = nil, ""
			continue
		}
		// A file that failed is tried again on every check: fixing its
		// permissions, say, changes neither its time nor its size.
		loaded, data, err := load(f.path, b.phones)
		if err != nil {
			b.fail(f, st, err)
			continue
		}
		st = loaded
		f.loaded, f.data, f.err, f.errSeen = st, data, nil, ""
		changed = true
		b.logger.Info("contacts: file reloaded", "file", f.name, "contacts", len(data.contacts))
		b.warnSkipped(f)
	}
	if changed {
		b.rebuild()
	}
}

// fail records that f could not be (re)loaded and logs it once per version
// and reason. The previous contacts stay in use.
func (b *Book) fail(f *file, st stamp, err error) {
	f.err = err
	key := failKey(st, err)
	if f.errSeen == key {
		return
	}
	f.errSeen = key
	b.logger.Warn("contacts: cannot reload file, keeping its previous contacts", "file", f.name, "error", err)
}

func failKey(st stamp, err error) string {
	return fmt.Sprintf("%d/%d/%v", st.mod.UnixNano(), st.size, err)
}

func (b *Book) warnSkipped(f *file) {
	if f.data.skipped == 0 {
		return
	}
	b.logger.Warn("contacts: rows skipped", "file", f.name, "skipped", f.data.skipped, "first", f.data.warnings[0])
}

// Lookup returns the contact with number p, or a Contact that is not Known.
// A number without E164 is parsed again with the book's phone parser. It
// reloads changed files first (at most once a second) and never fails.
func (b *Book) Lookup(_ context.Context, p connectors.Phone) (connectors.Contact, error) {
	b.refresh(false)
	if p.E164 == "" && p.Raw != "" {
		p = b.phones.Parse(p.Raw)
	}
	key := p.Key()
	if key == "" {
		return connectors.Contact{}, nil
	}
	c, ok := b.idx.Load().byKey[key]
	if !ok {
		return connectors.Contact{}, nil
	}
	out := *c
	out.Extra = maps.Clone(c.Extra)
	return out, nil
}

// Len is the number of contacts with at least one number, over all files.
func (b *Book) Len() int { return b.idx.Load().n }

// Summary says what the book holds, e.g. "412 contacts from 2 files".
func (b *Book) Summary() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.summary()
}

func (b *Book) summary() string {
	s := fmt.Sprintf("%d contacts from %d %s", b.Len(), len(b.files), plural(len(b.files), "file", "files"))
	noPhone := 0
	for _, f := range b.files {
		noPhone += f.data.noPhone
	}
	if noPhone > 0 {
		s += fmt.Sprintf(" (%d without a phone number left out)", noPhone)
	}
	return s
}

// Test rereads changed files and fails, with the counts and what to fix,
// when a file cannot be read or parsed or rows of it were skipped. When all
// is well it returns nil; Summary then gives the counts.
func (b *Book) Test(context.Context) error {
	b.refresh(true)
	b.mu.Lock()
	defer b.mu.Unlock()
	var problems []string
	for _, f := range b.files {
		if f.err != nil {
			problems = append(problems, fmt.Sprintf("%s cannot be read, using its previous version: %v", f.name, f.err))
		}
		if n := f.data.skipped; n > 0 {
			problems = append(problems, fmt.Sprintf("%d %s skipped in %s: %s", n, plural(n, "row", "rows"), f.name, strings.Join(f.data.warnings, "; ")))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%s; %s", b.summary(), strings.Join(problems, "; "))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// parsed is what one file yields.
type parsed struct {
	contacts []entry
	skipped  int      // malformed rows or cards
	warnings []string // the first few reasons, "line 7: …"; never a number
	noPhone  int      // rows or cards without any phone number
}

// maxWarnings bounds the reasons kept per file.
const maxWarnings = 3

func (p *parsed) skip(reason string) {
	p.skipped++
	if len(p.warnings) < maxWarnings {
		p.warnings = append(p.warnings, reason)
	}
}

// entry is a contact and the phone keys it is found by.
type entry struct {
	contact connectors.Contact
	keys    []string
}

// addNumbers parses each raw number and appends its key, once.
func addNumbers(keys []string, phones *connectors.PhoneParser, raws ...string) []string {
	for _, raw := range raws {
		k := phones.Parse(raw).Key()
		if k == "" || k == "+" {
			continue
		}
		dup := false
		for _, have := range keys {
			if have == k {
				dup = true
				break
			}
		}
		if !dup {
			keys = append(keys, k)
		}
	}
	return keys
}
