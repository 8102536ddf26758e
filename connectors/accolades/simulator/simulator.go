// Package simulator is a local Accolades "API CRM" server: a real WebSocket
// endpoint speaking the protocol package accolades connects to, plus the
// call-notification webhook calls Accolades makes. Ringside's tests drive it
// message by message; `ringside demo` runs an endless, realistic scenario
// with it.
//
// The server keeps the real server's rules: an agent signs in with its
// External CRM id (authRequest), unknown ids are refused with ID_NOT_FOUND
// and a second connection for a connected agent with CONNECTION_EXISTS; it
// answers configuration and version requests, and pushes incomingCall and
// outgoingCall to the agent's connection. Frames are written the way the
// vendor's documentation prints them where Options asks (the documented
// trailing comma), and anything can be sent raw.
package simulator

import (
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
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Entity is the configuration text of one of the account, phone and agent.
type Entity struct {
	ID   string
	Data string
}

// Agent is what the server knows about a signed-in agent: the answer to a
// configuration request.
type Agent struct {
	Account Entity
	Phone   Entity
	Agent   Entity
}

// Options configure a Server.
type Options struct {
	// IDs are the External CRM ids accepted, with each agent's
	// configuration. Other ids are refused with ID_NOT_FOUND.
	IDs map[string]Agent
	// Version is the API version announced (default "1.1.0").
	Version string
	// AuthReply is the type of a successful sign-in answer: "authSucces"
	// (the documentation's spelling, the default) or "authSuccess".
	AuthReply string
	// TrailingComma writes the configuration answer as the documentation
	// prints it, with a comma after the last member.
	TrailingComma bool
	// Logger receives what the server does (default: discarded).
	Logger *slog.Logger
}

// Server is a simulated Accolades server. Its methods are safe for
// concurrent use. Every goroutine it starts is waited for by Close (the
// connection handlers) or Wait (the listener of Start).
type Server struct {
	opts     Options
	log      *slog.Logger
	upgrader websocket.Upgrader
	client   *http.Client // for Notify

	mu       sync.Mutex
	closed   bool
	all      map[*agentConn]struct{} // every open connection
	agents   map[string]*agentConn   // signed-in connections by id
	fails    map[string]string       // id → reason for its next sign-in
	changed  chan struct{}           // closed and replaced when agents changes
	handlers sync.WaitGroup          // running ServeHTTP calls
	bg       sync.WaitGroup          // goroutines of Start
	started  bool
}

// New makes a server; it listens nowhere until Start, or until it is
// mounted as an http.Handler (httptest.NewServer(s)).
func New(opts Options) *Server {
	if opts.Version == "" {
		opts.Version = "1.1.0"
	}
	if opts.AuthReply == "" {
		opts.AuthReply = "authSucces"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ids := make(map[string]Agent, len(opts.IDs))
	for k, v := range opts.IDs {
		ids[k] = v
	}
	opts.IDs = ids
	return &Server{
		opts:     opts,
		log:      log.With("component", "accolades-simulator"),
		upgrader: websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }},
		client:   &http.Client{Timeout: 10 * time.Second},
		all:      make(map[*agentConn]struct{}),
		agents:   make(map[string]*agentConn),
		fails:    make(map[string]string),
		changed:  make(chan struct{}),
	}
}

// agentConn is one WebSocket connection.
type agentConn struct {
	conn    *websocket.Conn
	out     chan frame    // for the writer
	done    chan struct{} // closed when the connection's handler ends
	stalled atomic.Bool   // no pongs, nothing read or written
	id      string        // set when signed in; guarded by Server.mu
}

// frame is a message for a connection's writer.
type frame struct {
	data  []byte
	close bool // after data (if any), send a close frame and close
}

// ServeHTTP is the WebSocket endpoint. It returns when the connection ends.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "simulator closed", http.StatusServiceUnavailable)
		return
	}
	s.handlers.Add(1)
	s.mu.Unlock()
	defer s.handlers.Done()

	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.log.Debug("upgrade failed", "error", err)
		return
	}
	ac := &agentConn{conn: conn, out: make(chan frame, 64), done: make(chan struct{})}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = conn.Close()
		return
	}
	s.all[ac] = struct{}{}
	s.mu.Unlock()

	quit := make(chan struct{})
	writerDone := make(chan struct{})
	// The writer exits when quit is closed or a write fails.
	go func() {
		defer close(writerDone)
		s.write(ac, quit)
	}()
	s.read(ac)
	close(quit)
	<-writerDone
	_ = conn.Close()

	s.release(ac)
	s.mu.Lock()
	delete(s.all, ac)
	s.mu.Unlock()
	close(ac.done)
}

// release forgets ac as its agent's connection, if it still is.
func (s *Server) release(ac *agentConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ac.id != "" && s.agents[ac.id] == ac {
		delete(s.agents, ac.id)
		s.notifyLocked()
	}
}

// read handles the client's requests until the connection fails.
func (s *Server) read(ac *agentConn) {
	conn := ac.conn
	conn.SetReadLimit(64 << 10)
	conn.SetPingHandler(func(data string) error {
		if ac.stalled.Load() {
			return nil
		}
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(5*time.Second))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	// A client saying goodbye lets go of its agent before it hears the
	// answer, so that it may sign in again at once.
	conn.SetCloseHandler(func(code int, _ string) error {
		s.release(ac)
		err := conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(5*time.Second))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			s.log.Debug("connection ended", "error", err)
			return
		}
		if ac.stalled.Load() {
			continue
		}
		var req struct {
			Type  string `json:"type"`
			IDCrm string `json:"idCrm"`
		}
		if err := json.Unmarshal(data, &req); err != nil {
			s.log.Debug("not JSON; ignored", "error", err)
			continue
		}
		switch req.Type {
		case "authRequest":
			s.auth(ac, req.IDCrm)
		case "configuration":
			if a, ok := s.agentOf(ac); ok {
				ac.send(s.configuration(a))
			}
		case "version":
			if _, ok := s.agentOf(ac); ok {
				ac.send(object("type", "version", "value", s.opts.Version))
			}
		default:
			s.log.Debug("unknown request; ignored", "type", req.Type)
		}
	}
}

// auth answers a sign-in.
func (s *Server) auth(ac *agentConn, id string) {
	s.mu.Lock()
	reason, failing := s.fails[id]
	delete(s.fails, id)
	_, known := s.opts.IDs[id]
	_, taken := s.agents[id]
	switch {
	case ac.id != "":
		reason, failing = "", false // signed in already: answer again
	case failing:
	case !known:
		reason, failing = "ID_NOT_FOUND", true
	case taken:
		reason, failing = "CONNECTION_EXISTS", true
	default:
		ac.id = id
		s.agents[id] = ac
		s.notifyLocked()
	}
	s.mu.Unlock()
	if failing {
		s.log.Debug("sign-in refused", "id", id, "reason", reason)
		ac.send(object("type", "authFailed", "reason", reason))
		return
	}
	s.log.Debug("signed in", "id", id)
	ac.send(object("type", s.opts.AuthReply, "version", s.opts.Version))
}

func (s *Server) agentOf(ac *agentConn) (Agent, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ac.id == "" {
		return Agent{}, false
	}
	return s.opts.IDs[ac.id], true
}

// configuration is the answer to a configuration request, spelled like the
// documentation's example.
func (s *Server) configuration(a Agent) []byte {
	ent := func(e Entity) string {
		return fmt.Sprintf(`{"id": %s, "data": %s}`, mustJSON(e.ID), mustJSON(e.Data))
	}
	var b strings.Builder
	b.WriteString("{\n\"type\": \"configuration\",\n")
	fmt.Fprintf(&b, "\"account\": %s,\n\"phone\": %s,\n\"agent\": %s", ent(a.Account), ent(a.Phone), ent(a.Agent))
	if s.opts.TrailingComma {
		b.WriteString(",")
	}
	b.WriteString("\n}")
	return []byte(b.String())
}

// write sends the connection's frames until quit is closed or a write fails.
func (s *Server) write(ac *agentConn, quit <-chan struct{}) {
	for {
		select {
		case <-quit:
			return
		case f := <-ac.out:
			_ = ac.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if f.data != nil {
				if err := ac.conn.WriteMessage(websocket.TextMessage, f.data); err != nil {
					_ = ac.conn.Close()
					return
				}
			}
			if f.close {
				_ = ac.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
				_ = ac.conn.Close() // the reader fails and the handler ends
				return
			}
		}
	}
}

// send queues a frame; it reports false if the connection is gone.
func (ac *agentConn) send(data []byte) bool { return ac.queue(frame{data: data}) }

func (ac *agentConn) queue(f frame) bool {
	select {
	case ac.out <- f:
		return true
	case <-ac.done:
		return false
	}
}

// notifyLocked wakes those waiting for a change of the signed-in agents.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// ErrNotConnected is returned when no connection is signed in as the agent.
var ErrNotConnected = errors.New("simulator: the agent is not connected")

func (s *Server) conn(id string) (*agentConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ac, ok := s.agents[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotConnected, id)
	}
	return ac, nil
}

// Incoming pushes an incomingCall for number to the agent's connection.
// uniqueID may be empty (the field is then left out).
func (s *Server) Incoming(idCrm, number, uniqueID string, callCenter bool) error {
	return s.call("incomingCall", idCrm, number, uniqueID, callCenter)
}

// Outgoing pushes an outgoingCall, as when the agent dials from the phone.
func (s *Server) Outgoing(idCrm, number, uniqueID string, callCenter bool) error {
	return s.call("outgoingCall", idCrm, number, uniqueID, callCenter)
}

func (s *Server) call(typ, id, number, uniqueID string, callCenter bool) error {
	cc := "no"
	if callCenter {
		cc = "yes"
	}
	kv := []string{"type", typ, "phoneNumber", number}
	if uniqueID != "" {
		kv = append(kv, "uniqueId", uniqueID)
	}
	kv = append(kv, "callCenter", cc)
	return s.SendRaw(id, object(kv...))
}

// SendRaw sends frame, as it is, to the agent's connection: garbage, error
// frames, types of a future API.
func (s *Server) SendRaw(idCrm string, frame []byte) error {
	ac, err := s.conn(idCrm)
	if err != nil {
		return err
	}
	if ac.stalled.Load() {
		return fmt.Errorf("simulator: the connection of %s is stalled", idCrm)
	}
	if !ac.send(frame) {
		return fmt.Errorf("%w: %s", ErrNotConnected, idCrm)
	}
	return nil
}

// Fail makes the next sign-in of idCrm be answered authFailed with reason
// (ID_NOT_FOUND, IP_MISSMATCH, CONNECTION_EXISTS or anything else).
func (s *Server) Fail(idCrm, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fails[idCrm] = reason
}

// CloseAgent sends connectionClosed to the agent's connection, then a close
// frame, and closes it, as when the agent closes the web interface. The
// agent counts as disconnected at once.
func (s *Server) CloseAgent(idCrm string) {
	if ac := s.detach(idCrm); ac != nil {
		ac.queue(frame{data: []byte(`{"type":"connectionClosed"}`), close: true})
	}
}

// Drop closes the agent's TCP connection abruptly, without a message or a
// close frame. The agent counts as disconnected at once.
func (s *Server) Drop(idCrm string) {
	if ac := s.detach(idCrm); ac != nil {
		_ = ac.conn.Close()
	}
}

// detach forgets the agent's connection so that it may sign in again at
// once, and returns it.
func (s *Server) detach(id string) *agentConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	ac, ok := s.agents[id]
	if !ok {
		return nil
	}
	delete(s.agents, id)
	s.notifyLocked()
	return ac
}

// Stall makes the agent's connection go silent: pings are no longer
// answered and nothing more is sent or read, as on a dead network path. The
// connection stays open until the client gives up on it.
func (s *Server) Stall(idCrm string) {
	if ac, err := s.conn(idCrm); err == nil {
		ac.stalled.Store(true)
	}
}

// Connected reports whether a connection is signed in as idCrm.
func (s *Server) Connected(idCrm string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.agents[idCrm]
	return ok
}

// WaitConnected waits until a connection is signed in as idCrm.
func (s *Server) WaitConnected(ctx context.Context, idCrm string) error {
	return s.waitFor(ctx, idCrm, true)
}

// WaitDisconnected waits until no connection is signed in as idCrm.
func (s *Server) WaitDisconnected(ctx context.Context, idCrm string) error {
	return s.waitFor(ctx, idCrm, false)
}

func (s *Server) waitFor(ctx context.Context, id string, want bool) error {
	for {
		s.mu.Lock()
		_, ok := s.agents[id]
		changed := s.changed
		s.mu.Unlock()
		if ok == want {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close closes every connection, refuses new ones and waits for the
// connection handlers to end. It does not stop a listener of Start (its
// context does).
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	for ac := range s.all {
		_ = ac.conn.Close()
	}
	s.mu.Unlock()
	s.handlers.Wait()
}

// Start listens on addr ("127.0.0.1:0" for any free port) and serves until
// ctx is done; Wait waits for it to have stopped. It returns the socket's
// address, e.g. "ws://127.0.0.1:14327". A server is started at most once.
func (s *Server) Start(ctx context.Context, addr string) (string, error) {
	s.mu.Lock()
	if s.started || s.closed {
		s.mu.Unlock()
		return "", errors.New("simulator: already started or closed")
	}
	s.started = true
	s.mu.Unlock()
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("simulator: listen: %w", err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	// Serves until srv is closed below.
	s.bg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Warn("serve", "error", err)
		}
	})
	// Exits once ctx is done, after stopping the listener and every
	// connection.
	s.bg.Go(func() {
		<-ctx.Done()
		_ = srv.Close()
		s.Close()
	})
	return "ws://" + ln.Addr().String(), nil
}

// Wait waits until the server of Start has stopped (its context is done
// and every connection has ended). Without Start it returns at once.
func (s *Server) Wait() { s.bg.Wait() }

// Notify POSTs a call notification form to callbackURL, as Accolades does
// for a user's webhook; apiName=callNotification is added when missing. Any
// answer but 2xx is an error. callbackURL may carry a token in its query
// (Ringside's webhook listener): errors never show the query.
func (s *Server) Notify(ctx context.Context, callbackURL string, form url.Values) error {
	f := url.Values{}
	for k, v := range form {
		f[k] = append([]string(nil), v...)
	}
	if f.Get("apiName") == "" {
		f.Set("apiName", "callNotification")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, callbackURL, strings.NewReader(f.Encode()))
	if err != nil {
		return fmt.Errorf("simulator: notify: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			if i := strings.IndexByte(ue.URL, '?'); i >= 0 {
				ue.URL = ue.URL[:i] + "?…"
			}
		}
		return fmt.Errorf("simulator: notify: %w", err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode/100 != 2 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("simulator: notify: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

// object writes a JSON object of string members in the order given
// (key, value, key, value…), as the documentation orders them.
func object(kv ...string) []byte {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(mustJSON(kv[i]))
		b.WriteByte(':')
		b.Write(mustJSON(kv[i+1]))
	}
	b.WriteByte('}')
	return []byte(b.String())
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // strings and maps of strings always marshal
	}
	return b
}
