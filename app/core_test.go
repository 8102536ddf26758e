package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringside/ringside/app/journal"
	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/connectors/contacts"
	"github.com/ringside/ringside/connectors/httpcrm"
	"github.com/ringside/ringside/connectors/jsonl"
	"github.com/ringside/ringside/settings"
)

// TestAppSurvivesGarbageCRM runs the whole core from a settings file: a
// jsonl source, a CRM that answers lookups with garbage and deliveries with
// an HTML 502 before it recovers, and a contacts file. The call is raised,
// named from the contacts file, journaled, and delivered once the CRM is back.
func TestAppSurvivesGarbageCRM(t *testing.T) {
	var posts atomic.Int32
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"name": "Ion`) // cut short
		case posts.Add(1) == 1:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, "<html><body>502 Bad Gateway</body></html>")
		default:
			w.WriteHeader(http.StatusCreated)
		}
	}))
	defer crm.Close()

	dir := t.TempDir()
	feed := filepath.Join(dir, "events.jsonl")
	write(t, feed, "")
	write(t, filepath.Join(dir, "contacts.csv"), "name,company,phone\nIon Popescu,Carpatica Logistic SRL,+40 21 312 4567\n")
	config := filepath.Join(dir, "config.toml")
	write(t, config, fmt.Sprintf(`
region = "RO"
crm = "crm"
contacts = ["contacts.csv"]
[data]
dir = %q
[webhook]
listen = "127.0.0.1:0"
[connectors.pbx]
type = "jsonl"
path = %q
poll = "10ms"
[connectors.crm]
type = "httpcrm"
url = %q
lookup_url = %q
`, filepath.Join(dir, "data"), feed, crm.URL+"/calls", crm.URL+"/contacts?phone={phone}"))
	cfg, err := settings.Load(config)
	if err != nil {
		t.Fatal(err)
	}
	reg := connectors.NewRegistry(contacts.Type(), httpcrm.Type(), jsonl.Type())
	a, err := New(Deps{Config: cfg, Registry: reg, Secrets: settings.NewMemoryStore(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	updates, _ := runApp(t, a)

	waitFor(t, updates, func(u Update) bool { return u.Kind == UpdateConnection && u.Conn.Status == LinkConnected })
	f, err := os.OpenFile(feed, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, `{"kind":"ringing","direction":"in","call_id":"c1","phone":{"raw":"0213124567"}}`)
	fmt.Fprintln(f, `this is not json`)
	fmt.Fprintln(f, `{"kind":"answered","call_id":"c1"}`)
	fmt.Fprintln(f, `{"kind":"ended","call_id":"c1"}`)
	f.Close()

	raised := waitFor(t, updates, func(u Update) bool { return u.Kind == UpdateCall && u.Phase == PhaseRaised })
	if got, want := raised.Call.Phone.E164, "+40213124567"; got != want {
		t.Errorf("raised number = %q, want %q", got, want)
	}
	filled := waitFor(t, updates, func(u Update) bool { return u.Kind == UpdateCall && u.Phase == PhaseFilled })
	if got, want := filled.Call.Contact.Name, "Ion Popescu"; got != want {
		t.Errorf("contact = %q, want %q (from the contacts file, the CRM answered garbage)", got, want)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := a.Journal.Get(context.Background(), raised.Call.Key)
		if err == nil && c.Delivery == journal.DeliverySent {
			if got, want := c.Result, connectors.ResultAnswered; got != want {
				t.Errorf("result = %v, want %v", got, want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("call not delivered: %+v %v", c, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got, want := posts.Load(), int32(2); got != want {
		t.Errorf("CRM got %d deliveries, want %d (one 502, one retry)", got, want)
	}
}

// runApp runs a until the test ends (or stop is called: it cancels Run,
// waits for it, checks it returned cleanly and closes a), and returns its
// updates from before Run started.
func runApp(t *testing.T, a *App) (updates <-chan Update, stop func()) {
	t.Helper()
	updates, unsub := a.Bus.Subscribe(1000)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("Run did not return")
			}
			a.Close()
			unsub()
		})
	}
	t.Cleanup(stop)
	return updates, stop
}

func waitFor(t *testing.T, updates <-chan Update, match func(Update) bool) Update {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case u := <-updates:
			if match(u) {
				return u
			}
		case <-timeout:
			t.Fatal("update never came")
		}
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
