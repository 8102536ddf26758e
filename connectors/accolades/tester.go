package accolades

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Test connects to the socket, signs in with id_crm and disconnects. It
// fails, in words, when the server cannot be reached or refuses the sign-in;
// the version the server reports is logged and kept in Configuration. When
// Ringside is already connected as this agent the server answers
// CONNECTION_EXISTS, and the error says that this is expected.
func (c *Connector) Test(ctx context.Context) error {
	v, err := c.Probe(ctx)
	if err != nil {
		return err
	}
	if major, ok := majorOf(v); ok && major != 1 {
		c.logger.Warn("Accolades: "+versionWarning(v, major), "version", v)
	}
	c.logger.Info("Accolades: test sign-in accepted", "version", v)
	return nil
}

// Probe is Test returning the API version the server reported on sign-in
// (empty if it gave none).
func (c *Connector) Probe(ctx context.Context) (string, error) {
	conn, err := c.connect(ctx)
	if err != nil {
		return "", err
	}
	var once sync.Once
	closeConn := func() { once.Do(func() { _ = conn.Close() }) }
	stopped := make(chan struct{})
	// Runs only if ctx is done first: closes the connection to unblock the
	// read below, then exits. Waited for before returning.
	stop := context.AfterFunc(ctx, func() {
		defer close(stopped)
		closeConn()
	})
	defer func() {
		if !stop() {
			<-stopped
		}
		closeConn()
	}()

	_ = conn.SetWriteDeadline(time.Now().Add(c.writeWait))
	if err := conn.WriteMessage(websocket.TextMessage, authRequest(c.idCrm)); err != nil {
		return "", c.probeError(ctx, fmt.Errorf("Accolades: the connection dropped (send: %v)", err))
	}
	conn.SetReadLimit(MaxFrame)
	_ = conn.SetReadDeadline(time.Now().Add(c.handshakeTimeout))
	s := &session{c: c} // for readError only
	for {
		_, frame, err := conn.ReadMessage()
		if err != nil {
			return "", c.probeError(ctx, s.readError(err))
		}
		m, err := decode(frame)
		if err != nil {
			continue
		}
		switch m.Type {
		case typeAuthSucces, typeAuthSuccess:
			v := cleanText(string(m.Version), 40)
			if v != "" {
				c.setConfiguration(func(conf *Configuration) { conf.Version = v })
			}
			// Close politely and wait (briefly) for the server's close, so
			// that it has let go of the agent when Run connects next.
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(c.writeWait))
			_ = conn.SetReadDeadline(time.Now().Add(time.Second))
			for {
				if _, _, err := conn.ReadMessage(); err != nil {
					return v, nil
				}
			}
		case typeAuthFailed:
			return "", c.testFailure(strings.TrimSpace(string(m.Reason)))
		case typeConnectionClosed:
			return "", ErrConnectionClosed
		}
	}
}

func (c *Connector) probeError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("Accolades: test cancelled: %w", ctx.Err())
	}
	return err
}

// testFailure explains an authFailed answer to someone checking the
// settings.
func (c *Connector) testFailure(reason string) error {
	e := &AuthError{Reason: reason}
	switch reason {
	case reasonIDNotFound:
		e.msg = fmt.Sprintf("Accolades knows no logged-in phone with id_crm %q (%s): log in to the Accolades web interface, "+
			"and check id_crm against the External CRM field in its PHONE container", c.idCrm, reason)
	case reasonConnectionExists:
		e.msg = fmt.Sprintf("Accolades: this agent already has an API connection (%s): expected while Ringside is running and connected; "+
			"otherwise close the other program or CRM tab using it", reason)
	default:
		return authFailure(reason)
	}
	return e
}
