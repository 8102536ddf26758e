package accolades

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gorilla/websocket"

	"github.com/ringside/ringside/connectors"
)

// How long to wait before signing in again after an authFailed answer that
// a retry soon will not fix.
const (
	RetryNotLoggedIn      = 30 * time.Second // ID_NOT_FOUND: the phone is not logged in yet
	RetryConnectionExists = 60 * time.Second // CONNECTION_EXISTS: someone else holds the connection
)

// ErrConnectionClosed is returned by Run when the server says
// connectionClosed: it ends the agent's API session, usually because the
// agent closed the web interface.
var ErrConnectionClosed = errors.New("Accolades closed the connection (the agent closed the web interface?)")

// AuthError is an authFailed answer to the sign-in. Its text says, for the
// agent, what the reason means and what to do.
type AuthError struct {
	Reason string // as the server sent it, e.g. "ID_NOT_FOUND"
	msg    string
}

func (e *AuthError) Error() string { return e.msg }

// authFailure sorts an authFailed answer for the runner:
//   - ID_NOT_FOUND: the phone is not logged in (yet); retry every 30 s;
//   - IP_MISSMATCH: Ringside runs on another computer than the phone; no
//     retry will fix that (Permanent);
//   - CONNECTION_EXISTS: another client holds the agent's connection;
//     retry every 60 s;
//   - anything else: retry with the runner's backoff.
func authFailure(reason string) error {
	e := &AuthError{Reason: reason}
	switch reason {
	case reasonIDNotFound:
		e.msg = fmt.Sprintf("Accolades: your phone is not logged in yet (%s); retrying every %d s", reason, int(RetryNotLoggedIn/time.Second))
		return connectors.RetryAfter(e, RetryNotLoggedIn)
	case reasonIPMissmatch:
		e.msg = fmt.Sprintf("Accolades refused this computer (%s): the API only accepts a connection from the agent's own computer, "+
			"the one with the same IP address as the phone or the Accolades web interface. Run Ringside on that computer; "+
			"it will not retry until the settings change or you reconnect", reason)
		return connectors.Permanent(e)
	case reasonConnectionExists:
		e.msg = fmt.Sprintf("Accolades: another program already holds this agent's API connection (%s): "+
			"close the other Ringside or the CRM tab using it; retrying every %d s", reason, int(RetryConnectionExists/time.Second))
		return connectors.RetryAfter(e, RetryConnectionExists)
	case "":
		e.msg = "Accolades refused the sign-in without saying why"
	default:
		e.msg = fmt.Sprintf("Accolades refused the sign-in (%s)", cleanText(reason, 64))
	}
	return e
}

// cleanText makes server text fit for a log or the tray: numbers masked,
// anything not printable (control and format characters, invalid UTF-8) a
// space, at most n characters. Quoting the result with %q escapes nothing
// into digits.
func cleanText(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, s)
	return clip(maskNumbers(strings.TrimSpace(s)), n)
}

// Run connects to the API CRM socket, signs in with id_crm and reports the
// agent's calls until ctx is done (it then returns nil) or the connection
// ends. It calls link.Up once the server accepts the sign-in, then asks for
// the configuration and the version, which it records with link.Info.
//
// Errors say what happened in words for the tray: an *AuthError for an
// authFailed answer (wrapped with connectors.RetryAfter or
// connectors.Permanent by reason), ErrConnectionClosed, or a lost, stalled
// or refused connection (plain: reconnect with backoff). Garbage frames and
// {"type":"error"} messages are logged and the connection kept.
//
// Run owns two goroutines per connection, a reader and a writer, and waits
// for both before it returns.
func (c *Connector) Run(ctx context.Context, link connectors.Link) error {
	if ctx.Err() != nil {
		return nil
	}
	conn, err := c.connect(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	s := &session{
		c:          c,
		conn:       conn,
		link:       link,
		out:        make(chan []byte, 8),
		quit:       make(chan struct{}),
		writerGone: make(chan struct{}),
	}
	err = s.run(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// connect dials the socket (through the environment's proxy), bounded by
// handshake_timeout.
func (c *Connector) connect(ctx context.Context) (*websocket.Conn, error) {
	d := websocket.Dialer{
		Proxy:            http.ProxyFromEnvironment,
		HandshakeTimeout: c.handshakeTimeout,
		TLSClientConfig:  c.tls,
		ReadBufferSize:   4 << 10,
		WriteBufferSize:  4 << 10,
	}
	h := http.Header{"User-Agent": {"Ringside"}}
	conn, resp, err := d.DialContext(ctx, c.url, h)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("Accolades: cannot connect to %s: %s", c.url, c.explainConnect(err, resp))
	}
	return conn, nil
}

// explainConnect puts a failed connection attempt in words.
func (c *Connector) explainConnect(err error, resp *http.Response) string {
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		notTLS    tls.RecordHeaderError
		dns       *net.DNSError
		netErr    net.Error
	)
	switch {
	case errors.Is(err, websocket.ErrBadHandshake) && resp != nil:
		return fmt.Sprintf("the server answered HTTP %d %s instead of opening the socket: check url", resp.StatusCode, http.StatusText(resp.StatusCode))
	case errors.As(err, &unknownCA):
		return fmt.Sprintf("the server's certificate is not trusted (%v): if your network inspects encrypted traffic, set ca_file to its CA certificate", err)
	case errors.As(err, &hostname):
		return fmt.Sprintf("the server's certificate is for another name (%v): check url", err)
	case errors.As(err, &invalid):
		return fmt.Sprintf("the server's certificate is not valid (%v): check the computer's date and time", err)
	case errors.As(err, &notTLS):
		return "the server does not speak TLS there: check url"
	case errors.As(err, &dns):
		return fmt.Sprintf("cannot find the server %s (no network, or a wrong url?)", dns.Name)
	case errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("no answer within %v (handshake_timeout): no network, or a firewall blocks the port", c.handshakeTimeout)
	}
	return err.Error()
}

func authRequest(idCrm string) []byte {
	b, _ := json.Marshal(struct {
		Type  string `json:"type"`
		IDCrm string `json:"idCrm"`
	}{typeAuthRequest, idCrm})
	return b
}

// The requests sent after sign-in.
const (
	requestConfiguration = `{"type":"configuration"}`
	requestVersion       = `{"type":"version"}`
)

// How long run waits for the reader after a write failed, and for the
// server's answer to our close frame.
const (
	writeGrace = time.Second
	closeGrace = time.Second
)

// session is one connection of Run.
type session struct {
	c    *Connector
	conn *websocket.Conn
	link connectors.Link

	out        chan []byte   // messages for the writer
	quit       chan struct{} // closed by run: the writer says goodbye and exits
	writerGone chan struct{} // closed when the writer has exited

	// Owned by the reader goroutine.
	authed bool
	warned string // the version last warned about
}

// run starts the reader and the writer, waits until ctx is done or either
// of them ends, then stops both and waits for them. It returns why the
// connection ended (nil when ctx is done).
func (s *session) run(ctx context.Context) error {
	s.out <- authRequest(s.c.idCrm) // buffered: the writer sends it first

	readerDone := make(chan error, 1)
	writerDone := make(chan error, 1)
	// The reader exits when a read fails: the connection was closed (by
	// run below, or by the server), dropped or stalled, or the server ended
	// the session.
	go func() { readerDone <- s.read() }()
	// The writer exits when quit is closed or a write fails.
	go func() {
		defer close(s.writerGone)
		writerDone <- s.write()
	}()

	var err error
	select {
	case <-ctx.Done():
	case err = <-readerDone:
		readerDone = nil
	case werr := <-writerDone:
		writerDone = nil
		// A failed write usually means the server has gone, and what it
		// said last (connectionClosed) may still be unread: let the reader
		// finish on its own first, briefly.
		grace := time.NewTimer(writeGrace)
		select {
		case err = <-readerDone:
			readerDone = nil
		case <-ctx.Done():
		case <-grace.C:
			err = werr
		}
		grace.Stop()
	}
	close(s.quit)
	if writerDone != nil {
		<-writerDone // after a close frame, bounded by the write deadline
	}
	if readerDone != nil && ctx.Err() != nil {
		// We said goodbye: let the server answer it, briefly, so that it has
		// let go of the agent when the next Run (new settings) signs in.
		grace := time.NewTimer(closeGrace)
		select {
		case <-readerDone:
			readerDone = nil
		case <-grace.C:
		}
		grace.Stop()
	}
	_ = s.conn.Close() // unblocks the reader
	if readerDone != nil {
		<-readerDone
	}
	return err
}

// write sends queued messages and pings, each under a write deadline, and a
// close frame when quit is closed. Socket timing uses the wall clock.
func (s *session) write() error {
	ping := time.NewTicker(s.c.pingPeriod)
	defer ping.Stop()
	for {
		select {
		case msg := <-s.out:
			_ = s.conn.SetWriteDeadline(time.Now().Add(s.c.writeWait))
			if err := s.conn.WriteMessage(websocket.TextMessage, msg); err != nil {
				return fmt.Errorf("Accolades: the connection dropped (send: %v)", err)
			}
		case <-ping.C:
			_ = s.conn.SetWriteDeadline(time.Now().Add(s.c.writeWait))
			if err := s.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				return fmt.Errorf("Accolades: the connection dropped (ping: %v)", err)
			}
		case <-s.quit:
			_ = s.conn.SetWriteDeadline(time.Now().Add(s.c.writeWait))
			_ = s.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
			return nil
		}
	}
}

// send queues msg for the writer, unless the writer is gone.
func (s *session) send(msg []byte) {
	select {
	case s.out <- msg:
	case <-s.writerGone:
	}
}

// read reads and handles frames until the connection fails or the server
// ends the session. Until the sign-in is answered the read deadline is
// handshake_timeout; after it, every pong and every frame renews it for
// pong_wait.
func (s *session) read() error {
	conn := s.conn
	conn.SetReadLimit(MaxFrame)
	_ = conn.SetReadDeadline(time.Now().Add(s.c.handshakeTimeout))
	conn.SetPongHandler(func(string) error {
		if s.authed {
			return conn.SetReadDeadline(time.Now().Add(s.c.pongWait))
		}
		return nil
	})
	for {
		_, frame, err := conn.ReadMessage()
		if err != nil {
			return s.readError(err)
		}
		if s.authed {
			_ = conn.SetReadDeadline(time.Now().Add(s.c.pongWait))
		}
		m, err := decode(frame)
		if err != nil {
			// Never log the frame: it may hold phone numbers.
			s.c.logger.Warn("Accolades sent a frame that is not a message; ignored", "error", err, "bytes", len(frame))
			continue
		}
		if err := s.handle(m); err != nil {
			return err
		}
	}
}

// readError says why reading failed.
func (s *session) readError(err error) error {
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		if !s.authed {
			return fmt.Errorf("Accolades did not answer the sign-in within %v", s.c.handshakeTimeout)
		}
		return fmt.Errorf("Accolades: the connection stalled (no answer to pings for %v)", s.c.pongWait)
	case errors.Is(err, websocket.ErrReadLimit):
		return fmt.Errorf("Accolades sent a message larger than %d KiB", MaxFrame>>10)
	case errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure:
		if ce.Text != "" {
			return fmt.Errorf("Accolades closed the connection (code %d: %s)", ce.Code, cleanText(ce.Text, 120))
		}
		return fmt.Errorf("Accolades closed the connection (code %d)", ce.Code)
	}
	return fmt.Errorf("Accolades: the connection dropped (%v)", err)
}

// handle acts on one message. An error ends the connection.
func (s *session) handle(m message) error {
	log := s.c.logger
	switch m.Type {
	case typeAuthSucces, typeAuthSuccess:
		if s.authed {
			log.Debug("Accolades: a second sign-in answer; ignored")
			return nil
		}
		s.authed = true
		_ = s.conn.SetReadDeadline(time.Now().Add(s.c.pongWait))
		v := cleanText(string(m.Version), 40)
		detail := "Accolades API"
		if v != "" {
			detail += " " + v
		}
		s.link.Up(detail)
		s.version(v)
		s.send([]byte(requestConfiguration))
		s.send([]byte(requestVersion))
	case typeAuthFailed:
		return authFailure(strings.TrimSpace(string(m.Reason)))
	case typeConnectionClosed:
		return ErrConnectionClosed
	case typeError:
		log.Warn("Accolades reported an error; connection kept", "message", cleanText(string(m.Message), 200))
	case typeIncomingCall, typeOutgoingCall:
		if !s.authed {
			log.Debug("Accolades: a call before the sign-in was answered; ignored")
			return nil
		}
		ev := s.event(m)
		log.Debug("Accolades: call", "event", ev)
		s.link.Emit(ev)
	case typeConfiguration:
		s.configuration(m)
	case typeVersion:
		v := m.Value
		if v == "" {
			v = m.Version
		}
		s.version(cleanText(string(v), 40))
	default:
		log.Debug("Accolades: a message of an unknown type; ignored", "type", cleanText(m.Type, 40))
	}
	return nil
}

// event turns an incomingCall or outgoingCall into an Event.
func (s *session) event(m message) connectors.Event {
	now := s.c.clock.Now()
	ev := connectors.Event{
		Kind:      connectors.KindRinging,
		Direction: connectors.DirectionInbound,
		Vendor:    Vendor,
		CallID:    cleanID(string(m.UniqueID)),
		Agent:     s.c.Configuration().Agent.ID,
		At:        now,
		Received:  now,
	}
	if m.Type == typeOutgoingCall {
		ev.Kind, ev.Direction = connectors.KindDialing, connectors.DirectionOutbound
	}
	if n := strings.TrimSpace(string(m.PhoneNumber)); n != "" {
		ev.Phone = s.c.phones.Parse(n)
	}
	if cc := strings.TrimSpace(string(m.CallCenter)); cc != "" {
		ev.Queue = strings.EqualFold(cc, "yes")
		ev.Extra = map[string]string{"callCenter": clip(cc, 16)}
	}
	return ev
}

// cleanID keeps a call id ("1608743891.1344") if it is one short token of
// printable characters, and drops anything else.
func cleanID(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 64 || strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r >= 0x7f }) >= 0 {
		return ""
	}
	return s
}

// configuration records the account, phone and agent texts.
func (s *session) configuration(m message) {
	var conf [3]Entity
	for i, e := range []*entity{m.Account, m.Phone, m.Agent} {
		if e != nil {
			conf[i] = Entity{ID: cleanText(string(e.ID), 64), Data: string(e.Data)}
		}
	}
	s.c.setConfiguration(func(c *Configuration) {
		c.Account, c.Phone, c.Agent = conf[0], conf[1], conf[2]
	})
	for i, key := range []string{"account", "phone", "agent"} {
		if e := conf[i]; e != (Entity{}) {
			s.link.Info(key, fmt.Sprintf("id=%s: %s", e.ID, clip(e.Data, maxData)))
		}
	}
}

// version records the server's API version and warns, once per
// connection, when its major number is not 1.
func (s *session) version(v string) {
	if v == "" {
		return
	}
	s.c.setConfiguration(func(c *Configuration) { c.Version = v })
	s.link.Info("version", v)
	major, ok := majorOf(v)
	if !ok || major == 1 || s.warned == v {
		return
	}
	s.warned = v
	msg := versionWarning(v, major)
	s.link.Info("version_warning", msg)
	s.c.logger.Warn("Accolades: "+msg, "version", v)
}

func versionWarning(v string, major int) string {
	rel := "newer"
	if major < 1 {
		rel = "older"
	}
	return fmt.Sprintf("server API %s is %s than this Ringside understands (1.x)", v, rel)
}

// majorOf reads the major number of "1.1.0" (or "v1.1").
func majorOf(v string) (int, bool) {
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	head, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(head)
	return n, err == nil && n >= 0
}
