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
	"github.com/ringside/ringside/connectors/retailcrm"
	"github.com/ringside/ringside/settings"
)

// register registers (or updates) a connector's integration with its
// vendor: for retailCRM, the telephony module with the agents' codes, the
// external numbers and the callback addresses. It prints what the vendor
// did not recognise.
func (e *env) register(ctx context.Context, args []string) error {
	fs := e.flags("register")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("usage: ringside register [--config FILE] INSTANCE")}
	}
	name := fs.Arg(0)
	cfg, err := settings.Load(e.configPath)
	if err != nil {
		return err
	}
	phones, err := connectors.NewPhoneParser(cfg.Region)
	if err != nil {
		return err
	}
	ins, err := app.Build(cfg, registry(), secrets(), phones, slog.New(slog.DiscardHandler), clockwork.NewRealClock())
	if err != nil {
		return err
	}
	defer app.CloseInstances(ins)
	for _, in := range ins {
		if in.Name != name {
			continue
		}
		crm, ok := in.Value.(*retailcrm.CRM)
		if !ok {
			return fmt.Errorf("register: %s is a %s connector, which has nothing to register", name, in.Type)
		}
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		res, err := crm.Register(rctx)
		for _, w := range res.Warnings {
			fmt.Fprintln(e.stdout, "warning:", w)
		}
		if err != nil {
			return fmt.Errorf("register %s: %w", name, err)
		}
		fmt.Fprintf(e.stdout, "%s: the telephony module is registered in retailCRM\n", name)
		return nil
	}
	return fmt.Errorf("register: no enabled connector called %q in %s", name, cfg.Path)
}
