package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ringside/ringside/app/journal"
)

// buildBinary builds ringside once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "ringside")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("build: %v", err)
	}
	return bin
}

// idempotentCRM records call logs once per Idempotency-Key, like a CRM that
// honours the key. Request number holdAt is held open until release closes,
// so the test can kill the app while a delivery is in flight.
type idempotentCRM struct {
	mu       sync.Mutex
	records  map[string]int // key → records created (must stay 1)
	requests int
	repeats  int // requests for a key already recorded
	holdAt   int
	held     chan struct{}
	release  chan struct{}
}

func (c *idempotentCRM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	var log struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal(body, &log); err != nil || log.Key == "" || log.Key != r.Header.Get("Idempotency-Key") {
		http.Error(w, "bad call log", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.requests++
	n := c.requests
	c.mu.Unlock()
	if n == c.holdAt {
		close(c.held)
		<-c.release // the app is killed while we hold this
		// The CRM did record it: the app never heard back.
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.records[log.Key] > 0 {
		c.repeats++
	} else {
		c.records[log.Key] = 1
	}
	w.WriteHeader(http.StatusCreated)
}

func (c *idempotentCRM) snapshot() (records map[string]int, requests, repeats int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	records = make(map[string]int, len(c.records))
	for k, v := range c.records {
		records[k] = v
	}
	return records, c.requests, c.repeats
}

// TestOutboxSurvivesKill starts the real binary, feeds it calls, kills it
// with SIGKILL while a delivery is in flight, restarts it and checks that
// every call log reaches the CRM exactly once.
func TestOutboxSurvivesKill(t *testing.T) {
	bin := buildBinary(t)
	const calls = 40
	crm := &idempotentCRM{records: map[string]int{}, holdAt: 12, held: make(chan struct{}), release: make(chan struct{})}
	srv := httptest.NewServer(crm)
	defer srv.Close()
	defer func() {
		select {
		case <-crm.release:
		default:
			close(crm.release)
		}
	}()

	dir := t.TempDir()
	feed := filepath.Join(dir, "events.jsonl")
	var lines bytes.Buffer
	at := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	for i := range calls {
		id := fmt.Sprintf("1700000000.%d", i)
		number := fmt.Sprintf("07221%05d", i)
		for j, kind := range []string{"ringing", "answered", "ended"} {
			fmt.Fprintf(&lines, `{"kind":%q,"direction":"in","vendor":"pbx","call_id":%q,"phone":{"raw":%q},"at":%q}`+"\n",
				kind, id, number, at.Add(time.Duration(i)*time.Minute+time.Duration(j)*10*time.Second).Format(time.RFC3339))
		}
	}
	if err := os.WriteFile(feed, lines.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "config.toml")
	writeFile(t, config, fmt.Sprintf(`
region = "RO"
crm = "crm"

[notifications]
mode = "off"

[webhook]
listen = "127.0.0.1:0"

[data]
dir = %q

[outbox]
workers = 2

[connectors.pbx]
type = "jsonl"
path = %q
from_start = true

[connectors.crm]
type = "httpcrm"
url = %q
`, filepath.Join(dir, "data"), feed, srv.URL+"/calls"))

	first := startApp(t, bin, config, dir)
	select {
	case <-crm.held:
	case <-time.After(30 * time.Second):
		t.Fatalf("the CRM never got request %d; app log:\n%s", crm.holdAt, first.log.String())
	}
	// Every call is in the journal before we pull the plug.
	waitHistory(t, bin, config, func(cs []journal.Call) bool { return len(cs) == calls && allEnded(cs) })
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.cmd.Wait()
	close(crm.release)
	_, requestsBefore, _ := crm.snapshot()

	second := startApp(t, bin, config, dir)
	cs := waitHistory(t, bin, config, func(cs []journal.Call) bool {
		for _, c := range cs {
			if c.Delivery != journal.DeliverySent {
				return false
			}
		}
		return len(cs) == calls
	})
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := second.cmd.Wait(); err != nil {
		t.Errorf("clean shutdown: %v\n%s", err, second.log.String())
	}

	records, requests, repeats := crm.snapshot()
	if got, want := len(records), calls; got != want {
		t.Errorf("CRM has %d call records, want %d", got, want)
	}
	for _, c := range cs {
		if got := records[c.Key]; got != 1 {
			t.Errorf("call %s recorded %d times, want once", c.Key, got)
		}
	}
	t.Logf("requests before kill %d, total %d, repeats absorbed by the idempotency key %d", requestsBefore, requests, repeats)
	if repeats < 1 {
		t.Errorf("the log in flight at the kill was not resent (repeats = %d)", repeats)
	}
}

type appProc struct {
	cmd *exec.Cmd
	log *syncBuffer
}

func startApp(t *testing.T, bin, config, dir string) appProc {
	t.Helper()
	p := appProc{cmd: exec.Command(bin, "--headless", "--config", config), log: &syncBuffer{}}
	p.cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+filepath.Join(dir, "xdg"))
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("app log:\n%s", p.log.String())
		}
	})
	return p
}

func waitHistory(t *testing.T, bin, config string, done func([]journal.Call) bool) []journal.Call {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var out bytes.Buffer
		cmd := exec.CommandContext(context.Background(), bin, "history", "--json", "--limit", "1000", "--config", config)
		cmd.Stdout = &out
		cmd.Stderr = &out
		var cs []journal.Call
		if err := cmd.Run(); err == nil {
			if err := json.Unmarshal(out.Bytes(), &cs); err != nil {
				t.Fatalf("history --json: %v\n%s", err, out.String())
			}
			if done(cs) {
				return cs
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("history never reached the expected state; last:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func allEnded(cs []journal.Call) bool {
	for _, c := range cs {
		if c.State != journal.StateEnded {
			return false
		}
	}
	return true
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
