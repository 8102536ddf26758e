package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/connectors/accolades"
	"github.com/ringside/ringside/connectors/jsonl"
	"github.com/ringside/ringside/connectors/retailcrm"
	"github.com/ringside/ringside/settings"
)

// fakeRetailCRM answers the retailCRM API v5 calls Ringside makes and
// records them; it also plays the Accolades REST dial endpoint.
type fakeRetailCRM struct {
	mu   sync.Mutex
	seen []string // "METHOD path field=…"
	form map[string][]url.Values
}

func (f *fakeRetailCRM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	f.mu.Lock()
	f.seen = append(f.seen, r.Method+" "+r.URL.Path)
	f.form[r.URL.Path] = append(f.form[r.URL.Path], form)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path != "/acc/dial/" && r.Header.Get("X-API-KEY") != "key-123" {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"success":false,"errorMsg":"Wrong \"apiKey\" value."}`)
		return
	}
	switch r.URL.Path {
	case "/api/v5/telephony/manager":
		fmt.Fprint(w, `{"success":true,"manager":{"id":7,"firstName":"Ana","lastName":"Dumitrescu"},
			"customer":{"id":42,"type":"customer","firstName":"Ion","lastName":"Popescu"},
			"links":{"customerLink":"https://crm.example/customers/42","newCustomerLink":"https://crm.example/customers/new"}}`)
	case "/api/v5/telephony/call/event":
		fmt.Fprint(w, `{"success":true}`)
	case "/api/v5/telephony/calls/upload":
		fmt.Fprint(w, `{"success":true,"processedCallsCount":1,"duplicateCalls":[]}`)
	case "/api/v5/users/1/status":
		fmt.Fprint(w, `{"success":true}`)
	case "/acc/dial/":
		fmt.Fprint(w, `{"type":"ok"}`)
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"success":false,"errorMsg":"Not found"}`)
	}
}

func (f *fakeRetailCRM) forms(path string) []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.form[path]...)
}

// TestRetailCRMEndToEnd runs the core with retailCRM as the CRM: a call
// rings (jsonl source) → retailCRM gets the "in" call event and names the
// caller → the call ends → hangup event and history upload through the
// outbox; retailCRM's makeCallUrl dials through Accolades' REST API, its
// changeUserStatusUrl sets the agent's status, and the agent's status goes
// back to retailCRM.
func TestRetailCRMEndToEnd(t *testing.T) {
	fake := &fakeRetailCRM{form: map[string][]url.Values{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()

	dir := t.TempDir()
	feed := filepath.Join(dir, "events.jsonl")
	write(t, feed, "")
	config := filepath.Join(dir, "config.toml")
	write(t, config, fmt.Sprintf(`
region = "RO"
crm = "crm"
dialer = "office"
[data]
dir = %q
[webhook]
listen = "127.0.0.1:0"
[connectors.pbx]
type = "jsonl"
path = %q
poll = "10ms"
[connectors.office]
type = "accolades"
url = "ws://127.0.0.1:1"
id_crm = "f8cb549544"
account = "acc"
device_id = "dev1"
dial_url = %q
[connectors.crm]
type = "retailcrm"
url = %q
user_id = 1
codes = { "100" = 1 }
`, filepath.Join(dir, "data"), feed, srv.URL, srv.URL))
	cfg, err := settings.Load(config)
	if err != nil {
		t.Fatal(err)
	}
	secrets := settings.NewMemoryStore()
	for k, v := range map[string]string{"crm.api_key": "key-123", "crm.client_id": "client-secret-0123456789", "office.password": "pw", "webhook.token": "token-0123456789abcdef"} {
		secrets.Set(k, v)
	}
	reg := connectors.NewRegistry(accolades.Type(), jsonl.Type(), retailcrm.Type())
	a, err := New(Deps{Config: cfg, Registry: reg, Secrets: secrets, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Webhook.Bind(); err != nil {
		t.Fatal(err)
	}
	updates, _ := runApp(t, a)
	waitFor(t, updates, func(u Update) bool {
		return u.Kind == UpdateConnection && u.Conn.Name == "pbx" && u.Conn.Status == LinkConnected
	})

	// A call rings and is answered, then ends.
	f, err := os.OpenFile(feed, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, `{"kind":"ringing","direction":"in","call_id":"p1","agent":"100","phone":{"raw":"0213124567"}}`)
	filled := waitFor(t, updates, func(u Update) bool { return u.Kind == UpdateCall && u.Phase == PhaseFilled })
	if got, want := filled.Call.Contact.Name, "Ion Popescu"; got != want {
		t.Errorf("popup name = %q, want %q", got, want)
	}
	if got, want := filled.Call.Contact.URL, "https://crm.example/customers/42"; got != want {
		t.Errorf("open in CRM = %q, want %q", got, want)
	}
	fmt.Fprintln(f, `{"kind":"answered","call_id":"p1"}`)
	fmt.Fprintln(f, `{"kind":"ended","call_id":"p1"}`)
	f.Close()
	key := filled.Call.Key

	eventually(t, "the call events and the upload", func() bool {
		return len(fake.forms("/api/v5/telephony/call/event")) == 2 && len(fake.forms("/api/v5/telephony/calls/upload")) == 1
	})
	var events []map[string]any
	for _, form := range fake.forms("/api/v5/telephony/call/event") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(form.Get("event")), &ev); err != nil {
			t.Fatalf("event= is not JSON: %v", err)
		}
		events = append(events, ev)
	}
	if events[0]["type"] != "in" || events[0]["phone"] != "+40213124567" || events[0]["callExternalId"] != key {
		t.Errorf("ring event = %v", events[0])
	}
	if events[1]["type"] != "hangup" || events[1]["hangupStatus"] != "answered" {
		t.Errorf("hangup event = %v", events[1])
	}
	var calls []map[string]any
	if err := json.Unmarshal([]byte(fake.forms("/api/v5/telephony/calls/upload")[0].Get("calls")), &calls); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0]["externalId"] != key || calls[0]["result"] != "answered" || calls[0]["type"] != "in" {
		t.Errorf("uploaded calls = %v", calls)
	}
	eventually(t, "the call marked sent", func() bool {
		c, err := a.Journal.Get(context.Background(), key)
		return err == nil && c.Delivery.String() == "sent"
	})

	// retailCRM asks to dial and to set the status, through the listener.
	base := a.Webhook.URL() + "/crm/"
	get := func(path string) int {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("make-call?clientId=wrong&code=100&phone=0722000111&userId=1"); code != http.StatusUnauthorized {
		t.Errorf("make-call with a wrong clientId = %d, want 401", code)
	}
	if code := get("make-call?clientId=client-secret-0123456789&code=100&phone=0722000111&userId=1"); code != http.StatusOK {
		t.Errorf("make-call = %d, want 200", code)
	}
	dials := fake.forms("/acc/dial/")
	if len(dials) != 1 || dials[0].Get("phoneNumber") != "+40722000111" || dials[0].Get("deviceId") != "dev1" || dials[0].Get("password") != "pw" {
		t.Errorf("Accolades dial requests = %v", dials)
	}
	if code := get("status?clientId=client-secret-0123456789&code=100&userId=1&status=dinner"); code != http.StatusOK {
		t.Errorf("status = %d, want 200", code)
	}
	waitFor(t, updates, func(u Update) bool { return u.Kind == UpdateStatus && u.Status == connectors.StatusDinner })
	if n := len(fake.forms("/api/v5/users/1/status")); n != 0 {
		t.Errorf("a status retailCRM reported was echoed back to it (%d requests)", n)
	}

	// The agent picks a status in the tray.
	if err := a.SetStatus(context.Background(), connectors.StatusBreak); err != nil {
		t.Fatal(err)
	}
	st := fake.forms("/api/v5/users/1/status")
	if len(st) != 1 || st[0].Get("status") != "break" {
		t.Errorf("status sent to retailCRM = %v, want break", st)
	}
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
