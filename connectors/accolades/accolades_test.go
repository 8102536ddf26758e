package accolades

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/jonboulle/clockwork"

	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/connectors/accolades/simulator"
)

// fakeSection decodes a TOML string strictly, like the settings file does.
type fakeSection string

func (s fakeSection) Decode(v any) error {
	md, err := toml.Decode(string(s), v)
	if err != nil {
		return fmt.Errorf("%s: %w", s.Where(), err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return fmt.Errorf("%s: unknown key %q", s.Where(), und[0].String())
	}
	return nil
}

func (fakeSection) Where() string { return "test.toml [connectors.office]" }

// fakeSecrets is a keyring: a missing name is an error.
type fakeSecrets map[string]string

func (s fakeSecrets) Secret(name string) (string, error) {
	v, ok := s[name]
	if !ok {
		return "", errors.New("secret not found in keyring")
	}
	return v, nil
}

// logBuffer collects log lines; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

const (
	agentID  = "f8cb549544"
	password = "pa55-w0rd"
)

func testDeps(t testing.TB) connectors.Deps {
	t.Helper()
	pp, err := connectors.NewPhoneParser("RO")
	if err != nil {
		t.Fatal(err)
	}
	return connectors.Deps{
		Name:    "office",
		Logger:  slog.New(slog.DiscardHandler),
		Secrets: fakeSecrets{"password": password},
		Phones:  pp,
		Clock:   clockwork.NewRealClock(),
	}
}

func newTestConnector(t testing.TB, d connectors.Deps, conf string) *Connector {
	t.Helper()
	c, err := Type().New(fakeSection(conf), d)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c.(*Connector)
}

// fakeLink records what a source reports; safe for concurrent use.
type fakeLink struct {
	mu     sync.Mutex
	ups    []string
	events []connectors.Event
	info   map[string]string
	notify chan struct{}         // a token after every Up, Emit and Info
	evs    chan connectors.Event // when not nil, every event is also sent here
}

func newFakeLink() *fakeLink {
	return &fakeLink{info: map[string]string{}, notify: make(chan struct{}, 1)}
}

func (l *fakeLink) Up(detail string) {
	l.mu.Lock()
	l.ups = append(l.ups, detail)
	l.mu.Unlock()
	l.poke()
}

func (l *fakeLink) Emit(ev connectors.Event) {
	l.mu.Lock()
	l.events = append(l.events, ev)
	l.mu.Unlock()
	if l.evs != nil {
		l.evs <- ev
	}
	l.poke()
}

func (l *fakeLink) Info(key, value string) {
	l.mu.Lock()
	l.info[key] = value
	l.mu.Unlock()
	l.poke()
}

func (l *fakeLink) poke() {
	select {
	case l.notify <- struct{}{}:
	default:
	}
}

// waitFor waits until cond holds on the link, for at most 10 s.
func (l *fakeLink) waitFor(t testing.TB, what string, cond func(l *fakeLink) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		l.mu.Lock()
		ok := cond(l)
		l.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-l.notify:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			l.mu.Lock()
			defer l.mu.Unlock()
			t.Fatalf("timed out waiting for %s; have ups %q, %d events, info %q", what, l.ups, len(l.events), l.info)
		}
	}
}

func (l *fakeLink) waitUp(t testing.TB) {
	t.Helper()
	l.waitFor(t, "Up", func(l *fakeLink) bool { return len(l.ups) > 0 })
}

func (l *fakeLink) waitInfo(t testing.TB, key string) string {
	t.Helper()
	l.waitFor(t, "Info "+key, func(l *fakeLink) bool { _, ok := l.info[key]; return ok })
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.info[key]
}

func (l *fakeLink) waitEvents(t testing.TB, n int) []connectors.Event {
	t.Helper()
	l.waitFor(t, fmt.Sprintf("%d events", n), func(l *fakeLink) bool { return len(l.events) >= n })
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]connectors.Event(nil), l.events...)
}

func (l *fakeLink) upsCopy() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.ups...)
}

func (l *fakeLink) infoCopy() map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := make(map[string]string, len(l.info))
	for k, v := range l.info {
		m[k] = v
	}
	return m
}

// demoAgent is the configuration the test simulator holds for agentID.
var demoAgent = simulator.Agent{
	Account: simulator.Entity{ID: "15", Data: "INFO_ACCOUNT"},
	Phone:   simulator.Entity{ID: "27", Data: "INFO_PHONE"},
	Agent:   simulator.Entity{ID: "321", Data: "INFO_AGENT"},
}

// newSim starts a simulator knowing agentID behind an httptest server and
// returns it with its ws:// address.
func newSim(t testing.TB, opts simulator.Options) (*simulator.Server, string) {
	t.Helper()
	if opts.IDs == nil {
		opts.IDs = map[string]simulator.Agent{agentID: demoAgent}
	}
	sim := simulator.New(opts)
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	t.Cleanup(sim.Close) // runs first: ends the hijacked connections
	return sim, "ws" + strings.TrimPrefix(ts.URL, "http")
}

// conf is a settings section for a socket at url.
func conf(url string) string {
	return fmt.Sprintf("url = %q\nid_crm = %q\n", url, agentID)
}

// run runs c.Run in the background until the test ends (or stop is called)
// and returns its result channel.
type running struct {
	done   chan error
	cancel context.CancelFunc
}

func startRun(t testing.TB, c *Connector, link connectors.Link) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{done: make(chan error, 1), cancel: cancel}
	go func() { r.done <- c.Run(ctx, link) }() // exits when Run returns
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return r
}

// wait waits for Run's result; Run must return within 10 s.
func (r *running) wait(t testing.TB) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

func TestSample(t *testing.T) {
	var cfg Config
	if err := fakeSection(Type().Sample).Decode(&cfg); err != nil {
		t.Fatalf("sample does not decode: %v", err)
	}
	c := newTestConnector(t, testDeps(t), string(Type().Sample))
	var _ connectors.Source = c
	var _ connectors.Dialer = c
	var _ connectors.Tester = c
	if c.url != DefaultURL || c.idCrm != "f8cb549544" || c.account != "1234" || c.deviceID != "27" || c.dialURL != DefaultDialURL {
		t.Errorf("sample decoded to url %q id %q account %q device %q dial %q", c.url, c.idCrm, c.account, c.deviceID, c.dialURL)
	}
	if c.handshakeTimeout != 10*time.Second || c.pongWait != time.Minute || c.pingPeriod != 54*time.Second {
		t.Errorf("timings %v %v %v", c.handshakeTimeout, c.pongWait, c.pingPeriod)
	}
}

func TestDefaults(t *testing.T) {
	c := newTestConnector(t, testDeps(t), `id_crm = "abc"`)
	if c.url != DefaultURL || c.dialURL != DefaultDialURL || c.account != "" || c.tls != nil {
		t.Errorf("defaults: url %q dial %q account %q tls %v", c.url, c.dialURL, c.account, c.tls)
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	const id = `id_crm = "abc"` + "\n"
	tests := []struct {
		name string
		conf string
		want string // the error holds it
	}{
		{"no id_crm", ``, "id_crm: required"},
		{"blank id_crm", `id_crm = "  "`, "id_crm: required"},
		{"id_crm with space", `id_crm = "a b"`, "id_crm:"},
		{"ws to a remote host", id + `url = "ws://client.voipit.ro:14327"`, "url: ws:// sends calls unencrypted and is only allowed to this computer"},
		{"http url", id + `url = "https://client.voipit.ro"`, "url:"},
		{"no host", id + `url = "wss://"`, "url:"},
		{"credentials in url", id + `url = "wss://me:pw@client.voipit.ro"`, "url: put no user"},
		{"missing ca_file", id + `ca_file = "nope.pem"`, "ca_file:"},
		{"ca_file without certificate", id + fmt.Sprintf("ca_file = %q", notPEM), "holds no PEM certificate"},
		{"bad handshake_timeout", id + `handshake_timeout = "soon"`, "handshake_timeout:"},
		{"tiny pong_wait", id + `pong_wait = "10ms"`, "pong_wait:"},
		{"huge pong_wait", id + `pong_wait = "1h"`, "pong_wait:"},
		{"account without device", id + `account = "1234"`, "device_id: required with account"},
		{"device without account", id + `device_id = "27"`, "account: required with device_id"},
		{"account with slash", id + "account = \"12/34\"\ndevice_id = \"27\"", "account:"},
		{"http dial_url to a remote host", id + "account = \"1\"\ndevice_id = \"2\"\ndial_url = \"http://client.voipit.ro\"", "dial_url:"},
		{"dial_url with query", id + "dial_url = \"https://client.voipit.ro/?a=b\"", "dial_url:"},
		{"unknown key", id + `password = "x"`, `unknown key "password"`},
		{"wrong type", id + `account = 1234`, "account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Type().New(fakeSection(tt.conf), testDeps(t))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %v, want it to hold %q", err, tt.want)
			}
		})
	}
}

func TestNewAcceptsLoopback(t *testing.T) {
	for _, u := range []string{"ws://127.0.0.1:14327", "ws://localhost:1", "ws://[::1]:80", "wss://client.voipit.ro:14327"} {
		if _, err := Type().New(fakeSection(conf(u)), testDeps(t)); err != nil {
			t.Errorf("New(%s): %v", u, err)
		}
	}
}

func TestNewNeedsPhones(t *testing.T) {
	d := testDeps(t)
	d.Phones = nil
	if _, err := New(Config{IDCrm: "x"}, d); err == nil {
		t.Error("New without a phone parser succeeded")
	}
}
