package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ringside/ringside/app/journal"
	"github.com/ringside/ringside/connectors"
)

// scriptCRM answers each LogCalls with the next scripted error (nil after
// the script ends) and records what it was sent.
type scriptCRM struct {
	mu      sync.Mutex
	answers []error
	got     [][]string // keys per request
	batch   int
	perSec  float64
}

func (c *scriptCRM) LogCalls(_ context.Context, logs []connectors.CallLog) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]string, len(logs))
	for i, l := range logs {
		keys[i] = l.Key
	}
	c.got = append(c.got, keys)
	if len(c.answers) == 0 {
		return nil
	}
	err := c.answers[0]
	c.answers = c.answers[1:]
	return err
}

func (c *scriptCRM) BatchSize() int { return max(c.batch, 1) }

func (c *scriptCRM) RateLimit() (float64, int) { return c.perSec, 1 }

func (c *scriptCRM) requests() [][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]string(nil), c.got...)
}

func newOutboxStore(t *testing.T) *journal.Store {
	t.Helper()
	s, err := journal.Open(filepath.Join(t.TempDir(), "j.db"), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func enqueue(t *testing.T, s *journal.Store, n int, at time.Time) []string {
	t.Helper()
	keys := make([]string, n)
	for i := range n {
		key := fmt.Sprintf("call-%03d", i)
		c := journal.Call{Key: key, State: journal.StateEnded, Direction: connectors.DirectionInbound,
			Phone: connectors.Phone{Raw: "0211234567", E164: "+40211234567"}, Result: connectors.ResultAnswered,
			StartedAt: at, EndedAt: at, UpdatedAt: at, Revision: 1}
		err := s.Save(context.Background(), journal.Change{Call: c, Enqueue: []journal.Item{{Sink: "crm", CallKey: key, Log: callLog(c, 1), NextAt: at}}})
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = key
	}
	return keys
}

func startDelivery(t *testing.T, s *journal.Store, crm connectors.CallLogger, clock clockwork.Clock) *Delivery {
	t.Helper()
	d := NewDelivery(DeliveryConfig{Sink: "crm", Workers: 2, MaxBackoff: time.Minute}, s, crm, clock, slog.New(slog.DiscardHandler), NewBus())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return d
}

func waitItems(t *testing.T, s *journal.Store, want func(journal.Stats) bool) journal.Stats {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := s.Stats(context.Background(), "crm")
		if err != nil {
			t.Fatal(err)
		}
		if want(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox stuck at %+v", st)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestDeliveryDeliversOnceEach(t *testing.T) {
	s := newOutboxStore(t)
	keys := enqueue(t, s, 25, t0)
	crm := &scriptCRM{batch: 10}
	startDelivery(t, s, crm, clockwork.NewRealClock())
	waitItems(t, s, func(st journal.Stats) bool { return st.Delivered == 25 })
	seen := map[string]int{}
	for _, req := range crm.requests() {
		if len(req) > 10 {
			t.Errorf("batch of %d, want at most 10", len(req))
		}
		for _, k := range req {
			seen[k]++
		}
	}
	for _, k := range keys {
		if seen[k] != 1 {
			t.Errorf("%s sent %d times, want once", k, seen[k])
		}
	}
}

func TestDeliveryRetriesThenFailsVisibly(t *testing.T) {
	s := newOutboxStore(t)
	clock := clockwork.NewFakeClockAt(t0)
	enqueue(t, s, 1, t0)
	crm := &scriptCRM{answers: []error{
		&connectors.HTTPStatusError{Status: 503},
		connectors.RetryAfter(&connectors.HTTPStatusError{Status: 429}, 7*time.Second),
		connectors.Permanent(&connectors.HTTPStatusError{Status: 400, Body: "phone is invalid"}),
	}}
	d := startDelivery(t, s, crm, clock)

	it := waitItem(t, s, func(it journal.Item) bool { return it.Attempts == 1 })
	if got := it.NextAt.Sub(t0); got < 1600*time.Millisecond || got > 2400*time.Millisecond {
		t.Errorf("first retry in %v, want ~2s", got)
	}
	if got, want := it.LastError, "HTTP 503 Service Unavailable"; got != want {
		t.Errorf("last error = %q, want %q", got, want)
	}
	clock.Advance(3 * time.Second)
	d.Wake()
	it = waitItem(t, s, func(it journal.Item) bool { return it.Attempts == 2 })
	if got, want := it.NextAt.Sub(clock.Now()), 7*time.Second; got != want {
		t.Errorf("Retry-After honoured as %v, want %v", got, want)
	}
	clock.Advance(7 * time.Second)
	d.Wake()
	st := waitItems(t, s, func(st journal.Stats) bool { return st.Failed == 1 })
	if got, want := st.LastError, "HTTP 400 Bad Request: phone is invalid"; got != want {
		t.Errorf("failure reason = %q, want %q", got, want)
	}
	calls, _ := s.Search(context.Background(), journal.Query{})
	if got, want := calls[0].Delivery, journal.DeliveryFailed; got != want {
		t.Errorf("call delivery = %v, want %v", got, want)
	}
	// The agent fixes the cause and retries.
	if n, err := s.RetryFailed(context.Background(), "", clock.Now()); err != nil || n != 1 {
		t.Fatalf("RetryFailed = %d, %v", n, err)
	}
	d.Wake()
	waitItems(t, s, func(st journal.Stats) bool { return st.Delivered == 1 && st.Failed == 0 })
}

func waitItem(t *testing.T, s *journal.Store, want func(journal.Item) bool) journal.Item {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		items, err := s.Items(context.Background(), "call-000")
		if err != nil {
			t.Fatal(err)
		}
		if len(items) == 1 && want(items[0]) {
			return items[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("item stuck at %+v", items)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestDeliveryBatchErrorSplitsOutcomes(t *testing.T) {
	s := newOutboxStore(t)
	enqueue(t, s, 3, t0)
	crm := &scriptCRM{batch: 3, answers: []error{&connectors.BatchError{Errs: []error{
		nil, connectors.Permanent(errors.New("unknown agent code")), errors.New("timeout"),
	}}}}
	startDelivery(t, s, crm, clockwork.NewFakeClockAt(t0))
	waitItems(t, s, func(st journal.Stats) bool { return st.Delivered == 1 && st.Failed == 1 && st.Pending == 1 })
	items, err := s.Items(context.Background(), "call-001")
	if err != nil || len(items) != 1 {
		t.Fatalf("items = %v, %v", items, err)
	}
	if got, want := items[0].LastError, "unknown agent code"; got != want {
		t.Errorf("refused item's reason = %q, want %q", got, want)
	}
}

func TestRetryDelayCapped(t *testing.T) {
	for attempts := range 40 {
		if d := retryDelay(attempts, time.Minute); d <= 0 || d > time.Minute {
			t.Errorf("retryDelay(%d) = %v, want in (0, 1m]", attempts, d)
		}
	}
}

type flushingCRM struct {
	*scriptCRM
	every time.Duration
}

func (f flushingCRM) FlushInterval() time.Duration { return f.every }

func TestDeliveryGathersPartialBatches(t *testing.T) {
	s := newOutboxStore(t)
	clock := clockwork.NewFakeClockAt(t0)
	crm := flushingCRM{&scriptCRM{batch: 50}, 10 * time.Minute}
	enqueue(t, s, 1, t0)
	d := startDelivery(t, s, crm, clock)
	waitItems(t, s, func(st journal.Stats) bool { return st.Delivered == 1 }) // the first goes at once

	for i, key := range []string{"late-1", "late-2"} {
		c := journal.Call{Key: key, State: journal.StateEnded, Phone: connectors.Phone{Raw: "0211234567"}, StartedAt: t0, EndedAt: t0, UpdatedAt: t0, Revision: 1}
		if err := s.Save(context.Background(), journal.Change{Call: c, Enqueue: []journal.Item{{Sink: "crm", CallKey: key, Log: callLog(c, 1), NextAt: t0.Add(time.Duration(i) * time.Second)}}}); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(time.Minute)
	d.Wake()
	time.Sleep(50 * time.Millisecond)
	if got := len(crm.requests()); got != 1 {
		t.Fatalf("requests a minute later = %d, want 1: partial batches wait for the interval", got)
	}
	clock.Advance(9 * time.Minute)
	waitItems(t, s, func(st journal.Stats) bool { return st.Delivered == 3 })
	reqs := crm.requests()
	if len(reqs) != 2 || len(reqs[1]) != 2 {
		t.Errorf("requests = %q, want the two late logs gathered in one", reqs)
	}
}
