package jsonl

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/connectors/connectortest"
)

// where names the test's settings section.
const where = "test.toml [connectors.x]"

func testDeps(t testing.TB, dir string, clock clockwork.Clock, logs io.Writer) connectors.Deps {
	t.Helper()
	d := connectortest.Deps(t, "pbx", "RO")
	d.ConfigDir = dir
	if clock != nil {
		d.Clock = clock
	}
	if logs != nil {
		d.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	return d
}

func newTestSource(t *testing.T, d connectors.Deps, conf string) *Source {
	t.Helper()
	return connectortest.New[*Source](t, Type(), connectortest.Section(where, conf), d)
}

// run starts Run in a goroutine; stop cancels it and checks that it
// returns nil promptly.
func run(t *testing.T, s *Source, link connectors.Link) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, link) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run after cancel = %v, want nil", err)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func ringing(id, raw string) string {
	return fmt.Sprintf(`{"kind":"ringing","direction":"in","call_id":%q,"vendor":"pbx","phone":{"raw":%q},"at":"2026-11-21T10:00:00Z"}`+"\n", id, raw)
}

func callIDs(evs []connectors.Event) string {
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.CallID
	}
	return strings.Join(ids, ",")
}

func TestSample(t *testing.T) {
	var cfg config
	if err := connectortest.Section(where, string(Type().Sample)).Decode(&cfg); err != nil {
		t.Fatalf("sample does not decode: %v", err)
	}
	s := newTestSource(t, testDeps(t, "", nil, nil), string(Type().Sample))
	var _ connectors.Source = s
	if s.path != "/run/ringside/events.jsonl" || s.poll != 250*time.Millisecond || s.fromStart {
		t.Errorf("sample decoded to path %q poll %v from_start %v", s.path, s.poll, s.fromStart)
	}
}

func TestNew(t *testing.T) {
	s := newTestSource(t, testDeps(t, "/etc/ringside", nil, nil), `path = "events.jsonl"`)
	if want := filepath.Join("/etc/ringside", "events.jsonl"); s.path != want || s.vendor != "jsonl:pbx" {
		t.Errorf("path %q vendor %q; want %q, jsonl:pbx", s.path, s.vendor, want)
	}
	if s := newTestSource(t, testDeps(t, "/etc", nil, nil), `path = "-"`); s.path != "-" {
		t.Errorf("stdin path = %q", s.path)
	}
	tests := []struct {
		name, conf, key string
	}{
		{"no path", ``, "path"},
		{"blank path", `path = " "`, "path"},
		{"bad poll", "path = \"x\"\npoll = \"often\"", "poll"},
		{"zero poll", "path = \"x\"\npoll = \"0s\"", "poll"},
		{"from_start on stdin", "path = \"-\"\nfrom_start = true", "from_start"},
		{"unknown key", "path = \"x\"\nfollow = true", "follow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Type().New(connectortest.Section(where, tt.conf), testDeps(t, "", nil, nil))
			if err == nil || !strings.Contains(err.Error(), "test.toml [connectors.x]") || !strings.Contains(err.Error(), tt.key) {
				t.Errorf("New = %v, want an error naming the section and %s", err, tt.key)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		line string
		want connectors.Event
		err  string
	}{
		{"ringing", `{"kind":"ringing","direction":"in","call_id":"a1","vendor":"pbx","phone":{"raw":"0211234567"},"at":"2026-11-21T10:00:00Z"}`,
			connectors.Event{Kind: connectors.KindRinging, Direction: connectors.DirectionInbound, CallID: "a1", Vendor: "pbx",
				Phone: connectors.Phone{Raw: "0211234567", E164: "+40211234567"}, At: at}, ""},
		{"default vendor, e164 ignored", `{"kind":"dialing","direction":"out","phone":{"raw":"0721000001","e164":"+4930123456"},"source":"x","received":"2026-11-21T10:00:00Z"}`,
			connectors.Event{Kind: connectors.KindDialing, Direction: connectors.DirectionOutbound, Vendor: "jsonl:pbx",
				Phone: connectors.Phone{Raw: "0721000001", E164: "+40721000001"}}, ""},
		{"only e164", `{"kind":"answered","phone":{"e164":"+40211234567"}}`,
			connectors.Event{Kind: connectors.KindAnswered, Vendor: "jsonl:pbx", Phone: connectors.Phone{Raw: "+40211234567", E164: "+40211234567"}}, ""},
		{"extension", ` {"kind":"ended","result":"no_answer","phone":{"raw":"101"},"extra":{"q":"sales"}} `,
			connectors.Event{Kind: connectors.KindEnded, Result: connectors.ResultNoAnswer, Vendor: "jsonl:pbx", Phone: connectors.Phone{Raw: "101"}, Extra: map[string]string{"q": "sales"}}, ""},
		{"agent status", `{"kind":"agent_status","status":"break","agent":"7","unknown_field":[1,2]}`,
			connectors.Event{Kind: connectors.KindAgentStatus, Status: connectors.StatusBreak, Agent: "7", Vendor: "jsonl:pbx"}, ""},
		{"no kind", `{"call_id":"a1"}`, connectors.Event{}, `kind is missing or "unknown"`},
		{"unknown kind", `{"kind":"unknown"}`, connectors.Event{}, `kind is missing or "unknown"`},
		{"bad kind", `{"kind":"rang"}`, connectors.Event{}, `bad JSON: unknown event kind "rang"`},
		{"numeric kind", `{"kind":1}`, connectors.Event{}, "bad JSON: "},
		{"status missing", `{"kind":"agent_status"}`, connectors.Event{}, "agent_status without a status"},
		{"bad direction", `{"kind":"ringing","direction":"sideways"}`, connectors.Event{}, "bad JSON: unknown direction"},
		{"not json", `ringing 0211234567`, connectors.Event{}, "not a JSON object"},
		{"array", `[{"kind":"ringing"}]`, connectors.Event{}, "not a JSON object"},
		{"truncated", `{"kind":"ringing","phone":{"raw":"0211234567"`, connectors.Event{}, "bad JSON: "},
		{"trailing", `{"kind":"ringing"} x`, connectors.Event{}, "bad JSON: "},
		{"bad time", `{"kind":"ringing","at":"0211234567"}`, connectors.Event{}, "bad JSON: "},
		{"too long", `{"kind":"ringing","agent":"` + strings.Repeat("x", MaxLine) + `"}`, connectors.Event{}, "line longer than 64 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.line), connectortest.Phones(t, "RO"), "jsonl:pbx")
			if tt.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
					t.Fatalf("Decode error = %v, want %q…", err, tt.err)
				}
				if strings.ContainsAny(err.Error(), "0123456789") && !strings.Contains(err.Error(), "64 KiB") {
					t.Errorf("error quotes digits: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decode =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

func TestFollowFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.jsonl")
	appendFile(t, path, ringing("old", "0211234567")) // before Run: not read
	logs := &connectortest.LogBuffer{}
	s := newTestSource(t, testDeps(t, dir, nil, logs), "path = \"events.jsonl\"\npoll = \"5ms\"")
	link := connectortest.NewLink()
	stop := run(t, s, link)
	link.WaitUp(t)
	if got, want := link.Ups(), []string{"reading " + path}; !reflect.DeepEqual(got, want) {
		t.Errorf("Up = %q, want %q", got, want)
	}

	appendFile(t, path, ringing("a1", "0211234567"))
	line := ringing("a2", "0721000001")
	appendFile(t, path, line[:20]) // half a line waits for the rest
	time.Sleep(30 * time.Millisecond)
	appendFile(t, path, line[20:])
	appendFile(t, path, "\n   \n"+`{"kind":"ringing","phone":{"raw":"0799000111"`+"\n") // blank lines; garbage
	appendFile(t, path, `{"kind":"bogus","phone":{"raw":"0799000222"}}`+"\n")
	appendFile(t, path, `{"kind":"ended","call_id":"a1","result":"answered"}`+"\n")
	evs := link.WaitEvents(t, 3)
	stop()
	if got, want := callIDs(evs), "a1,a2,a1"; got != want {
		t.Fatalf("events %s, want %s", got, want)
	}
	if evs[1].Phone.E164 != "+40721000001" || evs[1].Vendor != "pbx" || evs[2].Vendor != "jsonl:pbx" || evs[2].Kind != connectors.KindEnded {
		t.Errorf("events %+v", evs)
	}
	l := logs.String()
	if strings.Count(l, "jsonl: line skipped") != 2 || !strings.Contains(l, "line=5") || !strings.Contains(l, "line=6") {
		t.Errorf("skipped lines not logged with their line numbers:\n%s", l)
	}
	if strings.Contains(l, "0799") || strings.Contains(l, "799000") {
		t.Errorf("log holds a number:\n%s", l)
	}
}

func TestFromStartAndResume(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.jsonl")
	appendFile(t, path, ringing("a1", "0211234567")+ringing("a2", "0211234567"))
	s := newTestSource(t, testDeps(t, dir, nil, nil), "path = \"events.jsonl\"\nfrom_start = true\npoll = \"5ms\"")
	link := connectortest.NewLink()
	stop := run(t, s, link)
	link.WaitEvents(t, 2)
	stop()

	// A second Run of the same source goes on where the first stopped.
	appendFile(t, path, ringing("a3", "0211234567"))
	link2 := connectortest.NewLink()
	stop = run(t, s, link2)
	evs := link2.WaitEvents(t, 1)
	time.Sleep(20 * time.Millisecond)
	stop()
	if got := callIDs(link2.Events()); got != "a3" {
		t.Errorf("second Run read %s (first %s), want a3", got, callIDs(evs))
	}
}

func TestTruncateAndRotate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.jsonl")
	appendFile(t, path, "")
	clock := clockwork.NewFakeClock()
	s := newTestSource(t, testDeps(t, dir, clock, nil), "path = \"events.jsonl\"\npoll = \"1s\"")
	link := connectortest.NewLink()
	run(t, s, link)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// step changes the files while Run waits for its next poll.
	step := func(change func()) {
		t.Helper()
		if err := clock.BlockUntilContext(ctx, 1); err != nil {
			t.Fatal(err)
		}
		change()
		clock.Advance(time.Second)
	}

	step(func() { appendFile(t, path, ringing("a1", "0211234567")+ringing("a2", "0211234567")) })
	link.WaitEvents(t, 2)

	// Truncated (copytruncate): read again from the start.
	step(func() {
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
		appendFile(t, path, ringing("t1", "0211234567"))
	})
	link.WaitEvents(t, 3)

	// Rotated: the old file's last lines, then the new file from its start.
	step(func() {
		appendFile(t, path, ringing("old-last", "0211234567"))
		if err := os.Rename(path, path+".1"); err != nil {
			t.Fatal(err)
		}
		appendFile(t, path, ringing("r1", "0211234567")+ringing("r2", "0211234567"))
	})
	evs := link.WaitEvents(t, 6)
	if got, want := callIDs(evs), "a1,a2,t1,old-last,r1,r2"; got != want {
		t.Errorf("events %s, want %s", got, want)
	}
}

func TestPollUsesClock(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.jsonl")
	appendFile(t, path, "")
	clock := clockwork.NewFakeClock()
	s := newTestSource(t, testDeps(t, dir, clock, nil), "path = \"events.jsonl\"\npoll = \"1s\"")
	link := connectortest.NewLink()
	run(t, s, link)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := clock.BlockUntilContext(ctx, 1); err != nil { // Run waits for the poll
		t.Fatal(err)
	}
	appendFile(t, path, ringing("a1", "0211234567"))
	time.Sleep(30 * time.Millisecond)
	if n := len(link.Events()); n != 0 {
		t.Fatalf("%d events before the poll interval passed", n)
	}
	clock.Advance(time.Second)
	link.WaitEvents(t, 1)
}

func TestLongLine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.jsonl")
	appendFile(t, path, "")
	logs := &connectortest.LogBuffer{}
	s := newTestSource(t, testDeps(t, dir, nil, logs), "path = \"events.jsonl\"\npoll = \"5ms\"")
	link := connectortest.NewLink()
	run(t, s, link)
	link.WaitUp(t)
	long := `{"kind":"ringing","agent":"` + strings.Repeat("7", 3*MaxLine) + `"}` + "\n"
	appendFile(t, path, long+ringing("after", "0211234567"))
	evs := link.WaitEvents(t, 1)
	if evs[0].CallID != "after" {
		t.Errorf("event %+v, want the line after the long one", evs[0])
	}
	if l := logs.String(); !strings.Contains(l, "line longer than 64 KiB") || strings.Contains(l, "7777") {
		t.Errorf("log:\n%.300s", l)
	}
}

func TestMissingFile(t *testing.T) {
	s := newTestSource(t, testDeps(t, t.TempDir(), nil, nil), `path = "nope.jsonl"`)
	err := s.Run(context.Background(), connectortest.NewLink())
	if err == nil || !strings.Contains(err.Error(), "nope.jsonl") {
		t.Errorf("Run = %v, want an error naming the file", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Run(ctx, connectortest.NewLink()); err != nil {
		t.Errorf("Run with a done context = %v, want nil", err)
	}
	if err := newTestSource(t, testDeps(t, "", nil, nil), `path = "/dev/null"`).Run(context.Background(), connectortest.NewLink()); err == nil {
		if runtime.GOOS != "windows" {
			t.Error("Run on a device succeeded")
		}
	}
}

// stdinPipe makes s read a pipe instead of standard input.
func stdinPipe(t *testing.T, s *Source) *os.File {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	s.stdin = func() (io.ReadCloser, func(), error) { return r, func() {}, nil }
	return w
}

func TestStdin(t *testing.T) {
	s := newTestSource(t, testDeps(t, "", nil, nil), `path = "-"`)
	w := stdinPipe(t, s)
	link := connectortest.NewLink()
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background(), link) }()
	link.WaitUp(t)
	if _, err := io.WriteString(w, ringing("a1", "0211234567")+"garbage\n"+strings.TrimSuffix(ringing("a2", "0211234567"), "\n")); err != nil {
		t.Fatal(err)
	}
	link.WaitEvents(t, 1)
	_ = w.Close() // the end of the feed; the last line has no newline
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "standard input ended") {
			t.Errorf("Run at EOF = %v, want an error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return at EOF")
	}
	if got := callIDs(link.Events()); got != "a1,a2" {
		t.Errorf("events %s, want a1,a2", got)
	}
}

func TestCancelLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.jsonl")
	appendFile(t, path, "")
	before := runtime.NumGoroutine()
	confs := []string{"path = \"events.jsonl\""}
	if runtime.GOOS != "windows" { // a blocked pipe read there cannot be interrupted
		confs = append(confs, `path = "-"`)
	}
	for _, conf := range confs {
		s := newTestSource(t, testDeps(t, dir, nil, nil), conf)
		if s.path == "-" {
			stdinPipe(t, s) // a writer that never writes: Run blocks in Read
		}
		link := connectortest.NewLink()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx, link) }()
		link.WaitUp(t)
		time.Sleep(10 * time.Millisecond)
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: Run after cancel = %v, want nil", conf, err)
			}
		case <-time.After(time.Second):
			t.Fatalf("%s: Run did not return promptly after cancel", conf)
		}
	}
	waitGoroutines(t, before)
}

// waitGoroutines fails if more than n goroutines are still running after a
// short grace period.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines left, want at most %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDecodeErrorsAreSafe(t *testing.T) {
	_, err := Decode([]byte(`{"kind":"ringing","phone":{"raw":0211234567}}`), connectortest.Phones(t, "RO"), "x")
	if err == nil || strings.ContainsAny(err.Error(), "0123456789") {
		t.Errorf("Decode error %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		ringing("a1", "0211234567"),
		`{"kind":"agent_status","status":"free","agent":"7"}`,
		`{"kind":"ended","result":"busy","phone":{"e164":"+40211234567"},"extra":{"a":"b"}}`,
		`{"kind":"unknown"}`, `[]`, `{`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	pp := connectortest.Phones(f, "RO")
	f.Fuzz(func(t *testing.T, line []byte) {
		ev, err := Decode(line, pp, "jsonl:x")
		if err != nil {
			if strings.ContainsAny(strings.ReplaceAll(err.Error(), "64 KiB", ""), "0123456789") {
				t.Fatalf("error quotes digits: %v", err)
			}
			return
		}
		if ev.Kind == connectors.KindUnknown || ev.Vendor == "" || ev.Source != "" || !ev.Received.IsZero() {
			t.Fatalf("Decode accepted %+v", ev)
		}
		if ev.Phone.E164 != "" && ev.Phone != pp.Parse(ev.Phone.Raw) {
			t.Fatalf("phone not normalized: %+v", ev.Phone)
		}
	})
}
