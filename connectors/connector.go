package connectors

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"
)

// Source produces call events over a connection it owns.
//
// The runner in the app core calls Run in a loop, one call at a time, and
// owns the reconnect policy: Run connects, calls link.Up once the vendor has
// accepted it (the runner then resets its backoff and shows "connected"),
// emits events through link.Emit, and returns when the connection ends.
// Run returns nil only when ctx is done. Any other error means "reconnect
// with backoff"; wrap it with RetryAfter to ask for a slower retry, or with
// Permanent to stop retrying until settings change or the agent asks.
// Run must not leave goroutines behind when it returns.
type Source interface {
	Run(ctx context.Context, link Link) error
}

// Link is the runner's side of a Source's connection. Its methods are safe to
// call from any goroutine and do not block on the UI.
type Link interface {
	// Up marks the connection accepted; detail is shown in diagnostics
	// (for example "API 1.1.0").
	Up(detail string)
	// Emit hands an event to the engine. Source and Received are filled in.
	Emit(Event)
	// Info records diagnostics such as server version or configuration,
	// shown in doctor and the tray's diagnostics.
	Info(key, value string)
}

// Lookuper finds the contact behind a number. It may block on the network;
// the engine bounds it with a timeout. A number the CRM does not know is not
// an error: return a Contact that is not Known (it may still carry NewURL).
type Lookuper interface {
	Lookup(ctx context.Context, p Phone) (Contact, error)
}

// CallLogger delivers finished calls to a CRM. The outbox calls it from its
// delivery workers with at most BatchSize logs (1 unless the connector
// implements Batcher), retrying on error:
//   - nil: every log was delivered (a duplicate the CRM recognised counts).
//   - a *BatchError: per-log outcomes.
//   - an error wrapped by Permanent: the CRM refused the logs; they are kept
//     as failed with the reason, visible to the agent, and not retried.
//   - any other error: retried with backoff (RetryAfter sets the delay).
//
// Each log carries an idempotency Key; a connector passes it on where the
// CRM supports it so a retry never creates a second record.
type CallLogger interface {
	LogCalls(ctx context.Context, logs []CallLog) error
}

// Batcher is implemented by CallLoggers that accept more than one log per
// request.
type Batcher interface {
	BatchSize() int
}

// Flusher is implemented by CallLoggers that want logs gathered: the outbox
// sends a batch smaller than BatchSize at most once per FlushInterval (a
// full batch goes at once, and so does the first one after a start). Zero
// means send as soon as a log is due.
type Flusher interface {
	FlushInterval() time.Duration
}

// CallNotifier is implemented by CRMs that show a live call card: the app
// calls NotifyCall when a call is raised and when it ends, with the event
// as the engine folded it (kind ringing, dialing, ended or missed; the
// final Result on the end). callKey is the call's id, the same as its log's
// idempotency key. It is best effort: it must return within a few seconds,
// an error is logged and not retried.
type CallNotifier interface {
	NotifyCall(ctx context.Context, callKey string, ev Event) error
}

// Registrar is implemented by connectors that register an integration with
// their vendor (retailCRM's telephony module: agent codes, numbers, callback
// addresses). The agent triggers it, from `ringside register` or the
// settings window, never at every start. notes say, in words, what the
// vendor did not recognise or what to fix, whether or not err is nil. It
// blocks on the network.
type Registrar interface {
	RegisterIntegration(ctx context.Context) (notes []string, err error)
}

// RateLimiter is implemented by connectors whose CRM limits request rate;
// the outbox spaces its requests to stay under it.
type RateLimiter interface {
	// RateLimit is requests per second and the burst allowed; a rate of 0
	// means no limit.
	RateLimit() (perSecond float64, burst int)
}

// Dialer places an outbound call from the agent's phone.
type Dialer interface {
	Dial(ctx context.Context, p Phone) error
}

// StatusSetter pushes the agent's status to a vendor.
type StatusSetter interface {
	SetStatus(ctx context.Context, s AgentStatus) error
}

// Tester checks that a connector can reach its vendor with the configured
// credentials. The error is shown to the agent as is: make it say what to fix.
type Tester interface {
	Test(ctx context.Context) error
}

// Closer is implemented by connectors holding resources beyond a Run call.
type Closer interface {
	Close() error
}

// Section is one connector's part of the settings file.
type Section interface {
	// Decode fills v (a pointer to a struct with toml tags) with the
	// section's vendor keys (type and enabled belong to the app and are not
	// passed on) and fails, naming the file and key, on unknown keys or
	// wrong types.
	Decode(v any) error
	// Where names the section for messages, e.g. `config.toml [connectors.office]`.
	Where() string
}

// Secrets gives a connector the secrets of its instance. Name is short and
// fixed by the connector ("password", "api_key"); the store maps it to the
// OS keyring entry of this instance.
type Secrets interface {
	Secret(name string) (string, error)
}

// Deps is what the app hands every connector it makes.
type Deps struct {
	Name    string       // instance name from the settings file
	Logger  *slog.Logger // already carries connector=<Name>
	Secrets Secrets
	Phones  *PhoneParser
	Clock   clockwork.Clock
	DataDir string // where a connector may keep files of its own
	// ConfigDir is the directory of the settings file; relative paths in a
	// section are relative to it.
	ConfigDir string
}

// HTTPClient is the client a connector uses for its vendor: one per
// connector, proxy from the environment, bounded by timeout.
func (d Deps) HTTPClient(timeout time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 8
	return &http.Client{Transport: t, Timeout: timeout}
}

// Type describes one vendor to the registry.
type Type struct {
	Name   string // the `type` value in the settings file
	Doc    string // one line for humans
	Sample []byte // a commented section body (no [connectors.x] header, no type key), embedded from sample.toml
	// New validates the section and builds the connector. It makes no
	// network call. The value returned implements one or more of Source,
	// Lookuper, CallLogger, Dialer, StatusSetter, Tester.
	New func(sec Section, deps Deps) (any, error)
}

// Registry is the set of vendor types a binary knows. It is built once in
// main and not changed afterwards.
type Registry struct {
	types map[string]Type
}

// NewRegistry panics on a duplicate or unnamed type: that is a wiring bug.
func NewRegistry(types ...Type) *Registry {
	r := &Registry{types: make(map[string]Type, len(types))}
	for _, t := range types {
		if t.Name == "" || t.New == nil {
			panic("connectors: type without name or constructor")
		}
		if _, dup := r.types[t.Name]; dup {
			panic("connectors: duplicate type " + t.Name)
		}
		r.types[t.Name] = t
	}
	return r
}

// Lookup returns the type called name.
func (r *Registry) Lookup(name string) (Type, error) {
	t, ok := r.types[name]
	if !ok {
		return Type{}, fmt.Errorf("unknown connector type %q (known: %s)", name, strings.Join(r.Names(), ", "))
	}
	return t, nil
}

// Names lists the known types, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.types))
	for n := range r.types {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
