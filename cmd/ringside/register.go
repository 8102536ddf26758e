package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ringside/ringside/app"
	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/settings"
)

// register registers (or updates) a connector's integration with its
// vendor — for retailCRM, the telephony module with the agents' codes, the
// external numbers and the callback addresses — and prints what the vendor
// did not recognise.
func (e *env) register(ctx context.Context, args []string) error {
	fs := e.flags("register")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("usage: ringside register [--config FILE] INSTANCE")}
	}
	cfg, err := settings.Load(e.configPath)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	notes, err := registerConnector(rctx, cfg, fs.Arg(0), secrets(), slog.New(slog.DiscardHandler))
	for _, n := range notes {
		fmt.Fprintln(e.stdout, "warning:", n)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: registered\n", fs.Arg(0))
	return nil
}

// registerConnector builds connector name of cfg, without running it, and
// registers its integration with the vendor.
func registerConnector(ctx context.Context, cfg *settings.Config, name string, secrets settings.SecretStore, log *slog.Logger) ([]string, error) {
	in, err := buildOne(cfg, name, secrets, log)
	if err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	defer app.CloseInstances([]app.Instance{in})
	r, ok := in.Value.(connectors.Registrar)
	if !ok {
		return nil, fmt.Errorf("register: a %s connector has nothing to register with its vendor", in.Type)
	}
	notes, err := r.RegisterIntegration(ctx)
	if err != nil {
		return notes, fmt.Errorf("register %s: %w", name, err)
	}
	return notes, nil
}

// buildOne makes connector name of cfg on its own, enabled, without
// running it: for a connection test or a registration from the settings as
// they are. The caller closes it.
func buildOne(cfg *settings.Config, name string, secrets settings.SecretStore, log *slog.Logger) (app.Instance, error) {
	cc, ok := cfg.Connectors[name]
	if !ok {
		return app.Instance{}, fmt.Errorf("no connector called %q in %s", name, cfg.Path)
	}
	one := *cfg
	cc.Enabled = true
	one.Connectors = map[string]settings.ConnectorConfig{name: cc}
	phones, err := connectors.NewPhoneParser(cfg.Region)
	if err != nil {
		return app.Instance{}, fmt.Errorf("region: %w", err)
	}
	ins, err := app.Build(&one, registry(), secrets, phones, log, clockwork.NewRealClock())
	if err != nil {
		return app.Instance{}, err
	}
	return ins[0], nil
}
