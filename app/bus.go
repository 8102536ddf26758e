package app

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringside/ringside/app/journal"
	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/connectors/webhook"
)

// UpdateKind says what an Update is about.
type UpdateKind uint8

// Update kinds.
const (
	UpdateCall       UpdateKind = iota + 1 // a call was raised, filled, changed or ended
	UpdateStatus                           // the agent's status changed
	UpdateConnection                       // a source's connection state changed
	UpdateOutbox                           // the outbox counts changed
	UpdateListener                         // the webhook listener's state changed
)

// Phase is where a call's popup is.
type Phase uint8

// Popup phases.
const (
	PhaseRaised  Phase = iota + 1 // first sight of the call: show the popup now
	PhaseFilled                   // the CRM lookup returned (Call.Contact may be unknown)
	PhaseChanged                  // answered, or details added
	PhaseEnded                    // the call is over
)

var phaseNames = [...]string{"", "raised", "filled", "changed", "ended"}

func (p Phase) String() string {
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return "phase?"
}

// Update is what the UI and the headless notifier consume.
type Update struct {
	Kind     UpdateKind
	At       time.Time
	Call     journal.Call // UpdateCall: a snapshot
	Phase    Phase        // UpdateCall
	Status   connectors.AgentStatus
	Conn     ConnState     // UpdateConnection
	Outbox   journal.Stats // UpdateOutbox
	Listener webhook.State // UpdateListener
}

// Bus fans updates out to subscribers. A subscriber that does not keep up
// loses updates (counted in Dropped) rather than stalling calls.
type Bus struct {
	mu      sync.Mutex
	subs    map[int]chan Update
	next    int
	dropped atomic.Int64
}

// NewBus makes an empty bus.
func NewBus() *Bus { return &Bus{subs: make(map[int]chan Update)} }

// Subscribe returns a channel of updates and a function that ends the
// subscription and closes the channel.
func (b *Bus) Subscribe(buffer int) (<-chan Update, func()) {
	ch := make(chan Update, max(buffer, 1))
	b.mu.Lock()
	id := b.next
	b.next++
	b.subs[id] = ch
	b.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, id)
			b.mu.Unlock()
			close(ch)
		})
	}
}

// Publish never blocks.
func (b *Bus) Publish(u Update) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ch := range b.subs {
		select {
		case ch <- u:
		default:
			b.dropped.Add(1)
		}
	}
}

// Dropped counts updates lost to slow subscribers.
func (b *Bus) Dropped() int64 { return b.dropped.Load() }
