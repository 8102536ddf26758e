package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/settings"
)

// autostart turns starting with the desktop session on or off.
func (e *env) autostart(args []string) error {
	if len(args) != 1 {
		return usageError{errors.New("usage: ringside autostart on|off|status")}
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("autostart: find this program: %w", err)
	}
	as := settings.NewAutostart("ringside", "Ringside", []string{exe})
	switch args[0] {
	case "on":
		if err := as.Enable(); err != nil {
			return fmt.Errorf("autostart: %w", err)
		}
		fmt.Fprintln(e.stdout, "Ringside will start when you log in")
	case "off":
		if err := as.Disable(); err != nil {
			return fmt.Errorf("autostart: %w", err)
		}
		fmt.Fprintln(e.stdout, "Ringside will not start when you log in")
	case "status":
		on, err := as.Enabled()
		if err != nil {
			return fmt.Errorf("autostart: %w", err)
		}
		fmt.Fprintln(e.stdout, map[bool]string{true: "on", false: "off"}[on])
	default:
		return usageError{fmt.Errorf("autostart: unknown %q: want on, off or status", args[0])}
	}
	return nil
}

// config prints the example settings file or the settings path.
func (e *env) config(args []string) error {
	if len(args) != 1 {
		return usageError{errors.New("usage: ringside config example|path")}
	}
	switch args[0] {
	case "example":
		_, err := e.stdout.Write(example(registry()))
		return err
	case "path":
		fmt.Fprintln(e.stdout, settings.DefaultPath())
		return nil
	}
	return usageError{fmt.Errorf("config: unknown %q: want example or path", args[0])}
}

// example is the settings file's example followed by a switched-off sample
// section of every connector type, so the printed file loads as it is.
func example(reg *connectors.Registry) []byte {
	var b bytes.Buffer
	b.Write(settings.Example())
	for _, name := range reg.Names() {
		t, _ := reg.Lookup(name)
		fmt.Fprintf(&b, "\n# ── %s: %s\n[connectors.%s]\ntype = %q\nenabled = false\n", name, t.Doc, name, name)
		b.Write(bytes.TrimRight(t.Sample, "\n"))
		b.WriteString("\n")
	}
	return b.Bytes()
}
