//go:build linux

package notify

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

func TestAvailableNoSessionBus(t *testing.T) {
	tests := []struct {
		name    string
		address string
		runtime string
		want    string
	}{
		{
			name:    "address of a missing socket",
			address: "unix:path=/nonexistent",
			want:    "no D-Bus session bus: dial unix /nonexistent",
		},
		{
			name:    "no address and no user bus socket",
			address: "",
			runtime: t.TempDir(),
			want:    "no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is not set",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("DBUS_SESSION_BUS_ADDRESS", tt.address)
			t.Setenv("XDG_RUNTIME_DIR", tt.runtime)
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()

			err := Available(ctx)
			if !errors.Is(err, ErrNoSessionBus) {
				t.Fatalf("Available() = %v, want an error wrapping ErrNoSessionBus", err)
			}
			if got := err.Error(); !strings.Contains(got, tt.want) {
				t.Errorf("Available() error = %q, want it to contain %q", got, tt.want)
			}

			err = NewDesktop("Ringside", "").Notify(ctx, "title", "body")
			if !errors.Is(err, ErrNoSessionBus) {
				t.Errorf("Notify() = %v, want an error wrapping ErrNoSessionBus", err)
			}
		})
	}
}

func TestAvailablePrivateBus(t *testing.T) {
	tests := []struct {
		name       string
		withServer bool
		wantErr    error
	}{
		{name: "server owns the name", withServer: true, wantErr: nil},
		{name: "no server", withServer: false, wantErr: ErrNoDaemon},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := startPrivateBus(t)
			t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
			if tt.withServer {
				startFakeServer(t, addr, &fakeServer{})
			}
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()

			err := Available(ctx)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Available() = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				const want = "no notification daemon on the session bus (org.freedesktop.Notifications): install dunst or run a desktop session"
				if got := err.Error(); !strings.Contains(got, want) {
					t.Errorf("Available() error = %q, want it to contain %q", got, want)
				}
			}
		})
	}
}

func TestDesktopNotify(t *testing.T) {
	icon := filepath.Join(t.TempDir(), "icon.png")
	if err := os.WriteFile(icon, []byte("not read by the test"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		caps     []string
		iconPath string
		body     string
		wantIcon string
		wantBody string
	}{
		{
			name:     "markup server gets an escaped body",
			caps:     []string{"body", "body-markup"},
			iconPath: icon,
			body:     "Smith & Sons <VIP>",
			wantIcon: icon,
			wantBody: "Smith &amp; Sons &lt;VIP&gt;",
		},
		{
			name:     "plain server gets the body as is",
			caps:     []string{"body"},
			iconPath: "phone", // a theme icon name, passed through
			body:     "Smith & Sons <VIP>",
			wantIcon: "phone",
			wantBody: "Smith & Sons <VIP>",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := startPrivateBus(t)
			t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
			srv := &fakeServer{caps: tt.caps, calls: make(chan notifyCall, 1)}
			startFakeServer(t, addr, srv)
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()

			if err := NewDesktop("Ringside", tt.iconPath).Notify(ctx, "Incoming call", tt.body); err != nil {
				t.Fatalf("Notify() = %v", err)
			}
			var got notifyCall
			select {
			case got = <-srv.calls:
			case <-ctx.Done():
				t.Fatal("the server saw no Notify call")
			}
			want := notifyCall{
				AppName: "Ringside",
				Icon:    tt.wantIcon,
				Summary: "Incoming call",
				Body:    tt.wantBody,
				Urgency: urgencyNormal,
				Timeout: -1,
			}
			if got != want {
				t.Errorf("Notify call = %+v, want %+v", got, want)
			}
		})
	}
}

func TestDesktopNotifyNoDaemon(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", startPrivateBus(t))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	before := runtime.NumGoroutine()

	err := NewDesktop("Ringside", "").Notify(ctx, "title", "body")
	if !errors.Is(err, ErrNoDaemon) {
		t.Fatalf("Notify() = %v, want an error wrapping ErrNoDaemon", err)
	}

	// The connection's goroutines end once Notify has closed it.
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines before Notify, %d after", before, runtime.NumGoroutine())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDesktopNotifyRespectsContext(t *testing.T) {
	addr := startPrivateBus(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
	release := make(chan struct{})
	startFakeServer(t, addr, &fakeServer{block: release})
	t.Cleanup(func() { close(release) }) // runs before the server is stopped

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := NewDesktop("Ringside", "").Notify(ctx, "title", "body")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Notify() = %v, want an error wrapping context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("Notify returned %v after the deadline, want promptly", elapsed)
	}
}

func TestEscapeMarkup(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"Anna Müller", "Anna Müller"},
		{"A & B", "A &amp; B"},
		{"<b>x</b>", "&lt;b&gt;x&lt;/b&gt;"},
		{"&amp;", "&amp;amp;"},
	}
	for _, tt := range tests {
		if got := escapeMarkup(tt.in); got != tt.want {
			t.Errorf("escapeMarkup(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestDesktopNotifyIntegration sends a notification to the real notification
// server (dunst under .ci/integration-env.sh) and watches for the Notify call
// on the session bus as a bus monitor.
func TestDesktopNotifyIntegration(t *testing.T) {
	if os.Getenv("RINGSIDE_INTEGRATION") != "1" {
		t.Skip("set RINGSIDE_INTEGRATION=1 to run (.ci/integration-env.sh does)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	if err := Available(ctx); err != nil {
		t.Fatalf("Available() = %v, want nil", err)
	}
	seen := monitorNotifyCalls(ctx, t)

	title := fmt.Sprintf("Ringside integration %d-%d", os.Getpid(), time.Now().UnixNano())
	const body = "Incoming call from the integration test"
	if err := NewDesktop("Ringside", "").Notify(ctx, title, body); err != nil {
		t.Fatalf("Notify() = %v", err)
	}

	timeout := time.After(5 * time.Second)
	for {
		select {
		case msg := <-seen:
			if len(msg.Body) != 8 {
				continue
			}
			appName, _ := msg.Body[0].(string)
			summary, _ := msg.Body[3].(string)
			gotBody, _ := msg.Body[4].(string)
			if summary != title {
				continue // another client's notification
			}
			if appName != "Ringside" || gotBody != body {
				t.Fatalf("Notify call on the bus: app %q body %q, want %q %q", appName, gotBody, "Ringside", body)
			}
			return
		case <-timeout:
			t.Fatalf("no Notify call with summary %q seen on the session bus within 5s", title)
		}
	}
}

// monitorNotifyCalls makes a new session bus connection a monitor for
// org.freedesktop.Notifications.Notify calls and returns the calls it sees.
// The connection is closed when the test ends.
func monitorNotifyCalls(ctx context.Context, t *testing.T) <-chan *dbus.Message {
	t.Helper()
	conn, err := connectSessionBus(ctx)
	if err != nil {
		t.Fatalf("connect to the session bus: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	rule := "type='method_call',interface='org.freedesktop.Notifications',member='Notify'"
	err = conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.Monitoring.BecomeMonitor", 0,
		[]string{rule}, uint32(0)).Err
	if err != nil {
		t.Fatalf("become a bus monitor: %v", err)
	}
	// Set only after BecomeMonitor's reply: with Eavesdrop set, replies go to
	// the channel too. Notify is called after this, so no call is missed.
	ch := make(chan *dbus.Message, 64)
	conn.Eavesdrop(ch)
	return ch
}

// startPrivateBus starts a dbus-daemon of its own, with no activatable
// services, and returns its address. It is stopped when the test ends.
func startPrivateBus(t *testing.T) string {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Skip("dbus-daemon not installed (Debian package dbus)")
	}
	dir := t.TempDir()
	config := `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=` + filepath.Join(dir, "bus") + `</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`
	configPath := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(daemon, "--config-file="+configPath, "--nofork", "--nopidfile", "--print-address=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dbus-daemon: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("read the bus address from dbus-daemon: %v", err)
	}
	return strings.TrimSpace(addr)
}

// notifyCall is what fakeServer records of one Notify call.
type notifyCall struct {
	AppName, Icon, Summary, Body string
	Urgency                      byte
	Timeout                      int32
}

// fakeServer implements the methods of org.freedesktop.Notifications that
// Desktop uses.
type fakeServer struct {
	caps  []string
	calls chan notifyCall // receives each Notify call, if not nil
	block <-chan struct{} // if not nil, Notify waits for it to close
}

func (s *fakeServer) GetCapabilities() ([]string, *dbus.Error) {
	return s.caps, nil
}

func (s *fakeServer) Notify(appName string, replacesID uint32, icon, summary, body string,
	actions []string, hints map[string]dbus.Variant, timeout int32,
) (uint32, *dbus.Error) {
	if s.block != nil {
		<-s.block
	}
	urgency, _ := hints["urgency"].Value().(byte)
	if s.calls != nil {
		s.calls <- notifyCall{AppName: appName, Icon: icon, Summary: summary, Body: body, Urgency: urgency, Timeout: timeout}
	}
	return 1, nil
}

// startFakeServer serves srv as org.freedesktop.Notifications on the bus at
// addr until the test ends.
func startFakeServer(t *testing.T, addr string, srv *fakeServer) {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("connect to the private bus: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.Export(srv, notifyPath, notifyInterface); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName(notifyBusName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("request %s: reply %v, error %v", notifyBusName, reply, err)
	}
}
