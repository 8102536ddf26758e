package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/ringside/ringside/app"
	"github.com/ringside/ringside/app/notify"
	"github.com/ringside/ringside/settings"
)

// desktopParams is what the desktop UI needs besides the core.
type desktopParams struct {
	secrets   settings.SecretStore
	notifier  app.Notifier
	autostart autostarter // nil: no toggle
	log       *slog.Logger
	linger    time.Duration
	stop      func()
	ready     func(desktopController)
}

// autostarter turns start-at-login on and off (*settings.Autostart).
type autostarter interface {
	Enabled() (bool, error)
	Enable() error
	Disable() error
}

// desktopController reaches the running UI from another goroutine.
type desktopController interface {
	Dial(number string)
	Show()
}

// displayAvailable reports whether a window can be shown: on Linux and the
// BSDs an X11 or Wayland display must be named in the environment.
func displayAvailable() bool {
	switch runtime.GOOS {
	case "windows", "darwin":
		return true
	}
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}

// runDesktop runs the desktop UI around core on this (main) goroutine:
// requests from other launches reach it through inst (nil: none), and
// first is what this launch was asked for. stop, when not nil, is called
// on Quit to end what the caller runs beside the core. ran is false when
// this build has no desktop UI.
func (e *env) runDesktop(ctx context.Context, core *coreHost, inst *instance, first instanceRequest, stop func()) (ran bool, err error) {
	exe, _ := os.Executable()
	if exe != "" {
		exe, _ = filepath.Abs(exe)
	}
	p := desktopParams{
		secrets:  core.deps.Secrets,
		notifier: notify.NewDesktop("Ringside", ""),
		log:      core.log,
		linger:   popupLinger(),
		stop:     stop,
	}
	if exe != "" {
		p.autostart = settings.NewAutostart("ringside", "Ringside", []string{exe})
	}
	p.ready = func(c desktopController) {
		if inst != nil {
			inst.Serve(func(_ context.Context, req instanceRequest) (string, error) {
				if req.Action == actionDial {
					c.Dial(req.Number)
					return "handed " + req.Number + " to the running Ringside: it dials, or says why not", nil
				}
				c.Show()
				return "Ringside is already running: its call history is open", nil
			})
		}
		if first.Action == actionDial {
			c.Dial(first.Number)
		}
	}
	return startDesktop(ctx, core, p)
}

// popupLinger is RINGSIDE_POPUP_LINGER, how long an ended call the agent
// did not touch stays in the popup (for scripts and measurements); 0 when
// unset or not a duration, which is the UI's default.
func popupLinger() time.Duration {
	d, err := time.ParseDuration(os.Getenv("RINGSIDE_POPUP_LINGER"))
	if err != nil || d < 0 {
		return 0
	}
	return d
}

// demoDesktop runs the desktop UI around the demo's App a, which it runs
// until the agent quits (stop then ends the rest of the demo) or ctx is
// done. ran is false when headless is set, there is no display, or this
// build has no desktop UI: the caller then runs a itself.
func (e *env) demoDesktop(ctx context.Context, a *app.App, cfg *settings.Config, log *slog.Logger, stop func(), headless bool) (ran bool, err error) {
	if headless || !displayAvailable() {
		return false, nil
	}
	inst, _, err := claimInstance(cfg.Data.Dir, log)
	if err != nil {
		log.Warn("other launches cannot reach the demo", "error", err)
		inst = nil
	} else {
		defer inst.Close()
	}
	cfg.Notifications.Mode = settings.NotifyPopup // the demo shows off the popup
	return e.runDesktop(ctx, newFixedHost(a, cfg, log), inst, instanceRequest{Action: actionShow}, stop)
}
