package app

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ringside/ringside/connectors"
)

// scriptSource plays one step per Run call.
type scriptSource struct {
	mu    sync.Mutex
	steps []func(ctx context.Context, l connectors.Link) error
	runs  int
}

func (s *scriptSource) Run(ctx context.Context, l connectors.Link) error {
	s.mu.Lock()
	i := s.runs
	s.runs++
	s.mu.Unlock()
	if i < len(s.steps) {
		return s.steps[i](ctx, l)
	}
	<-ctx.Done()
	return nil
}

func (s *scriptSource) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs
}

func fail(err error) func(context.Context, connectors.Link) error {
	return func(context.Context, connectors.Link) error { return err }
}

// connState waits for the source's next connection update with status want.
func connState(t *testing.T, updates <-chan Update, want LinkStatus) ConnState {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case u := <-updates:
			if u.Kind == UpdateConnection && u.Conn.Status == want {
				return u.Conn
			}
		case <-timeout:
			t.Fatalf("no %v state", want)
		}
	}
}

func startRunner(t *testing.T, src connectors.Source, emit func(<-chan struct{}, connectors.Event)) (*Runner, *clockwork.FakeClock, <-chan Update) {
	t.Helper()
	clock := clockwork.NewFakeClockAt(t0)
	bus := NewBus()
	updates, unsub := bus.Subscribe(1000)
	if emit == nil {
		emit = func(<-chan struct{}, connectors.Event) {}
	}
	r := NewRunner(clock, slog.New(slog.DiscardHandler), bus, BackoffPolicy{Initial: time.Second, Max: 8 * time.Second, Jitter: 0.3}, emit)
	r.Add("office", src)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		unsub()
	})
	return r, clock, updates
}

func TestRunnerBackoffGrowsCapsAndResets(t *testing.T) {
	drop := errors.New("connection reset by peer")
	up := func(ctx context.Context, l connectors.Link) error { l.Up("API 1.1.0"); return drop }
	src := &scriptSource{steps: []func(context.Context, connectors.Link) error{
		fail(drop), fail(drop), fail(drop), fail(drop), fail(drop), fail(drop), up, fail(drop),
	}}
	_, clock, updates := startRunner(t, src, nil)
	var delays []time.Duration
	for range 6 {
		st := connState(t, updates, LinkReconnecting)
		delays = append(delays, st.RetryAt.Sub(clock.Now()))
		if st.Reason != drop.Error() {
			t.Errorf("reason = %q, want %q", st.Reason, drop.Error())
		}
		clock.BlockUntilContext(context.Background(), 1)
		clock.Advance(st.RetryAt.Sub(clock.Now()))
	}
	wantMid := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second}
	for i, d := range delays {
		lo, hi := time.Duration(float64(wantMid[i])*0.7), time.Duration(float64(wantMid[i])*1.3)
		if i >= 3 {
			hi = 8 * time.Second // the cap holds with jitter
		}
		if d < lo || d > hi {
			t.Errorf("delay %d = %v, want in [%v, %v]", i, d, lo, hi)
		}
	}
	connState(t, updates, LinkConnected)
	st := connState(t, updates, LinkReconnecting)
	if d := st.RetryAt.Sub(clock.Now()); d > 1300*time.Millisecond {
		t.Errorf("delay after a successful connection = %v, want the initial ~1s", d)
	}
}

func TestRunnerRetryAfterAndPermanent(t *testing.T) {
	notLoggedIn := connectors.RetryAfter(errors.New("ID_NOT_FOUND: the phone is not logged in"), 30*time.Second)
	mismatch := connectors.Permanent(errors.New("IP_MISSMATCH: run Ringside on the agent's own computer"))
	src := &scriptSource{steps: []func(context.Context, connectors.Link) error{fail(notLoggedIn), fail(mismatch)}}
	r, clock, updates := startRunner(t, src, nil)

	st := connState(t, updates, LinkReconnecting)
	if d := st.RetryAt.Sub(clock.Now()); d < 27*time.Second || d > 33*time.Second {
		t.Errorf("slow retry delay = %v, want ~30s", d)
	}
	clock.BlockUntilContext(context.Background(), 1)
	clock.Advance(33 * time.Second)
	st = connState(t, updates, LinkFailed)
	if got, want := st.Reason, "IP_MISSMATCH: run Ringside on the agent's own computer"; got != want {
		t.Errorf("reason = %q, want %q", got, want)
	}
	clock.Advance(24 * time.Hour) // a failed source waits for the agent, not the clock
	time.Sleep(20 * time.Millisecond)
	if got, want := src.count(), 2; got != want {
		t.Fatalf("runs while failed = %d, want %d", got, want)
	}
	r.Restart("office")
	connState(t, updates, LinkConnecting)
	deadline := time.Now().Add(5 * time.Second)
	for src.count() != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("runs after restart = %d, want 3", src.count())
		}
		time.Sleep(time.Millisecond)
	}
}

func TestRunnerStampsEvents(t *testing.T) {
	got := make(chan connectors.Event, 1)
	src := &scriptSource{steps: []func(context.Context, connectors.Link) error{
		func(ctx context.Context, l connectors.Link) error {
			l.Up("")
			l.Info("version", "1.1.0")
			l.Emit(connectors.Event{Kind: connectors.KindRinging, Source: "spoofed"})
			<-ctx.Done()
			return nil
		},
	}}
	r, _, updates := startRunner(t, src, func(_ <-chan struct{}, ev connectors.Event) { got <- ev })
	ev := <-got
	if ev.Source != "office" || ev.Received.IsZero() {
		t.Errorf("event source=%q received=%v; want office and a receipt time", ev.Source, ev.Received)
	}
	connState(t, updates, LinkConnected)
	deadline := time.Now().Add(5 * time.Second)
	for r.States()[0].Info["version"] != "1.1.0" {
		if time.Now().After(deadline) {
			t.Fatalf("info not recorded: %+v", r.States())
		}
		time.Sleep(time.Millisecond)
	}
}
