package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ringside/ringside/app"
	"github.com/ringside/ringside/app/notify"
	"github.com/ringside/ringside/settings"
)

// runApp runs Ringside: the desktop UI when there is a display (and this
// build has one), else headless, where popups are desktop notifications and
// log lines. A tel: or callto: link among args is dialed. When Ringside
// already runs for the same data directory, the request goes to it and this
// process exits.
func (e *env) runApp(ctx context.Context, args []string) error {
	return e.start(ctx, args, false)
}

// dial is `ringside dial NUMBER`: the running Ringside dials, or one starts
// and does.
func (e *env) dial(ctx context.Context, args []string) error {
	return e.start(ctx, args, true)
}

func (e *env) start(ctx context.Context, args []string, dialCmd bool) error {
	fs := e.flags("ringside")
	headless := fs.Bool("headless", false, "run without a window: popups become desktop notifications")
	if err := parse(fs, args); err != nil {
		return err
	}
	req := instanceRequest{Action: actionShow}
	switch rest := fs.Args(); {
	case dialCmd && len(rest) != 1:
		return usageError{errors.New("usage: ringside dial [--config FILE] NUMBER")}
	case len(rest) > 1, len(rest) == 1 && !dialCmd && !isDialURI(rest[0]):
		return usageError{fmt.Errorf("unexpected arguments %q: ringside takes options, and a tel: or callto: link", rest)}
	case len(rest) == 1:
		t, err := parseDialTarget(rest[0])
		if err != nil {
			return usageError{err}
		}
		req = instanceRequest{Action: actionDial, Number: t.Number}
		if t.Ext != "" {
			fmt.Fprintf(e.stderr, "ringside: extension %s is not dialed: dial it on the phone once connected\n", t.Ext)
		}
	}
	cfg, err := settings.Load(e.configPath)
	if err != nil {
		return err
	}
	log := logger(e.stderr, cfg)
	slog.SetDefault(log)

	inst, sock, err := claimInstance(cfg.Data.Dir, log)
	switch {
	case errors.Is(err, errRunning):
		msg, err := sendToInstance(ctx, sock, req)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, msg)
		return nil
	case err != nil:
		// Not fatal: Ringside works, a second launch just cannot find it.
		log.Warn("other launches cannot reach this one", "error", err)
	default:
		defer inst.Close()
	}

	if !*headless {
		if !displayAvailable() {
			log.Info("no display (DISPLAY and WAYLAND_DISPLAY are unset); running headless")
		} else {
			core := newCoreHost(app.Deps{Config: cfg, Registry: registry(), Secrets: secrets(), Logger: log})
			ran, err := e.runDesktop(ctx, core, inst, req, nil)
			if ran {
				return err
			}
			log.Info("this build has no desktop UI (built without cgo); running headless")
		}
	}
	return runHeadless(ctx, cfg, log, inst, req)
}

func runHeadless(ctx context.Context, cfg *settings.Config, log *slog.Logger, inst *instance, first instanceRequest) error {
	a, err := app.New(app.Deps{Config: cfg, Registry: registry(), Secrets: secrets(), Logger: log})
	if err != nil {
		return err
	}
	defer a.Close()
	if !cfg.Exists {
		log.Info("no settings file; using defaults", "path", cfg.Path)
	}
	log.Info("ringside started", "journal", a.Journal.Path(), "connectors", len(a.Instances()), "crm", cfg.CRM)

	var notifier app.Notifier
	if cfg.Notifications.Mode != settings.NotifyOff && !cfg.Notifications.DND {
		notifier = notify.NewDesktop("Ringside", "")
	}
	handle := func(ctx context.Context, req instanceRequest) (string, error) {
		if req.Action != actionDial {
			return "Ringside runs headless here: there is no window to show", nil
		}
		if err := a.Dial(ctx, req.Number); err != nil {
			return "", err
		}
		return "dialing " + req.Number, nil
	}
	if inst != nil {
		inst.Serve(handle)
	}
	updates, unsubscribe := a.Bus.Subscribe(256)
	var wg sync.WaitGroup
	wg.Go(func() { app.NewAnnouncer(notifier, log).Run(ctx, updates) }) // exits when ctx is done
	if first.Action == actionDial {
		wg.Go(func() { // exits once the dial is answered or ctx is done
			if _, err := handle(ctx, first); err != nil {
				log.Error("dial", "error", err)
			}
		})
	}
	err = a.Run(ctx)
	if inst != nil {
		inst.Close() // before the App closes under a request
	}
	unsubscribe()
	wg.Wait()
	log.Info("ringside stopped")
	return err
}
