package main

import (
	"context"
	"log/slog"
	"sync"

	"github.com/ringside/ringside/app"
	"github.com/ringside/ringside/app/notify"
	"github.com/ringside/ringside/settings"
)

// runApp runs the engine. Until the desktop UI lands, every run is headless:
// popups are desktop notifications and log lines.
func (e *env) runApp(ctx context.Context, args []string) error {
	fs := e.flags("ringside")
	headless := fs.Bool("headless", false, "run without a window: popups become desktop notifications")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := settings.Load(e.configPath)
	if err != nil {
		return err
	}
	log := logger(e.stderr, cfg)
	slog.SetDefault(log)
	if !*headless {
		log.Info("desktop UI not available in this build; running headless")
	}
	return runHeadless(ctx, cfg, log)
}

func runHeadless(ctx context.Context, cfg *settings.Config, log *slog.Logger) error {
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
	if cfg.Notifications.Mode != "off" && !cfg.Notifications.DND {
		notifier = notify.NewDesktop("Ringside", "")
	}
	updates, unsubscribe := a.Bus.Subscribe(256)
	var wg sync.WaitGroup
	wg.Go(func() { app.NewAnnouncer(notifier, log).Run(ctx, updates) }) // exits when ctx is done
	err = a.Run(ctx)
	unsubscribe()
	wg.Wait()
	log.Info("ringside stopped")
	return err
}
