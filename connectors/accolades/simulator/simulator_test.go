package simulator

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ringside/ringside/connectors"
)

const id = "f8cb549544"

var agent = Agent{
	Account: Entity{ID: "15", Data: "INFO_ACCOUNT"},
	Phone:   Entity{ID: "27", Data: "INFO_PHONE"},
	Agent:   Entity{ID: "321", Data: "INFO_AGENT"},
}

// start runs a simulator with Start until the test ends.
func start(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	if opts.IDs == nil {
		opts.IDs = map[string]Agent{id: agent}
	}
	s := New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	u, err := s.Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		s.Wait()
	})
	return s, u
}

// client is a bare test client.
type client struct {
	t    *testing.T
	conn *websocket.Conn
}

func dial(t *testing.T, u string) *client {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &client{t, conn}
}

func (c *client) send(s string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) read() string {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := c.conn.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return string(b)
}

func (c *client) auth(idCrm string) string {
	c.t.Helper()
	c.send(`{"type":"authRequest","idCrm":"` + idCrm + `"}`)
	return c.read()
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSession(t *testing.T) {
	s, u := start(t, Options{TrailingComma: true})
	c := dial(t, u)
	c.send(`{"type":"version"}`) // before the sign-in: ignored
	if got, want := c.auth(id), `{"type":"authSucces","version":"1.1.0"}`; got != want {
		t.Errorf("auth answer %s, want %s", got, want)
	}
	if !s.Connected(id) {
		t.Error("not Connected after the sign-in")
	}
	c.send(`{"type":"configuration"}`)
	cfg := c.read()
	want := "{\n\"type\": \"configuration\",\n\"account\": {\"id\": \"15\", \"data\": \"INFO_ACCOUNT\"},\n\"phone\": {\"id\": \"27\", \"data\": \"INFO_PHONE\"},\n\"agent\": {\"id\": \"321\", \"data\": \"INFO_AGENT\"},\n}"
	if cfg != want {
		t.Errorf("configuration:\n%s\nwant\n%s", cfg, want)
	}
	c.send(`{"type":"version"}`)
	if got := c.read(); got != `{"type":"version","value":"1.1.0"}` {
		t.Errorf("version answer %s", got)
	}
	if err := s.Incoming(id, "0211234567", "1.2", true); err != nil {
		t.Fatal(err)
	}
	if err := s.Outgoing(id, "0722345678", "", false); err != nil {
		t.Fatal(err)
	}
	var in, out map[string]string
	_ = json.Unmarshal([]byte(c.read()), &in)
	_ = json.Unmarshal([]byte(c.read()), &out)
	if in["type"] != "incomingCall" || in["phoneNumber"] != "0211234567" || in["uniqueId"] != "1.2" || in["callCenter"] != "yes" {
		t.Errorf("incoming %v", in)
	}
	if _, ok := out["uniqueId"]; out["type"] != "outgoingCall" || ok || out["callCenter"] != "no" {
		t.Errorf("outgoing %v", out)
	}
	if err := s.SendRaw(id, []byte("garbage")); err != nil || c.read() != "garbage" {
		t.Errorf("SendRaw: %v", err)
	}

	s.CloseAgent(id)
	if got := c.read(); got != `{"type":"connectionClosed"}` {
		t.Errorf("got %s, want connectionClosed", got)
	}
	_, _, err := c.conn.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
		t.Errorf("after connectionClosed: %v, want a close frame", err)
	}
	if s.Connected(id) {
		t.Error("still Connected after CloseAgent")
	}
	if err := s.Incoming(id, "1", "", false); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Incoming to nobody = %v", err)
	}
}

func TestAuthFailures(t *testing.T) {
	s, u := start(t, Options{AuthReply: "authSuccess"})
	if got := dial(t, u).auth("nobody"); got != `{"type":"authFailed","reason":"ID_NOT_FOUND"}` {
		t.Errorf("unknown id: %s", got)
	}
	s.Fail(id, "IP_MISSMATCH")
	if got := dial(t, u).auth(id); got != `{"type":"authFailed","reason":"IP_MISSMATCH"}` {
		t.Errorf("Fail: %s", got)
	}
	first := dial(t, u)
	if got := first.auth(id); got != `{"type":"authSuccess","version":"1.1.0"}` {
		t.Errorf("after the one failure: %s", got)
	}
	if got := dial(t, u).auth(id); got != `{"type":"authFailed","reason":"CONNECTION_EXISTS"}` {
		t.Errorf("second connection: %s", got)
	}
}

func TestDropAndStall(t *testing.T) {
	s, u := start(t, Options{})
	c := dial(t, u)
	c.auth(id)
	s.Drop(id)
	if s.Connected(id) {
		t.Error("Connected after Drop")
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := c.conn.ReadMessage()
	var ce *websocket.CloseError
	if err == nil || errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure {
		t.Errorf("after Drop: %v, want an abrupt end", err)
	}

	c = dial(t, u)
	c.auth(id)
	pongs := make(chan struct{}, 10)
	c.conn.SetPongHandler(func(string) error { pongs <- struct{}{}; return nil })
	ping := func() {
		if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	readDone := make(chan error, 1)
	go func() { // exits when the connection is closed at the end of the test
		for {
			if _, _, err := c.conn.ReadMessage(); err != nil {
				readDone <- err
				return
			}
		}
	}()
	ping()
	select {
	case <-pongs:
	case <-time.After(5 * time.Second):
		t.Fatal("no pong before Stall")
	}
	s.Stall(id)
	ping()
	select {
	case <-pongs:
		t.Error("pong after Stall")
	case <-time.After(300 * time.Millisecond):
	}
	if err := s.Incoming(id, "1", "", false); err == nil {
		t.Error("Incoming to a stalled connection succeeded")
	}
	_ = c.conn.Close()
	<-readDone
	if err := s.WaitDisconnected(ctxT(t), id); err != nil {
		t.Errorf("the stalled connection was not noticed closing: %v", err)
	}
}

func TestCloseRefusesNew(t *testing.T) {
	s := New(Options{IDs: map[string]Agent{id: agent}})
	ts := httptest.NewServer(s)
	defer ts.Close()
	u := "ws" + strings.TrimPrefix(ts.URL, "http")
	c := dial(t, u)
	c.auth(id)
	s.Close() // ends the open connection and waits for its handler
	if _, _, err := c.conn.ReadMessage(); err == nil {
		t.Error("the connection survived Close")
	}
	if _, resp, err := websocket.DefaultDialer.Dial(u, nil); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("dial after Close: %v", err)
	}
}

func TestStartTwice(t *testing.T) {
	s, _ := start(t, Options{})
	if _, err := s.Start(context.Background(), "127.0.0.1:0"); err == nil {
		t.Error("second Start succeeded")
	}
}

// hook records call notifications.
type hook struct {
	mu    sync.Mutex
	forms []url.Values
	got   chan struct{}
}

func newHook(t *testing.T) (*hook, string) {
	h := &hook{got: make(chan struct{}, 100)}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.forms = append(h.forms, r.PostForm)
		h.mu.Unlock()
		h.got <- struct{}{}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(ts.Close)
	return h, ts.URL
}

func TestNotify(t *testing.T) {
	s := New(Options{})
	h, u := newHook(t)
	if err := s.Notify(ctxT(t), u, url.Values{"event": {"answer"}, "callId": {"1.2"}}); err != nil {
		t.Fatal(err)
	}
	if got := h.forms[0].Encode(); got != "apiName=callNotification&callId=1.2&event=answer" {
		t.Errorf("form %s", got)
	}
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"no"}`, http.StatusBadRequest)
	}))
	defer bad.Close()
	if err := s.Notify(ctxT(t), bad.URL, url.Values{}); err == nil || !strings.Contains(err.Error(), "HTTP 400") {
		t.Errorf("Notify to a refusing hook = %v", err)
	}
}

func TestRunScenario(t *testing.T) {
	s, u := start(t, Options{})
	h, hookURL := newHook(t)
	c := dial(t, u)
	c.auth(id)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { // exits when ctx is done
		defer close(done)
		s.RunScenario(ctx, id, Scenario{Seed: 42, MinGap: time.Millisecond, MaxGap: 2 * time.Millisecond, Speed: 2000}, hookURL)
	}()
	calls := map[string]map[string]string{}
	for len(calls) < 12 {
		var m map[string]string
		if err := json.Unmarshal([]byte(c.read()), &m); err != nil {
			t.Fatal(err)
		}
		calls[m["uniqueId"]] = m
	}
	cancel()
	<-done

	pp, _ := connectors.NewPhoneParser("RO")
	kinds := map[string]int{}
	for _, m := range calls {
		kinds[m["type"]+"/"+m["callCenter"]]++
		if p := pp.Parse(m["phoneNumber"]); p.E164 == "" {
			t.Errorf("number %q does not parse", m["phoneNumber"])
		}
	}
	if kinds["incomingCall/no"] == 0 || kinds["incomingCall/yes"] == 0 {
		t.Errorf("call mix %v lacks direct or queue calls", kinds)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.forms) == 0 {
		t.Fatal("no notifications")
	}
	for _, f := range h.forms {
		call, ok := calls[f.Get("callId")]
		if !ok {
			continue // a call placed after we stopped reading
		}
		if f.Get("apiName") != "callNotification" || f.Get("userId") != "321" || f.Get("phoneNumber") != call["phoneNumber"] {
			t.Errorf("notification %v for call %v", f, call)
		}
		switch f.Get("event") {
		case "answer", "hangup", "confirmHangup":
		default:
			t.Errorf("event %q", f.Get("event"))
		}
	}
}

func TestDemoContacts(t *testing.T) {
	pp, _ := connectors.NewPhoneParser("RO")
	seen := map[string]bool{}
	for _, c := range DemoContacts() {
		p := pp.Parse(c.Number)
		n := pp.Parse(National(c.Number))
		if p.E164 == "" || p.E164 != n.E164 || c.Name == "" || c.Company == "" || c.Manager == "" {
			t.Errorf("contact %+v: %q / %q", c, p.E164, n.E164)
		}
		if seen[p.E164] {
			t.Errorf("duplicate number %s", c.Number)
		}
		seen[p.E164] = true
	}
	for _, u := range demoUnknown() {
		p := pp.Parse(u)
		if p.E164 == "" || seen[p.E164] {
			t.Errorf("unknown number %s: %q, known %v", u, p.E164, seen[p.E164])
		}
	}
}
