// Package app is Ringside's core: events from every source come in, are
// folded into calls, raise popups, fill them from the CRM, go to the journal
// and, once over, to the CRM through the durable outbox.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/jonboulle/clockwork"

	"github.com/ringside/ringside/app/journal"
	"github.com/ringside/ringside/connectors"
)

// Journal is the part of the journal the engine writes to.
type Journal interface {
	// Save writes a change in one transaction; on error nothing was written.
	Save(ctx context.Context, ch journal.Change) error
	// FindByRef returns journal.ErrNotFound when no call has that vendor id.
	FindByRef(ctx context.Context, vendor, callID string) (journal.Call, error)
	OpenCalls(ctx context.Context) ([]journal.Call, error)
	Get(ctx context.Context, key string) (journal.Call, error)
	Items(ctx context.Context, callKey string) ([]journal.Item, error)
}

// EngineConfig tunes the engine.
type EngineConfig struct {
	LookupTimeout time.Duration // a CRM lookup gives up after this (default 3s)
	CacheTTL      time.Duration // lookups are cached this long (0: no cache)
	MaxDuration   time.Duration // a call with no end event is closed after this (default 4h)
	Sink          string        // connector instance that receives call logs; "" keeps them in the journal only
}

// Engine folds events into calls. One goroutine (Run) owns every call in
// flight; the rest of the app talks to it through channels.
type Engine struct {
	cfg     EngineConfig
	journal Journal
	lookup  connectors.Lookuper // may be nil
	bus     *Bus
	clock   clockwork.Clock
	log     *slog.Logger
	wake    func() // tells the outbox there is work; may be nil

	in      chan connectors.Event
	results chan lookupResult
	cmds    chan func(ctx context.Context)
	stopped chan struct{} // closed when Run returns
	cache   *expirable.LRU[string, connectors.Contact]

	// Owned by Run.
	live    map[string]*liveCall            // by call key: calls in flight and recently ended
	refs    map[journal.Ref]string          // vendor id → call key, for live calls
	byPhone map[string]map[string]*liveCall // phone key → live calls with that number
	unsaved []journal.Change                // writes that failed, retried in order
	asking  map[string][]string             // phone key → calls waiting for its lookup
	status  connectors.AgentStatus
	lookups sync.WaitGroup
}

type liveCall struct {
	call    journal.Call
	refs    map[journal.Ref]bool
	touched time.Time // last event
}

type lookupResult struct {
	phoneKey string
	contact  connectors.Contact
	err      error
}

// keepEnded is how long an ended call stays in memory to absorb late and
// repeated events that carry no call id.
const keepEnded = 2 * time.Minute

// NewEngine wires an engine; lookup may be nil, wake may be nil.
func NewEngine(cfg EngineConfig, j Journal, lookup connectors.Lookuper, bus *Bus, clock clockwork.Clock, log *slog.Logger, wake func()) *Engine {
	if cfg.LookupTimeout <= 0 {
		cfg.LookupTimeout = 3 * time.Second
	}
	if cfg.MaxDuration <= 0 {
		cfg.MaxDuration = 4 * time.Hour
	}
	e := &Engine{
		cfg:     cfg,
		journal: j,
		lookup:  lookup,
		bus:     bus,
		clock:   clock,
		log:     log,
		wake:    wake,
		in:      make(chan connectors.Event, 1024),
		stopped: make(chan struct{}),
		results: make(chan lookupResult, 64),
		cmds:    make(chan func(context.Context)),
		live:    make(map[string]*liveCall),
		refs:    make(map[journal.Ref]string),
		byPhone: make(map[string]map[string]*liveCall),
		asking:  make(map[string][]string),
	}
	if cfg.CacheTTL > 0 {
		e.cache = expirable.NewLRU[string, connectors.Contact](4096, nil, cfg.CacheTTL)
	}
	return e
}

// Emit hands an event to the engine. It blocks while the engine is behind by
// more than 1024 events, and gives up when done is closed.
func (e *Engine) Emit(done <-chan struct{}, ev connectors.Event) {
	select {
	case e.in <- ev:
	case <-done:
	}
}

// Run processes events until ctx is done, then waits for lookups in flight
// and flushes unsaved writes. Calls left open by an earlier run are taken up
// again first. Run is called once; afterwards calls into the engine fail
// with ErrEngineStopped.
func (e *Engine) Run(ctx context.Context) error {
	defer close(e.stopped)
	defer e.lookups.Wait()
	open, err := e.journal.OpenCalls(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return fmt.Errorf("engine: load open calls: %w", err)
	}
	for _, c := range open {
		lc := &liveCall{call: c, refs: map[journal.Ref]bool{}, touched: c.UpdatedAt}
		if c.VendorCallID != "" {
			ref := journal.Ref{Vendor: c.Vendor, CallID: c.VendorCallID}
			lc.refs[ref] = true
			e.refs[ref] = c.Key
		}
		e.track(lc)
	}
	sweep := e.clock.NewTicker(15 * time.Second)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			e.flush(context.WithoutCancel(ctx))
			return nil
		case ev := <-e.in:
			e.onEvent(ctx, ev)
		case r := <-e.results:
			e.onLookup(ctx, r)
		case cmd := <-e.cmds:
			e.drain(ctx) // a command sees every event emitted before it
			cmd(ctx)
		case <-sweep.Chan():
			e.onSweep(ctx)
		}
	}
}

// drain handles the events already queued.
func (e *Engine) drain(ctx context.Context) {
	for {
		select {
		case ev := <-e.in:
			e.onEvent(ctx, ev)
		default:
			return
		}
	}
}

// do runs f on the engine goroutine, after the events queued so far, and
// waits for it.
func (e *Engine) do(ctx context.Context, f func(ctx context.Context) error) error {
	errc := make(chan error, 1)
	select {
	case e.cmds <- func(ctx context.Context) { errc <- f(ctx) }:
	case <-ctx.Done():
		return ctx.Err()
	case <-e.stopped:
		return ErrEngineStopped
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ErrEngineStopped is returned by calls into an engine whose Run has returned.
var ErrEngineStopped = errors.New("the call engine is not running")

func (e *Engine) onEvent(ctx context.Context, ev connectors.Event) {
	if ev.Received.IsZero() {
		ev.Received = e.clock.Now()
	}
	if ev.Kind == connectors.KindAgentStatus {
		if ev.Status != connectors.StatusUnknown && ev.Status != e.status {
			e.status = ev.Status
			e.bus.Publish(Update{Kind: UpdateStatus, At: ev.Received, Status: ev.Status})
		}
		return
	}
	lc, isNew, err := e.correlate(ctx, ev)
	if err != nil {
		e.log.Error("event dropped", "event", ev, "error", err)
		return
	}
	if lc == nil {
		e.log.Debug("event ignored", "event", ev)
		return
	}
	lc.touched = ev.Received
	wasEnded := lc.call.State == journal.StateEnded
	hadPhone := lc.call.Phone.Key() != ""
	changed := apply(&lc.call, ev)
	if !hadPhone && lc.call.Phone.Key() != "" {
		e.track(lc) // learnt its number from this event
	}
	newRefs := e.addRef(lc, ev)
	if !changed && !isNew && len(newRefs) == 0 {
		e.log.Debug("repeated event", "event", ev, "call", lc.call.Key)
		return
	}
	lc.call.UpdatedAt = ev.Received
	phase := PhaseChanged
	switch {
	case isNew:
		phase = PhaseRaised
	case lc.call.State == journal.StateEnded && !wasEnded:
		phase = PhaseEnded
	}
	if changed || isNew {
		e.bus.Publish(Update{Kind: UpdateCall, At: ev.Received, Call: lc.call, Phase: phase})
	}
	if isNew {
		e.startLookup(ctx, lc)
	}
	ch := journal.Change{Call: lc.call, Event: &ev, Refs: newRefs}
	if lc.call.State == journal.StateEnded && !wasEnded {
		ch.Enqueue = e.finish(lc)
		ch.Call = lc.call
	}
	e.save(ctx, ch)
}

// correlate finds the call an event belongs to: by vendor call id first, then
// by number among calls in flight. It returns nil when the event starts
// nothing (a late event for a call long gone from memory and journal is still
// a call: an end with no start is recorded, so nothing is lost).
func (e *Engine) correlate(ctx context.Context, ev connectors.Event) (*liveCall, bool, error) {
	if ev.CallID != "" {
		ref := journal.Ref{Vendor: ev.Vendor, CallID: ev.CallID}
		if key, ok := e.refs[ref]; ok {
			return e.live[key], false, nil
		}
		c, err := e.journal.FindByRef(ctx, ev.Vendor, ev.CallID)
		switch {
		case err == nil:
			lc := &liveCall{call: c, refs: map[journal.Ref]bool{ref: true}}
			e.track(lc)
			e.refs[ref] = c.Key
			return lc, false, nil
		case !errors.Is(err, journal.ErrNotFound):
			return nil, false, fmt.Errorf("find call %s/%s: %w", ev.Vendor, ev.CallID, err)
		}
	}
	if lc := e.byNumber(ev); lc != nil {
		return lc, false, nil
	}
	switch ev.Kind {
	case connectors.KindRinging, connectors.KindDialing, connectors.KindAnswered, connectors.KindEnded, connectors.KindMissed:
	default:
		return nil, false, nil
	}
	c := journal.Call{Key: newKey(), Direction: ev.Direction, Phone: ev.Phone}
	lc := &liveCall{call: c, refs: map[journal.Ref]bool{}}
	e.track(lc)
	return lc, true, nil
}

// byNumber finds the call in flight with the event's number. A call that
// already has an id from the event's vendor is another call; an ended call
// only absorbs end events (a new ring from the same number is a new call).
func (e *Engine) byNumber(ev connectors.Event) *liveCall {
	key := ev.Phone.Key()
	if key == "" {
		return nil
	}
	var best *liveCall
	for _, lc := range e.byPhone[key] {
		c := &lc.call
		if ev.Direction != connectors.DirectionUnknown && c.Direction != connectors.DirectionUnknown && ev.Direction != c.Direction {
			continue
		}
		if ev.CallID != "" && c.Vendor == ev.Vendor && c.VendorCallID != "" {
			continue
		}
		if c.State == journal.StateEnded {
			if ev.Kind != connectors.KindEnded && ev.Kind != connectors.KindMissed {
				continue
			}
			if ev.CallID == "" && e.clock.Since(c.EndedAt) > keepEnded {
				continue
			}
		}
		if best == nil || c.StartedAt.After(best.call.StartedAt) {
			best = lc
		}
	}
	return best
}

func (e *Engine) addRef(lc *liveCall, ev connectors.Event) []journal.Ref {
	if ev.CallID == "" {
		return nil
	}
	ref := journal.Ref{Vendor: ev.Vendor, CallID: ev.CallID}
	if lc.refs[ref] {
		return nil
	}
	lc.refs[ref] = true
	e.refs[ref] = lc.call.Key
	return []journal.Ref{ref}
}

// finish makes the call's first log for the CRM.
func (e *Engine) finish(lc *liveCall) []journal.Item {
	lc.call.Revision = 1
	if e.cfg.Sink == "" {
		return nil
	}
	return []journal.Item{{Sink: e.cfg.Sink, CallKey: lc.call.Key, Log: callLog(lc.call, 1)}}
}

func (e *Engine) startLookup(ctx context.Context, lc *liveCall) {
	key := lc.call.Phone.Key()
	if e.lookup == nil || key == "" {
		e.fill(ctx, lc.call.Key, connectors.Contact{})
		return
	}
	if e.cache != nil {
		if c, ok := e.cache.Get(key); ok {
			e.fill(ctx, lc.call.Key, c)
			return
		}
	}
	if waiting, ok := e.asking[key]; ok { // the CRM is already being asked
		e.asking[key] = append(waiting, lc.call.Key)
		return
	}
	e.asking[key] = []string{lc.call.Key}
	phone := lc.call.Phone
	e.lookups.Go(func() { // exits within LookupTimeout
		lctx, cancel := context.WithTimeout(ctx, e.cfg.LookupTimeout)
		defer cancel()
		c, err := e.lookup.Lookup(lctx, phone)
		select {
		case e.results <- lookupResult{phoneKey: phone.Key(), contact: c, err: err}:
		case <-ctx.Done():
		}
	})
}

// onLookup fills every call that waited for this number's answer.
func (e *Engine) onLookup(ctx context.Context, r lookupResult) {
	if r.err != nil {
		e.log.Warn("crm lookup failed", "error", r.err)
	} else if e.cache != nil {
		e.cache.Add(r.phoneKey, r.contact)
	}
	for _, callKey := range e.asking[r.phoneKey] {
		e.fill(ctx, callKey, r.contact)
	}
	delete(e.asking, r.phoneKey)
}

func (e *Engine) fill(ctx context.Context, callKey string, c connectors.Contact) {
	lc, ok := e.live[callKey]
	if !ok {
		return
	}
	lc.call.Contact = c
	e.bus.Publish(Update{Kind: UpdateCall, At: e.clock.Now(), Call: lc.call, Phase: PhaseFilled})
	if c.Known() {
		e.save(ctx, journal.Change{Call: lc.call})
	}
}

// save writes a change, keeping it for a later retry when the journal
// fails (a full disk, say): a call is never dropped.
func (e *Engine) save(ctx context.Context, ch journal.Change) {
	if len(e.unsaved) > 0 {
		e.flush(ctx)
	}
	if len(e.unsaved) > 0 {
		e.unsaved = append(e.unsaved, ch)
		return
	}
	if err := e.journal.Save(ctx, ch); err != nil {
		e.log.Error("journal write failed; will retry", "call", ch.Call.Key, "error", err)
		e.unsaved = append(e.unsaved, ch)
		return
	}
	if len(ch.Enqueue) > 0 && e.wake != nil {
		e.wake()
	}
}

// flush retries unsaved writes in order, stopping at the first failure.
func (e *Engine) flush(ctx context.Context) {
	for len(e.unsaved) > 0 {
		ch := e.unsaved[0]
		if err := e.journal.Save(ctx, ch); err != nil {
			return
		}
		e.unsaved = e.unsaved[1:]
		if len(ch.Enqueue) > 0 && e.wake != nil {
			e.wake()
		}
	}
	e.unsaved = nil
}

// Unsaved counts writes waiting for the journal to accept them.
func (e *Engine) Unsaved(ctx context.Context) (int, error) {
	var n int
	err := e.do(ctx, func(context.Context) error { n = len(e.unsaved); return nil })
	return n, err
}

func (e *Engine) onSweep(ctx context.Context) {
	e.flush(ctx)
	now := e.clock.Now()
	for key, lc := range e.live {
		c := &lc.call
		switch {
		case c.State == journal.StateEnded && now.Sub(lc.touched) > keepEnded:
			e.forget(lc)
		case c.State != journal.StateEnded && now.Sub(c.StartedAt) > e.cfg.MaxDuration:
			// No end ever came (a source that reports only the ring, or a
			// lost hangup): close the call so it is logged, result unknown.
			c.State = journal.StateEnded
			c.EndedAt = now
			c.UpdatedAt = now
			e.log.Info("call closed without end event", "call", key, "after", e.cfg.MaxDuration)
			e.bus.Publish(Update{Kind: UpdateCall, At: now, Call: *c, Phase: PhaseEnded})
			e.save(ctx, journal.Change{Call: *c, Enqueue: e.finish(lc)})
			lc.touched = now
		}
	}
}

// Annotate sets the agent's note and disposition on a call. On an ended
// call the CRM gets them too, as a new revision of the call's log.
func (e *Engine) Annotate(ctx context.Context, callKey, note, disposition string) error {
	return e.do(ctx, func(ctx context.Context) error {
		c, lc, err := e.call(ctx, callKey)
		if err != nil {
			return err
		}
		c.Note, c.Disposition = note, disposition
		c.UpdatedAt = e.clock.Now()
		ch := journal.Change{}
		if c.State == journal.StateEnded && e.cfg.Sink != "" {
			rev, err := e.nextRevision(ctx, c)
			if err != nil {
				return err
			}
			c.Revision = rev
			ch.Enqueue = []journal.Item{{Sink: e.cfg.Sink, CallKey: c.Key, Log: callLog(c, rev)}}
		}
		ch.Call = c
		if err := e.journal.Save(ctx, ch); err != nil {
			return fmt.Errorf("save note for call %s: %w", callKey, err)
		}
		if lc != nil {
			lc.call = c
		}
		e.bus.Publish(Update{Kind: UpdateCall, At: c.UpdatedAt, Call: c, Phase: PhaseChanged})
		if len(ch.Enqueue) > 0 && e.wake != nil {
			e.wake()
		}
		return nil
	})
}

// nextRevision is the revision a changed note goes out as. Every change
// after the first log is a new revision with its own idempotency key:
// rewriting a queued log in place could race a worker already sending it,
// and the CRM would then drop the update as a repeat of the old key.
func (e *Engine) nextRevision(ctx context.Context, c journal.Call) (int, error) {
	items, err := e.journal.Items(ctx, c.Key)
	if err != nil {
		return 0, fmt.Errorf("read outbox of call %s: %w", c.Key, err)
	}
	rev := max(c.Revision, 1)
	for _, it := range items {
		if it.Sink == e.cfg.Sink && it.Log.Revision >= rev {
			rev = it.Log.Revision + 1
		}
	}
	return rev, nil
}

func (e *Engine) call(ctx context.Context, key string) (journal.Call, *liveCall, error) {
	if lc, ok := e.live[key]; ok {
		return lc.call, lc, nil
	}
	c, err := e.journal.Get(ctx, key)
	if err != nil {
		return journal.Call{}, nil, fmt.Errorf("find call %s: %w", key, err)
	}
	return c, nil, nil
}

// Status is the agent's status as last reported by a source or set by the agent.
func (e *Engine) Status(ctx context.Context) (connectors.AgentStatus, error) {
	var s connectors.AgentStatus
	err := e.do(ctx, func(context.Context) error { s = e.status; return nil })
	return s, err
}

// Live returns the calls in flight, for the UI after a restart.
func (e *Engine) Live(ctx context.Context) ([]journal.Call, error) {
	var out []journal.Call
	err := e.do(ctx, func(context.Context) error {
		for _, lc := range e.live {
			if lc.call.State != journal.StateEnded {
				out = append(out, lc.call)
			}
		}
		return nil
	})
	return out, err
}

// track puts a call in memory, indexed by key and number.
func (e *Engine) track(lc *liveCall) {
	e.live[lc.call.Key] = lc
	pk := lc.call.Phone.Key()
	if pk == "" {
		return
	}
	m := e.byPhone[pk]
	if m == nil {
		m = make(map[string]*liveCall, 1)
		e.byPhone[pk] = m
	}
	m[lc.call.Key] = lc
}

// forget drops a call from memory; the journal still has it.
func (e *Engine) forget(lc *liveCall) {
	delete(e.live, lc.call.Key)
	for ref := range lc.refs {
		delete(e.refs, ref)
	}
	pk := lc.call.Phone.Key()
	if m := e.byPhone[pk]; m != nil {
		delete(m, lc.call.Key)
		if len(m) == 0 {
			delete(e.byPhone, pk)
		}
	}
}

func newKey() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}
