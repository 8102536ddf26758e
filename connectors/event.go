// Package connectors holds the call model every vendor speaks and the small
// interfaces a vendor implements.
//
// Data flows one way: a connector turns its vendor's protocol into Event
// values, the app core (package app) folds them into calls, and the UI shows
// them. A connector never imports the app core; the core never speaks a
// vendor protocol. A vendor lives in connectors/<vendor> and is made known to
// the binary by adding its Type to the registry in cmd/ringside.
package connectors

import (
	"fmt"
	"log/slog"
	"time"
)

// EventKind says what happened.
type EventKind uint8

// The kinds of event a source may emit.
const (
	KindUnknown     EventKind = iota
	KindRinging               // an inbound call is alerting the agent
	KindDialing               // the agent started an outbound call
	KindAnswered              // the call was connected
	KindEnded                 // the call ended (Result says how)
	KindMissed                // an inbound call ended without being answered
	KindAgentStatus           // the agent's status changed (Status says to what)
)

var kindNames = [...]string{"unknown", "ringing", "dialing", "answered", "ended", "missed", "agent_status"}

func (k EventKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// MarshalText implements encoding.TextMarshaler.
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *EventKind) UnmarshalText(b []byte) error {
	return parseEnum(kindNames[:], "event kind", b, k)
}

// Direction of a call, seen from the agent.
type Direction uint8

// Directions.
const (
	DirectionUnknown Direction = iota
	DirectionInbound
	DirectionOutbound
)

var directionNames = [...]string{"unknown", "in", "out"}

func (d Direction) String() string {
	if int(d) < len(directionNames) {
		return directionNames[d]
	}
	return fmt.Sprintf("direction(%d)", d)
}

// MarshalText implements encoding.TextMarshaler.
func (d Direction) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Direction) UnmarshalText(b []byte) error {
	return parseEnum(directionNames[:], "direction", b, d)
}

// AgentStatus is the agent's availability. The spellings are retailCRM's,
// which the tray and every status-setting connector share.
type AgentStatus uint8

// Agent statuses.
const (
	StatusUnknown AgentStatus = iota
	StatusFree
	StatusBusy
	StatusDinner
	StatusBreak
)

var statusNames = [...]string{"unknown", "free", "busy", "dinner", "break"}

// Statuses lists the statuses an agent can choose, in menu order.
func Statuses() []AgentStatus {
	return []AgentStatus{StatusFree, StatusBusy, StatusDinner, StatusBreak}
}

func (s AgentStatus) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("status(%d)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (s AgentStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *AgentStatus) UnmarshalText(b []byte) error {
	return parseEnum(statusNames[:], "agent status", b, s)
}

// Result is how a call ended.
type Result uint8

// Call results.
const (
	ResultUnknown   Result = iota
	ResultAnswered         // talked
	ResultMissed           // inbound, never answered
	ResultNoAnswer         // outbound, the other side did not answer
	ResultBusy             // the other side was busy
	ResultFailed           // the network or PBX failed the call
	ResultCancelled        // the caller gave up or the agent cancelled
)

var resultNames = [...]string{"unknown", "answered", "missed", "no_answer", "busy", "failed", "cancelled"}

func (r Result) String() string {
	if int(r) < len(resultNames) {
		return resultNames[r]
	}
	return fmt.Sprintf("result(%d)", r)
}

// MarshalText implements encoding.TextMarshaler.
func (r Result) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Result) UnmarshalText(b []byte) error {
	return parseEnum(resultNames[:], "call result", b, r)
}

func parseEnum[T ~uint8](names []string, what string, b []byte, into *T) error {
	for i, n := range names {
		if n == string(b) {
			*into = T(i)
			return nil
		}
	}
	return fmt.Errorf("unknown %s %q", what, b)
}

// Event is the one normalized value every source emits.
//
// Events with the same Vendor and CallID belong to the same call, whichever
// source reported them (the Accolades socket and the Accolades webhook, say).
// Events without a CallID are matched to a live call by number.
type Event struct {
	Kind      EventKind         `json:"kind"`
	Direction Direction         `json:"direction,omitempty"`
	Source    string            `json:"source,omitempty"` // connector instance; set by the runner
	Vendor    string            `json:"vendor,omitempty"` // namespace of CallID, e.g. "accolades"
	CallID    string            `json:"call_id,omitempty"`
	Phone     Phone             `json:"phone,omitzero"`
	Agent     string            `json:"agent,omitempty"` // the vendor's agent code or user id
	Queue     bool              `json:"queue,omitempty"` // routed by a call-center queue or campaign
	Status    AgentStatus       `json:"status,omitempty"`
	Result    Result            `json:"result,omitempty"` // on KindEnded, when the vendor says
	Recording string            `json:"recording,omitempty"`
	At        time.Time         `json:"at,omitzero"`       // when it happened, by the vendor's clock
	Received  time.Time         `json:"received,omitzero"` // when Ringside got it
	Extra     map[string]string `json:"extra,omitempty"`
}

// LogValue keeps the phone number masked in logs.
func (e Event) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("kind", e.Kind.String()),
		slog.String("source", e.Source),
	}
	if e.Direction != DirectionUnknown {
		attrs = append(attrs, slog.String("direction", e.Direction.String()))
	}
	if e.CallID != "" {
		attrs = append(attrs, slog.String("call_id", e.CallID))
	}
	if e.Phone.Raw != "" {
		attrs = append(attrs, slog.String("phone", e.Phone.Masked()))
	}
	if e.Kind == KindAgentStatus {
		attrs = append(attrs, slog.String("status", e.Status.String()))
	}
	return slog.GroupValue(attrs...)
}

// Contact is what a CRM knows about a number.
type Contact struct {
	ID      string            `json:"id,omitempty"`
	Name    string            `json:"name,omitempty"`
	Company string            `json:"company,omitempty"`
	Manager string            `json:"manager,omitempty"` // the responsible manager
	URL     string            `json:"url,omitempty"`     // open the contact in the CRM
	NewURL  string            `json:"new_url,omitempty"` // create a contact for this number
	Source  string            `json:"source,omitempty"`  // which connector answered
	Extra   map[string]string `json:"extra,omitempty"`
}

// Known reports whether the CRM found someone.
func (c Contact) Known() bool { return c.ID != "" || c.Name != "" || c.Company != "" }

// CallLog is a finished call as delivered to a CRM.
type CallLog struct {
	// Key is the idempotency key: the same call delivered twice carries the
	// same key, so a CRM that honours it never makes a second record. A later
	// revision (a note added after delivery) has a new key.
	Key          string            `json:"key"`
	CallKey      string            `json:"call_key"`
	Revision     int               `json:"revision"`
	Direction    Direction         `json:"direction"`
	Phone        Phone             `json:"phone"`
	Agent        string            `json:"agent,omitempty"`
	Source       string            `json:"source,omitempty"`
	Vendor       string            `json:"vendor,omitempty"`
	VendorCallID string            `json:"vendor_call_id,omitempty"`
	Queue        bool              `json:"queue,omitempty"`
	Result       Result            `json:"result"`
	StartedAt    time.Time         `json:"started_at"`
	AnsweredAt   time.Time         `json:"answered_at,omitzero"`
	EndedAt      time.Time         `json:"ended_at,omitzero"`
	Talk         time.Duration     `json:"talk_ns"`
	Waiting      time.Duration     `json:"waiting_ns"`
	Note         string            `json:"note,omitempty"`
	Disposition  string            `json:"disposition,omitempty"`
	Recording    string            `json:"recording,omitempty"`
	ContactID    string            `json:"contact_id,omitempty"`
	Extra        map[string]string `json:"extra,omitempty"`
}

// LogValue keeps the phone number masked in logs.
func (l CallLog) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("key", l.Key),
		slog.String("direction", l.Direction.String()),
		slog.String("phone", l.Phone.Masked()),
		slog.String("result", l.Result.String()),
	)
}
