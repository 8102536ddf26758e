package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ringside/ringside/app"
	"github.com/ringside/ringside/app/journal"
	"github.com/ringside/ringside/app/notify"
	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/connectors/webhook"
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
	phones, err := connectors.NewPhoneParser(cfg.Region)
	if err != nil {
		checks = append(checks, check{name: "region", err: err})
		return e.report(checks)
	}
	discard := slog.New(slog.DiscardHandler)
	ins, err := app.Build(cfg, registry(), secrets(), phones, discard, clockwork.NewRealClock())
	if err != nil {
		checks = append(checks, check{name: "connectors", err: err, fix: "fix the settings file; see each connector's README"})
		checks = append(checks, webhookChecks(ctx, cfg, nil)...)
		return e.report(checks)
	}
	defer func() {
		for _, in := range ins {
			if c, ok := in.Value.(connectors.Closer); ok {
				c.Close()
			}
		}
	}()
	checks = append(checks, connectorChecks(ctx, ins, *timeout)...)
	checks = append(checks, webhookChecks(ctx, cfg, ins)...)
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

func connectorChecks(ctx context.Context, ins []app.Instance, timeout time.Duration) []check {
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

// webhookChecks reports the webhook listener: its address (free, or held
// by a running Ringside, or taken by another program), a warning when the
// network can reach it, its token, and the routes of the connectors ins.
func webhookChecks(ctx context.Context, cfg *settings.Config, ins []app.Instance) []check {
	wc := cfg.Webhook
	var routers []string
	for _, in := range ins {
		if _, ok := in.Value.(connectors.Router); ok {
			routers = append(routers, in.Name)
		}
	}
	if !wc.Enabled {
		c := check{name: "webhook", detail: "off ([webhook] enabled = false)"}
		if len(routers) > 0 {
			c.err = fmt.Errorf("off, so the callbacks of %s do not reach Ringside, nor /dial", strings.Join(routers, ", "))
			c.fix = "set [webhook] enabled = true"
			c.warn = true
		}
		return []check{c}
	}
	out := []check{webhookAddressCheck(ctx, wc.Listen)}
	if !webhook.IsLoopback(wc.Listen) {
		out = append(out, check{name: "webhook exposure", warn: true,
			err: fmt.Errorf("listening on %s: other computers can reach it, unencrypted", wc.Listen),
			fix: "listen on 127.0.0.1 and put a reverse proxy or tunnel with TLS in front (README, \"Webhook listener\")"})
	}
	switch tok, err := secrets().Get(app.WebhookTokenKey); {
	case err == nil && len(tok) < webhook.MinTokenLength:
		out = append(out, check{name: "webhook token", err: fmt.Errorf("%s is shorter than %d characters", app.WebhookTokenKey, webhook.MinTokenLength),
			fix: "ringside secret set " + app.WebhookTokenKey + " (a longer one), or delete it and Ringside makes one"})
	case err == nil:
		out = append(out, check{name: "webhook token", detail: app.WebhookTokenKey + " is set"})
	case errors.Is(err, settings.ErrKeyringUnavailable):
		out = append(out, check{name: "webhook token", err: fmt.Errorf("no keyring: Ringside makes a new token at every start, so vendors given one are refused after a restart"),
			warn: true, fix: "make the keyring available, or set " + settings.EnvName(app.WebhookTokenKey)})
	default:
		out = append(out, check{name: "webhook token", detail: app.WebhookTokenKey + " not set yet: Ringside makes one at its first start"})
	}
	var routes []string
	for _, in := range ins {
		r, ok := in.Value.(connectors.Router)
		if !ok {
			continue
		}
		base := app.CallbackBase(cfg, in.Name)
		for _, rt := range r.Routes() {
			auth := "?token=<" + app.WebhookTokenKey + ">"
			if rt.Auth.Kind == connectors.AuthParam {
				auth = " (" + rt.Auth.Param + " checked)"
			}
			routes = append(routes, strings.Join(rt.Methods, "/")+" "+base+"/"+rt.Path+auth)
		}
	}
	if len(routes) > 0 {
		out = append(out, check{name: "webhook routes", detail: strings.Join(routes, ", ")})
	}
	return out
}

// webhookAddressCheck binds the listen address for a moment: free is fine
// (Ringside is not running), held by a Ringside that answers /health is
// fine, anything else is a problem.
func webhookAddressCheck(ctx context.Context, listen string) check {
	c := check{name: "webhook"}
	host, port, _ := net.SplitHostPort(listen)
	if port == "0" {
		c.detail = listen + ": a free port is picked at every start"
		c.err = errors.New("listen port 0: a new port at every start, so vendors cannot be given the address")
		c.fix = "set [webhook] listen to a fixed port, e.g. " + webhook.DefaultListen
		c.warn = true
		return c
	}
	ln, err := net.Listen("tcp", listen)
	if err == nil {
		ln.Close()
		c.detail = listen + " is free: Ringside listens there while it runs"
		return c
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	hctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(hctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/health", nil)
	var health struct{ Service, Status string }
	resp, herr := http.DefaultClient.Do(req)
	if herr == nil {
		defer resp.Body.Close()
		herr = json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&health)
	}
	if herr == nil && resp.StatusCode == http.StatusOK && health.Service == "ringside" {
		c.detail = "Ringside is listening on " + listen
		return c
	}
	c.err = webhook.BindError(listen, err)
	return c
}
