package app

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jonboulle/clockwork"

	"github.com/ringside/ringside/connectors"
)

// LinkStatus is a source's connection state, as the tray shows it.
type LinkStatus uint8

// Link states.
const (
	LinkConnecting   LinkStatus = iota // dialling the vendor
	LinkConnected                      // the vendor accepted us
	LinkReconnecting                   // lost; waiting RetryAt to try again
	LinkFailed                         // stopped until settings change or the agent asks
	LinkStopped                        // the app is shutting down
)

var linkNames = [...]string{"connecting", "connected", "reconnecting", "failed", "stopped"}

func (s LinkStatus) String() string {
	if int(s) < len(linkNames) {
		return linkNames[s]
	}
	return "link?"
}

// MarshalText implements encoding.TextMarshaler.
func (s LinkStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// ConnState is one source's connection as the tray and doctor show it.
type ConnState struct {
	Name     string            `json:"name"`
	Status   LinkStatus        `json:"status"`
	Reason   string            `json:"reason,omitempty"` // why it is not connected, in words
	Detail   string            `json:"detail,omitempty"` // from Link.Up
	RetryAt  time.Time         `json:"retry_at,omitzero"`
	Since    time.Time         `json:"since"`
	Attempts int               `json:"attempts"` // failures since the last success
	Info     map[string]string `json:"info,omitempty"`
}

// BackoffPolicy shapes reconnect delays: exponential from Initial, capped at
// Max (jitter included), with ±Jitter randomisation.
type BackoffPolicy struct {
	Initial time.Duration
	Max     time.Duration
	Jitter  float64
}

// DefaultBackoff is 1s, 2s, 4s … capped at one minute, ±30 %.
func DefaultBackoff() BackoffPolicy {
	return BackoffPolicy{Initial: time.Second, Max: time.Minute, Jitter: 0.3}
}

func (p BackoffPolicy) new() *backoff.ExponentialBackOff {
	return &backoff.ExponentialBackOff{
		InitialInterval:     p.Initial,
		RandomizationFactor: p.Jitter,
		Multiplier:          2,
		MaxInterval:         p.Max,
	}
}

// Runner owns every source's lifetime: it runs each in a loop, reconnecting
// with backoff, and reports connection state on the bus.
type Runner struct {
	clock   clockwork.Clock
	log     *slog.Logger
	bus     *Bus
	emit    func(done <-chan struct{}, ev connectors.Event)
	policy  BackoffPolicy
	sources []runSource

	mu     sync.Mutex
	states map[string]ConnState
	kicks  map[string]chan struct{}
}

type runSource struct {
	name string
	src  connectors.Source
}

// NewRunner makes a runner that hands events to emit, which may block to
// apply back-pressure but must return once done is closed.
func NewRunner(clock clockwork.Clock, log *slog.Logger, bus *Bus, policy BackoffPolicy, emit func(done <-chan struct{}, ev connectors.Event)) *Runner {
	return &Runner{
		clock:  clock,
		log:    log,
		bus:    bus,
		emit:   emit,
		policy: policy,
		states: make(map[string]ConnState),
		kicks:  make(map[string]chan struct{}),
	}
}

// Add registers a source before Run.
func (r *Runner) Add(name string, src connectors.Source) {
	r.sources = append(r.sources, runSource{name: name, src: src})
	r.mu.Lock()
	r.kicks[name] = make(chan struct{}, 1)
	r.states[name] = ConnState{Name: name, Status: LinkConnecting, Since: r.clock.Now()}
	r.mu.Unlock()
}

// Run runs every source until ctx is done, then returns once all of them have.
func (r *Runner) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, s := range r.sources {
		wg.Go(func() { r.loop(ctx, s) }) // exits when ctx is done
	}
	wg.Wait()
}

// Restart asks a failed or waiting source to try again now (the agent
// clicked "reconnect", or its settings changed).
func (r *Runner) Restart(name string) bool {
	r.mu.Lock()
	ch, ok := r.kicks[name]
	r.mu.Unlock()
	if ok {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	return ok
}

// States returns every source's connection state, sorted by name.
func (r *Runner) States() []ConnState {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]ConnState, 0, len(r.states))
	for _, n := range slices.Sorted(maps.Keys(r.states)) {
		s := r.states[n]
		s.Info = maps.Clone(s.Info)
		out = append(out, s)
	}
	return out
}

func (r *Runner) update(name string, f func(*ConnState)) {
	r.mu.Lock()
	s := r.states[name]
	before := s.Status
	f(&s)
	if s.Status != before {
		s.Since = r.clock.Now()
	}
	r.states[name] = s
	snap := s
	snap.Info = maps.Clone(s.Info)
	r.mu.Unlock()
	r.bus.Publish(Update{Kind: UpdateConnection, At: r.clock.Now(), Conn: snap})
}

func (r *Runner) loop(ctx context.Context, s runSource) {
	log := r.log.With("connector", s.name)
	b := r.policy.new()
	r.mu.Lock()
	kick := r.kicks[s.name]
	r.mu.Unlock()
	for {
		link := &runLink{r: r, done: ctx.Done(), name: s.name, log: log}
		r.update(s.name, func(st *ConnState) { st.Status = LinkConnecting; st.RetryAt = time.Time{} })
		err := s.src.Run(ctx, link)
		if ctx.Err() != nil {
			r.update(s.name, func(st *ConnState) { st.Status = LinkStopped; st.Reason = "" })
			return
		}
		if err == nil {
			err = errors.New("connection ended")
		}
		if link.wasUp() {
			b.Reset()
		}
		var delay time.Duration
		status := LinkReconnecting
		switch d, ok := connectors.RetryDelay(err); {
		case connectors.IsPermanent(err):
			status = LinkFailed
		case ok:
			delay = jitter(d, 0.1)
		default:
			delay = min(b.NextBackOff(), r.policy.Max)
		}
		retryAt := time.Time{}
		if status == LinkReconnecting {
			retryAt = r.clock.Now().Add(delay)
		}
		r.update(s.name, func(st *ConnState) {
			st.Status = status
			st.Reason = err.Error()
			st.RetryAt = retryAt
			st.Attempts++
		})
		if status == LinkFailed {
			log.Error("connection failed; waiting for new settings or a manual reconnect", "error", err)
		} else {
			log.Warn("connection lost; reconnecting", "error", err, "delay", delay.Round(time.Millisecond))
		}
		if !r.wait(ctx, kick, status, delay) {
			r.update(s.name, func(st *ConnState) { st.Status = LinkStopped })
			return
		}
	}
}

// wait sleeps delay, or until kicked; a failed source waits only for a kick.
// It reports false when ctx is done.
func (r *Runner) wait(ctx context.Context, kick <-chan struct{}, status LinkStatus, delay time.Duration) bool {
	var timer <-chan time.Time
	if status != LinkFailed {
		t := r.clock.NewTimer(delay)
		defer t.Stop()
		timer = t.Chan()
	}
	select {
	case <-ctx.Done():
		return false
	case <-kick:
		return true
	case <-timer:
		return true
	}
}

func jitter(d time.Duration, f float64) time.Duration {
	return time.Duration(float64(d) * (1 + f*(2*rand.Float64()-1)))
}

// runLink is the Link a source sees for one Run call.
type runLink struct {
	r    *Runner
	done <-chan struct{} // closed when the app stops: Emit gives up
	name string
	log  *slog.Logger
	mu   sync.Mutex
	up   bool
}

func (l *runLink) wasUp() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.up
}

func (l *runLink) Up(detail string) {
	l.mu.Lock()
	l.up = true
	l.mu.Unlock()
	l.r.update(l.name, func(st *ConnState) {
		st.Status = LinkConnected
		st.Detail = detail
		st.Reason = ""
		st.RetryAt = time.Time{}
		st.Attempts = 0
	})
	l.log.Info("connected", "detail", detail)
}

func (l *runLink) Emit(ev connectors.Event) {
	ev.Source = l.name
	ev.Received = l.r.clock.Now()
	l.r.emit(l.done, ev)
}

func (l *runLink) Info(key, value string) {
	l.r.update(l.name, func(st *ConnState) {
		if st.Info == nil {
			st.Info = make(map[string]string)
		}
		st.Info[key] = value
	})
}
