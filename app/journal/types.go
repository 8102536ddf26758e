package journal

import (
	"fmt"
	"time"

	"github.com/ringside/ringside/connectors"
)

// State is where a call is in its life.
type State uint8

// Call states.
const (
	StateNew      State = iota // not yet seen an event (never stored)
	StateRinging               // inbound, alerting
	StateDialing               // outbound, not yet answered
	StateAnswered              // talking
	StateEnded                 // over; Result says how
)

var stateNames = [...]string{"new", "ringing", "dialing", "answered", "ended"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if n == string(b) {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("unknown call state %q", b)
}

// Delivery is a call's state towards the CRM, derived from its outbox items.
type Delivery uint8

// Delivery states.
const (
	DeliveryNone    Delivery = iota // nothing to send (no CRM, or call not over)
	DeliveryPending                 // at least one log waits to be sent
	DeliverySent                    // every log was delivered
	DeliveryFailed                  // a log was refused; Call.DeliveryError says why
)

var deliveryNames = [...]string{"none", "pending", "sent", "failed"}

func (d Delivery) String() string {
	if int(d) < len(deliveryNames) {
		return deliveryNames[d]
	}
	return fmt.Sprintf("delivery(%d)", d)
}

// MarshalText implements encoding.TextMarshaler.
func (d Delivery) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Delivery) UnmarshalText(b []byte) error {
	for i, n := range deliveryNames {
		if n == string(b) {
			*d = Delivery(i)
			return nil
		}
	}
	return fmt.Errorf("unknown delivery state %q", b)
}

// Call is one call as the journal keeps it.
type Call struct {
	Key          string               `json:"key"` // Ringside's own id, stable for the call's life
	State        State                `json:"state"`
	Direction    connectors.Direction `json:"direction"`
	Phone        connectors.Phone     `json:"phone"`
	Result       connectors.Result    `json:"result"`
	Queue        bool                 `json:"queue,omitempty"`
	Source       string               `json:"source"` // connector instance that first reported it
	Vendor       string               `json:"vendor,omitempty"`
	VendorCallID string               `json:"vendor_call_id,omitempty"`
	Agent        string               `json:"agent,omitempty"`
	StartedAt    time.Time            `json:"started_at"`
	AnsweredAt   time.Time            `json:"answered_at,omitzero"`
	EndedAt      time.Time            `json:"ended_at,omitzero"`
	UpdatedAt    time.Time            `json:"updated_at"`
	Contact      connectors.Contact   `json:"contact,omitzero"`
	Note         string               `json:"note,omitempty"`
	Disposition  string               `json:"disposition,omitempty"`
	Recording    string               `json:"recording,omitempty"`
	// Revision counts the call logs made for this call: 0 before the first,
	// 1 after the end, +1 for each later note or disposition.
	Revision int `json:"revision"`

	// Filled by reads, ignored by Save.
	Delivery      Delivery `json:"delivery"`
	DeliveryError string   `json:"delivery_error,omitempty"`
}

// Missed reports whether the call is an unanswered inbound call.
func (c Call) Missed() bool { return c.Result == connectors.ResultMissed }

// Ref ties a vendor's call id to a call.
type Ref struct {
	Vendor string
	CallID string
}

// ItemState is an outbox item's state.
type ItemState uint8

// Outbox item states.
const (
	ItemPending   ItemState = iota // waiting for (re)delivery
	ItemDelivered                  // the CRM accepted it
	ItemFailed                     // the CRM refused it for good; LastError says why
)

var itemStateNames = [...]string{"pending", "delivered", "failed"}

func (s ItemState) String() string {
	if int(s) < len(itemStateNames) {
		return itemStateNames[s]
	}
	return fmt.Sprintf("item_state(%d)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (s ItemState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *ItemState) UnmarshalText(b []byte) error {
	for i, n := range itemStateNames {
		if n == string(b) {
			*s = ItemState(i)
			return nil
		}
	}
	return fmt.Errorf("unknown outbox item state %q", b)
}

// Item is one call log waiting for, or past, delivery to one sink.
type Item struct {
	ID          int64              `json:"id"`
	Sink        string             `json:"sink"` // connector instance that delivers it
	CallKey     string             `json:"call_key"`
	Log         connectors.CallLog `json:"log"` // Log.Key is the idempotency key, unique per sink
	State       ItemState          `json:"state"`
	Attempts    int                `json:"attempts"`
	NextAt      time.Time          `json:"next_at"`
	LastError   string             `json:"last_error,omitempty"`
	CreatedAt   time.Time          `json:"created_at"`
	DeliveredAt time.Time          `json:"delivered_at,omitzero"`
}

// Change is what one Save writes, all in one transaction.
type Change struct {
	Call    Call              // upserted by Key
	Event   *connectors.Event // appended to the call's events, when not nil
	Refs    []Ref             // vendor ids of this call (duplicates ignored)
	Enqueue []Item            // outbox items (ID, State, Attempts ignored)
}

// Query selects calls for the history. Zero fields do not filter.
type Query struct {
	Number string    // digits anywhere in the number (raw or E.164)
	Name   string    // substring of contact name or company, case-insensitive
	From   time.Time // started at or after
	To     time.Time // started before
	Missed bool      // only missed calls
	// Delivery keeps only calls in that delivery state when HasDelivery is
	// set (DeliveryNone is a state one may ask for, hence the flag).
	Delivery    Delivery
	HasDelivery bool
	Limit       int    // default 100, at most 1000
	Before      string // cursor: the Key of the last call of the previous page
}

// Stats summarises the outbox of one sink, or of all sinks.
type Stats struct {
	Pending   int    `json:"pending"`
	Failed    int    `json:"failed"`
	Delivered int    `json:"delivered"`
	LastError string `json:"last_error,omitempty"` // of the newest failed or retried item
}
