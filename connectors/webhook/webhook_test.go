package webhook

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/connectors/connectortest"
)

const (
	testToken    = "tok-0123456789abcdefghij"
	testClientID = "client-secret-xyz"
	crmOrigin    = "https://crm.example"
)

// recorder is a Sink that records what reaches it.
type recorder struct {
	mu    sync.Mutex
	calls []sinkCall
	err   error         // returned by Handle
	block chan struct{} // when not nil, Handle waits for it or ctx
}

type sinkCall struct {
	from string
	cb   connectors.Callback
}

func (r *recorder) Handle(ctx context.Context, from string, cb connectors.Callback) error {
	r.mu.Lock()
	r.calls = append(r.calls, sinkCall{from, cb})
	err, block := r.err, r.block
	r.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
		}
	}
	return err
}

func (r *recorder) got() []sinkCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sinkCall(nil), r.calls...)
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls, r.err, r.block = nil, nil, nil
}

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.Token = testToken
	cfg.Origins = []string{crmOrigin}
	cfg.Hosts = []string{"agent1.example"}
	return cfg
}

// testRoutes are the kinds of route vendors mount: a form POST with the
// token (Accolades), a GET with a vendor secret that dials and one that sets
// the status (retailCRM), and a GET query string with the token (an IVR).
func testRoutes(pp *connectors.PhoneParser) []connectors.Route {
	secret := func() string { return testClientID }
	return []connectors.Route{
		{Path: "notify", Methods: []string{"POST"}, Auth: connectors.TokenAuth(), Accept: []string{connectors.MediaForm},
			Parse: func(req connectors.CallbackRequest) (connectors.Callback, error) {
				id := req.Form.Get("callId")
				if id == "" {
					return connectors.Callback{}, errors.New("callId is missing")
				}
				return connectors.Callback{Events: []connectors.Event{{Kind: connectors.KindAnswered, CallID: id, Phone: pp.Parse(req.Form.Get("phoneNumber"))}}}, nil
			}},
		{Path: "make-call", Methods: []string{"GET"}, Auth: connectors.ParamAuth("clientId", secret),
			Parse: func(req connectors.CallbackRequest) (connectors.Callback, error) {
				p := pp.Parse(req.Query.Get("phone"))
				if p.IsZero() {
					return connectors.Callback{}, errors.New("phone is missing")
				}
				return connectors.Callback{Dial: p}, nil
			}},
		{Path: "status", Methods: []string{"GET"}, Auth: connectors.ParamAuth("clientId", secret),
			Parse: func(req connectors.CallbackRequest) (connectors.Callback, error) {
				var s connectors.AgentStatus
				if err := s.UnmarshalText([]byte(req.Query.Get("status"))); err != nil {
					return connectors.Callback{}, errors.New("status is not free, busy, dinner or break")
				}
				return connectors.Callback{Status: s}, nil
			}},
		{Path: "ivr", Methods: []string{"GET"}, Auth: connectors.TokenAuth(),
			Parse: func(req connectors.CallbackRequest) (connectors.Callback, error) {
				if len(req.Query) == 0 {
					return connectors.Callback{}, nil
				}
				return connectors.Callback{Events: []connectors.Event{{Kind: connectors.KindEnded, CallID: req.Query.Get("activecallkey")}}}, nil
			}},
	}
}

type harness struct {
	l     *Listener
	sink  *recorder
	url   string // http://127.0.0.1:port
	clock *clockwork.FakeClock
	logs  *connectortest.LogBuffer
}

// start runs a listener with the test routes mounted as instance "office"
// until the test ends.
func start(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{sink: &recorder{}, clock: clockwork.NewFakeClockAt(time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)), logs: &connectortest.LogBuffer{}}
	t.Cleanup(func() { // after the listener stopped
		if t.Failed() {
			t.Logf("listener log:\n%s", h.logs.String())
		}
	})
	log := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.l = serveListener(t, cfg, Deps{Sink: h.sink, Phones: connectortest.Phones(t, "RO"), Logger: log, Clock: h.clock})
	h.url = h.l.URL()
	return h
}

// serveListener runs a listener with the test routes mounted as instance
// "office" until the test or benchmark ends.
func serveListener(tb testing.TB, cfg Config, deps Deps) *Listener {
	tb.Helper()
	l, err := New(cfg, deps)
	if err != nil {
		tb.Fatal(err)
	}
	if err := l.Mount("office", testRoutes(deps.Phones)); err != nil {
		tb.Fatal(err)
	}
	if err := l.Bind(); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			tb.Error("Run did not return")
		}
	})
	return l
}

type exchange struct {
	method string
	path   string // with the query
	header map[string]string
	host   string
	body   string
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (h *harness) do(t *testing.T, x exchange) answer {
	t.Helper()
	req, err := http.NewRequest(x.method, h.url+x.path, strings.NewReader(x.body))
	if err != nil {
		t.Fatal(err)
	}
	if x.body == "" {
		req.Body = http.NoBody
		req.ContentLength = 0
	}
	for k, v := range x.header {
		req.Header.Set(k, v)
	}
	if x.host != "" {
		req.Host = x.host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// reason returns the JSON error of an answer, failing the test when the
// body is not one.
func reason(t *testing.T, a answer) string {
	t.Helper()
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var e errorBody
	if err := json.Unmarshal([]byte(a.body), &e); err != nil || e.Error == "" {
		t.Errorf("body %q is not a JSON error with a reason", a.body)
	}
	return e.Error
}

const form = connectors.MediaForm

func TestRejections(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBody = 1 << 10
	h := start(t, cfg)
	port := h.url[strings.LastIndexByte(h.url, ':')+1:]
	good := "callId=1.2&phoneNumber=0211234567"
	tests := []struct {
		name   string
		x      exchange
		status int
		want   string // in the reason
		check  func(t *testing.T, a answer)
	}{
		{"missing token", exchange{method: "POST", path: "/office/notify", header: map[string]string{"Content-Type": form}, body: good}, 401, "missing token", nil},
		{"wrong token in the query", exchange{method: "POST", path: "/office/notify?token=nope", header: map[string]string{"Content-Type": form}, body: good}, 401, "wrong token", nil},
		{"wrong bearer token", exchange{method: "POST", path: "/office/notify", header: map[string]string{"Content-Type": form, "Authorization": "Bearer " + testToken + "x"}, body: good}, 401, "wrong token", nil},
		{"wrong X-Ringside-Token", exchange{method: "POST", path: "/office/notify", header: map[string]string{"Content-Type": form, "X-Ringside-Token": "x"}, body: good}, 401, "wrong token", nil},
		{"basic auth is not a token", exchange{method: "POST", path: "/office/notify", header: map[string]string{"Content-Type": form, "Authorization": "Basic " + testToken}, body: good}, 401, "wrong token", nil},
		{"token twice", exchange{method: "POST", path: "/office/notify?token=" + testToken + "&token=" + testToken, header: map[string]string{"Content-Type": form}, body: good}, 401, "wrong token", nil},
		{"token in the body does not count", exchange{method: "POST", path: "/office/notify", header: map[string]string{"Content-Type": form}, body: good + "&token=" + testToken}, 401, "missing token", nil},
		{"wrong clientId", exchange{method: "GET", path: "/office/make-call?clientId=nope&phone=0211234567"}, 401, "wrong clientId", nil},
		{"missing clientId", exchange{method: "GET", path: "/office/make-call?phone=0211234567"}, 401, "missing clientId", nil},
		{"clientId twice", exchange{method: "GET", path: "/office/status?clientId=" + testClientID + "&clientId=" + testClientID + "&status=busy"}, 401, "more than once", nil},
		{"the token is no clientId", exchange{method: "GET", path: "/office/status?token=" + testToken + "&status=busy"}, 401, "missing clientId", nil},
		{"wrong Host", exchange{method: "GET", path: "/office/ivr?token=" + testToken, host: "evil.example:" + port}, 403, "Host header", nil},
		{"DNS rebinding without port", exchange{method: "GET", path: "/health", host: "evil.example"}, 403, "Host header", nil},
		{"Host of another port", exchange{method: "GET", path: "/health", host: "127.0.0.1:1"}, 403, "Host header", nil},
		{"foreign Origin", exchange{method: "GET", path: "/dial?number=0211234567", header: map[string]string{"Origin": "https://evil.example"}}, 403, "origin", nil},
		{"foreign Origin with the token", exchange{method: "GET", path: "/dial?number=0211234567&token=" + testToken, header: map[string]string{"Origin": "https://crm.example.evil"}}, 403, "origin", nil},
		{"null Origin", exchange{method: "GET", path: "/dial?number=0211234567", header: map[string]string{"Origin": "null"}}, 403, "origin", nil},
		{"foreign preflight", exchange{method: "OPTIONS", path: "/dial", header: map[string]string{"Origin": "http://127.0.0.1:9", "Access-Control-Request-Method": "POST"}}, 403, "origin", nil},
		{"oversize body", exchange{method: "POST", path: "/office/notify?token=" + testToken, header: map[string]string{"Content-Type": form}, body: good + "&x=" + strings.Repeat("a", 1<<10)}, 413, "larger than 1KiB", nil},
		{"JSON where a form is wanted", exchange{method: "POST", path: "/office/notify?token=" + testToken, header: map[string]string{"Content-Type": "application/json"}, body: `{"callId":"1.2"}`}, 415, "want a body of type application/x-www-form-urlencoded", nil},
		{"no content type", exchange{method: "POST", path: "/office/notify?token=" + testToken, body: good}, 415, "want a body", nil},
		{"a body where none is taken", exchange{method: "GET", path: "/office/ivr?token=" + testToken, header: map[string]string{"Content-Type": form}, body: good}, 415, "takes no body", nil},
		{"bad query", exchange{method: "GET", path: "/office/ivr?token=" + testToken + "&activecallkey=%zz"}, 400, "query string", nil},
		{"bad query before auth", exchange{method: "GET", path: "/office/ivr?a=%zz"}, 400, "query string", nil},
		{"bad form", exchange{method: "POST", path: "/office/notify?token=" + testToken, header: map[string]string{"Content-Type": form}, body: "callId=%zz"}, 400, "not a well-formed form", nil},
		{"refused by the parser", exchange{method: "POST", path: "/office/notify?token=" + testToken, header: map[string]string{"Content-Type": form}, body: "phoneNumber=0211234567"}, 400, "callId is missing", nil},
		{"bad status", exchange{method: "GET", path: "/office/status?clientId=" + testClientID + "&status=asleep"}, 400, "status is not", nil},
		{"wrong method", exchange{method: "DELETE", path: "/office/notify?token=" + testToken}, 405, "allowed: POST", func(t *testing.T, a answer) {
			if got := a.header.Get("Allow"); got != "POST" {
				t.Errorf("Allow %q, want POST", got)
			}
		}},
		{"GET on a POST route", exchange{method: "GET", path: "/office/notify?token=" + testToken + "&callId=1.2"}, 405, "allowed: POST", nil},
		{"unknown path", exchange{method: "GET", path: "/office/nothing?token=" + testToken}, 404, "no such route", nil},
		{"unknown instance", exchange{method: "GET", path: "/other/ivr?token=" + testToken}, 404, "no such route", nil},
		{"trailing slash", exchange{method: "GET", path: "/office/ivr/?token=" + testToken}, 404, "no such route", nil},
		{"dial without token or origin", exchange{method: "GET", path: "/dial?number=0211234567"}, 401, "missing token", nil},
		{"dial, allowed origin but wrong token", exchange{method: "GET", path: "/dial?number=0211234567&token=x", header: map[string]string{"Origin": crmOrigin}}, 401, "wrong token", nil},
		{"dial without number", exchange{method: "GET", path: "/dial?token=" + testToken}, 400, "number is missing", nil},
		{"dial a word", exchange{method: "GET", path: "/dial?token=" + testToken + "&number=call-me"}, 400, "not part of a phone number", nil},
		{"dial two numbers", exchange{method: "GET", path: "/dial?token=" + testToken + "&number=0211234567&number=0211234568"}, 400, "more than once", nil},
		{"dial bad JSON", exchange{method: "POST", path: "/dial?token=" + testToken, header: map[string]string{"Content-Type": "application/json"}, body: `{"number":`}, 400, "not valid JSON", nil},
		{"dial JSON number not a string", exchange{method: "POST", path: "/dial?token=" + testToken, header: map[string]string{"Content-Type": "application/json"}, body: `{"number":40211234567}`}, 400, `"number" as a string`, nil},
		{"dial text/plain", exchange{method: "POST", path: "/dial?token=" + testToken, header: map[string]string{"Content-Type": "text/plain"}, body: "0211234567"}, 415, "want a body", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.sink.reset()
			a := h.do(t, tt.x)
			if a.status != tt.status {
				t.Fatalf("status %d, want %d (%s)", a.status, tt.status, a.body)
			}
			if got := reason(t, a); !strings.Contains(got, tt.want) {
				t.Errorf("reason %q, want it to hold %q", got, tt.want)
			}
			if !strings.Contains(a.header.Get("Vary"), "Origin") {
				t.Errorf("Vary %q, want Origin", a.header.Get("Vary"))
			}
			if tt.check != nil {
				tt.check(t, a)
			}
			if got := h.sink.got(); len(got) != 0 {
				t.Errorf("refused request reached the sink: %+v", got)
			}
		})
	}
	if strings.Contains(h.logs.String(), testToken) || strings.Contains(h.logs.String(), testClientID) {
		t.Errorf("a secret reached the log")
	}
}

func TestAccepted(t *testing.T) {
	h := start(t, testConfig())
	pp := connectortest.Phones(t, "RO")
	tests := []struct {
		name string
		x    exchange
		want sinkCall
	}{
		{"form POST with the token in the query", exchange{method: "POST", path: "/office/notify?token=" + testToken, header: map[string]string{"Content-Type": form + "; charset=UTF-8"}, body: "callId=1.2&phoneNumber=0211234567"},
			sinkCall{"office", connectors.Callback{Events: []connectors.Event{{Kind: connectors.KindAnswered, CallID: "1.2", Phone: pp.Parse("0211234567")}}}}},
		{"bearer token", exchange{method: "POST", path: "/office/notify", header: map[string]string{"Content-Type": form, "Authorization": "bearer " + testToken}, body: "callId=1.3"},
			sinkCall{"office", connectors.Callback{Events: []connectors.Event{{Kind: connectors.KindAnswered, CallID: "1.3", Phone: connectors.Phone{}}}}}},
		{"X-Ringside-Token", exchange{method: "GET", path: "/office/ivr?activecallkey=abc", header: map[string]string{"X-Ringside-Token": testToken}},
			sinkCall{"office", connectors.Callback{Events: []connectors.Event{{Kind: connectors.KindEnded, CallID: "abc"}}}}},
		{"vendor secret, dial", exchange{method: "GET", path: "/office/make-call?clientId=" + testClientID + "&phone=0211234567&code=101&userId=7"},
			sinkCall{"office", connectors.Callback{Dial: pp.Parse("0211234567")}}},
		{"vendor secret, status", exchange{method: "GET", path: "/office/status?clientId=" + testClientID + "&status=dinner&userId=7"},
			sinkCall{"office", connectors.Callback{Status: connectors.StatusDinner}}},
		{"localhost Host", exchange{method: "GET", path: "/office/status?clientId=" + testClientID + "&status=busy", host: "LOCALHOST:" + h.url[strings.LastIndexByte(h.url, ':')+1:]},
			sinkCall{"office", connectors.Callback{Status: connectors.StatusBusy}}},
		{"configured host, any port", exchange{method: "GET", path: "/office/status?clientId=" + testClientID + "&status=free", host: "agent1.example"},
			sinkCall{"office", connectors.Callback{Status: connectors.StatusFree}}},
		{"dial from the CRM page without token", exchange{method: "GET", path: "/dial?number=tel:%2B40-21-312-4567", header: map[string]string{"Origin": crmOrigin}},
			sinkCall{"", connectors.Callback{Dial: pp.Parse("+40-21-312-4567")}}},
		{"dial POST form", exchange{method: "POST", path: "/dial", header: map[string]string{"Content-Type": form, "X-Ringside-Token": testToken}, body: "number=0722+345+678"},
			sinkCall{"", connectors.Callback{Dial: pp.Parse("0722 345 678")}}},
		{"dial POST JSON", exchange{method: "POST", path: "/dial?token=" + testToken, header: map[string]string{"Content-Type": "application/json"}, body: `{"number":"(021) 312-4568"}`},
			sinkCall{"", connectors.Callback{Dial: pp.Parse("(021) 312-4568")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.sink.reset()
			a := h.do(t, tt.x)
			if a.status != http.StatusOK || strings.TrimSpace(a.body) != `{"ok":true}` {
				t.Fatalf("answer %d %s, want 200 {\"ok\":true}", a.status, a.body)
			}
			got := h.sink.got()
			if len(got) != 1 {
				t.Fatalf("sink got %d callbacks, want 1", len(got))
			}
			if g, w := fmt.Sprintf("%+v", got[0]), fmt.Sprintf("%+v", tt.want); g != w {
				t.Errorf("sink got  %s\nwant %s", g, w)
			}
			if o := tt.x.header["Origin"]; o != "" && a.header.Get("Access-Control-Allow-Origin") != o {
				t.Errorf("Access-Control-Allow-Origin %q, want %q", a.header.Get("Access-Control-Allow-Origin"), o)
			}
		})
	}

	t.Run("nothing to do", func(t *testing.T) {
		h.sink.reset()
		a := h.do(t, exchange{method: "GET", path: "/office/ivr?token=" + testToken})
		if a.status != 200 || len(h.sink.got()) != 0 {
			t.Errorf("answer %d %s, %d sink calls; want 200 and none", a.status, a.body, len(h.sink.got()))
		}
	})
	t.Run("health", func(t *testing.T) {
		a := h.do(t, exchange{method: "GET", path: "/health"})
		if a.status != 200 || !strings.Contains(a.body, `"service":"ringside"`) {
			t.Errorf("answer %d %s", a.status, a.body)
		}
	})
}

// TestParseSeesNoSecret checks that the token, the vendor secret and the
// credential headers are gone before Parse.
func TestParseSeesNoSecret(t *testing.T) {
	var seen []connectors.CallbackRequest
	var mu sync.Mutex
	rec := func(req connectors.CallbackRequest) (connectors.Callback, error) {
		mu.Lock()
		seen = append(seen, req)
		mu.Unlock()
		return connectors.Callback{}, nil
	}
	cfg := testConfig()
	l, err := New(cfg, Deps{Sink: &recorder{}, Phones: connectortest.Phones(t, "RO")})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Mount("crm", []connectors.Route{
		{Path: "a", Methods: []string{"GET"}, Auth: connectors.TokenAuth(), Parse: rec},
		{Path: "b", Methods: []string{"GET"}, Auth: connectors.ParamAuth("clientId", func() string { return testClientID }), Parse: rec},
	}); err != nil {
		t.Fatal(err)
	}
	if err := l.Bind(); err != nil {
		t.Fatal(err)
	}
	defer l.ln.Close()
	for _, target := range []string{"/crm/a?token=" + testToken + "&x=1", "/crm/b?clientId=" + testClientID + "&token=zzz&x=1"} {
		req, _ := http.NewRequest("GET", l.URL()+target, nil)
		req.RemoteAddr = "127.0.0.1:5555"
		req.Host = strings.TrimPrefix(l.URL(), "http://")
		req.Header.Set("Cookie", "session=1")
		req.Header.Set("Authorization", "Bearer "+testToken)
		if strings.Contains(target, "clientId") {
			req.Header.Del("Authorization")
		}
		w := newRecorder()
		l.ServeHTTP(w, req)
		if w.status != 200 {
			t.Fatalf("%s: %d %s", target, w.status, w.body.String())
		}
	}
	if len(seen) != 2 {
		t.Fatalf("parse saw %d requests", len(seen))
	}
	for _, req := range seen {
		if got := req.Query.Encode(); got != "x=1" {
			t.Errorf("query %q, want x=1", got)
		}
		for _, h := range []string{"Authorization", "Cookie", "X-Ringside-Token"} {
			if req.Header.Get(h) != "" {
				t.Errorf("header %s passed on", h)
			}
		}
	}
}

// responseRecorder is a minimal http.ResponseWriter for driving ServeHTTP.
type responseRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *responseRecorder { return &responseRecorder{header: http.Header{}} }

func (r *responseRecorder) Header() http.Header { return r.header }
func (r *responseRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = 200
	}
	return r.body.Write(b)
}
func (r *responseRecorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}

func TestPreflight(t *testing.T) {
	h := start(t, testConfig())
	a := h.do(t, exchange{method: "OPTIONS", path: "/dial", header: map[string]string{
		"Origin": crmOrigin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type",
		"Access-Control-Request-Private-Network": "true"}})
	if a.status != http.StatusNoContent {
		t.Fatalf("status %d %s", a.status, a.body)
	}
	for k, want := range map[string]string{
		"Access-Control-Allow-Origin":          crmOrigin,
		"Access-Control-Allow-Methods":         "GET, POST",
		"Access-Control-Allow-Headers":         "Authorization, Content-Type, X-Ringside-Token",
		"Access-Control-Allow-Private-Network": "true",
		"Access-Control-Max-Age":               "600",
	} {
		if got := a.header.Get(k); got != want {
			t.Errorf("%s %q, want %q", k, got, want)
		}
	}
	if v := strings.Join(a.header.Values("Vary"), ", "); !strings.Contains(v, "Origin") || !strings.Contains(v, "Access-Control-Request-Method") {
		t.Errorf("Vary %q", v)
	}
	a = h.do(t, exchange{method: "OPTIONS", path: "/dial", header: map[string]string{"Origin": crmOrigin, "Access-Control-Request-Method": "DELETE"}})
	if a.status != http.StatusMethodNotAllowed {
		t.Errorf("preflight for DELETE: %d", a.status)
	}
	a = h.do(t, exchange{method: "OPTIONS", path: "/office/notify"})
	if a.status != http.StatusNoContent || a.header.Get("Allow") != "POST, OPTIONS" || a.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("plain OPTIONS: %d Allow %q ACAO %q", a.status, a.header.Get("Allow"), a.header.Get("Access-Control-Allow-Origin"))
	}
	if len(h.sink.got()) != 0 {
		t.Error("a preflight reached the sink")
	}
}

func TestDialDedupe(t *testing.T) {
	h := start(t, testConfig())
	dial := func(number, origin string) answer {
		return h.do(t, exchange{method: "GET", path: "/dial?token=" + testToken + "&number=" + url.QueryEscape(number), header: map[string]string{"Origin": origin}})
	}
	if a := dial("0211234567", crmOrigin); a.status != 200 {
		t.Fatalf("first dial: %d %s", a.status, a.body)
	}
	a := dial("+40 21 123 4567", crmOrigin) // the same number, written otherwise
	if a.status != http.StatusAccepted || !strings.Contains(a.body, `"duplicate":true`) {
		t.Fatalf("repeat: %d %s, want 202 duplicate", a.status, a.body)
	}
	if a := dial("0211234567", ""); a.status != 200 {
		t.Errorf("same number from another source: %d %s", a.status, a.body)
	}
	if a := dial("0211234568", crmOrigin); a.status != 200 {
		t.Errorf("another number: %d %s", a.status, a.body)
	}
	if n := len(h.sink.got()); n != 3 {
		t.Errorf("%d dials, want 3", n)
	}
	h.clock.Advance(DefaultDedupe)
	if a := dial("0211234567", crmOrigin); a.status != 200 {
		t.Errorf("after the window: %d %s", a.status, a.body)
	}

	// A dial that failed may be asked for again at once.
	h.sink.reset()
	h.sink.err = errors.New("dial +40•••••••99: Accolades refused to dial")
	a = dial("0211234599", crmOrigin)
	if a.status != http.StatusBadGateway || !strings.Contains(reason(t, a), "Accolades refused") {
		t.Fatalf("failed dial: %d %s, want 502", a.status, a.body)
	}
	h.sink.err = nil
	if a := dial("0211234599", crmOrigin); a.status != 200 {
		t.Errorf("retry after a failure: %d %s", a.status, a.body)
	}
	// The vendor routes dedupe too.
	h.sink.reset()
	for i, want := range []int{200, 202} {
		a := h.do(t, exchange{method: "GET", path: "/office/make-call?clientId=" + testClientID + "&phone=0211234567"})
		if a.status != want {
			t.Errorf("make-call %d: %d %s, want %d", i, a.status, a.body, want)
		}
	}
}

func TestSinkFailures(t *testing.T) {
	cfg := testConfig()
	cfg.HandlerTimeout = 200 * time.Millisecond
	h := start(t, cfg)
	status := exchange{method: "GET", path: "/office/status?clientId=" + testClientID + "&status=busy"}

	h.sink.err = errors.New("crm: set status for 0721234567: HTTP 400")
	a := h.do(t, status)
	if got := reason(t, a); a.status != http.StatusBadGateway || strings.Contains(got, "0721234567") || !strings.Contains(got, "•••67") {
		t.Errorf("refused: %d %q, want 502 with the number masked", a.status, got)
	}
	h.sink.reset()
	h.sink.err = fmt.Errorf("engine: %w", ErrUnavailable)
	if a := h.do(t, status); a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" {
		t.Errorf("unavailable: %d %s", a.status, a.body)
	}
	h.sink.reset()
	h.sink.block = make(chan struct{})
	h.sink.err = errors.New("late")
	start := time.Now()
	if a := h.do(t, status); a.status != http.StatusGatewayTimeout && a.status != http.StatusServiceUnavailable {
		t.Errorf("slow sink: %d %s, want 504", a.status, a.body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("slow sink answered after %s", d)
	}
	if strings.Contains(h.logs.String(), "0721234567") {
		t.Error("a full number reached the log")
	}
}

func TestRateLimit(t *testing.T) {
	cfg := testConfig()
	cfg.Rate, cfg.Burst = 1, 3
	h := start(t, cfg)
	for i := range 3 {
		if a := h.do(t, exchange{method: "GET", path: "/health"}); a.status != 200 {
			t.Fatalf("request %d: %d", i, a.status)
		}
	}
	a := h.do(t, exchange{method: "GET", path: "/office/status?clientId=" + testClientID + "&status=busy"})
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") != "1" {
		t.Fatalf("over the burst: %d Retry-After %q, want 429 and 1", a.status, a.header.Get("Retry-After"))
	}
	reason(t, a)
	if len(h.sink.got()) != 0 {
		t.Error("a rate-limited request reached the sink")
	}
	h.clock.Advance(time.Second)
	if a := h.do(t, exchange{method: "GET", path: "/health"}); a.status != 200 {
		t.Errorf("a second later: %d", a.status)
	}
}

// rawConn dials the listener for a hand-written request.
func rawConn(t *testing.T, h *harness) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestSlowClient(t *testing.T) {
	cfg := testConfig()
	cfg.ReadHeaderTimeout = 300 * time.Millisecond
	cfg.ReadTimeout = 600 * time.Millisecond
	h := start(t, cfg)
	host := strings.TrimPrefix(h.url, "http://")

	t.Run("headers", func(t *testing.T) {
		c := rawConn(t, h)
		start := time.Now()
		if _, err := fmt.Fprintf(c, "GET /dial?token=%s&number=0211234567 HTTP/1.1\r\nHost: %s\r\n", testToken, host); err != nil {
			t.Fatal(err)
		}
		// … and the rest of the headers never come.
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(c)
		took := time.Since(start)
		if err != nil {
			t.Fatalf("read: %v after %s (want the server to close)", err, took)
		}
		if took > 2*time.Second {
			t.Errorf("closed after %s, want about %s", took, cfg.ReadHeaderTimeout)
		}
		if len(b) > 0 && !bytes.HasPrefix(b, []byte("HTTP/1.1 4")) {
			t.Errorf("answer %q", b)
		}
	})
	t.Run("body", func(t *testing.T) {
		c := rawConn(t, h)
		body := "callId=1.2&phoneNumber=0211234567"
		start := time.Now()
		fmt.Fprintf(c, "POST /office/notify?token=%s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s",
			testToken, host, form, len(body)+10, body)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Errorf("status %d %s, want 408", resp.StatusCode, b)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("answered after %s, want about %s", took, cfg.ReadTimeout)
		}
	})
	if len(h.sink.got()) != 0 {
		t.Error("a slow request reached the sink")
	}
}

func TestMount(t *testing.T) {
	parse := func(connectors.CallbackRequest) (connectors.Callback, error) { return connectors.Callback{}, nil }
	good := connectors.Route{Path: "notify", Methods: []string{"POST"}, Auth: connectors.TokenAuth(), Parse: parse}
	tests := []struct {
		name     string
		instance string
		routes   []connectors.Route
		want     string
	}{
		{"bad instance", "Office", []connectors.Route{good}, "not an instance name"},
		{"no auth", "office", []connectors.Route{{Path: "a", Methods: []string{"GET"}, Parse: parse}}, "no authentication"},
		{"param without secret", "office", []connectors.Route{{Path: "a", Methods: []string{"GET"}, Auth: connectors.ParamAuth("clientId", nil), Parse: parse}}, "Secret function"},
		{"param named token", "office", []connectors.Route{{Path: "a", Methods: []string{"GET"}, Auth: connectors.ParamAuth("token", func() string { return "x" }), Parse: parse}}, "not \"token\""},
		{"no parser", "office", []connectors.Route{{Path: "a", Methods: []string{"GET"}, Auth: connectors.TokenAuth()}}, "no Parse"},
		{"dot-dot", "office", []connectors.Route{{Path: "a/../b", Methods: []string{"GET"}, Auth: connectors.TokenAuth(), Parse: parse}}, "a path is"},
		{"leading slash", "office", []connectors.Route{{Path: "/a", Methods: []string{"GET"}, Auth: connectors.TokenAuth(), Parse: parse}}, "a path is"},
		{"query", "office", []connectors.Route{{Path: "a?b", Methods: []string{"GET"}, Auth: connectors.TokenAuth(), Parse: parse}}, "a path is"},
		{"method", "office", []connectors.Route{{Path: "a", Methods: []string{"get"}, Auth: connectors.TokenAuth(), Parse: parse}}, `method "get"`},
		{"media type", "office", []connectors.Route{{Path: "a", Methods: []string{"POST"}, Accept: []string{"text/xml"}, Auth: connectors.TokenAuth(), Parse: parse}}, `"text/xml"`},
		{"twice", "office", []connectors.Route{good, good}, "mounted twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := New(testConfig(), Deps{Sink: &recorder{}, Phones: connectortest.Phones(t, "RO")})
			if err != nil {
				t.Fatal(err)
			}
			err = l.Mount(tt.instance, tt.routes)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Mount = %v, want an error holding %q", err, tt.want)
			}
			if n := len(l.State().Routes); n != 2 {
				t.Errorf("%d routes after a refused Mount, want the 2 of the listener", n)
			}
		})
	}
	l, _ := New(testConfig(), Deps{Sink: &recorder{}, Phones: connectortest.Phones(t, "RO")})
	if err := l.Mount("office", []connectors.Route{good}); err != nil {
		t.Fatal(err)
	}
	if err := l.Mount("office", []connectors.Route{good}); err == nil {
		t.Error("the same path mounted by two calls")
	}
	got := fmt.Sprint(l.State().Routes)
	want := "[{/dial  [GET POST] token or origin} {/health  [GET] none} {/office/notify office [POST] token}]"
	if got != want {
		t.Errorf("routes %s\nwant   %s", got, want)
	}
}

func TestNewRefuses(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"short token", func(c *Config) { c.Token = "short" }, "token is shorter"},
		{"listen on a name", func(c *Config) { c.Listen = "example.com:8790" }, "IP address"},
		{"listen without port", func(c *Config) { c.Listen = "127.0.0.1" }, "host:port"},
		{"origin with a path", func(c *Config) { c.Origins = []string{"https://crm.example/app"} }, "no path"},
		{"null origin", func(c *Config) { c.Origins = []string{"null"} }, "not an origin"},
		{"host with scheme", func(c *Config) { c.Hosts = []string{"https://x.example"} }, "hosts[0]"},
		{"public url with query", func(c *Config) { c.PublicURL = "https://x.example/?a=1" }, "public_url"},
		{"handler slower than write", func(c *Config) { c.HandlerTimeout = c.WriteTimeout }, "shorter than the write timeout"},
		{"zero rate", func(c *Config) { c.Rate = 0 }, "rate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			tt.edit(&cfg)
			_, err := New(cfg, Deps{Sink: &recorder{}, Phones: connectortest.Phones(t, "RO")})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want an error holding %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), testToken) {
				t.Error("the error quotes the token")
			}
		})
	}
}

// TestBindFailure takes the port first: Run reports the failure in State,
// keeps trying, and listens once the port is free.
func TestBindFailure(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Listen = taken.Addr().String()
	clock := clockwork.NewFakeClock()
	var mu sync.Mutex
	var states []Status
	l, err := New(cfg, Deps{Sink: &recorder{}, Phones: connectortest.Phones(t, "RO"), Clock: clock, OnState: func(s State) {
		mu.Lock()
		states = append(states, s.Status)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	if err := clock.BlockUntilContext(ctxTimeout(t), 1); err != nil {
		t.Fatal(err)
	}
	st := l.State()
	if st.Status != StatusFailed || !strings.Contains(st.Reason, "taken by another program") || st.RetryAt.IsZero() {
		t.Fatalf("state %+v, want failed: port taken", st)
	}
	taken.Close()
	clock.Advance(cfg.RetryBind)
	deadline := time.Now().Add(5 * time.Second)
	for l.State().Status != StatusListening && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if st := l.State(); st.Status != StatusListening || st.Addr != cfg.Listen || !st.Loopback || st.Reason != "" {
		t.Fatalf("state %+v, want listening on %s", st, cfg.Listen)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := l.State(); st.Status != StatusStopped {
		t.Errorf("after Run: %s", st.Status)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := fmt.Sprint(states); got != "[failed listening stopped]" {
		t.Errorf("states %s", got)
	}
	if err := l.Run(context.Background()); err == nil {
		t.Error("second Run accepted")
	}
}

// TestShutdown stops the listener while a callback waits on the sink: the
// caller gets 503 and Run returns promptly.
func TestShutdown(t *testing.T) {
	sink := &recorder{block: make(chan struct{})}
	l, err := New(testConfig(), Deps{Sink: sink, Phones: connectortest.Phones(t, "RO")})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Bind(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	answered := make(chan int, 1)
	go func() {
		resp, err := http.Get(l.URL() + "/dial?token=" + testToken + "&number=0211234567")
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	}()
	for len(sink.got()) == 0 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	cancel()
	if got := <-answered; got != http.StatusServiceUnavailable {
		t.Errorf("in-flight request answered %d, want 503", got)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("shutdown took %s", d)
	}
	if _, err := net.Dial("tcp", strings.TrimPrefix(l.URL(), "http://")); err == nil && l.URL() != "" {
		t.Error("still accepting connections")
	}
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestHostSet(t *testing.T) {
	cfg := testConfig()
	cfg.Hosts = []string{"Agent1.Example.", "box.lan:9000", "[fe80::1]"}
	cfg.PublicURL = "https://ringside.example.com/base"
	hs := newHostSet(cfg, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8790})
	for host, want := range map[string]bool{
		"127.0.0.1:8790":         true,
		"localhost:8790":         true,
		"LocalHost:8790":         true,
		"[::1]:8790":             true,
		"[0:0:0:0:0:0:0:1]:8790": true,
		"127.0.0.1":              false,
		"127.0.0.1:8791":         false,
		"localhost":              false,
		"agent1.example":         true,
		"agent1.example.:443":    true,
		"box.lan:9000":           true,
		"box.lan":                false,
		"[fe80::1]:1234":         true,
		"ringside.example.com":   true,
		"evil.example:8790":      false,
		"":                       false,
		"127.0.0.1:8790:1":       false,
		"127.0.0.1:08790":        true,
		"a b:8790":               false,
		"[::1":                   false,
	} {
		if got := hs.allowed(host); got != want {
			t.Errorf("allowed(%q) = %v, want %v", host, got, want)
		}
	}
	wild := newHostSet(testConfig(), &net.TCPAddr{IP: net.IPv4zero, Port: 8790})
	if !wild.allowed("127.0.0.1:8790") || wild.allowed("0.0.0.0:8790") {
		t.Error("a wildcard bind allows the wildcard address or not loopback")
	}
}

func TestCanonicalOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://CRM.example":       "https://crm.example",
		"https://crm.example:443":   "https://crm.example",
		"https://crm.example/":      "https://crm.example",
		"http://localhost:3000":     "http://localhost:3000",
		"HTTP://[::1]:80":           "http://[::1]",
		"https://crm.example/x":     "",
		"null":                      "",
		"file:///tmp/a.html":        "",
		"https://u:p@crm.example":   "",
		"https://crm.example?x":     "",
		"chrome-extension://abcdef": "",
	} {
		got, err := CanonicalOrigin(in)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("CanonicalOrigin(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"dial 0721234567: refused":       "dial •••67: refused",
		"dial +40 721 234 567: refused":  "dial •••67: refused",
		"HTTP 503 after 1.5s":            "HTTP 503 after 1.5s",
		"/dial/0721234567":               "/dial/•••67",
		"call 1608743891.1344 not found": "call •••44 not found",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLogsHoldNoSecrets sends requests full of secrets and numbers, good
// and bad, and reads every log line.
func TestLogsHoldNoSecrets(t *testing.T) {
	h := start(t, testConfig())
	h.sink.err = errors.New("dial 0721234567 refused")
	for _, x := range []exchange{
		{method: "GET", path: "/dial?token=" + testToken + "&number=0721234567"},
		{method: "GET", path: "/dial?token=" + testToken + "x&number=0721234567"},
		{method: "GET", path: "/office/make-call?clientId=" + testClientID + "&phone=0721234567"},
		{method: "GET", path: "/office/make-call?clientId=" + testClientID + "x&phone=0721234567"},
		{method: "GET", path: "/0721234567?token=" + testToken},
		{method: "POST", path: "/office/notify?token=" + testToken, header: map[string]string{"Content-Type": form}, body: "phoneNumber=0721234567"},
	} {
		h.do(t, x)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "request refused") {
		t.Fatalf("nothing logged:\n%s", logs)
	}
	for _, secret := range []string{testToken, testClientID, "0721234567", "721234567", "token=", "?"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q:\n%s", secret, logs)
		}
	}
}

// serve drives ServeHTTP without a socket, from remote.
func serve(l *Listener, method, target, remote string, header map[string]string) *responseRecorder {
	req, _ := http.NewRequest(method, "http://127.0.0.1:8790"+target, nil)
	req.RemoteAddr = remote
	for k, v := range header {
		req.Header.Set(k, v)
	}
	w := newRecorder()
	l.ServeHTTP(w, req)
	return w
}

// boundListener is a listener that has bound 127.0.0.1:8790 as far as the
// Host check knows, without a socket.
func boundListener(t *testing.T, sink Sink) *Listener {
	t.Helper()
	cfg := testConfig()
	l, err := New(cfg, Deps{Sink: sink, Phones: connectortest.Phones(t, "RO")})
	if err != nil {
		t.Fatal(err)
	}
	l.hosts = newHostSet(cfg, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8790})
	return l
}

// TestOriginNeedsLoopback: an allowed Origin stands in for the token only
// from this computer, not through a proxy; over the network anyone can
// write an Origin header.
func TestOriginNeedsLoopback(t *testing.T) {
	sink := &recorder{}
	l := boundListener(t, sink)
	w := serve(l, "GET", "/dial?number=0211234567", "192.0.2.7:40000", map[string]string{"Origin": crmOrigin})
	if w.status != http.StatusUnauthorized || len(sink.got()) != 0 {
		t.Errorf("from the network: %d %s", w.status, w.body.String())
	}
	for _, h := range []string{"X-Forwarded-For", "Forwarded", "Cf-Connecting-Ip", "X-Real-Ip"} {
		w = serve(l, "GET", "/dial?number=0211234568", "127.0.0.1:40000", map[string]string{"Origin": crmOrigin, h: "for=192.0.2.7"})
		if w.status != http.StatusUnauthorized || len(sink.got()) != 0 {
			t.Errorf("through a proxy (%s): %d %s", h, w.status, w.body.String())
		}
	}
	w = serve(l, "GET", "/dial?number=0211234567", "[::1]:40000", map[string]string{"Origin": crmOrigin})
	if w.status != http.StatusOK || len(sink.got()) != 1 {
		t.Errorf("from this computer: %d %s", w.status, w.body.String())
	}
}

// TestParserPanic: a route whose parser panics answers 500 and the
// listener goes on.
func TestParserPanic(t *testing.T) {
	sink := &recorder{}
	l := boundListener(t, sink)
	if err := l.Mount("bad", []connectors.Route{{Path: "x", Methods: []string{"GET"}, Auth: connectors.TokenAuth(),
		Parse: func(connectors.CallbackRequest) (connectors.Callback, error) { panic("index out of range") }}}); err != nil {
		t.Fatal(err)
	}
	w := serve(l, "GET", "/bad/x?token="+testToken, "127.0.0.1:1", nil)
	if w.status != http.StatusInternalServerError || !strings.Contains(w.body.String(), "parser failed") || len(sink.got()) != 0 {
		t.Errorf("panic: %d %s", w.status, w.body.String())
	}
	if w := serve(l, "GET", "/health", "127.0.0.1:1", nil); w.status != 200 {
		t.Errorf("after a panic: %d", w.status)
	}
}
