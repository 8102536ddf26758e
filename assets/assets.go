// Package assets holds Ringside's icons and desktop entry template, embedded
// in the binary.
//
// The PNGs are drawn by ./gen (run `go generate` in this directory after
// changing it) and committed, so building needs no image tools. A tray icon
// on Linux must be a raster PNG: StatusNotifierItem hosts show nothing for SVG.
package assets

//go:generate go run ./gen -out .

import (
	"embed"
	"fmt"
)

//go:embed icon.png tray-*.png ringside.desktop.in
var files embed.FS // read-only

// Tray icon states, one per connection state shown in the system tray.
const (
	TrayConnected    = "connected"
	TrayReconnecting = "reconnecting"
	TrayFailed       = "failed"
	TrayOffline      = "offline"
)

// Agent-state marks drawn in the tray icon's top-right corner.
const (
	MarkNone = "none" // free, or status unknown
	MarkBusy = "busy" // a no-entry sign
	MarkAway = "away" // dinner or break: a pause sign
	MarkDND  = "dnd"  // do not disturb: a crescent moon
)

// Icon returns the application icon, a 256x256 PNG.
func Icon() []byte {
	return read("icon.png")
}

// Tray returns the 64x64 PNG tray icon for state, one of TrayConnected,
// TrayReconnecting, TrayFailed and TrayOffline; any other state gets the
// offline icon.
func Tray(state string) []byte {
	switch state {
	case TrayConnected, TrayReconnecting, TrayFailed, TrayOffline:
		return read("tray-" + state + ".png")
	default:
		return read("tray-" + TrayOffline + ".png")
	}
}

// TrayMarked returns the 64x64 PNG tray icon for a connection state (as for
// Tray) with the agent's mark, one of MarkNone, MarkBusy, MarkAway and
// MarkDND; any other mark is MarkNone.
func TrayMarked(state, mark string) []byte {
	switch state {
	case TrayConnected, TrayReconnecting, TrayFailed:
	default:
		state = TrayOffline
	}
	switch mark {
	case MarkBusy, MarkAway, MarkDND:
		return read("tray-" + state + "-" + mark + ".png")
	default:
		return read("tray-" + state + ".png")
	}
}

// DesktopEntry returns the freedesktop.org desktop entry template. Replace
// @BIN@ with the absolute path of the ringside binary before installing it
// as ringside.desktop (see `make install`).
func DesktopEntry() []byte {
	return read("ringside.desktop.in")
}

// read returns a fresh copy of an embedded file, so callers may modify it.
func read(name string) []byte {
	b, err := files.ReadFile(name)
	if err != nil {
		// Only a name missing from the go:embed line gets here; the tests
		// read every file.
		panic(fmt.Sprintf("assets: %s is not embedded: %v", name, err))
	}
	return b
}
