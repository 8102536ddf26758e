package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/connectors/webhook"
	"github.com/ringside/ringside/settings"
)

// vendor is a connector that takes callbacks (a retailCRM in miniature):
// /<name>/event posts a ringing event, /<name>/make-call dials, and
// /<name>/status sets the agent's status; it dials and takes statuses too.
type vendor struct {
	name   string
	phones *connectors.PhoneParser
	base   string

	mu       sync.Mutex
	dialed   []string
	statuses []connectors.AgentStatus
	dialErr  error
}

const vendorSecret = "vendor-client-id"

func (v *vendor) SetCallbackBase(base string) { v.base = base }

func (v *vendor) Routes() []connectors.Route {
	secret := func() string { return vendorSecret }
	return []connectors.Route{
		{Path: "event", Methods: []string{"GET"}, Auth: connectors.TokenAuth(),
			Parse: func(req connectors.CallbackRequest) (connectors.Callback, error) {
				return connectors.Callback{Events: []connectors.Event{{Kind: connectors.KindRinging, Direction: connectors.DirectionInbound,
					Vendor: "fake", CallID: req.Query.Get("id"), Phone: v.phones.Parse(req.Query.Get("phone"))}}}, nil
			}},
		{Path: "make-call", Methods: []string{"GET"}, Auth: connectors.ParamAuth("clientId", secret),
			Parse: func(req connectors.CallbackRequest) (connectors.Callback, error) {
				return connectors.Callback{Dial: v.phones.Parse(req.Query.Get("phone"))}, nil
			}},
		{Path: "status", Methods: []string{"GET"}, Auth: connectors.ParamAuth("clientId", secret),
			Parse: func(req connectors.CallbackRequest) (connectors.Callback, error) {
				var s connectors.AgentStatus
				if err := s.UnmarshalText([]byte(req.Query.Get("status"))); err != nil {
					return connectors.Callback{}, errors.New("status is not free, busy, dinner or break")
				}
				return connectors.Callback{Status: s}, nil
			}},
	}
}

func (v *vendor) Dial(_ context.Context, p connectors.Phone) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.dialed = append(v.dialed, p.E164)
	return v.dialErr
}

func (v *vendor) SetStatus(_ context.Context, s connectors.AgentStatus) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.statuses = append(v.statuses, s)
	return nil
}

func (v *vendor) seen() ([]string, []connectors.AgentStatus) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.dialed...), append([]connectors.AgentStatus(nil), v.statuses...)
}

// vendorRegistry builds vendors and keeps them for the test to look at.
func vendorRegistry(made map[string]*vendor) *connectors.Registry {
	return connectors.NewRegistry(connectors.Type{Name: "fake", New: func(sec connectors.Section, deps connectors.Deps) (any, error) {
		v := &vendor{name: deps.Name, phones: deps.Phones}
		made[deps.Name] = v
		return v, nil
	}})
}

func loadConfig(t *testing.T, body string) *settings.Config {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	write(t, path, fmt.Sprintf("region = \"RO\"\ndialer = \"pbx\"\n[data]\ndir = %q\n%s", filepath.Join(dir, "data"), body))
	cfg, err := settings.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestWebhookWiring runs the app with two connectors that take callbacks
// and checks that what their routes yield reaches the engine, the dialer
// and the status setters.
func TestWebhookWiring(t *testing.T) {
	cfg := loadConfig(t, `
[webhook]
listen = "127.0.0.1:0"
origins = ["https://crm.example"]
[connectors.pbx]
type = "fake"
[connectors.crm]
type = "fake"
`)
	made := map[string]*vendor{}
	store := settings.NewMemoryStore()
	a, err := New(Deps{Config: cfg, Registry: vendorRegistry(made), Secrets: store, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	token, err := store.Get(WebhookTokenKey)
	if err != nil || len(token) < webhook.MinTokenLength {
		t.Fatalf("token %q, %v: want one made and stored", token, err)
	}
	if got, want := made["crm"].base, "http://127.0.0.1:0/crm"; got != want {
		t.Errorf("callback base %q, want %q", got, want)
	}
	if st := a.WebhookState(); st.Status != webhook.StatusStarting || len(st.Routes) != 8 {
		t.Errorf("state before Run: %+v", st)
	}
	updates, stop := runApp(t, a)
	defer func() {
		stop()
		if st := a.WebhookState(); st.Status != webhook.StatusStopped {
			t.Errorf("state after Run: %s", st.Status)
		}
	}()
	listening := waitFor(t, updates, func(u Update) bool { return u.Kind == UpdateListener && u.Listener.Status == webhook.StatusListening })
	base := "http://" + listening.Listener.Addr
	get := func(path string, header ...string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	// An event: raised as the crm instance's, with its vendor id.
	if code, body := get("/crm/event?token=" + token + "&id=c1&phone=0213124567"); code != 200 {
		t.Fatalf("event: %d %s", code, body)
	}
	raised := waitFor(t, updates, func(u Update) bool { return u.Kind == UpdateCall && u.Phase == PhaseRaised })
	if c := raised.Call; c.Source != "crm" || c.VendorCallID != "c1" || c.Phone.E164 != "+40213124567" {
		t.Errorf("raised %+v", c)
	}

	// A status from crm: the tray follows, pbx is told, crm is not told its own.
	if code, body := get("/crm/status?clientId=" + vendorSecret + "&status=dinner"); code != 200 {
		t.Fatalf("status: %d %s", code, body)
	}
	if u := waitFor(t, updates, func(u Update) bool { return u.Kind == UpdateStatus }); u.Status != connectors.StatusDinner {
		t.Errorf("status update %v", u.Status)
	}
	if _, st := made["pbx"].seen(); fmt.Sprint(st) != "[dinner]" {
		t.Errorf("pbx got statuses %v", st)
	}
	if _, st := made["crm"].seen(); len(st) != 0 {
		t.Errorf("crm was told its own status: %v", st)
	}

	// A dial asked for by crm goes through the configured dialer (pbx);
	// so does /dial from the CRM page, and a repeat within 5 s does not.
	if code, body := get("/crm/make-call?clientId=" + vendorSecret + "&phone=0722345678"); code != 200 {
		t.Fatalf("make-call: %d %s", code, body)
	}
	if code, body := get("/dial?number="+url.QueryEscape("+40 21 312 4568"), "Origin", "https://crm.example"); code != 200 {
		t.Fatalf("dial: %d %s", code, body)
	}
	if code, body := get("/dial?number=0213124568", "Origin", "https://crm.example"); code != 202 {
		t.Fatalf("repeated dial: %d %s, want 202", code, body)
	}
	if d, _ := made["pbx"].seen(); fmt.Sprint(d) != "[+40722345678 +40213124568]" {
		t.Errorf("pbx dialed %v", d)
	}
	if d, _ := made["crm"].seen(); len(d) != 0 {
		t.Errorf("crm dialed %v; the dialer is pbx", d)
	}

	// A refused dial is a 502 with the reason, the number masked.
	made["pbx"].mu.Lock()
	made["pbx"].dialErr = errors.New("the PBX is busy")
	made["pbx"].mu.Unlock()
	code, body := get("/dial?token=" + token + "&number=0213124599")
	if code != 502 || !strings.Contains(body, "the PBX is busy") || strings.Contains(body, "0213124599") || strings.Contains(body, "213124599") {
		t.Errorf("refused dial: %d %s", code, body)
	}
}

// TestWebhookOff checks that a disabled listener is not built and says so.
func TestWebhookOff(t *testing.T) {
	cfg := loadConfig(t, "[webhook]\nenabled = false\n[connectors.pbx]\ntype = \"fake\"\n")
	store := settings.NewMemoryStore()
	a, err := New(Deps{Config: cfg, Registry: vendorRegistry(map[string]*vendor{}), Secrets: store, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Webhook != nil || a.WebhookState().Status != webhook.StatusOff {
		t.Errorf("listener %v, state %v", a.Webhook, a.WebhookState().Status)
	}
	if _, err := store.Get(WebhookTokenKey); err == nil {
		t.Error("a token made for a listener that is off")
	}
}

// failingStore is a keyring that cannot be reached.
type failingStore struct{ settings.SecretStore }

func (failingStore) Get(key string) (string, error) {
	return "", fmt.Errorf("%w: %w", settings.ErrSecretNotFound, settings.ErrKeyringUnavailable)
}

func (failingStore) Set(string, string) error { return settings.ErrKeyringUnavailable }

func TestWebhookToken(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	store := settings.NewMemoryStore()
	store.Set(WebhookTokenKey, "short")
	if _, err := webhookToken(store, log); err == nil || !strings.Contains(err.Error(), "shorter than 16") || strings.Contains(err.Error(), "short:") {
		t.Errorf("short token: %v", err)
	}

	store.Set(WebhookTokenKey, "a-token-of-my-own-choosing")
	if tok, err := webhookToken(store, log); err != nil || tok != "a-token-of-my-own-choosing" {
		t.Errorf("stored token: %q %v", tok, err)
	}

	tok1, err := webhookToken(failingStore{}, log)
	if err != nil || len(tok1) < webhook.MinTokenLength {
		t.Fatalf("without a keyring: %q %v", tok1, err)
	}
	if !strings.Contains(logs.String(), "for this run only") || !strings.Contains(logs.String(), "RINGSIDE_SECRET_WEBHOOK_TOKEN") {
		t.Errorf("no warning:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), tok1) {
		t.Error("the token was logged")
	}
	if tok2, _ := webhookToken(failingStore{}, log); tok2 == tok1 {
		t.Error("two runs without a keyring made the same token")
	}
}

// TestWebhookPortTaken starts the app on a port another program holds: the
// app runs, and the listener says why it is not listening.
func TestWebhookPortTaken(t *testing.T) {
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	cfg := loadConfig(t, fmt.Sprintf("[webhook]\nlisten = %q\n[connectors.pbx]\ntype = \"fake\"\n", other.Addr().String()))
	a, err := New(Deps{Config: cfg, Registry: vendorRegistry(map[string]*vendor{}), Secrets: settings.NewMemoryStore(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	updates, stop := runApp(t, a)
	u := waitFor(t, updates, func(u Update) bool { return u.Kind == UpdateListener && u.Listener.Status == webhook.StatusFailed })
	if !strings.Contains(u.Listener.Reason, "taken by another program") {
		t.Errorf("reason %q", u.Listener.Reason)
	}
	if _, err := a.Engine.Status(context.Background()); err != nil {
		t.Errorf("the engine is not running: %v", err)
	}
	stop()
}
