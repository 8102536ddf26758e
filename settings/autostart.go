package settings

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Autostart starts a program when the user logs in: an XDG autostart entry
// on Linux and BSD, a LaunchAgent on macOS, the HKCU Run key on Windows.
type Autostart struct {
	name        string   // entry name: file name or registry value name
	displayName string   // what the desktop shows
	exec        []string // program and arguments
}

// NewAutostart describes the entry; nothing is changed until Enable or
// Disable. name is a plain identifier such as "ringside"; exec is the
// program (an absolute path) followed by its arguments.
func NewAutostart(name, displayName string, exec []string) *Autostart {
	return &Autostart{name: name, displayName: displayName, exec: slices.Clone(exec)}
}

// check refuses an entry that would write outside its directory or start
// nothing.
func (a *Autostart) check() error {
	if a.name == "" || strings.ContainsAny(a.name, `/\`) || a.name == "." || a.name == ".." {
		return fmt.Errorf("autostart: invalid name %q", a.name)
	}
	if len(a.exec) == 0 || a.exec[0] == "" {
		return errors.New("autostart: no program to start")
	}
	return nil
}
