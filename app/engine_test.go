package app

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ringside/ringside/app/journal"
	"github.com/ringside/ringside/connectors"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

type fakeLookup struct {
	mu       sync.Mutex
	contacts map[string]connectors.Contact
	calls    int
	block    chan struct{} // when set, Lookup waits for it or ctx
}

func (f *fakeLookup) Lookup(ctx context.Context, p connectors.Phone) (connectors.Contact, error) {
	f.mu.Lock()
	f.calls++
	block := f.block
	c := f.contacts[p.Key()]
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return connectors.Contact{}, ctx.Err()
		}
	}
	return c, nil
}

func (f *fakeLookup) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// harness runs an engine over a real journal file.
type harness struct {
	t       *testing.T
	e       *Engine
	j       *journal.Store
	clock   *clockwork.FakeClock
	updates <-chan Update
	phones  *connectors.PhoneParser
	wakes   chan struct{}
	cancel  context.CancelFunc
	done    chan error
}

func newHarness(t *testing.T, cfg EngineConfig, j Journal, lookup connectors.Lookuper) *harness {
	t.Helper()
	store, err := journal.Open(filepath.Join(t.TempDir(), "ringside.db"), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if j == nil {
		j = store
	}
	phones, err := connectors.NewPhoneParser("RO")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, j: store, clock: clockwork.NewFakeClockAt(t0), phones: phones, wakes: make(chan struct{}, 100), done: make(chan error, 1)}
	bus := NewBus()
	var unsub func()
	h.updates, unsub = bus.Subscribe(1000)
	h.e = NewEngine(cfg, j, lookup, bus, h.clock, slog.New(slog.DiscardHandler), func() { h.wakes <- struct{}{} })
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.e.Run(ctx) }()
	t.Cleanup(func() {
		h.stop()
		unsub()
	})
	return h
}

func (h *harness) stop() {
	if h.cancel != nil {
		h.cancel()
		if err := <-h.done; err != nil {
			h.t.Errorf("engine: %v", err)
		}
		h.cancel = nil
	}
}

func (h *harness) emit(ev connectors.Event) {
	if ev.Received.IsZero() {
		ev.Received = h.clock.Now()
	}
	h.e.Emit(nil, ev)
}

// sync waits until the engine has handled everything emitted so far.
func (h *harness) sync() {
	h.t.Helper()
	if _, err := h.e.Status(context.Background()); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) next() Update {
	h.t.Helper()
	for {
		select {
		case u := <-h.updates:
			if u.Kind == UpdateCall {
				return u
			}
		case <-time.After(5 * time.Second):
			h.t.Fatal("no call update")
		}
	}
}

func (h *harness) calls() []journal.Call {
	h.t.Helper()
	h.sync()
	cs, err := h.j.Search(context.Background(), journal.Query{})
	if err != nil {
		h.t.Fatal(err)
	}
	return cs
}

func (h *harness) ev(kind connectors.EventKind, raw string, mods ...func(*connectors.Event)) connectors.Event {
	ev := connectors.Event{Kind: kind, Phone: h.phones.Parse(raw), Source: "office", Vendor: "accolades", At: h.clock.Now()}
	for _, m := range mods {
		m(&ev)
	}
	return ev
}

func withID(id string) func(*connectors.Event) { return func(e *connectors.Event) { e.CallID = id } }
func from(source, vendor string) func(*connectors.Event) {
	return func(e *connectors.Event) { e.Source, e.Vendor = source, vendor }
}
func withResult(r connectors.Result) func(*connectors.Event) {
	return func(e *connectors.Event) { e.Result = r }
}

func TestEngineRaisesAtOnceThenFills(t *testing.T) {
	lookup := &fakeLookup{contacts: map[string]connectors.Contact{"+40211234567": {Name: "Ion Popescu", Company: "Acme"}}, block: make(chan struct{})}
	h := newHarness(t, EngineConfig{LookupTimeout: time.Minute}, nil, lookup)
	h.emit(h.ev(connectors.KindRinging, "0211234567", withID("1608743891.1344")))

	raised := h.next()
	if got, want := raised.Phase, PhaseRaised; got != want {
		t.Fatalf("first update phase = %v, want %v", got, want)
	}
	if got, want := raised.Call.Phone.E164, "+40211234567"; got != want {
		t.Errorf("raised number = %q, want %q", got, want)
	}
	if raised.Call.Contact.Known() {
		t.Errorf("raised popup already has a contact: the lookup must not delay it")
	}
	close(lookup.block)
	filled := h.next()
	if got, want := filled.Phase, PhaseFilled; got != want {
		t.Fatalf("second update phase = %v, want %v", got, want)
	}
	if got, want := filled.Call.Contact.Name, "Ion Popescu"; got != want {
		t.Errorf("filled name = %q, want %q", got, want)
	}
	h.sync()
	c, err := h.j.Get(context.Background(), raised.Call.Key)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Contact.Name, "Ion Popescu"; got != want {
		t.Errorf("journaled contact = %q, want %q", got, want)
	}
}

func TestEngineLookupTimeoutFillsUnknown(t *testing.T) {
	lookup := &fakeLookup{block: make(chan struct{})} // never answers
	h := newHarness(t, EngineConfig{LookupTimeout: 20 * time.Millisecond}, nil, lookup)
	h.emit(h.ev(connectors.KindRinging, "0211234567"))
	h.next()
	filled := h.next()
	if got, want := filled.Phase, PhaseFilled; got != want {
		t.Fatalf("phase = %v, want %v", got, want)
	}
	if filled.Call.Contact.Known() {
		t.Errorf("contact known after a timed-out lookup")
	}
}

func TestEngineLookupCache(t *testing.T) {
	lookup := &fakeLookup{contacts: map[string]connectors.Contact{"+40211234567": {Name: "Ion"}}}
	h := newHarness(t, EngineConfig{CacheTTL: time.Minute}, nil, lookup)
	for i := range 3 {
		h.emit(h.ev(connectors.KindRinging, "0211234567", withID("c"+string(rune('0'+i)))))
		h.emit(h.ev(connectors.KindEnded, "0211234567", withID("c"+string(rune('0'+i)))))
		for u := h.next(); u.Phase != PhaseFilled; u = h.next() { // this call's lookup is over
		}
	}
	if got, want := lookup.count(), 1; got != want {
		t.Errorf("lookups = %d, want %d (cached)", got, want)
	}
}

func TestEngineFoldsCalls(t *testing.T) {
	tests := []struct {
		name       string
		events     func(h *harness) []connectors.Event
		wantCalls  int
		wantState  journal.State
		wantResult connectors.Result
		wantEvents int
	}{
		{
			name: "answered call from socket and webhook is one call",
			events: func(h *harness) []connectors.Event {
				return []connectors.Event{
					h.ev(connectors.KindRinging, "0211234567", withID("1.1")),
					h.ev(connectors.KindAnswered, "0211234567", withID("1.1"), from("office-hook", "accolades")),
					h.ev(connectors.KindEnded, "0211234567", withID("1.1"), from("office-hook", "accolades")),
				}
			},
			wantCalls: 1, wantState: journal.StateEnded, wantResult: connectors.ResultAnswered, wantEvents: 3,
		},
		{
			name: "repeated ring is one call, one event",
			events: func(h *harness) []connectors.Event {
				ev := h.ev(connectors.KindRinging, "0211234567", withID("1.2"))
				return []connectors.Event{ev, ev, ev}
			},
			wantCalls: 1, wantState: journal.StateRinging, wantEvents: 1,
		},
		{
			name: "two vendors, one number: matched by number",
			events: func(h *harness) []connectors.Event {
				return []connectors.Event{
					h.ev(connectors.KindRinging, "0211234567", withID("1.3")),
					h.ev(connectors.KindRinging, "+40 21 123 4567", from("crm", "retailcrm")),
					h.ev(connectors.KindEnded, "0040211234567", from("crm", "retailcrm"), withResult(connectors.ResultBusy)),
				}
			},
			wantCalls: 1, wantState: journal.StateEnded, wantResult: connectors.ResultBusy, wantEvents: 2, /* the second ring changes nothing */
		},
		{
			name: "ring without answer is missed",
			events: func(h *harness) []connectors.Event {
				return []connectors.Event{
					h.ev(connectors.KindRinging, "0211234567", withID("1.4")),
					h.ev(connectors.KindEnded, "0211234567", withID("1.4")),
				}
			},
			wantCalls: 1, wantState: journal.StateEnded, wantResult: connectors.ResultMissed, wantEvents: 2,
		},
		{
			name: "outbound not answered",
			events: func(h *harness) []connectors.Event {
				return []connectors.Event{
					h.ev(connectors.KindDialing, "0722123456", withID("1.5")),
					h.ev(connectors.KindEnded, "0722123456", withID("1.5")),
				}
			},
			wantCalls: 1, wantState: journal.StateEnded, wantResult: connectors.ResultNoAnswer, wantEvents: 2,
		},
		{
			name: "a new ring after the end is a new call",
			events: func(h *harness) []connectors.Event {
				return []connectors.Event{
					h.ev(connectors.KindRinging, "0211234567"),
					h.ev(connectors.KindEnded, "0211234567"),
					h.ev(connectors.KindRinging, "0211234567"),
				}
			},
			wantCalls: 2, wantState: journal.StateRinging, wantEvents: 1,
		},
		{
			name: "a second call id from the same vendor is another call",
			events: func(h *harness) []connectors.Event {
				return []connectors.Event{
					h.ev(connectors.KindRinging, "0211234567", withID("1.6")),
					h.ev(connectors.KindRinging, "0211234567", withID("1.7")),
				}
			},
			wantCalls: 2, wantState: journal.StateRinging, wantEvents: 1,
		},
		{
			name: "an end with no start is still recorded",
			events: func(h *harness) []connectors.Event {
				return []connectors.Event{h.ev(connectors.KindEnded, "0211234567", withID("1.8"), withResult(connectors.ResultAnswered))}
			},
			wantCalls: 1, wantState: journal.StateEnded, wantResult: connectors.ResultAnswered, wantEvents: 1,
		},
		{
			name: "late end from a second source after the end is absorbed",
			events: func(h *harness) []connectors.Event {
				return []connectors.Event{
					h.ev(connectors.KindRinging, "0211234567", withID("1.9")),
					h.ev(connectors.KindAnswered, "0211234567", withID("1.9")),
					h.ev(connectors.KindEnded, "0211234567", withID("1.9")),
					h.ev(connectors.KindEnded, "0211234567", from("crm", "retailcrm")),
				}
			},
			wantCalls: 1, wantState: journal.StateEnded, wantResult: connectors.ResultAnswered, wantEvents: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, EngineConfig{Sink: "crm"}, nil, nil)
			for _, ev := range tt.events(h) {
				h.emit(ev)
			}
			calls := h.calls()
			if got, want := len(calls), tt.wantCalls; got != want {
				t.Fatalf("calls = %d, want %d", got, want)
			}
			c := calls[0] // newest
			if got, want := c.State, tt.wantState; got != want {
				t.Errorf("state = %v, want %v", got, want)
			}
			if got, want := c.Result, tt.wantResult; got != want {
				t.Errorf("result = %v, want %v", got, want)
			}
			evs, err := h.j.Events(context.Background(), c.Key)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(evs), tt.wantEvents; got != want {
				t.Errorf("events = %d, want %d", got, want)
			}
			items, err := h.j.Items(context.Background(), c.Key)
			if err != nil {
				t.Fatal(err)
			}
			wantItems := 0
			if c.State == journal.StateEnded {
				wantItems = 1
			}
			if got := len(items); got != wantItems {
				t.Errorf("outbox items = %d, want %d", got, wantItems)
			}
		})
	}
}

func TestEngineEnqueuesLogWithDurations(t *testing.T) {
	h := newHarness(t, EngineConfig{Sink: "crm"}, nil, nil)
	h.emit(h.ev(connectors.KindRinging, "0211234567", withID("9.1"), func(e *connectors.Event) { e.Queue = true; e.Agent = "321" }))
	h.clock.Advance(5 * time.Second)
	h.emit(h.ev(connectors.KindAnswered, "0211234567", withID("9.1")))
	h.clock.Advance(65 * time.Second)
	h.emit(h.ev(connectors.KindEnded, "0211234567", withID("9.1"), func(e *connectors.Event) { e.Recording = "https://rec/1.mp3" }))
	calls := h.calls()
	items, err := h.j.Items(context.Background(), calls[0].Key)
	if err != nil || len(items) != 1 {
		t.Fatalf("items = %v, %v; want one", items, err)
	}
	got := items[0].Log
	want := connectors.CallLog{
		Key: calls[0].Key, CallKey: calls[0].Key, Revision: 1,
		Direction: connectors.DirectionInbound, Phone: connectors.Phone{Raw: "0211234567", E164: "+40211234567"},
		Agent: "321", Source: "office", Vendor: "accolades", VendorCallID: "9.1", Queue: true,
		Result: connectors.ResultAnswered, Talk: 65 * time.Second, Waiting: 5 * time.Second, Recording: "https://rec/1.mp3",
	}
	got.StartedAt, got.AnsweredAt, got.EndedAt = time.Time{}, time.Time{}, time.Time{}
	if !equalLogs(got, want) {
		t.Errorf("log = %+v\nwant %+v", got, want)
	}
	select {
	case <-h.wakes:
	default:
		t.Errorf("outbox not woken after enqueue")
	}
}

func equalLogs(a, b connectors.CallLog) bool {
	return a.Key == b.Key && a.CallKey == b.CallKey && a.Revision == b.Revision && a.Direction == b.Direction &&
		a.Phone == b.Phone && a.Agent == b.Agent && a.Source == b.Source && a.Vendor == b.Vendor &&
		a.VendorCallID == b.VendorCallID && a.Queue == b.Queue && a.Result == b.Result && a.Talk == b.Talk &&
		a.Waiting == b.Waiting && a.Recording == b.Recording && a.Note == b.Note && a.Disposition == b.Disposition
}

func TestEngineAnnotateRevisions(t *testing.T) {
	h := newHarness(t, EngineConfig{Sink: "crm"}, nil, nil)
	ctx := context.Background()
	h.emit(h.ev(connectors.KindRinging, "0211234567", withID("7.1")))
	h.emit(h.ev(connectors.KindEnded, "0211234567", withID("7.1")))
	key := h.calls()[0].Key

	for i, note := range []string{"call back", "called back"} {
		if err := h.e.Annotate(ctx, key, note, "disp"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	items, err := h.j.Items(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		got = append(got, it.Log.Key+"|"+it.Log.Note+"|"+it.Log.Disposition)
	}
	want := []string{key + "||", key + "-r2|call back|disp0", key + "-r3|called back|disp1"}
	if !slices.Equal(got, want) {
		t.Errorf("outbox = %q\nwant %q", got, want)
	}
	c, _ := h.j.Get(ctx, key)
	if got, want := c.Note, "called back"; got != want {
		t.Errorf("journal note = %q, want %q", got, want)
	}
	if got, want := c.Revision, 3; got != want {
		t.Errorf("revision = %d, want %d", got, want)
	}
}

// flakyJournal fails Save while failing is set, like a full disk.
type flakyJournal struct {
	Journal
	mu      sync.Mutex
	failing bool
}

func (f *flakyJournal) Save(ctx context.Context, ch journal.Change) error {
	f.mu.Lock()
	failing := f.failing
	f.mu.Unlock()
	if failing {
		return errors.New("database or disk is full")
	}
	return f.Journal.Save(ctx, ch)
}

func (f *flakyJournal) set(v bool) {
	f.mu.Lock()
	f.failing = v
	f.mu.Unlock()
}

func TestEngineKeepsCallsWhileJournalFails(t *testing.T) {
	store, err := journal.Open(filepath.Join(t.TempDir(), "j.db"), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	flaky := &flakyJournal{Journal: store, failing: true}
	h := newHarness(t, EngineConfig{Sink: "crm"}, flaky, nil)
	h.emit(h.ev(connectors.KindRinging, "0211234567", withID("5.1")))
	h.emit(h.ev(connectors.KindEnded, "0211234567", withID("5.1")))
	if raised := h.next(); raised.Phase != PhaseRaised {
		t.Fatalf("popup not raised while the journal fails: %v", raised.Phase)
	}
	if n, _ := h.e.Unsaved(context.Background()); n != 2 {
		t.Fatalf("unsaved = %d, want 2", n)
	}
	flaky.set(false)
	h.clock.Advance(15 * time.Second) // the sweep retries
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, _ := h.e.Unsaved(context.Background())
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("unsaved = %d after the journal recovered", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	calls, err := store.Search(context.Background(), journal.Query{})
	if err != nil || len(calls) != 1 {
		t.Fatalf("calls = %v, %v; want one", calls, err)
	}
	if got, want := calls[0].Result, connectors.ResultMissed; got != want {
		t.Errorf("result = %v, want %v", got, want)
	}
	if got, want := calls[0].Delivery, journal.DeliveryPending; got != want {
		t.Errorf("delivery = %v, want %v", got, want)
	}
}

func TestEngineClosesStaleCalls(t *testing.T) {
	h := newHarness(t, EngineConfig{Sink: "crm", MaxDuration: time.Hour}, nil, nil)
	h.emit(h.ev(connectors.KindRinging, "0211234567", withID("4.1")))
	h.sync()
	h.clock.Advance(time.Hour + time.Minute)
	deadline := time.Now().Add(5 * time.Second)
	for {
		calls := h.calls()
		if calls[0].State == journal.StateEnded {
			if got, want := calls[0].Delivery, journal.DeliveryPending; got != want {
				t.Errorf("delivery = %v, want %v", got, want)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("call still %v after max duration", calls[0].State)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEngineResumesOpenCallsAfterRestart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "j.db")
	phones, _ := connectors.NewPhoneParser("RO")
	run := func(evs ...connectors.Event) {
		store, err := journal.Open(path, journal.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		e := NewEngine(EngineConfig{Sink: "crm"}, store, nil, NewBus(), clockwork.NewFakeClockAt(t0), slog.New(slog.DiscardHandler), nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- e.Run(ctx) }()
		for _, ev := range evs {
			e.Emit(nil, ev)
		}
		e.Status(ctx) // sync
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	p := phones.Parse("0211234567")
	run(connectors.Event{Kind: connectors.KindRinging, Phone: p, Source: "pbx", Received: t0}) // no call id
	run(connectors.Event{Kind: connectors.KindEnded, Phone: p, Source: "pbx", Received: t0.Add(time.Minute)})
	store, err := journal.Open(path, journal.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	calls, _ := store.Search(context.Background(), journal.Query{})
	if len(calls) != 1 || calls[0].State != journal.StateEnded {
		t.Fatalf("calls = %+v; want one ended call", calls)
	}
}

func TestEngineCallsAfterStopFailFast(t *testing.T) {
	h := newHarness(t, EngineConfig{}, nil, nil)
	h.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := h.e.Status(ctx); !errors.Is(err, ErrEngineStopped) {
		t.Errorf("Status after stop = %v, want ErrEngineStopped", err)
	}
	if err := h.e.Annotate(ctx, "k", "note", ""); !errors.Is(err, ErrEngineStopped) {
		t.Errorf("Annotate after stop = %v, want ErrEngineStopped", err)
	}
}
