//go:build cgo

package main

import (
	"context"

	"github.com/ringside/ringside/cmd/ringside/gui"
)

// startDesktop runs the desktop UI (Fyne's GLFW driver, which needs cgo)
// around core, on the calling goroutine, which must be main's.
func startDesktop(ctx context.Context, core *coreHost, p desktopParams) (bool, error) {
	gp := gui.Params{
		Secrets:  p.secrets,
		Notifier: p.notifier,
		Version:  version,
		Logger:   p.log,
		Linger:   p.linger,
		Stop:     p.stop,
		Ready: func(c gui.Controller) {
			if p.ready != nil {
				p.ready(c)
			}
		},
	}
	if p.autostart != nil {
		gp.Autostart = p.autostart
	}
	return true, gui.Run(ctx, core, gp)
}
