package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ringside/ringside/app"
	"github.com/ringside/ringside/app/journal"
	"github.com/ringside/ringside/settings"
)

func hostConfig(t *testing.T, dir string, connectors map[string]settings.ConnectorConfig) *settings.Config {
	t.Helper()
	cfg := settings.Defaults()
	cfg.Path = filepath.Join(dir, "config.toml")
	cfg.Region = "RO"
	cfg.Data.Dir = filepath.Join(dir, "data")
	cfg.Webhook.Enabled = false
	cfg.Connectors = connectors
	return cfg
}

// TestCoreHostReload restarts the core in-process for new settings: the
// host keeps serving the UI, reports a core that cannot start, and recovers
// when the settings are fixed.
func TestCoreHostReload(t *testing.T) {
	dir := t.TempDir()
	events := filepath.Join(dir, "events.jsonl")
	if err := os.WriteFile(events, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	jsonl := func(name string) map[string]settings.ConnectorConfig {
		return map[string]settings.ConnectorConfig{name: settings.NewConnectorConfig(name, "jsonl", true, map[string]any{"path": events})}
	}
	h := newCoreHost(app.Deps{Config: hostConfig(t, dir, jsonl("pbx")), Registry: registry(), Secrets: settings.NewMemoryStore(), Logger: slog.New(slog.DiscardHandler)})
	starts := make(chan struct{}, 8)
	h.OnStart(func() { starts <- struct{}{} })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	<-starts

	call := func() error {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		defer ccancel()
		_, err := h.Search(cctx, journal.Query{})
		return err
	}
	if err := call(); err != nil {
		t.Fatalf("search on the first core: %v", err)
	}
	if got := h.States(); len(got) != 1 || got[0].Name != "pbx" {
		t.Errorf("states = %+v, want pbx", got)
	}

	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	if err := h.Reload(rctx, hostConfig(t, dir, jsonl("phone"))); err != nil {
		t.Fatalf("reload: %v", err)
	}
	<-starts
	if got := h.States(); len(got) != 1 || got[0].Name != "phone" {
		t.Errorf("states after reload = %+v, want phone", got)
	}
	if err := call(); err != nil {
		t.Errorf("search on the new core: %v", err)
	}

	bad := hostConfig(t, dir, map[string]settings.ConnectorConfig{"x": settings.NewConnectorConfig("x", "nosuchvendor", true, nil)})
	if err := h.Reload(rctx, bad); err == nil {
		t.Fatal("a core that cannot start reloaded without error")
	}
	<-starts
	if h.Err() == nil {
		t.Error("Err is nil while no core runs")
	}
	if err := call(); !errors.Is(err, errCoreDown) {
		t.Errorf("search without a core = %v, want errCoreDown", err)
	}
	if got := h.Config(); got.Connectors["x"].Type != "nosuchvendor" {
		t.Errorf("Config is not the settings last asked for")
	}

	if err := h.Reload(rctx, hostConfig(t, dir, jsonl("pbx"))); err != nil {
		t.Fatalf("reload after a failure: %v", err)
	}
	<-starts
	if h.Err() != nil || call() != nil {
		t.Errorf("no recovery: Err = %v", h.Err())
	}

	res := h.TestConnector(rctx, hostConfig(t, dir, jsonl("pbx")), "pbx")
	if res.Err == nil || res.Type != "jsonl" {
		t.Errorf("TestConnector of a connector without a test = %+v", res)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
