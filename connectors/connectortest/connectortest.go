// Package connectortest holds helpers for connector tests: a settings
// section decoded from a TOML string, a keyring, a log buffer, a Link that
// records what a Source reports, and the Deps the app would hand a
// connector.
//
// By convention only _test.go files import it; it is not part of the
// application.
package connectortest

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/jonboulle/clockwork"

	"github.com/ringside/ringside/connectors"
)

// Section returns a settings section holding the TOML body conf. It decodes
// strictly, like the settings file does: an unknown key or a wrong type is
// an error that starts with where (for example
// `test.toml [connectors.office]`), which Where also returns.
func Section(where, conf string) connectors.Section {
	return section{where: where, conf: conf}
}

type section struct{ where, conf string }

func (s section) Decode(v any) error {
	md, err := toml.Decode(s.conf, v)
	if err != nil {
		return fmt.Errorf("%s: %w", s.where, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return fmt.Errorf("%s: unknown key %q", s.where, und[0].String())
	}
	return nil
}

func (s section) Where() string { return s.where }

// Secrets is a keyring of name → secret: a missing name is an error.
type Secrets map[string]string

// Secret implements connectors.Secrets.
func (s Secrets) Secret(name string) (string, error) {
	v, ok := s[name]
	if !ok {
		return "", errors.New("secret not found in keyring")
	}
	return v, nil
}

// LogBuffer collects log lines, typically as the writer of a slog handler;
// safe for concurrent use. The zero value is ready to use.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Reset forgets everything written so far.
func (l *LogBuffer) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Reset()
}

// Phones returns the phone parser of region, failing the test when the
// region is unknown.
func Phones(t testing.TB, region string) *connectors.PhoneParser {
	t.Helper()
	pp, err := connectors.NewPhoneParser(region)
	if err != nil {
		t.Fatal(err)
	}
	return pp
}

// Deps returns the dependencies of connector instance name: a logger that
// discards, the phone parser of region and the real clock. Secrets and the
// directories are left for the test to set.
func Deps(t testing.TB, name, region string) connectors.Deps {
	t.Helper()
	return connectors.Deps{
		Name:   name,
		Logger: slog.New(slog.DiscardHandler),
		Phones: Phones(t, region),
		Clock:  clockwork.NewRealClock(),
	}
}

// New makes a connector of typ from sec and d, as the app would, and
// returns it as a C. It fails the test when New fails or the connector is
// not a C.
func New[C any](t testing.TB, typ connectors.Type, sec connectors.Section, d connectors.Deps) C {
	t.Helper()
	made, err := typ.New(sec, d)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c, ok := made.(C)
	if !ok {
		t.Fatalf("New made a %T, not a %T", made, c)
	}
	return c
}

// WaitTimeout is how long the Wait methods of a Link wait before they fail
// the test.
const WaitTimeout = 10 * time.Second

// Reported is what a Source has reported to a Link.
type Reported struct {
	Ups    []string           // the details of every Up, in order
	Events []connectors.Event // every event emitted, in order
	Info   map[string]string  // the last value of every Info key
}

// Link is a connectors.Link that records what a Source reports; safe for
// concurrent use. Make it with NewLink.
type Link struct {
	mu      sync.Mutex
	seen    Reported
	forward chan<- connectors.Event // when not nil, Emit also sends here
	notify  chan struct{}           // a token after every Up, Emit and Info
}

// NewLink returns a Link that has seen nothing yet.
func NewLink() *Link {
	return &Link{seen: Reported{Info: map[string]string{}}, notify: make(chan struct{}, 1)}
}

// Forward makes every later Emit also send its event to ch; Emit blocks
// until ch takes it.
func (l *Link) Forward(ch chan<- connectors.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forward = ch
}

// Up implements connectors.Link.
func (l *Link) Up(detail string) {
	l.mu.Lock()
	l.seen.Ups = append(l.seen.Ups, detail)
	l.mu.Unlock()
	l.poke()
}

// Emit implements connectors.Link.
func (l *Link) Emit(ev connectors.Event) {
	l.mu.Lock()
	l.seen.Events = append(l.seen.Events, ev)
	forward := l.forward
	l.mu.Unlock()
	if forward != nil {
		forward <- ev
	}
	l.poke()
}

// Info implements connectors.Link.
func (l *Link) Info(key, value string) {
	l.mu.Lock()
	l.seen.Info[key] = value
	l.mu.Unlock()
	l.poke()
}

func (l *Link) poke() {
	select {
	case l.notify <- struct{}{}:
	default:
	}
}

// Snapshot returns a copy of what the link has seen so far.
func (l *Link) Snapshot() Reported {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Reported{
		Ups:    append([]string(nil), l.seen.Ups...),
		Events: append([]connectors.Event(nil), l.seen.Events...),
		Info:   maps.Clone(l.seen.Info),
	}
}

// Ups returns the details of every Up so far.
func (l *Link) Ups() []string { return l.Snapshot().Ups }

// Events returns the events emitted so far.
func (l *Link) Events() []connectors.Event { return l.Snapshot().Events }

// WaitFor waits until cond holds on what the link has seen, for at most
// WaitTimeout, and fails the test (naming what) when it does not. cond
// runs with the link locked: it must not call the link, nor keep r.
func (l *Link) WaitFor(t testing.TB, what string, cond func(r Reported) bool) {
	t.Helper()
	deadline := time.After(WaitTimeout)
	for {
		l.mu.Lock()
		ok := cond(l.seen)
		l.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-l.notify:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			r := l.Snapshot()
			t.Fatalf("timed out waiting for %s; have ups %q, %d events, info %q", what, r.Ups, len(r.Events), r.Info)
		}
	}
}

// WaitUp waits for the first Up.
func (l *Link) WaitUp(t testing.TB) {
	t.Helper()
	l.WaitFor(t, "Up", func(r Reported) bool { return len(r.Ups) > 0 })
}

// WaitInfo waits until Info has recorded key and returns its value.
func (l *Link) WaitInfo(t testing.TB, key string) string {
	t.Helper()
	l.WaitFor(t, "Info "+key, func(r Reported) bool { _, ok := r.Info[key]; return ok })
	return l.Snapshot().Info[key]
}

// WaitEvents waits for at least n events and returns all of them.
func (l *Link) WaitEvents(t testing.TB, n int) []connectors.Event {
	t.Helper()
	l.WaitFor(t, fmt.Sprintf("%d events", n), func(r Reported) bool { return len(r.Events) >= n })
	return l.Events()
}
