//go:build linux

package notify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/godbus/dbus/v5"
)

// The freedesktop.org Desktop Notifications interface, version 1.2.
const (
	notifyBusName   = "org.freedesktop.Notifications"
	notifyPath      = dbus.ObjectPath("/org/freedesktop/Notifications")
	notifyInterface = "org.freedesktop.Notifications"

	errServiceUnknown = "org.freedesktop.DBus.Error.ServiceUnknown"
	urgencyNormal     = byte(1)
	expireDefault     = int32(-1) // the server's default timeout
)

// setAppName does nothing on Linux: the name is sent with each Notify call.
func setAppName(string) {}

// Notify sends one notification and waits for the server to accept it.
// If the server renders markup in bodies (capability "body-markup"), body is
// escaped so that it shows as the plain text it is.
func (d *Desktop) Notify(ctx context.Context, title, body string) error {
	conn, err := connectSessionBus(ctx)
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	defer conn.Close()

	obj := conn.Object(notifyBusName, notifyPath)
	var caps []string
	if err := obj.CallWithContext(ctx, notifyInterface+".GetCapabilities", 0).Store(&caps); err != nil {
		return fmt.Errorf("notify: get server capabilities: %w", callError(ctx, err))
	}
	if slices.Contains(caps, "body-markup") {
		body = escapeMarkup(body)
	}

	hints := map[string]dbus.Variant{"urgency": dbus.MakeVariant(urgencyNormal)}
	var id uint32
	err = obj.CallWithContext(ctx, notifyInterface+".Notify", 0,
		d.appName, uint32(0), d.iconPath, title, body, []string{}, hints, expireDefault,
	).Store(&id)
	if err != nil {
		return fmt.Errorf("notify: send notification: %w", callError(ctx, err))
	}
	return nil
}

// Available reports whether notifications can be shown: nil when
// org.freedesktop.Notifications has an owner on the session bus or can be
// started by bus activation, else an error wrapping ErrNoSessionBus or
// ErrNoDaemon.
func Available(ctx context.Context) error {
	conn, err := connectSessionBus(ctx)
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	defer conn.Close()

	bus := conn.BusObject()
	var owned bool
	if err := bus.CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, notifyBusName).Store(&owned); err != nil {
		return fmt.Errorf("notify: look up %s: %w", notifyBusName, callError(ctx, err))
	}
	if owned {
		return nil
	}
	var activatable []string
	if err := bus.CallWithContext(ctx, "org.freedesktop.DBus.ListActivatableNames", 0).Store(&activatable); err != nil {
		return fmt.Errorf("notify: list activatable services: %w", callError(ctx, err))
	}
	if slices.Contains(activatable, notifyBusName) {
		return nil
	}
	return fmt.Errorf("notify: %w", ErrNoDaemon)
}

// connectSessionBus opens a private, authenticated connection to the session
// bus. It never autolaunches a bus (godbus would run dbus-launch, leaving a
// stray daemon behind). The connection is closed when ctx is done, which
// unblocks any step in progress; the caller closes it when finished.
func connectSessionBus(ctx context.Context) (*dbus.Conn, error) {
	addr, err := sessionBusAddress()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoSessionBus, err)
	}
	conn, err := dbus.Dial(addr, dbus.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoSessionBus, err)
	}
	if err := conn.Auth(nil); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%w: authenticate: %w", ErrNoSessionBus, connError(ctx, err))
	}
	if err := conn.Hello(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%w: hello: %w", ErrNoSessionBus, connError(ctx, err))
	}
	return conn, nil
}

// sessionBusAddress finds the session bus the way libdbus does, without
// autolaunch: DBUS_SESSION_BUS_ADDRESS, else the systemd user bus socket.
func sessionBusAddress() (string, error) {
	if addr := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); addr != "" && !strings.HasPrefix(addr, "autolaunch:") {
		return addr, nil
	}
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		path := filepath.Join(dir, "bus")
		if fi, err := os.Stat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return "unix:path=" + path, nil
		}
	}
	return "", errors.New("DBUS_SESSION_BUS_ADDRESS is not set and $XDG_RUNTIME_DIR/bus does not exist")
}

// connError prefers ctx's error: a connection closed because ctx ended fails
// with an I/O error that hides why.
func connError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	return err
}

// callError is connError that also turns "service unknown" into ErrNoDaemon.
func callError(ctx context.Context, err error) error {
	err = connError(ctx, err)
	var dbusErr dbus.Error
	if errors.As(err, &dbusErr) && dbusErr.Name == errServiceUnknown {
		return fmt.Errorf("%w (%w)", ErrNoDaemon, err)
	}
	return err
}

// escapeMarkup escapes the characters that the notification markup (a small
// XML subset) gives meaning to.
func escapeMarkup(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
