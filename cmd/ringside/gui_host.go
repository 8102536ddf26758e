package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ringside/ringside/app"
	"github.com/ringside/ringside/app/journal"
	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/settings"
)

// errCoreDown is returned by the host while no core runs.
var errCoreDown = errors.New("Ringside is not running: fix the settings (see Connections in the tray)")

// coreHost runs the app core for the desktop UI and restarts it in-process
// when the settings change: the tray and its windows stay, the App under
// them is replaced. It implements the UI's Core (app/ui) on the App that
// runs at the moment. In demo mode (fixed) it runs one App it was given and
// does not restart.
type coreHost struct {
	deps    app.Deps // Config is the one the next start uses
	fixed   *app.App
	log     *slog.Logger
	updates chan app.Update
	reload  chan reloadRequest

	mu      sync.RWMutex // held for reading while a UI call uses cur
	cfg     *settings.Config
	cur     *runningCore // nil while none runs
	err     error        // why none runs
	ready   chan struct{}
	onStart func()
}

// runningCore is one App between its start and its close.
type runningCore struct {
	a       *app.App
	stopped chan struct{} // closed when a.Run has returned
}

type reloadRequest struct {
	cfg  *settings.Config
	done chan error // the new core's start error
}

// newCoreHost makes a host that starts the core from d.Config.
func newCoreHost(d app.Deps) *coreHost {
	return &coreHost{
		deps:    d,
		log:     d.Logger,
		cfg:     d.Config,
		updates: make(chan app.Update, 256),
		reload:  make(chan reloadRequest),
		ready:   make(chan struct{}),
	}
}

// newFixedHost runs the App a, built by the caller (the demo), and no other.
func newFixedHost(a *app.App, cfg *settings.Config, log *slog.Logger) *coreHost {
	h := newCoreHost(app.Deps{Config: cfg, Logger: log})
	h.fixed = a
	return h
}

// Updates is every update of whichever core runs; a slow reader loses
// updates rather than stalling the core.
func (h *coreHost) Updates() <-chan app.Update { return h.updates }

// OnStart sets f, called (on the host's goroutine) each time a core has
// started or failed to; call it before Run.
func (h *coreHost) OnStart(f func()) { h.onStart = f }

// Run runs the core until ctx is done, restarting it with new settings on
// Reload. A core that cannot start (bad settings, a missing secret) is
// reported by Err until new settings start one.
func (h *coreHost) Run(ctx context.Context) error {
	var (
		next     = h.cfg
		reloaded chan error
		runErr   error
	)
	for {
		a, err := h.fixed, error(nil)
		if a == nil {
			d := h.deps
			d.Config = next
			a, err = app.New(d)
		}
		h.started(a, next, err)
		if reloaded != nil {
			reloaded <- err
			reloaded = nil
		}
		if err != nil {
			h.log.Error("core not started; waiting for new settings", "error", err)
			select {
			case <-ctx.Done():
				return nil
			case req := <-h.reload:
				next, reloaded = req.cfg, req.done
				continue
			}
		}
		var req *reloadRequest
		req, runErr = h.runOne(ctx, a)
		if ctx.Err() != nil && errors.Is(runErr, context.Canceled) {
			return nil // stopped while still starting: not a failure
		}
		if ctx.Err() != nil || req == nil {
			return runErr
		}
		next, reloaded = req.cfg, req.done
		h.log.Info("restarting the core with new settings", "path", next.Path)
	}
}

// runOne runs a until ctx is done or a reload is asked for, then closes it.
func (h *coreHost) runOne(ctx context.Context, a *app.App) (*reloadRequest, error) {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, unsubscribe := a.Bus.Subscribe(256)
	var wg sync.WaitGroup
	wg.Go(func() { // exits when unsubscribe closes sub
		for u := range sub {
			select {
			case h.updates <- u:
			default: // the UI is behind: it reads the state again on demand
			}
		}
	})
	done := make(chan error, 1)
	wg.Go(func() { done <- a.Run(runCtx) }) // exits when runCtx is done or the engine fails
	var (
		req *reloadRequest
		err error
	)
	if h.fixed != nil {
		err = <-done
	} else {
		select {
		case err = <-done:
		case r := <-h.reload:
			req = &r
			cancel()
			err = <-done
		}
	}
	cancel()
	unsubscribe()
	wg.Wait()

	h.mu.RLock()
	close(h.cur.stopped) // calls in flight give up now
	h.mu.RUnlock()
	h.mu.Lock() // waits for them
	h.cur = nil
	if err != nil {
		h.err = fmt.Errorf("the core stopped: %w", err)
	}
	h.mu.Unlock()
	if h.fixed == nil { // a fixed App is its owner's to close
		if err := a.Close(); err != nil {
			h.log.Warn("close core", "error", err)
		}
	}
	if err != nil && req == nil && ctx.Err() == nil {
		h.log.Error("core stopped", "error", err)
	}
	return req, err
}

// started records the outcome of a start and tells the UI.
func (h *coreHost) started(a *app.App, cfg *settings.Config, err error) {
	h.mu.Lock()
	h.cfg = cfg
	h.err = err
	h.cur = nil
	if err == nil {
		h.cur = &runningCore{a: a, stopped: make(chan struct{})}
	}
	select {
	case <-h.ready:
	default:
		close(h.ready)
	}
	h.mu.Unlock()
	if h.onStart != nil {
		h.onStart()
	}
}

// use runs f on the running core, with ctx cancelled when that core stops.
func (h *coreHost) use(ctx context.Context, f func(ctx context.Context, a *app.App) error) error {
	select {
	case <-h.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.cur == nil {
		if h.err != nil {
			return fmt.Errorf("%w: %w", errCoreDown, h.err)
		}
		return errCoreDown
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopped := h.cur.stopped
	wg.Go(func() { // exits when f has returned (cancel) or the core stops
		select {
		case <-stopped:
			cancel()
		case <-ctx.Done():
		}
	})
	return f(ctx, h.cur.a)
}

// Reload restarts the core with cfg, already saved; it returns the new
// core's start error.
func (h *coreHost) Reload(ctx context.Context, cfg *settings.Config) error {
	if h.fixed != nil {
		return errors.New("the demo writes its own settings at every start: they were saved, and apply when you run ringside --config " + cfg.Path)
	}
	req := reloadRequest{cfg: cfg, done: make(chan error, 1)}
	select {
	case h.reload <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Config returns a copy of the settings the core runs with.
func (h *coreHost) Config() *settings.Config {
	h.mu.RLock()
	defer h.mu.RUnlock()
	c := *h.cfg
	return &c
}

// Err says why no core runs.
func (h *coreHost) Err() error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.cur != nil {
		return nil
	}
	return h.err
}

func (h *coreHost) SetStatus(ctx context.Context, s connectors.AgentStatus) error {
	return h.use(ctx, func(ctx context.Context, a *app.App) error { return a.SetStatus(ctx, s) })
}

func (h *coreHost) Status(ctx context.Context) (connectors.AgentStatus, error) {
	var s connectors.AgentStatus
	err := h.use(ctx, func(ctx context.Context, a *app.App) error {
		var err error
		s, err = a.Engine.Status(ctx)
		return err
	})
	return s, err
}

func (h *coreHost) Dial(ctx context.Context, raw string) error {
	return h.use(ctx, func(ctx context.Context, a *app.App) error { return a.Dial(ctx, raw) })
}

func (h *coreHost) Annotate(ctx context.Context, callKey, note, disposition string) error {
	return h.use(ctx, func(ctx context.Context, a *app.App) error {
		return a.Engine.Annotate(ctx, callKey, note, disposition)
	})
}

func (h *coreHost) Search(ctx context.Context, q journal.Query) ([]journal.Call, error) {
	var out []journal.Call
	err := h.use(ctx, func(ctx context.Context, a *app.App) error {
		var err error
		out, err = a.Journal.Search(ctx, q)
		return err
	})
	return out, err
}

func (h *coreHost) RetryDeliveries(ctx context.Context, callKey string) (int, error) {
	var n int
	err := h.use(ctx, func(ctx context.Context, a *app.App) error {
		var err error
		n, err = a.RetryDeliveries(ctx, callKey)
		return err
	})
	return n, err
}

func (h *coreHost) Stats(ctx context.Context) (journal.Stats, error) {
	var st journal.Stats
	err := h.use(ctx, func(ctx context.Context, a *app.App) error {
		var err error
		st, err = a.Journal.Stats(ctx, "")
		return err
	})
	return st, err
}

// States is every source's connection; none while no core runs.
func (h *coreHost) States() []app.ConnState {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.cur == nil {
		return nil
	}
	return h.cur.a.Runner.States()
}

// ConnectorTypes lists the vendors this binary speaks.
func (h *coreHost) ConnectorTypes() []string { return registry().Names() }

// TestConnector builds connector name of cfg on its own, without running
// it, and runs its connection test.
func (h *coreHost) TestConnector(ctx context.Context, cfg *settings.Config, name string) app.TestResult {
	in, err := buildOne(cfg, name, h.secrets(), h.logger())
	if err != nil {
		return app.TestResult{Name: name, Err: err}
	}
	defer app.CloseInstances([]app.Instance{in})
	if _, ok := in.Value.(connectors.Tester); !ok {
		return app.TestResult{Name: name, Type: in.Type, Err: fmt.Errorf("a %s connector has no connection test; save and watch it under Connections in the tray", in.Type)}
	}
	return app.TestConnections(ctx, []app.Instance{in})[0]
}

// RegisterConnector registers connector name of cfg with its vendor
// (retailCRM's telephony module), from the settings as they are.
func (h *coreHost) RegisterConnector(ctx context.Context, cfg *settings.Config, name string) ([]string, error) {
	return registerConnector(ctx, cfg, name, h.secrets(), h.logger())
}

func (h *coreHost) secrets() settings.SecretStore {
	if h.deps.Secrets == nil {
		return settings.NewMemoryStore()
	}
	return h.deps.Secrets
}

func (h *coreHost) logger() *slog.Logger {
	if h.log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.log
}
