//go:build !windows && !darwin

package settings

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
)

// sessionBusReachable checks that there is a D-Bus session bus to find the
// Secret Service on, before go-keyring looks. Without one, godbus runs
// dbus-launch, which starts a fresh bus (and, by activation, a locked
// keyring daemon) that outlives the process and holds none of the user's
// secrets: better to say the keyring is unavailable.
func sessionBusReachable() error {
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return nil
	}
	// Where godbus looks next: the systemd user bus.
	run := filepath.Join("/run/user", strconv.Itoa(os.Getuid()))
	for _, f := range []string{"bus", "dbus-session"} {
		if _, err := os.Stat(filepath.Join(run, f)); err == nil {
			return nil
		}
	}
	return errors.New("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set and there is no " + filepath.Join(run, "bus") + ")")
}
