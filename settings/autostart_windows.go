package settings

import (
	"errors"
	"fmt"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// runKey holds the per-user programs Windows starts at logon. go-autostart
// would use a shortcut in the Startup folder, but needs cgo on Windows.
const runKey = `Software\Microsoft\Windows\CurrentVersion\Run`

// commandLine is exec as Windows parses it: the program always quoted (a
// path with spaces would otherwise start something else), then the
// arguments quoted as needed.
func (a *Autostart) commandLine() string {
	s := `"` + a.exec[0] + `"`
	if len(a.exec) > 1 {
		s += " " + windows.ComposeCommandLine(a.exec[1:])
	}
	return s
}

// Enabled reports whether the Run value exists.
func (a *Autostart) Enabled() (bool, error) {
	if err := a.check(); err != nil {
		return false, err
	}
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.QUERY_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("autostart: open HKCU\\%s: %w", runKey, err)
	}
	defer k.Close()
	_, _, err = k.GetStringValue(a.name)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, registry.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("autostart: read HKCU\\%s\\%s: %w", runKey, a.name, err)
	}
}

// Enable writes the Run value, replacing an older one.
func (a *Autostart) Enable() error {
	if err := a.check(); err != nil {
		return err
	}
	k, _, err := registry.CreateKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if err != nil {
		return fmt.Errorf("autostart: open HKCU\\%s: %w", runKey, err)
	}
	defer k.Close()
	if err := k.SetStringValue(a.name, a.commandLine()); err != nil {
		return fmt.Errorf("autostart: write HKCU\\%s\\%s: %w", runKey, a.name, err)
	}
	return nil
}

// Disable removes the Run value; it is not an error if there is none.
func (a *Autostart) Disable() error {
	if err := a.check(); err != nil {
		return err
	}
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("autostart: open HKCU\\%s: %w", runKey, err)
	}
	defer k.Close()
	if err := k.DeleteValue(a.name); err != nil && !errors.Is(err, registry.ErrNotExist) {
		return fmt.Errorf("autostart: delete HKCU\\%s\\%s: %w", runKey, a.name, err)
	}
	return nil
}
