package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ringside/ringside/app"
	"github.com/ringside/ringside/app/journal"
	"github.com/ringside/ringside/app/notify"
	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/settings"
)

// check is one line of the doctor's report.
type check struct {
	name, detail string
	err          error
	fix          string
	warn         bool // a problem that does not stop Ringside
}

// doctor checks everything Ringside depends on and says what to fix.
func (e *env) doctor(ctx context.Context, args []string) error {
	fs := e.flags("doctor")
	timeout := fs.Duration("timeout", 10*time.Second, "how long each connection test may take")
	if err := parse(fs, args); err != nil {
		return err
	}
	var checks []check
	cfg, err := settings.Load(e.configPath)
	if err != nil {
		checks = append(checks, check{name: "config", err: err, fix: "edit the file; `ringside config example` prints a commented example"})
		return e.report(checks)
	}
	detail := fmt.Sprintf("%s (%d connectors)", cfg.Path, len(cfg.EnabledConnectors()))
	if !cfg.Exists {
		detail = cfg.Path + " does not exist: defaults in use"
	}
	checks = append(checks, check{name: "config", detail: detail})
	checks = append(checks, storageChecks(ctx, cfg)...)
	checks = append(checks, keyringCheck())
	checks = append(checks, notifyCheck(ctx))
	checks = append(checks, connectorChecks(ctx, cfg, *timeout)...)
	return e.report(checks)
}

func (e *env) report(checks []check) error {
	failed := 0
	for _, c := range checks {
		mark := "ok  "
		switch {
		case c.err != nil && c.warn:
			mark = "warn"
		case c.err != nil:
			mark = "FAIL"
			failed++
		}
		line := c.detail
		if c.err != nil {
			line = c.err.Error()
		}
		fmt.Fprintf(e.stdout, "%s  %-22s %s\n", mark, c.name, line)
		if c.err != nil && c.fix != "" {
			fmt.Fprintf(e.stdout, "      %-22s fix: %s\n", "", c.fix)
		}
	}
	if failed > 0 {
		return fmt.Errorf("doctor: %d problem(s) found", failed)
	}
	return nil
}

func storageChecks(ctx context.Context, cfg *settings.Config) []check {
	dir := cfg.ResolvePath(cfg.Data.Dir)
	var out []check
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return append(out, check{name: "storage", err: err, fix: "make the data dir writable or set [data] dir"})
	}
	probe, err := os.CreateTemp(dir, ".doctor-*")
	if err != nil {
		return append(out, check{name: "storage", err: fmt.Errorf("data dir %s is not writable: %w", dir, err), fix: "make it writable or set [data] dir"})
	}
	probe.Close()
	os.Remove(probe.Name())
	free, err := diskFree(dir)
	switch {
	case err != nil:
		out = append(out, check{name: "disk space", err: err, warn: true})
	case free < 50<<20:
		out = append(out, check{name: "disk space", err: fmt.Errorf("only %d MiB free in %s", free>>20, dir), fix: "free some space: calls cannot be journaled on a full disk", warn: true})
	default:
		out = append(out, check{name: "disk space", detail: fmt.Sprintf("%d MiB free in %s", free>>20, dir)})
	}
	path := app.JournalPath(cfg)
	j, err := journal.Open(path, journal.Options{ReadOnly: true})
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return append(out, check{name: "journal", detail: path + " (not created yet)"})
		}
		return append(out, check{name: "journal", err: err, fix: "move the damaged file aside; Ringside starts a new one"})
	}
	defer j.Close()
	if err := j.Check(ctx); err != nil {
		return append(out, check{name: "journal", err: err, fix: "move the damaged file aside; Ringside starts a new one"})
	}
	st, err := j.Stats(ctx, "")
	if err != nil {
		return append(out, check{name: "journal", err: err})
	}
	out = append(out, check{name: "journal", detail: path})
	c := check{name: "crm outbox", detail: fmt.Sprintf("%d pending, %d failed, %d delivered", st.Pending, st.Failed, st.Delivered)}
	if st.Failed > 0 {
		c.err = fmt.Errorf("%d call log(s) refused by the CRM; last: %s", st.Failed, st.LastError)
		c.fix = "fix the cause, then retry them from Call history"
		c.warn = true
	}
	return append(out, c)
}

func keyringCheck() check {
	_, err := settings.NewKeyring().Get("doctor.probe")
	switch {
	case err == nil, errors.Is(err, settings.ErrSecretNotFound):
		return check{name: "keyring", detail: fmt.Sprintf("OS keyring reachable (service %q)", settings.KeyringService)}
	default:
		return check{name: "keyring", err: err, warn: true,
			fix: "start a Secret Service (gnome-keyring, KeePassXC) or give secrets as " + settings.EnvPrefix + "<INSTANCE>_<NAME> variables"}
	}
}

func notifyCheck(ctx context.Context) check {
	if err := notify.Available(ctx); err != nil {
		return check{name: "notifications", err: err, warn: true, fix: "install a notification daemon (dunst, or your desktop's)"}
	}
	return check{name: "notifications", detail: "notification daemon on the session bus"}
}

func connectorChecks(ctx context.Context, cfg *settings.Config, timeout time.Duration) []check {
	phones, err := connectors.NewPhoneParser(cfg.Region)
	if err != nil {
		return []check{{name: "region", err: err}}
	}
	discard := slog.New(slog.DiscardHandler)
	ins, err := app.Build(cfg, registry(), secrets(), phones, discard, clockwork.NewRealClock())
	if err != nil {
		return []check{{name: "connectors", err: err, fix: "fix the settings file; see each connector's README"}}
	}
	defer func() {
		for _, in := range ins {
			if c, ok := in.Value.(connectors.Closer); ok {
				c.Close()
			}
		}
	}()
	if len(ins) == 0 {
		return []check{{name: "connectors", detail: "none configured: local contacts and journal only"}}
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var out []check
	for _, r := range app.TestConnections(tctx, ins) {
		c := check{name: r.Name + " (" + r.Type + ")", detail: fmt.Sprintf("connection test passed in %s", r.Took.Round(time.Millisecond))}
		if r.Err != nil {
			c.err = r.Err
			c.fix = "see " + filepath.Join("connectors", r.Type, "README.md")
		}
		out = append(out, c)
	}
	return out
}
