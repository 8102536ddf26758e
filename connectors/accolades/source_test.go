package accolades

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/connectors/accolades/simulator"
	"github.com/ringside/ringside/connectors/connectortest"
)

func TestAuthSuccess(t *testing.T) {
	for _, reply := range []string{"authSucces", "authSuccess"} {
		t.Run(reply, func(t *testing.T) {
			_, url := newSim(t, simulator.Options{AuthReply: reply})
			c := newTestConnector(t, testDeps(t), conf(url))
			link := connectortest.NewLink()
			startRun(t, c, link)
			link.WaitUp(t)
			link.WaitInfo(t, "agent")
			link.WaitInfo(t, "version")
			if got, want := link.Ups(), []string{"Accolades API 1.1.0"}; !reflect.DeepEqual(got, want) {
				t.Errorf("Up = %q, want %q", got, want)
			}
			want := map[string]string{
				"account": "id=15: INFO_ACCOUNT",
				"phone":   "id=27: INFO_PHONE",
				"agent":   "id=321: INFO_AGENT",
				"version": "1.1.0",
			}
			if got := link.Snapshot().Info; !reflect.DeepEqual(got, want) {
				t.Errorf("Info = %q, want %q", got, want)
			}
			wantConf := Configuration{
				Account: Entity{ID: "15", Data: "INFO_ACCOUNT"},
				Phone:   Entity{ID: "27", Data: "INFO_PHONE"},
				Agent:   Entity{ID: "321", Data: "INFO_AGENT"},
				Version: "1.1.0",
			}
			if got := c.Configuration(); got != wantConf {
				t.Errorf("Configuration() = %+v, want %+v", got, wantConf)
			}
		})
	}
}

func TestCalls(t *testing.T) {
	sim, url := newSim(t, simulator.Options{})
	c := newTestConnector(t, testDeps(t), conf(url))
	link := connectortest.NewLink()
	startRun(t, c, link)
	link.WaitInfo(t, "agent") // events carry the agent id from now on

	if err := sim.Incoming(agentID, "0211234567", "1608743891.1344", false); err != nil {
		t.Fatal(err)
	}
	if err := sim.Incoming(agentID, "0722 345 678", "1608743891.1345", true); err != nil {
		t.Fatal(err)
	}
	if err := sim.Outgoing(agentID, "+40264598210", "1608743891.1346", false); err != nil {
		t.Fatal(err)
	}
	if err := sim.Incoming(agentID, "", "", false); err != nil { // a hidden number, no id
		t.Fatal(err)
	}
	evs := link.WaitEvents(t, 4)
	for i := range evs {
		if evs[i].At.IsZero() || evs[i].Received.IsZero() {
			t.Errorf("event %d has no At/Received", i)
		}
		evs[i].At, evs[i].Received = time.Time{}, time.Time{}
	}
	no := map[string]string{"callCenter": "no"}
	want := []connectors.Event{
		{Kind: connectors.KindRinging, Direction: connectors.DirectionInbound, Vendor: "accolades", CallID: "1608743891.1344",
			Phone: connectors.Phone{Raw: "0211234567", E164: "+40211234567"}, Agent: "321", Extra: no},
		{Kind: connectors.KindRinging, Direction: connectors.DirectionInbound, Vendor: "accolades", CallID: "1608743891.1345",
			Phone: connectors.Phone{Raw: "0722 345 678", E164: "+40722345678"}, Agent: "321", Queue: true, Extra: map[string]string{"callCenter": "yes"}},
		{Kind: connectors.KindDialing, Direction: connectors.DirectionOutbound, Vendor: "accolades", CallID: "1608743891.1346",
			Phone: connectors.Phone{Raw: "+40264598210", E164: "+40264598210"}, Agent: "321", Extra: no},
		{Kind: connectors.KindRinging, Direction: connectors.DirectionInbound, Vendor: "accolades", Agent: "321", Extra: no},
	}
	if !reflect.DeepEqual(evs, want) {
		t.Errorf("events:\n got %+v\nwant %+v", evs, want)
	}
}

func TestAuthFailed(t *testing.T) {
	tests := []struct {
		reason    string
		permanent bool
		delay     time.Duration // 0: none requested
		text      string        // the error holds it
	}{
		{"ID_NOT_FOUND", false, 30 * time.Second, "Accolades: your phone is not logged in yet (ID_NOT_FOUND); retrying every 30 s"},
		{"IP_MISSMATCH", true, 0, "Accolades refused this computer (IP_MISSMATCH): the API only accepts a connection from the agent's own computer, the one with the same IP address as the phone"},
		{"CONNECTION_EXISTS", false, 60 * time.Second, "another program already holds this agent's API connection (CONNECTION_EXISTS): close the other Ringside or the CRM tab using it; retrying every 60 s"},
		{"MAINTENANCE", false, 0, "Accolades refused the sign-in (MAINTENANCE)"},
		{"", false, 0, "Accolades refused the sign-in without saying why"},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			sim, url := newSim(t, simulator.Options{})
			sim.Fail(agentID, tt.reason)
			c := newTestConnector(t, testDeps(t), conf(url))
			link := connectortest.NewLink()
			err := startRun(t, c, link).wait(t)
			if err == nil || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("Run = %v, want an error holding %q", err, tt.text)
			}
			if got := connectors.IsPermanent(err); got != tt.permanent {
				t.Errorf("IsPermanent = %v, want %v", got, tt.permanent)
			}
			d, ok := connectors.RetryDelay(err)
			if ok != (tt.delay != 0) || d != tt.delay {
				t.Errorf("RetryDelay = %v, %v; want %v", d, ok, tt.delay)
			}
			var ae *AuthError
			if !errors.As(err, &ae) || ae.Reason != tt.reason {
				t.Errorf("error %T is not an *AuthError with reason %q", err, tt.reason)
			}
			if ups := link.Ups(); len(ups) != 0 {
				t.Errorf("Up called: %q", ups)
			}
		})
	}
}

func TestUnknownIDAndConnectionExists(t *testing.T) {
	_, url := newSim(t, simulator.Options{})
	d := testDeps(t)
	other := newTestConnector(t, d, fmt.Sprintf("url = %q\nid_crm = \"someone-else\"", url))
	err := startRun(t, other, connectortest.NewLink()).wait(t)
	if delay, _ := connectors.RetryDelay(err); delay != RetryNotLoggedIn {
		t.Errorf("unknown id: Run = %v, want ID_NOT_FOUND", err)
	}

	c := newTestConnector(t, d, conf(url))
	link := connectortest.NewLink()
	startRun(t, c, link)
	link.WaitUp(t)
	// a second client for the same agent is refused
	second := newTestConnector(t, d, conf(url))
	err = startRun(t, second, connectortest.NewLink()).wait(t)
	if delay, _ := connectors.RetryDelay(err); delay != RetryConnectionExists {
		t.Errorf("second client: Run = %v, want CONNECTION_EXISTS", err)
	}
}

func TestConnectionClosed(t *testing.T) {
	sim, url := newSim(t, simulator.Options{})
	c := newTestConnector(t, testDeps(t), conf(url))
	link := connectortest.NewLink()
	r := startRun(t, c, link)
	link.WaitUp(t)
	sim.CloseAgent(agentID)
	err := r.wait(t)
	if !errors.Is(err, ErrConnectionClosed) || err.Error() != "Accolades closed the connection (the agent closed the web interface?)" {
		t.Errorf("Run = %v, want ErrConnectionClosed", err)
	}
	if connectors.IsPermanent(err) {
		t.Error("connectionClosed is permanent")
	}
	if _, ok := connectors.RetryDelay(err); ok {
		t.Error("connectionClosed asks for a delay")
	}
}

func TestDrop(t *testing.T) {
	sim, url := newSim(t, simulator.Options{})
	c := newTestConnector(t, testDeps(t), conf(url))
	link := connectortest.NewLink()
	r := startRun(t, c, link)
	link.WaitUp(t)
	sim.Drop(agentID)
	err := r.wait(t)
	if err == nil || !strings.HasPrefix(err.Error(), "Accolades: the connection dropped") {
		t.Errorf("Run = %v, want a dropped connection", err)
	}
	if connectors.IsPermanent(err) {
		t.Error("a drop is permanent")
	}

	// the next Run signs in again at once
	link2 := connectortest.NewLink()
	startRun(t, c, link2)
	link2.WaitUp(t)
}

func TestGarbageTolerated(t *testing.T) {
	sim, url := newSim(t, simulator.Options{})
	var logs connectortest.LogBuffer
	d := testDeps(t)
	d.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newTestConnector(t, d, conf(url))
	link := connectortest.NewLink()
	r := startRun(t, c, link)
	link.WaitUp(t)
	for _, f := range []string{
		`this is not JSON 0722111222`,
		`{"phoneNumber":"0722111222"}`,
		`{"type":42,"phoneNumber":"0722111222"}`,
		`[{"type":"incomingCall","phoneNumber":"0722111222"}]`,
		`{"type":"incomingCall","phoneNumber":"0722111222"`,
		`{"type":"error"}`,
		`{"type":"error","message":"request 0722111222 not understood"}`,
		`{"type":"holdMusic","phoneNumber":"0722111222"}`,
		"\x00\xff",
	} {
		if err := sim.SendRaw(agentID, []byte(f)); err != nil {
			t.Fatal(err)
		}
	}
	if err := sim.Incoming(agentID, "0211234567", "1.2", false); err != nil {
		t.Fatal(err)
	}
	evs := link.WaitEvents(t, 1)
	if len(evs) != 1 || evs[0].CallID != "1.2" || evs[0].Phone.E164 != "+40211234567" {
		t.Errorf("events = %+v, want the one call", evs)
	}
	select {
	case err := <-r.done:
		t.Fatalf("Run returned %v", err)
	default:
	}
	out := logs.String()
	if strings.Contains(out, "722111222") {
		t.Errorf("a number reached the log:\n%s", out)
	}
	for _, want := range []string{"not a message", "not a JSON object", "no type", "type is not a string", "bad JSON", "reported an error", "unknown type"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestTrailingCommaConfiguration(t *testing.T) {
	_, url := newSim(t, simulator.Options{TrailingComma: true})
	c := newTestConnector(t, testDeps(t), conf(url))
	link := connectortest.NewLink()
	startRun(t, c, link)
	if got := link.WaitInfo(t, "agent"); got != "id=321: INFO_AGENT" {
		t.Errorf("Info agent = %q", got)
	}
}

func TestVersionWarning(t *testing.T) {
	_, url := newSim(t, simulator.Options{Version: "2.0.0"})
	var logs connectortest.LogBuffer
	d := testDeps(t)
	d.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	c := newTestConnector(t, d, conf(url))
	link := connectortest.NewLink()
	startRun(t, c, link)
	got := link.WaitInfo(t, "version_warning")
	if want := "server API 2.0.0 is newer than this Ringside understands (1.x)"; got != want {
		t.Errorf("version_warning = %q, want %q", got, want)
	}
	link.WaitFor(t, "version request answered", func(connectortest.Reported) bool { return c.Configuration().Agent.ID != "" })
	if ups := link.Ups(); len(ups) != 1 || ups[0] != "Accolades API 2.0.0" {
		t.Errorf("Up = %q", ups)
	}
	if n := strings.Count(logs.String(), "is newer than"); n != 1 {
		t.Errorf("warned %d times, want once:\n%s", n, logs.String())
	}
}

func TestStall(t *testing.T) {
	sim, url := newSim(t, simulator.Options{})
	c := newTestConnector(t, testDeps(t), conf(url))
	// Short, with pings more often than 9/10 of it so that a loaded test
	// machine does not see a stall before the real one.
	c.pongWait = 300 * time.Millisecond
	c.pingPeriod = 50 * time.Millisecond
	link := connectortest.NewLink()
	r := startRun(t, c, link)
	link.WaitInfo(t, "agent")
	start := time.Now()
	sim.Stall(agentID)
	err := r.wait(t)
	if err == nil || !strings.Contains(err.Error(), "the connection stalled") {
		t.Fatalf("Run = %v, want a stall", err)
	}
	// The bound is generous: detection takes at most one pong_wait.
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("stall detected after %v, want about %v", d, c.pongWait)
	}
}

// bareServer is a WebSocket server for byte-level tests: handle runs for
// every connection, in the server's handler goroutine.
func bareServer(t *testing.T, handle func(conn *websocket.Conn)) string {
	t.Helper()
	up := websocket.Upgrader{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		handle(conn)
	}))
	t.Cleanup(ts.Close)
	return "ws" + strings.TrimPrefix(ts.URL, "http")
}

// readAuth reads the client's first frame and checks it.
func readAuth(t *testing.T, conn *websocket.Conn) {
	_, b, err := conn.ReadMessage()
	if err != nil {
		t.Errorf("read authRequest: %v", err)
		return
	}
	if want := `{"type":"authRequest","idCrm":"f8cb549544"}`; string(b) != want {
		t.Errorf("authRequest = %s, want %s", b, want)
	}
}

// drain reads until the client goes away.
func drain(conn *websocket.Conn) {
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			return
		}
	}
}

func TestSpecExamplesVerbatim(t *testing.T) {
	url := bareServer(t, func(conn *websocket.Conn) {
		readAuth(t, conn)
		for _, f := range []string{
			`{"type":"authSucces", "version":"X.X.X"}`,
			"{\n\"type\": \"configuration\",\n\"account\": {\n\"id\": \"15\",\n\"data\": \"INFO_ACCOUNT\"\n},\n\"phone\": {\n\"id\": \"27\",\n\"data\": \"INFO_PHONE\"\n},\n\"agent\": {\n\"id\": \"321\",\n\"data\": \"INFO_AGENT\"\n},\n}",
			"{\n\"type\": \"incomingCall\",\n\"phoneNumber\":\"0211234567\",\n\"uniqueId\":\"1608743891.1344\"\n\"callCenter\":\"yes\"\n}",
			`{"type":"version", "value":"1.1.0"}`,
		} {
			if err := conn.WriteMessage(websocket.TextMessage, []byte(f)); err != nil {
				return
			}
		}
		drain(conn)
	})
	c := newTestConnector(t, testDeps(t), conf(url))
	link := connectortest.NewLink()
	startRun(t, c, link)
	evs := link.WaitEvents(t, 1)
	link.WaitFor(t, "version 1.1.0", func(r connectortest.Reported) bool { return r.Info["version"] == "1.1.0" })
	if ups := link.Ups(); ups[0] != "Accolades API X.X.X" {
		t.Errorf("Up = %q", ups)
	}
	ev := evs[0]
	if ev.CallID != "1608743891.1344" || !ev.Queue || ev.Phone.E164 != "+40211234567" || ev.Agent != "321" {
		t.Errorf("event = %+v", ev)
	}
	if info := link.Snapshot().Info; info["account"] != "id=15: INFO_ACCOUNT" || info["version_warning"] != "" {
		t.Errorf("info = %q", info)
	}
}

func TestAuthTimeout(t *testing.T) {
	url := bareServer(t, func(conn *websocket.Conn) { drain(conn) }) // never answers
	c := newTestConnector(t, testDeps(t), conf(url))
	c.handshakeTimeout = 200 * time.Millisecond
	err := startRun(t, c, connectortest.NewLink()).wait(t)
	if err == nil || err.Error() != "Accolades did not answer the sign-in within 200ms" {
		t.Errorf("Run = %v", err)
	}
}

func TestServerCloseFrame(t *testing.T) {
	url := bareServer(t, func(conn *websocket.Conn) {
		readAuth(t, conn)
		_ = conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"authSuccess","version":"1.1.0"}`))
		_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "restart"))
		drain(conn)
	})
	c := newTestConnector(t, testDeps(t), conf(url))
	err := startRun(t, c, connectortest.NewLink()).wait(t)
	if err == nil || err.Error() != "Accolades closed the connection (code 1001: restart)" {
		t.Errorf("Run = %v", err)
	}
}

func TestOversizeFrame(t *testing.T) {
	sim, url := newSim(t, simulator.Options{})
	c := newTestConnector(t, testDeps(t), conf(url))
	link := connectortest.NewLink()
	r := startRun(t, c, link)
	link.WaitUp(t)
	big := `{"type":"error","message":"` + strings.Repeat("x", MaxFrame) + `"}`
	if err := sim.SendRaw(agentID, []byte(big)); err != nil {
		t.Fatal(err)
	}
	if err := r.wait(t); err == nil || err.Error() != "Accolades sent a message larger than 64 KiB" {
		t.Errorf("Run = %v", err)
	}
}

func TestConnectErrors(t *testing.T) {
	notWS := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notWS.Close)
	c := newTestConnector(t, testDeps(t), conf("ws"+strings.TrimPrefix(notWS.URL, "http")))
	err := startRun(t, c, connectortest.NewLink()).wait(t)
	if err == nil || !strings.Contains(err.Error(), "the server answered HTTP 404 Not Found instead of opening the socket") {
		t.Errorf("Run = %v", err)
	}
}

func TestCancel(t *testing.T) {
	sim, url := newSim(t, simulator.Options{})
	c := newTestConnector(t, testDeps(t), conf(url))

	cycle := func() {
		ctx, cancel := context.WithCancel(context.Background())
		link := connectortest.NewLink()
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx, link) }() // exits when Run returns
		link.WaitInfo(t, "agent")
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run after cancel = %v, want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
		ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel2()
		if err := sim.WaitDisconnected(ctx2, agentID); err != nil {
			t.Fatal("the server still sees the agent after Run returned")
		}
	}
	cycle() // warm up lazily started goroutines
	before := runtime.NumGoroutine()
	cycle()
	var after int
	for range 200 {
		if after = runtime.NumGoroutine(); after <= before {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	t.Errorf("goroutines: %d before, %d after Run returned\n%s", before, after, buf[:runtime.Stack(buf, true)])
}

func TestCancelBeforeRun(t *testing.T) {
	c := newTestConnector(t, testDeps(t), conf("ws://127.0.0.1:1"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Run(ctx, connectortest.NewLink()); err != nil {
		t.Errorf("Run with a done context = %v", err)
	}
}

func TestTLSWithCAFile(t *testing.T) {
	sim := simulator.New(simulator.Options{IDs: map[string]simulator.Agent{agentID: demoAgent}})
	ts := httptest.NewUnstartedServer(sim)
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	ts.StartTLS()
	t.Cleanup(ts.Close)
	t.Cleanup(sim.Close)
	url := "wss" + strings.TrimPrefix(ts.URL, "https")

	// without the CA: refused, with a hint
	c := newTestConnector(t, testDeps(t), conf(url))
	err := startRun(t, c, connectortest.NewLink()).wait(t)
	if err == nil || !strings.Contains(err.Error(), "set ca_file") {
		t.Errorf("Run without ca_file = %v, want a certificate error", err)
	}

	dir := t.TempDir()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), ca, 0o600); err != nil {
		t.Fatal(err)
	}
	d := testDeps(t)
	d.ConfigDir = dir // ca_file is relative to the settings file
	c = newTestConnector(t, d, conf(url)+`ca_file = "ca.pem"`)
	link := connectortest.NewLink()
	startRun(t, c, link)
	link.WaitUp(t)
}

func TestProbe(t *testing.T) {
	sim, url := newSim(t, simulator.Options{Version: "1.2.0"})
	c := newTestConnector(t, testDeps(t), conf(url))
	ctx := context.Background()
	v, err := c.Probe(ctx)
	if err != nil || v != "1.2.0" {
		t.Fatalf("Probe = %q, %v", v, err)
	}
	if err := c.Test(ctx); err != nil {
		t.Errorf("Test = %v", err)
	}
	if got := c.Configuration().Version; got != "1.2.0" {
		t.Errorf("Configuration().Version = %q", got)
	}

	sim.Fail(agentID, "ID_NOT_FOUND")
	err = c.Test(ctx)
	if err == nil || !strings.Contains(err.Error(), `Accolades knows no logged-in phone with id_crm "f8cb549544" (ID_NOT_FOUND)`) {
		t.Errorf("Test = %v", err)
	}
	sim.Fail(agentID, "IP_MISSMATCH")
	if err := c.Test(ctx); err == nil || !strings.Contains(err.Error(), "IP_MISSMATCH") {
		t.Errorf("Test = %v", err)
	}

	// while Run holds the connection
	if err := sim.WaitDisconnected(ctx, agentID); err != nil {
		t.Fatal(err)
	}
	link := connectortest.NewLink()
	startRun(t, c, link)
	link.WaitUp(t)
	err = c.Test(ctx)
	if err == nil || !strings.Contains(err.Error(), "expected while Ringside is running and connected") {
		t.Errorf("Test while connected = %v", err)
	}

	down := newTestConnector(t, testDeps(t), conf("ws://127.0.0.1:1"))
	if err := down.Test(ctx); err == nil || !strings.HasPrefix(err.Error(), "Accolades: cannot connect to ws://127.0.0.1:1") {
		t.Errorf("Test of a closed port = %v", err)
	}
}
