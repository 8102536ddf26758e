//go:build !windows

package settings

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/emersion/go-autostart"
)

// app is a fresh go-autostart App: it quotes Exec in place, so it must not
// be reused.
func (a *Autostart) app() *autostart.App {
	return &autostart.App{Name: a.name, DisplayName: a.displayName, Exec: slices.Clone(a.exec)}
}

// Enabled reports whether the entry exists.
func (a *Autostart) Enabled() (bool, error) {
	if err := a.check(); err != nil {
		return false, err
	}
	return a.app().IsEnabled(), nil
}

// Enable writes the entry, replacing an older one.
func (a *Autostart) Enable() error {
	if err := a.check(); err != nil {
		return err
	}
	if err := a.app().Enable(); err != nil {
		return fmt.Errorf("autostart: enable %s: %w", a.name, err)
	}
	return nil
}

// Disable removes the entry; it is not an error if there is none.
func (a *Autostart) Disable() error {
	if err := a.check(); err != nil {
		return err
	}
	if err := a.app().Disable(); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("autostart: disable %s: %w", a.name, err)
	}
	return nil
}
