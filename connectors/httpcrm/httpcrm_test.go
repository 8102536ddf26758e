package httpcrm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
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

const token = "s3cret-t0ken"

func testDeps(t testing.TB) connectors.Deps {
	t.Helper()
	d := connectortest.Deps(t, "crm", "RO")
	d.Secrets = connectortest.Secrets{"token": token, "password": "pa55"}
	return d
}

func newTestCRM(t testing.TB, d connectors.Deps, conf string) *CRM {
	t.Helper()
	return connectortest.New[*CRM](t, Type(), connectortest.Section(where, conf), d)
}

// request is what the test server saw.
type request struct {
	Method, Path, Query string
	Header              http.Header
	Body                string
}

// server answers every request with status (and headers) and records it.
type server struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []request
}

func newServer(t *testing.T, handle func(w http.ResponseWriter, r *http.Request)) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(body)})
		s.mu.Unlock()
		handle(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) requests() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.reqs...)
}

func status(code int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

func callLog(key string) connectors.CallLog {
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	return connectors.CallLog{
		Key:       key,
		CallKey:   "pbx/a1",
		Revision:  1,
		Direction: connectors.DirectionInbound,
		Phone:     connectors.Phone{Raw: "0211234567", E164: "+40211234567"},
		Agent:     "101",
		Source:    "office",
		Vendor:    "pbx",
		Result:    connectors.ResultAnswered,
		StartedAt: at,
		EndedAt:   at.Add(95 * time.Second),
		Talk:      90 * time.Second,
		Waiting:   5 * time.Second,
		Note:      "wants a callback",
	}
}

func TestSample(t *testing.T) {
	var cfg config
	if err := connectortest.Section(where, string(Type().Sample)).Decode(&cfg); err != nil {
		t.Fatalf("sample does not decode: %v", err)
	}
	c := newTestCRM(t, testDeps(t), string(Type().Sample))
	var _ connectors.CallLogger = c
	var _ connectors.Batcher = c
	var _ connectors.RateLimiter = c
	var _ connectors.Lookuper = c
	var _ connectors.Tester = c
	if c.url != "https://crm.example/api/calls" || c.auth != authBearer || c.batch != 1 || c.headers.Get("X-Team") != "support" {
		t.Errorf("sample decoded to %+v", c)
	}
}

func TestNewErrors(t *testing.T) {
	const u = `url = "https://crm.example/calls"` + "\n"
	tests := []struct {
		name string
		conf string
		key  string // the error names it
	}{
		{"no url", ``, "url"},
		{"ftp url", `url = "ftp://crm.example/x"`, "url"},
		{"relative url", `url = "/calls"`, "url"},
		{"credentials in url", `url = "https://me:pw@crm.example/calls"`, "url"},
		{"lookup without {phone}", u + `lookup_url = "https://crm.example/contacts"`, "lookup_url"},
		{"lookup not http", u + `lookup_url = "mailto:{phone}"`, "lookup_url"},
		{"unknown auth", u + `auth = "digest"`, "auth"},
		{"basic without username", u + `auth = "basic"`, "username"},
		{"username without basic", u + `username = "me"`, "username"},
		{"bad timeout", u + `timeout = "soon"`, "timeout"},
		{"negative timeout", u + `timeout = "-1s"`, "timeout"},
		{"batch too big", u + `batch_size = 101`, "batch_size"},
		{"batch negative", u + `batch_size = -1`, "batch_size"},
		{"negative rate", u + `rate_limit = -1.0`, "rate_limit"},
		{"bad header name", u + `headers = { "X Team" = "a" }`, "headers"},
		{"header with newline", u + `headers = { "X-Team" = "a\nb" }`, "headers"},
		{"reserved header", u + `headers = { "content-type" = "text/plain" }`, "headers"},
		{"authorization with auth", u + "auth = \"bearer\"\n" + `headers = { "Authorization" = "x" }`, "headers"},
		{"unknown key", u + `token = "x"`, "token"},
		{"wrong type", u + `batch_size = "2"`, "batch_size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Type().New(connectortest.Section(where, tt.conf), testDeps(t))
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			for _, w := range []string{"test.toml [connectors.x]", tt.key} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c := newTestCRM(t, testDeps(t), `url = "http://127.0.0.1:1/calls"`)
	if c.batch != 1 || c.auth != authNone || c.client.Timeout != 10*time.Second || c.lookupURL != "" {
		t.Errorf("defaults: batch %d auth %d timeout %v lookup %q", c.batch, c.auth, c.client.Timeout, c.lookupURL)
	}
	if got, want := c.BatchSize(), 1; got != want {
		t.Errorf("BatchSize() = %d, want %d", got, want)
	}
	if r, b := c.RateLimit(); r != 0 || b != 0 {
		t.Errorf("RateLimit() = %v, %d; want 0, 0 (unlimited)", r, b)
	}
	c = newTestCRM(t, testDeps(t), "url = \"http://127.0.0.1:1/calls\"\nrate_limit = 2.5\ntimeout = \"3s\"\nbatch_size = 50")
	if r, b := c.RateLimit(); r != 2.5 || b != 3 {
		t.Errorf("RateLimit() = %v, %d; want 2.5, 3", r, b)
	}
	if c.client.Timeout != 3*time.Second || c.BatchSize() != 50 {
		t.Errorf("timeout %v batch %d", c.client.Timeout, c.BatchSize())
	}
	c = newTestCRM(t, testDeps(t), "url = \"http://127.0.0.1:1/calls\"\nrate_limit = 0.2")
	if r, b := c.RateLimit(); r != 0.2 || b != 1 {
		t.Errorf("RateLimit() = %v, %d; want 0.2, 1", r, b)
	}
}

func TestDeliver(t *testing.T) {
	srv := newServer(t, status(http.StatusCreated, `{"id":17}`))
	logs := &connectortest.LogBuffer{}
	d := testDeps(t)
	d.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newTestCRM(t, d, fmt.Sprintf("url = %q\nauth = \"bearer\"\nheaders = { \"X-Team\" = \"support\" }", srv.URL+"/api/calls"))

	if err := c.LogCalls(context.Background(), []connectors.CallLog{callLog("k1")}); err != nil {
		t.Fatalf("LogCalls: %v", err)
	}
	reqs := srv.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	got := reqs[0]
	if got.Method != http.MethodPost || got.Path != "/api/calls" {
		t.Errorf("request %s %s, want POST /api/calls", got.Method, got.Path)
	}
	for k, want := range map[string]string{
		"Content-Type":    "application/json",
		"Idempotency-Key": "k1",
		"Authorization":   "Bearer " + token,
		"X-Team":          "support",
		"Accept":          "application/json",
	} {
		if v := got.Header.Get(k); v != want {
			t.Errorf("header %s = %q, want %q", k, v, want)
		}
	}
	want := `{"key":"k1","call_key":"pbx/a1","revision":1,"direction":"in","phone":{"raw":"0211234567","e164":"+40211234567"},` +
		`"agent":"101","source":"office","vendor":"pbx","result":"answered","started_at":"2026-11-21T10:00:00Z",` +
		`"ended_at":"2026-11-21T10:01:35Z","talk_ns":90000000000,"waiting_ns":5000000000,"note":"wants a callback"}`
	if got.Body != want {
		t.Errorf("body\n got %s\nwant %s", got.Body, want)
	}
	marshalled, _ := json.Marshal(callLog("k1"))
	if got.Body != string(marshalled) {
		t.Errorf("body is not the CallLog as it marshals")
	}
	if l := logs.String(); strings.Contains(l, token) || strings.Contains(l, "211234567") {
		t.Errorf("log holds a secret or a number: %s", l)
	}
}

func TestDeliverStatus(t *testing.T) {
	tests := []struct {
		status     int
		header     string // Retry-After
		body       string
		permanent  bool
		ok         bool
		retryDelay time.Duration
	}{
		{status: 200, ok: true},
		{status: 201, body: `{"id":1}`, ok: true},
		{status: 204, ok: true},
		{status: 200, body: "<html>thanks</html>", ok: true}, // not JSON: fine
		{status: 409, body: `{"error":"duplicate"}`, ok: true},
		{status: 400, body: "bad phone", permanent: true},
		{status: 401, permanent: true},
		{status: 404, permanent: true},
		{status: 422, body: `{"error":"agent unknown"}`, permanent: true},
		{status: 429, header: "7", retryDelay: 7 * time.Second},
		{status: 500},
		{status: 502},
		{status: 503, header: "120", retryDelay: 2 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
				if tt.header != "" {
					w.Header().Set("Retry-After", tt.header)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			c := newTestCRM(t, testDeps(t), fmt.Sprintf("url = %q", srv.URL))
			err := c.LogCalls(context.Background(), []connectors.CallLog{callLog("k1")})
			if tt.ok {
				if err != nil {
					t.Fatalf("LogCalls = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("LogCalls = nil, want an error")
			}
			if got := connectors.IsPermanent(err); got != tt.permanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, got, tt.permanent)
			}
			d, ok := connectors.RetryDelay(err)
			if tt.retryDelay != 0 && (!ok || d != tt.retryDelay) {
				t.Errorf("RetryDelay(%v) = %v, %v; want %v", err, d, ok, tt.retryDelay)
			}
			if !strings.HasPrefix(err.Error(), "httpcrm: deliver call log: HTTP ") {
				t.Errorf("error %q does not say what failed", err)
			}
		})
	}
}

func TestDeliverNetworkError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close() // nothing listens there any more: connection refused
	c := newTestCRM(t, testDeps(t), fmt.Sprintf("url = %q", addr+"/calls?api_key=hidden"))
	err := c.LogCalls(context.Background(), []connectors.CallLog{callLog("k1")})
	if err == nil {
		t.Fatal("LogCalls = nil, want an error")
	}
	if connectors.IsPermanent(err) {
		t.Errorf("connection refused is permanent: %v", err)
	}
	if !strings.Contains(err.Error(), "refused") || strings.Contains(err.Error(), "hidden") {
		t.Errorf("error %q: want connection refused, without the query", err)
	}
}

func TestDeliverBatch(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	srv := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	c := newTestCRM(t, testDeps(t), fmt.Sprintf("url = %q\nbatch_size = 3", srv.URL+"/calls"))
	if got := c.BatchSize(); got != 3 {
		t.Fatalf("BatchSize() = %d, want 3", got)
	}

	// Two logs: one request, a JSON array, the first key in the header.
	two := []connectors.CallLog{callLog("k1"), callLog("k2")}
	if err := c.LogCalls(context.Background(), two); err != nil {
		t.Fatalf("LogCalls: %v", err)
	}
	reqs := srv.requests()
	wantBody, _ := json.Marshal(two)
	if len(reqs) != 1 || reqs[0].Body != string(wantBody) || reqs[0].Header.Get("Idempotency-Key") != "k1" {
		t.Fatalf("requests %+v\nwant one with body %s and Idempotency-Key k1", reqs, wantBody)
	}
	if !strings.HasPrefix(reqs[0].Body, `[{"key":"k1",`) || !strings.Contains(reqs[0].Body, `},{"key":"k2",`) {
		t.Errorf("body is not an array of logs with their keys: %s", reqs[0].Body)
	}

	// One log is still an array when batch_size > 1.
	if err := c.LogCalls(context.Background(), []connectors.CallLog{callLog("k9")}); err == nil {
		t.Fatal("second request: want the 503")
	}
	if body := srv.requests()[1].Body; !strings.HasPrefix(body, "[") {
		t.Errorf("single log with batch_size 3 sent as %s, want an array", body)
	}

	// More than a batch: two requests, per-log outcomes.
	mu.Lock()
	calls = 1 // the next request is the second: it fails
	mu.Unlock()
	five := []connectors.CallLog{callLog("a"), callLog("b"), callLog("c"), callLog("d"), callLog("e")}
	err := c.LogCalls(context.Background(), five)
	var be *connectors.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("LogCalls(5) = %v, want a BatchError", err)
	}
	for i, e := range be.Errs {
		if wantFail := i < 3; (e != nil) != wantFail {
			t.Errorf("log %d: err %v, want failed=%v", i, e, wantFail)
		}
	}
	reqs = srv.requests()
	if len(reqs) != 4 || reqs[2].Header.Get("Idempotency-Key") != "a" || reqs[3].Header.Get("Idempotency-Key") != "d" {
		t.Errorf("batches sent: %d requests", len(reqs))
	}
}

func TestBasicAuth(t *testing.T) {
	srv := newServer(t, status(http.StatusOK, ""))
	c := newTestCRM(t, testDeps(t), fmt.Sprintf("url = %q\nauth = \"basic\"\nusername = \"ringside\"", srv.URL))
	if err := c.LogCalls(context.Background(), []connectors.CallLog{callLog("k1")}); err != nil {
		t.Fatal(err)
	}
	r := http.Request{Header: srv.requests()[0].Header}
	user, pw, ok := r.BasicAuth()
	if !ok || user != "ringside" || pw != "pa55" {
		t.Errorf("basic auth = %q, %q, %v; want ringside, pa55", user, pw, ok)
	}
}

func TestMissingSecret(t *testing.T) {
	srv := newServer(t, status(http.StatusOK, ""))
	for _, tt := range []struct {
		auth, secret string
		secrets      connectors.Secrets
	}{
		{"auth = \"bearer\"", "token", connectortest.Secrets{"password": "x"}},
		{"auth = \"bearer\"", "token", connectortest.Secrets{"token": ""}},
		{"auth = \"bearer\"", "token", nil},
		{"auth = \"basic\"\nusername = \"u\"", "password", connectortest.Secrets{}},
	} {
		d := testDeps(t)
		d.Secrets = tt.secrets
		// New does not read secrets.
		c := newTestCRM(t, d, fmt.Sprintf("url = %q\nlookup_url = %q\n%s", srv.URL+"/calls", srv.URL+"/c/{phone}", tt.auth))
		err := c.LogCalls(context.Background(), []connectors.CallLog{callLog("k1")})
		want := fmt.Sprintf("secret %q of connector crm", tt.secret)
		if err == nil || !strings.Contains(err.Error(), want) || connectors.IsPermanent(err) {
			t.Errorf("LogCalls = %v, want a retryable error about %s", err, want)
		}
		if err := c.Test(context.Background()); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Test = %v, want an error about %s", err, want)
		}
		if _, err := c.Lookup(context.Background(), connectors.Phone{E164: "+40211234567"}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Lookup = %v, want an error about %s", err, want)
		}
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("%d requests sent without credentials", n)
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   connectors.Contact
		err    string
	}{
		{"object", 200, `{"id":42,"name":"Ion Popescu","company":"Acme","manager":"Maria","url":"https://crm.example/c/42","extra":{"x":1}}`,
			connectors.Contact{ID: "42", Name: "Ion Popescu", Company: "Acme", Manager: "Maria", URL: "https://crm.example/c/42", Source: "crm"}, ""},
		{"string id", 200, `{"id":"c-42","name":"Ion"}`, connectors.Contact{ID: "c-42", Name: "Ion", Source: "crm"}, ""},
		{"array", 200, `[{"id":1.5e3,"name":"First"},{"id":2,"name":"Second"}]`, connectors.Contact{ID: "1.5e3", Name: "First", Source: "crm"}, ""},
		{"empty array", 200, `[]`, connectors.Contact{Source: "crm"}, ""},
		{"only new_url", 200, `{"new_url":"https://crm.example/new?phone=x"}`, connectors.Contact{NewURL: "https://crm.example/new?phone=x", Source: "crm"}, ""},
		{"not found", 404, `{"error":"no such contact"}`, connectors.Contact{}, ""},
		{"no content", 204, ``, connectors.Contact{}, ""},
		{"garbage", 200, `<html>`, connectors.Contact{}, "httpcrm: lookup: decode answer: "},
		{"wrong type", 200, `{"name":true}`, connectors.Contact{}, "httpcrm: lookup: decode answer: "},
		{"server error", 500, `oops`, connectors.Contact{}, "httpcrm: lookup: HTTP 500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, status(tt.status, tt.body))
			c := newTestCRM(t, testDeps(t), fmt.Sprintf("url = %q\nlookup_url = %q\nauth = \"bearer\"", srv.URL+"/calls", srv.URL+"/api/contacts?phone={phone}&fields=all"))
			got, err := c.Lookup(context.Background(), connectors.Phone{Raw: "021 123 4567", E164: "+40211234567"})
			if tt.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
					t.Fatalf("Lookup error = %v, want %q…", err, tt.err)
				}
			} else if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Lookup = %+v, want %+v", got, tt.want)
			}
			r := srv.requests()[0]
			if r.Method != http.MethodGet || r.Path != "/api/contacts" || r.Query != "phone=%2B40211234567&fields=all" {
				t.Errorf("request %s %s?%s", r.Method, r.Path, r.Query)
			}
			if r.Header.Get("Authorization") != "Bearer "+token || r.Header.Get("Idempotency-Key") != "" {
				t.Errorf("headers %v", r.Header)
			}
		})
	}
}

func TestLookupWithoutURL(t *testing.T) {
	c := newTestCRM(t, testDeps(t), `url = "http://127.0.0.1:1/calls"`)
	got, err := c.Lookup(context.Background(), connectors.Phone{E164: "+40211234567"})
	if err != nil || got.Known() {
		t.Errorf("Lookup without lookup_url = %+v, %v; want unknown, nil", got, err)
	}
}

func TestLookupErrorsHideNumber(t *testing.T) {
	srv := newServer(t, status(http.StatusBadRequest, `{"error":"+40211234567 is not a customer of 40211234567"}`))
	c := newTestCRM(t, testDeps(t), fmt.Sprintf("url = %q\nlookup_url = %q", srv.URL, srv.URL+"/c/{phone}"))
	_, err := c.Lookup(context.Background(), connectors.Phone{Raw: "0211234567", E164: "+40211234567"})
	if err == nil || !connectors.IsPermanent(err) {
		t.Fatalf("Lookup = %v, want a permanent error", err)
	}
	if strings.Contains(err.Error(), "211234567") {
		t.Errorf("error shows the number: %v", err)
	}
	srv.Close()
	_, err = c.Lookup(context.Background(), connectors.Phone{Raw: "0211234567", E164: "+40211234567"})
	if err == nil || strings.Contains(err.Error(), "211234567") || !strings.Contains(err.Error(), "/c/{phone}") {
		t.Errorf("network error %v: want the address template, not the number", err)
	}
}

func TestTest(t *testing.T) {
	tests := []struct {
		name   string
		lookup int // status of the lookup; 0: no lookup_url
		head   int
		want   string // "" is success
	}{
		{"no lookup, HEAD 405", 0, 405, ""},
		{"no lookup, HEAD 200", 0, 200, ""},
		{"lookup 404, HEAD 405", 404, 405, ""},
		{"lookup 200", 200, 204, ""},
		{"lookup 401", 401, 405, "httpcrm: lookup_url does not work: the CRM refused the credentials (HTTP 401 Unauthorized"},
		{"lookup 500", 500, 405, "httpcrm: lookup_url does not work: the CRM failed (HTTP 500"},
		{"head 403", 0, 403, "httpcrm: url does not work: the CRM refused the credentials (HTTP 403 Forbidden)"},
		{"head 404", 0, 404, "httpcrm: url does not work: no such address on the CRM (HTTP 404 Not Found): check the path"},
		{"head 503", 0, 503, "httpcrm: url does not work: the CRM failed (HTTP 503"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet {
					if r.URL.Query().Get("phone") != testPhone {
						t.Errorf("Test looked up %q", r.URL.Query().Get("phone"))
					}
					w.WriteHeader(tt.lookup)
					_, _ = io.WriteString(w, `{"id":null}`)
					return
				}
				if r.Method != http.MethodHead || r.URL.Path != "/calls" {
					t.Errorf("Test sent %s %s", r.Method, r.URL.Path)
				}
				w.WriteHeader(tt.head)
			})
			conf := fmt.Sprintf("url = %q\nauth = \"bearer\"", srv.URL+"/calls")
			if tt.lookup != 0 {
				conf += fmt.Sprintf("\nlookup_url = %q", srv.URL+"/contacts?phone={phone}")
			}
			err := newTestCRM(t, testDeps(t), conf).Test(context.Background())
			if tt.want == "" {
				if err != nil {
					t.Errorf("Test = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Test = %v\nwant %s…", err, tt.want)
			}
		})
	}

	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	err := newTestCRM(t, testDeps(t), fmt.Sprintf("url = %q", srv.URL+"/calls")).Test(context.Background())
	if err == nil || !strings.Contains(err.Error(), "url does not work: cannot reach the CRM") {
		t.Errorf("Test against nothing = %v", err)
	}
}

func TestRateLimitWaits(t *testing.T) {
	srv := newServer(t, status(http.StatusOK, ""))
	clock := clockwork.NewFakeClock()
	d := testDeps(t)
	d.Clock = clock
	c := newTestCRM(t, d, fmt.Sprintf("url = %q\nrate_limit = 1.0", srv.URL))
	ctx := context.Background()
	if err := c.LogCalls(ctx, []connectors.CallLog{callLog("k1")}); err != nil {
		t.Fatal(err) // the burst: no wait
	}
	done := make(chan error, 1)
	go func() { done <- c.LogCalls(ctx, []connectors.CallLog{callLog("k2")}) }()
	if err := clock.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Fatalf("second request did not wait: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	clock.Advance(time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(srv.requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}

	// A cancelled wait returns.
	cctx, cancel := context.WithCancel(ctx)
	go func() { done <- c.LogCalls(cctx, []connectors.CallLog{callLog("k3")}) }()
	if err := clock.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait = %v", err)
	}
}

func TestDecodeContact(t *testing.T) {
	tests := []struct {
		in   string
		want connectors.Contact
		err  bool
	}{
		{``, connectors.Contact{}, false},
		{`null`, connectors.Contact{}, false},
		{` {"id": -7, "name": " Ana "} `, connectors.Contact{ID: "-7", Name: "Ana"}, false},
		{`[null]`, connectors.Contact{}, false},
		{`{"manager": {"name": "x"}}`, connectors.Contact{}, true},
		{`{"id": [1]}`, connectors.Contact{}, true},
		{`"text"`, connectors.Contact{}, true},
		{`{"id":1}{"id":2}`, connectors.Contact{}, true},
		{`[1]`, connectors.Contact{}, true},
	}
	for _, tt := range tests {
		got, err := decodeContact([]byte(tt.in))
		if (err != nil) != tt.err || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("decodeContact(%s) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
	_, err := decodeContact([]byte(`{"manager": true}`))
	if err == nil || !strings.Contains(err.Error(), "manager") {
		t.Errorf("a wrong field type does not name the field: %v", err)
	}
}

func FuzzDecodeContact(f *testing.F) {
	for _, s := range []string{`{"id":42,"name":"Ion"}`, `[{"id":"a"}]`, `[]`, `null`, `{"manager":1e400}`, `<html>`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeContact(data)
		if err != nil && !reflect.DeepEqual(c, connectors.Contact{}) {
			t.Fatalf("error %v with a contact %+v", err, c)
		}
	})
}
