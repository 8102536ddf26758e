// Package notify shows desktop notifications, used for caller popups when
// Ringside runs headless (no Fyne window).
//
// On Linux a notification is one org.freedesktop.Notifications.Notify call on
// the D-Bus session bus, made over a private connection that lives for that
// call only, so the context given to Notify bounds every step of it (connect,
// authenticate, send, wait for the reply). Other systems go through
// github.com/gen2brain/beeep.
//
// Available tells, before the first popup, whether notifications can be shown
// at all, with an error that says what to install.
package notify

import (
	"context"
	"errors"
	"os"
	"path/filepath"
)

// Notifier shows a desktop notification. Safe for concurrent use.
//
// Notify returns when the notification server has accepted the notification
// or ctx is done, whichever comes first. An error means the notification was
// not shown; retrying is pointless while Available reports an error.
type Notifier interface {
	Notify(ctx context.Context, title, body string) error
}

// Errors returned (wrapped) by Available and Desktop.Notify; test with errors.Is.
var (
	// ErrNoSessionBus means there is no D-Bus session bus to talk to.
	ErrNoSessionBus = errors.New("no D-Bus session bus")
	// ErrNoDaemon means the session bus has no notification server and none
	// can be started by bus activation.
	ErrNoDaemon = errors.New("no notification daemon on the session bus (org.freedesktop.Notifications): install dunst or run a desktop session")
)

// Desktop is a Notifier that shows notifications through the desktop's
// notification server. Its fields are set once by NewDesktop, so it is safe
// for concurrent use.
type Desktop struct {
	appName  string
	iconPath string
}

var _ Notifier = (*Desktop)(nil)

// NewDesktop returns a Notifier that shows notifications under appName with
// the given icon. iconPath is a PNG file (made absolute when it exists) or
// the name of an icon in the desktop's icon theme; it may be empty.
//
// On Windows and macOS, beeep takes the application name only from its
// package-level variable beeep.AppName, so NewDesktop sets it there: create
// one Desktop per process, at start-up, before any notification is sent. On
// Linux nothing global is touched.
func NewDesktop(appName, iconPath string) *Desktop {
	if iconPath != "" {
		if _, err := os.Stat(iconPath); err == nil {
			if abs, err := filepath.Abs(iconPath); err == nil {
				iconPath = abs
			}
		}
	}
	setAppName(appName)
	return &Desktop{appName: appName, iconPath: iconPath}
}
