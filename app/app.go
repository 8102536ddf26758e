package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ringside/ringside/app/journal"
	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/connectors/contacts"
	"github.com/ringside/ringside/connectors/webhook"
	"github.com/ringside/ringside/settings"
)

// Deps is what main hands the app.
type Deps struct {
	Config   *settings.Config
	Registry *connectors.Registry
	Secrets  settings.SecretStore
	Logger   *slog.Logger
	Clock    clockwork.Clock
	Backoff  BackoffPolicy // zero: DefaultBackoff
}

// Instance is one configured connector.
type Instance struct {
	Name  string
	Type  string
	Value any // implements some of the connectors interfaces
}

// App is the running core: journal, engine, sources and delivery.
type App struct {
	cfg      *settings.Config
	log      *slog.Logger
	clock    clockwork.Clock
	Journal  *journal.Store
	Bus      *Bus
	Engine   *Engine
	Runner   *Runner
	Delivery *Delivery // nil without a CRM that takes call logs
	// Webhook is the listener vendors' callbacks and /dial reach; nil when
	// [webhook] is disabled. Its routes are mounted by New; Run runs it.
	Webhook   *webhook.Listener
	Phones    *connectors.PhoneParser
	instances []Instance
}

// JournalPath is where the journal lives for a config.
func JournalPath(cfg *settings.Config) string {
	return filepath.Join(cfg.ResolvePath(cfg.Data.Dir), "ringside.db")
}

// New opens the journal, builds every enabled connector and, unless
// [webhook] is disabled, the webhook listener with every connector's routes
// (its token comes from the secret store, made and stored there the first
// time). It makes no network call and binds nothing. On error nothing is
// left open.
func New(d Deps) (*App, error) {
	if d.Clock == nil {
		d.Clock = clockwork.NewRealClock()
	}
	if d.Backoff == (BackoffPolicy{}) {
		d.Backoff = DefaultBackoff()
	}
	cfg := d.Config
	phones, err := connectors.NewPhoneParser(cfg.Region)
	if err != nil {
		return nil, fmt.Errorf("%s: region: %w", cfg.Path, err)
	}
	instances, err := Build(cfg, d.Registry, d.Secrets, phones, d.Logger, d.Clock)
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: d.Logger, clock: d.Clock, Bus: NewBus(), Phones: phones, instances: instances}
	lookup, err := a.lookupChain()
	if err != nil {
		a.closeConnectors()
		return nil, err
	}
	a.Journal, err = journal.Open(JournalPath(cfg), journal.Options{})
	if err != nil {
		a.closeConnectors()
		return nil, err
	}
	var sink string
	if crm := a.Instance(cfg.CRM); crm != nil {
		if cl, ok := crm.Value.(connectors.CallLogger); ok {
			sink = crm.Name
			a.Delivery = NewDelivery(DeliveryConfig{
				Sink:       sink,
				Workers:    cfg.Outbox.Workers,
				MaxBackoff: cfg.Outbox.MaxBackoff.Duration,
			}, a.Journal, cl, d.Clock, d.Logger, a.Bus)
		}
	}
	var wake func()
	if a.Delivery != nil {
		wake = a.Delivery.Wake
	}
	a.Engine = NewEngine(EngineConfig{
		LookupTimeout: cfg.Lookup.Timeout.Duration,
		CacheTTL:      cfg.Lookup.CacheTTL.Duration,
		MaxDuration:   cfg.Calls.MaxDuration.Duration,
		Sink:          sink,
	}, a.Journal, lookup, a.Bus, d.Clock, d.Logger, wake)
	a.Runner = NewRunner(d.Clock, d.Logger, a.Bus, d.Backoff, a.Engine.Emit)
	for _, in := range instances {
		if src, ok := in.Value.(connectors.Source); ok {
			a.Runner.Add(in.Name, src)
		}
	}
	if cfg.Webhook.Enabled {
		if err := a.newWebhook(d.Secrets); err != nil {
			a.Close()
			return nil, err
		}
	} else {
		for _, in := range instances {
			if _, ok := in.Value.(connectors.Router); ok {
				d.Logger.Info("connector takes callbacks, but the webhook listener is off ([webhook] enabled = false)", "connector", in.Name)
			}
		}
	}
	return a, nil
}

// Build makes every enabled connector of cfg through the registry.
func Build(cfg *settings.Config, reg *connectors.Registry, secrets settings.SecretStore, phones *connectors.PhoneParser, log *slog.Logger, clock clockwork.Clock) ([]Instance, error) {
	var out []Instance
	var errs []error
	for _, cc := range cfg.EnabledConnectors() {
		t, err := reg.Lookup(cc.Type)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", cc.Where(), err))
			continue
		}
		v, err := t.New(cc, connectors.Deps{
			Name:      cc.Name,
			Logger:    log.With("connector", cc.Name),
			Secrets:   settings.InstanceSecrets{Store: secrets, Instance: cc.Name},
			Phones:    phones,
			Clock:     clock,
			DataDir:   filepath.Join(cfg.ResolvePath(cfg.Data.Dir), "connectors", cc.Name),
			ConfigDir: filepath.Dir(cfg.Path),
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if cb, ok := v.(connectors.CallbackBaser); ok {
			cb.SetCallbackBase(CallbackBase(cfg, cc.Name))
		}
		out = append(out, Instance{Name: cc.Name, Type: cc.Type, Value: v})
	}
	if err := errors.Join(errs...); err != nil {
		closeAll(out)
		return nil, err
	}
	return out, nil
}

// lookupChain asks the CRM first, then the local contacts files.
func (a *App) lookupChain() (connectors.Lookuper, error) {
	var chain lookupChain
	if crm := a.Instance(a.cfg.CRM); crm != nil {
		if l, ok := crm.Value.(connectors.Lookuper); ok {
			chain = append(chain, l)
		}
	}
	if len(a.cfg.Contacts) > 0 {
		files := make([]string, len(a.cfg.Contacts))
		for i, f := range a.cfg.Contacts {
			files[i] = a.cfg.ResolvePath(f)
		}
		book, err := contacts.NewBook(files, a.Phones, a.log.With("connector", "contacts"))
		if err != nil {
			return nil, fmt.Errorf("%s: contacts: %w", a.cfg.Path, err)
		}
		chain = append(chain, book)
	}
	switch len(chain) {
	case 0:
		return nil, nil
	case 1:
		return chain[0], nil
	}
	return chain, nil
}

// lookupChain returns the first known contact; an unknown answer still
// lends its create-contact link.
type lookupChain []connectors.Lookuper

func (lc lookupChain) Lookup(ctx context.Context, p connectors.Phone) (connectors.Contact, error) {
	var first connectors.Contact
	var errs []error
	for i, l := range lc {
		c, err := l.Lookup(ctx, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if c.Known() {
			if c.NewURL == "" {
				c.NewURL = first.NewURL
			}
			return c, nil
		}
		if i == 0 || first.NewURL == "" {
			first = c
		}
	}
	if len(errs) == len(lc) {
		return first, errors.Join(errs...)
	}
	return first, nil
}

// Run runs the engine, every source, the delivery workers and the webhook
// listener until ctx is done (or the engine fails), then waits for all of
// them. A webhook address that cannot be bound does not stop Run: the
// listener reports it in WebhookState and keeps trying.
func (a *App) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var engineErr error
	wg.Go(func() { // exits when ctx is done
		engineErr = a.Engine.Run(ctx)
		cancel() // without an engine nothing else can work
	})
	wg.Go(func() { a.Runner.Run(ctx) }) // exits when ctx is done
	if a.Delivery != nil {
		wg.Go(func() { a.Delivery.Run(ctx) }) // exits when ctx is done (+ grace)
	}
	if crm := a.Instance(a.cfg.CRM); crm != nil {
		if cn, ok := crm.Value.(connectors.CallNotifier); ok {
			updates, unsubscribe := a.Bus.Subscribe(256)
			defer unsubscribe()
			cards := callCards{crm: cn, log: a.log.With("connector", crm.Name)}
			wg.Go(func() { cards.run(ctx, updates) }) // exits when ctx is done
		}
	}
	if a.Webhook != nil {
		wg.Go(func() { // exits when ctx is done (+ grace for requests in flight)
			if err := a.Webhook.Run(ctx); err != nil {
				a.log.Error("webhook listener", "error", err)
			}
		})
	}
	wg.Wait()
	return engineErr
}

// Close closes connectors and the journal. Call it after Run returned.
func (a *App) Close() error {
	if a.Webhook != nil {
		_ = a.Webhook.Close()
	}
	a.closeConnectors()
	return a.Journal.Close()
}

func (a *App) closeConnectors() { closeAll(a.instances) }

// CloseInstances closes what Build made, for callers that do not make an App.
func CloseInstances(ins []Instance) { closeAll(ins) }

func closeAll(ins []Instance) {
	for _, in := range ins {
		if c, ok := in.Value.(connectors.Closer); ok {
			_ = c.Close()
		}
	}
}

// Instance returns the connector instance called name, or nil.
func (a *App) Instance(name string) *Instance {
	for i := range a.instances {
		if a.instances[i].Name == name {
			return &a.instances[i]
		}
	}
	return nil
}

// Instances lists the configured connectors.
func (a *App) Instances() []Instance { return a.instances }

// ErrNoDialer means no configured connector can place calls.
var ErrNoDialer = errors.New("no connector can dial: configure one (see README, \"Click-to-dial\")")

// Dial places a call to raw through the configured dialer.
func (a *App) Dial(ctx context.Context, raw string) error {
	p := a.Phones.Parse(raw)
	if p.Key() == "" {
		return fmt.Errorf("dial: %q is not a phone number", raw)
	}
	var d connectors.Dialer
	if in := a.Instance(a.cfg.Dialer); in != nil {
		d, _ = in.Value.(connectors.Dialer)
	}
	for i := 0; d == nil && i < len(a.instances); i++ {
		d, _ = a.instances[i].Value.(connectors.Dialer)
	}
	if d == nil {
		return ErrNoDialer
	}
	if err := d.Dial(ctx, p); err != nil {
		return fmt.Errorf("dial %s: %w", p.Masked(), err)
	}
	return nil
}

// SetStatus sends the agent's status to every connector that takes it, and
// tells the engine so the tray follows.
func (a *App) SetStatus(ctx context.Context, s connectors.AgentStatus) error {
	return a.setStatus(ctx, s, "")
}

// setStatus is SetStatus for a status that came from the connector
// instance origin ("" for the agent): origin is not told its own status.
func (a *App) setStatus(ctx context.Context, s connectors.AgentStatus, origin string) error {
	var errs []error
	for _, in := range a.instances {
		if ss, ok := in.Value.(connectors.StatusSetter); ok && in.Name != origin {
			if err := ss.SetStatus(ctx, s); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", in.Name, err))
			}
		}
	}
	source := origin
	if source == "" {
		source = "agent"
	}
	a.Engine.Emit(ctx.Done(), connectors.Event{Kind: connectors.KindAgentStatus, Status: s, Source: source, Received: a.clock.Now()})
	return errors.Join(errs...)
}

// RetryDeliveries puts a call's refused logs (all calls when callKey is "")
// back in the queue and wakes the workers.
func (a *App) RetryDeliveries(ctx context.Context, callKey string) (int, error) {
	n, err := a.Journal.RetryFailed(ctx, callKey, a.clock.Now())
	if err != nil {
		return 0, err
	}
	if a.Delivery != nil {
		a.Delivery.Wake()
	}
	return n, nil
}

// TestResult is one connector's connection test.
type TestResult struct {
	Name string        `json:"name"`
	Type string        `json:"type"`
	Err  error         `json:"-"`
	Took time.Duration `json:"took"`
}

// TestConnections runs every connector's connection test in parallel.
func TestConnections(ctx context.Context, ins []Instance) []TestResult {
	out := make([]TestResult, len(ins))
	var wg sync.WaitGroup
	for i, in := range ins {
		out[i] = TestResult{Name: in.Name, Type: in.Type}
		t, ok := in.Value.(connectors.Tester)
		if !ok {
			continue
		}
		wg.Go(func() { // bounded by ctx
			start := time.Now()
			out[i].Err = t.Test(ctx)
			out[i].Took = time.Since(start)
		})
	}
	wg.Wait()
	return out
}
