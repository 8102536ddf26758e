package app

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/time/rate"

	"github.com/ringside/ringside/app/journal"
	"github.com/ringside/ringside/connectors"
)

// Outbox is the part of the journal the delivery workers use.
type Outbox interface {
	Due(ctx context.Context, sink string, now time.Time, limit int, skip []int64) ([]journal.Item, error)
	NextDue(ctx context.Context, sink string) (time.Time, bool, error)
	MarkDelivered(ctx context.Context, ids []int64, at time.Time) error
	MarkRetry(ctx context.Context, id int64, next time.Time, reason string) error
	MarkFailed(ctx context.Context, id int64, reason string) error
	Stats(ctx context.Context, sink string) (journal.Stats, error)
}

// DeliveryConfig tunes one sink's delivery.
type DeliveryConfig struct {
	Sink       string        // connector instance name
	Workers    int           // concurrent requests (default 2)
	MaxBackoff time.Duration // longest wait between retries of one log (default 15m)
	Grace      time.Duration // on shutdown, requests in flight get this long to finish (default 5s)
}

// Delivery drains one sink's outbox: workers take due logs, send them
// through the connector within its rate limit, and record the outcome.
// Logs survive restarts because they live in the journal until delivered.
type Delivery struct {
	cfg     DeliveryConfig
	store   Outbox
	crm     connectors.CallLogger
	batch   int
	limiter *rate.Limiter
	clock   clockwork.Clock
	log     *slog.Logger
	bus     *Bus
	kick    chan struct{}
	flush   time.Duration // gather partial batches this long (connectors.Flusher)

	mu        sync.Mutex
	held      map[int64]bool // items a worker is sending
	lastFlush time.Time      // when the last partial batch went
	lastStats time.Time      // when the outbox counts were last published
	sent      bool           // something was sent since the last idle publish
}

// NewDelivery wires a sink. The batch size and rate limit come from the
// connector when it declares them.
func NewDelivery(cfg DeliveryConfig, store Outbox, crm connectors.CallLogger, clock clockwork.Clock, log *slog.Logger, bus *Bus) *Delivery {
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 15 * time.Minute
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 5 * time.Second
	}
	d := &Delivery{
		cfg:     cfg,
		store:   store,
		crm:     crm,
		batch:   1,
		limiter: rate.NewLimiter(rate.Inf, 0),
		clock:   clock,
		log:     log.With("connector", cfg.Sink),
		bus:     bus,
		kick:    make(chan struct{}, 1),
		held:    make(map[int64]bool),
	}
	if b, ok := crm.(connectors.Batcher); ok && b.BatchSize() > 1 {
		d.batch = b.BatchSize()
	}
	if f, ok := crm.(connectors.Flusher); ok {
		d.flush = max(f.FlushInterval(), 0)
	}
	if rl, ok := crm.(connectors.RateLimiter); ok {
		if perSec, burst := rl.RateLimit(); perSec > 0 {
			d.limiter = rate.NewLimiter(rate.Limit(perSec), max(burst, 1))
		}
	}
	return d
}

// Wake tells the workers there may be new work. It never blocks.
func (d *Delivery) Wake() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run delivers until ctx is done. Requests in flight then get Grace to
// finish; anything not confirmed stays in the outbox for the next start.
func (d *Delivery) Run(ctx context.Context) {
	// Requests outlive ctx by Grace so a clean quit does not cut a delivery
	// the CRM has already accepted.
	sendCtx, cancelSend := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSend()
	stop := context.AfterFunc(ctx, func() { d.clock.AfterFunc(d.cfg.Grace, cancelSend) })
	defer stop()
	var wg sync.WaitGroup
	for range d.cfg.Workers {
		wg.Go(func() { d.worker(ctx, sendCtx) }) // exits when ctx is done
	}
	wg.Wait()
}

func (d *Delivery) worker(ctx, sendCtx context.Context) {
	for ctx.Err() == nil {
		items, err := d.claim(ctx)
		if err != nil {
			d.log.Error("read outbox", "error", err)
			d.sleep(ctx, 5*time.Second)
			continue
		}
		if len(items) == 0 {
			d.mu.Lock()
			sent := d.sent
			d.sent = false
			d.mu.Unlock()
			if sent {
				d.publishStats(ctx, true)
			}
			d.idle(ctx)
			continue
		}
		if len(items) == d.batch {
			d.Wake() // there may be more: let another worker look
		}
		if err := d.limiter.Wait(ctx); err != nil {
			d.release(items)
			return
		}
		d.send(sendCtx, items)
		d.release(items)
		d.mu.Lock()
		d.sent = true
		d.mu.Unlock()
	}
}

func (d *Delivery) claim(ctx context.Context) ([]journal.Item, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	skip := make([]int64, 0, len(d.held))
	for id := range d.held {
		skip = append(skip, id)
	}
	now := d.clock.Now()
	items, err := d.store.Due(ctx, d.cfg.Sink, now, d.batch, skip)
	if err != nil {
		return nil, err
	}
	if d.flush > 0 && len(items) > 0 && len(items) < d.batch {
		if !d.lastFlush.IsZero() && now.Sub(d.lastFlush) < d.flush {
			return nil, nil // gather more; idle wakes at the next flush
		}
		d.lastFlush = now
	}
	for _, it := range items {
		d.held[it.ID] = true
	}
	return items, nil
}

func (d *Delivery) release(items []journal.Item) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, it := range items {
		delete(d.held, it.ID)
	}
}

// idle waits for a wake, the next due item (or the next flush of gathered
// ones), or ctx.
func (d *Delivery) idle(ctx context.Context) {
	wait := time.Minute
	if next, ok, err := d.store.NextDue(ctx, d.cfg.Sink); err == nil && ok {
		d.mu.Lock()
		if flushAt := d.lastFlush.Add(d.flush); d.flush > 0 && flushAt.After(next) {
			next = flushAt
		}
		d.mu.Unlock()
		wait = max(min(next.Sub(d.clock.Now()), wait), 10*time.Millisecond)
	}
	d.sleep(ctx, wait)
}

func (d *Delivery) sleep(ctx context.Context, wait time.Duration) {
	t := d.clock.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-d.kick:
	case <-t.Chan():
	}
}

func (d *Delivery) send(ctx context.Context, items []journal.Item) {
	logs := make([]connectors.CallLog, len(items))
	for i, it := range items {
		logs[i] = it.Log
	}
	err := d.crm.LogCalls(ctx, logs)
	mark := context.WithoutCancel(ctx)
	now := d.clock.Now()
	var batchErr *connectors.BatchError
	if errors.As(err, &batchErr) && len(batchErr.Errs) == len(items) {
		var ok []int64
		for i, it := range items {
			if batchErr.Errs[i] == nil {
				ok = append(ok, it.ID)
			} else {
				d.fail(mark, it, batchErr.Errs[i], now)
			}
		}
		d.delivered(mark, ok, now)
	} else if err != nil {
		for _, it := range items {
			d.fail(mark, it, err, now)
		}
	} else {
		ids := make([]int64, len(items))
		for i, it := range items {
			ids[i] = it.ID
		}
		d.delivered(mark, ids, now)
	}
	d.publishStats(mark, false)
}

// statsEvery spaces the outbox counts published while a backlog drains.
const statsEvery = 250 * time.Millisecond

// publishStats tells the tray the outbox counts: at most every statsEvery
// while busy, and always when a worker goes idle (final is true).
func (d *Delivery) publishStats(ctx context.Context, final bool) {
	now := d.clock.Now()
	d.mu.Lock()
	if !final && now.Sub(d.lastStats) < statsEvery {
		d.mu.Unlock()
		return
	}
	d.lastStats = now
	d.mu.Unlock()
	if st, err := d.store.Stats(ctx, d.cfg.Sink); err == nil {
		d.bus.Publish(Update{Kind: UpdateOutbox, At: now, Outbox: st})
	}
}

func (d *Delivery) delivered(ctx context.Context, ids []int64, now time.Time) {
	if len(ids) == 0 {
		return
	}
	if err := d.store.MarkDelivered(ctx, ids, now); err != nil {
		// The CRM has them; the journal will resend them after a restart and
		// the idempotency key keeps the CRM from recording them twice.
		d.log.Error("record delivery", "error", err, "count", len(ids))
		return
	}
	d.log.Debug("delivered", "count", len(ids))
}

func (d *Delivery) fail(ctx context.Context, it journal.Item, err error, now time.Time) {
	if connectors.IsPermanent(err) {
		d.log.Error("crm refused call log", "call", it.CallKey, "attempt", it.Attempts+1, "error", err)
		if err := d.store.MarkFailed(ctx, it.ID, err.Error()); err != nil {
			d.log.Error("record failure", "call", it.CallKey, "error", err)
		}
		return
	}
	delay := retryDelay(it.Attempts, d.cfg.MaxBackoff)
	if after, ok := connectors.RetryDelay(err); ok {
		delay = max(after, time.Second)
	}
	d.log.Warn("call log not delivered; will retry", "call", it.CallKey, "attempt", it.Attempts+1, "delay", delay.Round(time.Millisecond), "error", err)
	if err := d.store.MarkRetry(ctx, it.ID, now.Add(delay), err.Error()); err != nil {
		d.log.Error("record retry", "call", it.CallKey, "error", err)
	}
}

// retryDelay is 2s·2^attempts, ±20 %, capped.
func retryDelay(attempts int, ceiling time.Duration) time.Duration {
	base := 2 * time.Second
	d := time.Duration(float64(base) * math.Pow(2, float64(min(attempts, 30))))
	return min(jitter(min(d, ceiling), 0.2), ceiling)
}
