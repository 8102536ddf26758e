// Package webhook is the one HTTP listener that vendors' callbacks and the
// agent's browser reach Ringside on.
//
// Connectors that take callbacks implement connectors.Router; the app mounts
// their routes here under the instance's name (/office/notify) and hands
// what they yield to the engine and the dialer through a Sink. The listener
// also serves two routes of its own: GET/POST /dial?number=… for
// click-to-dial from a CRM page in the agent's browser, and GET /health,
// which says that this is Ringside (doctor uses it).
//
// It is hardened like a server on the agent's desktop must be: it binds
// 127.0.0.1 unless configured otherwise; the Host header must be one of the
// listener's own names (DNS rebinding); cross-origin requests are allowed
// only from configured CRM origins; bodies, headers and the time to send
// them are bounded; each client IP has a rate limit; every route
// authenticates (the listener's token, or a vendor's own secret, compared in
// constant time); every refusal is a 4xx with a JSON {"error":"<reason>"};
// and no log line holds a secret, a query string or a full phone number.
//
// Every request goes through the same steps, and the first that fails
// answers:
//
//	429 rate limit per client IP (Retry-After)
//	403 Host header not one of the listener's names
//	403 Origin header present and not an allowed origin
//	    OPTIONS: CORS preflight answered here (204)
//	404 no such route
//	405 method not accepted by the route (Allow)
//	400 query string not well-formed
//	401 token or vendor secret missing or wrong
//	413 body larger than max_body
//	415 a body the route does not accept (content type)
//	408 body sent too slowly
//	400 body not a well-formed form or JSON, or refused by the route's Parse
//	500 the route's Parse panicked (a bug; logged)
//	202 a dial of the same number from the same client within the dedupe window: not dialled again
//	502 the dialer or a status setter refused
//	504 the sink took longer than HandlerTimeout
//	503 Ringside is stopping
//	200 done
package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/time/rate"

	"github.com/ringside/ringside/connectors"
)

// Defaults.
const (
	DefaultListen  = "127.0.0.1:8790"
	DefaultMaxBody = 64 << 10
	DefaultRate    = 20 // requests per second per client
	DefaultBurst   = 40
	DefaultDedupe  = 5 * time.Second

	// MinTokenLength is the shortest token New accepts.
	MinTokenLength = 16
)

// Config shapes a Listener. Start from DefaultConfig: New takes every value
// as it is and refuses out-of-range ones.
type Config struct {
	// Listen is the address to bind, host:port. The host is an IP address or
	// "localhost"; port 0 picks a free port (tests).
	Listen string
	// Hosts are further names the Host header may carry besides the
	// listener's own (127.0.0.1, localhost and [::1] with its port): "name"
	// allows that name with any port, "name:port" only with that port.
	Hosts []string
	// Origins are the web origins (scheme://host[:port], as a browser sends
	// them) allowed to call from a page: CORS is answered for them only, and
	// a request with any other Origin is refused.
	Origins []string
	// PublicURL is where vendors reach the listener through a reverse proxy
	// or tunnel ("https://agent1.example.com"); its host is allowed as a
	// Host header. "" when there is none.
	PublicURL string
	// Token authenticates AuthToken routes and /dial. At least
	// MinTokenLength characters.
	Token string
	// MaxBody is the largest request body read, in bytes.
	MaxBody int64
	// Rate and Burst limit requests per client IP (token bucket).
	Rate  float64
	Burst int
	// Dedupe is how long a dial of the same number from the same client is
	// not repeated; 0 turns suppression off.
	Dedupe time.Duration

	ReadHeaderTimeout time.Duration // to read the request line and headers
	ReadTimeout       time.Duration // to read the whole request, body included
	WriteTimeout      time.Duration // from the end of the headers to the end of the answer
	IdleTimeout       time.Duration // a kept-alive connection waiting for its next request
	HandlerTimeout    time.Duration // for the Sink (a dial may take the vendor's time); less than WriteTimeout
	MaxHeaderBytes    int
	// RetryBind is how long to wait before trying again to bind an address
	// that could not be bound (a port taken by another program).
	RetryBind time.Duration
}

// DefaultConfig is the listener's configuration without settings: loopback
// on DefaultListen, 64 KiB bodies, 20 requests/s per client (burst 40),
// dedupe 5 s, headers in 5 s, the request in 10 s, the answer in 25 s. The
// token is left for the caller.
func DefaultConfig() Config {
	return Config{
		Listen:            DefaultListen,
		MaxBody:           DefaultMaxBody,
		Rate:              DefaultRate,
		Burst:             DefaultBurst,
		Dedupe:            DefaultDedupe,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      25 * time.Second,
		IdleTimeout:       60 * time.Second,
		HandlerTimeout:    20 * time.Second,
		MaxHeaderBytes:    16 << 10,
		RetryBind:         30 * time.Second,
	}
}

// ErrUnavailable, wrapped in a Sink's error, means Ringside cannot take the
// callback now (it is stopping): the caller is answered 503 and may retry.
var ErrUnavailable = errors.New("ringside is not accepting callbacks right now")

// Sink carries out accepted callbacks; the app implements it. The listener
// calls Handle from the request's goroutine, once per request that passed
// every check and whose Callback is not zero, and answers the caller when
// Handle returns. ctx ends at the listener's HandlerTimeout, when the client
// goes away or when the listener stops. from is the instance whose route
// was called, "" for the listener's own /dial.
//
// nil means done (200). An error wrapping ErrUnavailable, or any error once
// ctx is done, is answered 503: nothing or not everything was done, try
// again. Any other error is answered 502 with the error's text as the
// reason: the dialer or a status setter refused. The text must not quote a
// secret; digits are masked before it is sent or logged all the same.
type Sink interface {
	Handle(ctx context.Context, from string, cb connectors.Callback) error
}

// Deps is what a Listener is built with.
type Deps struct {
	Sink   Sink                    // required
	Phones *connectors.PhoneParser // required: /dial parses numbers with it
	Logger *slog.Logger            // nil: discard
	Clock  clockwork.Clock         // nil: the real clock
	// OnState, when not nil, is called with every change of State, from
	// the goroutine that made it, with the listener's lock held: it must
	// not block nor call the Listener.
	OnState func(State)
}

// Status is the listener's state, as the tray and doctor show it.
type Status uint8

// Listener states.
const (
	StatusOff       Status = iota // disabled in the settings; no Listener exists
	StatusStarting                // built, not bound yet
	StatusListening               // bound and serving
	StatusFailed                  // the address could not be bound: Reason says why; retried at RetryAt
	StatusStopped                 // Run returned
)

var statusNames = [...]string{"off", "starting", "listening", "failed", "stopped"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "status?"
}

// MarshalText implements encoding.TextMarshaler.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// State is the listener as diagnostics show it.
type State struct {
	Status Status `json:"status"`
	// Addr is the bound address, or the configured one until bound.
	Addr string `json:"addr"`
	// Loopback is true when only this computer can reach the address.
	Loopback bool      `json:"loopback"`
	Reason   string    `json:"reason,omitempty"` // why it failed, in words
	RetryAt  time.Time `json:"retry_at,omitzero"`
	Since    time.Time `json:"since"`
	// Routes are the mounted routes, the listener's own included, sorted by
	// path.
	Routes []RouteInfo `json:"routes,omitempty"`
}

// RouteInfo describes a mounted route.
type RouteInfo struct {
	Path     string   `json:"path"`               // "/office/notify"
	Instance string   `json:"instance,omitempty"` // "" for the listener's own
	Methods  []string `json:"methods"`
	Auth     string   `json:"auth"` // "token", "param:<name>", "token or origin", "none"
}

// mounted is a route on the listener.
type mounted struct {
	path     string // absolute
	instance string // "" for the listener's own
	route    connectors.Route
	// originOK: an allowed Origin from a loopback client stands in for the
	// token (/dial from a CRM page).
	originOK bool
	noAuth   bool // /health
	allow    string
}

// Listener is the webhook listener. Mount every route, then Run it; Addr,
// URL and State may be called from any goroutine.
type Listener struct {
	cfg     Config
	sink    Sink
	phones  *connectors.PhoneParser
	log     *slog.Logger
	clock   clockwork.Clock
	onState func(State)
	origins map[string]bool
	clients *clients
	dedupe  *dedupe
	warns   *rate.Limiter // bounds warn-level log lines about refusals

	// Written by New, Mount and Bind before serving starts; read-only after.
	routes map[string]*mounted

	mu      sync.Mutex
	ln      net.Listener
	hosts   hostSet
	state   State
	running bool
}

// New validates cfg and builds a listener. It binds nothing.
func New(cfg Config, deps Deps) (*Listener, error) {
	if deps.Sink == nil || deps.Phones == nil {
		return nil, errors.New("webhook: no sink or phone parser (a wiring bug)")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Clock == nil {
		deps.Clock = clockwork.NewRealClock()
	}
	origins, err := checkConfig(cfg)
	if err != nil {
		return nil, err
	}
	l := &Listener{
		cfg:     cfg,
		sink:    deps.Sink,
		phones:  deps.Phones,
		log:     deps.Logger,
		clock:   deps.Clock,
		onState: deps.OnState,
		origins: origins,
		clients: newClients(rate.Limit(cfg.Rate), cfg.Burst),
		warns:   rate.NewLimiter(1, 10),
		routes:  make(map[string]*mounted),
	}
	if cfg.Dedupe > 0 {
		l.dedupe = newDedupe(cfg.Dedupe)
	}
	l.routes["/dial"] = &mounted{path: "/dial", originOK: true, allow: "GET, POST", route: connectors.Route{
		Path:    "dial",
		Methods: []string{http.MethodGet, http.MethodPost},
		Auth:    connectors.TokenAuth(),
		Accept:  []string{connectors.MediaForm, connectors.MediaJSON},
		Parse: func(req connectors.CallbackRequest) (connectors.Callback, error) {
			p, err := ParseDial(req, l.phones)
			return connectors.Callback{Dial: p}, err
		},
	}}
	l.routes["/health"] = &mounted{path: "/health", noAuth: true, allow: "GET", route: connectors.Route{
		Path:    "health",
		Methods: []string{http.MethodGet},
	}}
	l.state = State{Status: StatusStarting, Addr: cfg.Listen, Loopback: IsLoopback(cfg.Listen), Since: l.clock.Now(), Routes: l.routeInfosLocked()}
	return l, nil
}

func checkConfig(cfg Config) (map[string]bool, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("webhook: "+format, args...)) }
	if err := CheckListen(cfg.Listen); err != nil {
		bad("listen: %v", err)
	}
	for i, h := range cfg.Hosts {
		if _, _, err := splitHost(h); err != nil {
			bad("hosts[%d]: %v", i, err)
		}
	}
	origins := make(map[string]bool, len(cfg.Origins))
	for i, o := range cfg.Origins {
		c, err := CanonicalOrigin(o)
		if err != nil {
			bad("origins[%d]: %v", i, err)
			continue
		}
		origins[c] = true
	}
	if cfg.PublicURL != "" {
		if _, err := publicHost(cfg.PublicURL); err != nil {
			bad("public_url: %v", err)
		}
	}
	if len(cfg.Token) < MinTokenLength {
		bad("the token is shorter than %d characters", MinTokenLength)
	}
	if cfg.MaxBody < 1 {
		bad("max_body must be at least 1 byte")
	}
	if !(cfg.Rate > 0) || cfg.Burst < 1 {
		bad("rate must be above 0 and burst at least 1")
	}
	if cfg.Dedupe < 0 {
		bad("dedupe must not be negative")
	}
	for _, t := range []struct {
		name string
		d    time.Duration
	}{{"read header timeout", cfg.ReadHeaderTimeout}, {"read timeout", cfg.ReadTimeout}, {"write timeout", cfg.WriteTimeout},
		{"idle timeout", cfg.IdleTimeout}, {"handler timeout", cfg.HandlerTimeout}, {"bind retry", cfg.RetryBind}} {
		if t.d <= 0 {
			bad("%s must be above 0", t.name)
		}
	}
	if cfg.HandlerTimeout >= cfg.WriteTimeout {
		bad("the handler timeout (%s) must be shorter than the write timeout (%s)", cfg.HandlerTimeout, cfg.WriteTimeout)
	}
	if cfg.MaxHeaderBytes < 1<<10 {
		bad("max header bytes must be at least 1 KiB")
	}
	return origins, errors.Join(errs...)
}

// instanceName is what Mount accepts as an instance: the settings' rule
// for connector names.
var instanceName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// routePath is a route's Path: segments of [A-Za-z0-9._-] joined by "/".
var routePath = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$`)

var routeMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// Mount adds an instance's routes at /<instance>/<Path>. It must be called
// before Run; it refuses routes without authentication or parser, paths
// that are not plain, methods it does not serve and a path mounted twice,
// naming each problem, and then mounts none of them.
func (l *Listener) Mount(instance string, routes []connectors.Route) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.running {
		return fmt.Errorf("webhook: mount %s: the listener is already running", instance)
	}
	if !instanceName.MatchString(instance) {
		return fmt.Errorf("webhook: mount: %q is not an instance name", instance)
	}
	var errs []error
	add := make(map[string]*mounted, len(routes))
	for _, r := range routes {
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("webhook: %s route %q: "+format, append([]any{instance, r.Path}, args...)...))
		}
		if !routePath.MatchString(r.Path) || strings.Contains(r.Path, "..") {
			bad("a path is segments of letters, digits, '.', '-' and '_' joined by '/'")
			continue
		}
		path := "/" + instance + "/" + r.Path
		if l.routes[path] != nil || add[path] != nil {
			bad("mounted twice")
			continue
		}
		if len(r.Methods) == 0 {
			bad("no methods")
		}
		for _, m := range r.Methods {
			if !slices.Contains(routeMethods, m) {
				bad("method %q: allowed %s", m, strings.Join(routeMethods, ", "))
			}
		}
		switch r.Auth.Kind {
		case connectors.AuthToken:
		case connectors.AuthParam:
			if r.Auth.Param == "" || r.Auth.Param == "token" || r.Auth.Secret == nil {
				bad("param auth needs a parameter name (not \"token\") and a Secret function")
			}
		default:
			bad("no authentication: every route must have one")
		}
		for _, a := range r.Accept {
			if a != connectors.MediaForm && a != connectors.MediaJSON {
				bad("accepts %q: allowed %s, %s", a, connectors.MediaForm, connectors.MediaJSON)
			}
		}
		if r.Parse == nil {
			bad("no Parse function")
		}
		r.Methods = slices.Clone(r.Methods)
		r.Accept = slices.Clone(r.Accept)
		add[path] = &mounted{path: path, instance: instance, route: r, allow: strings.Join(r.Methods, ", ")}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for p, m := range add {
		l.routes[p] = m
	}
	l.state.Routes = l.routeInfosLocked()
	return nil
}

func (l *Listener) routeInfosLocked() []RouteInfo {
	out := make([]RouteInfo, 0, len(l.routes))
	for _, m := range l.routes {
		ri := RouteInfo{Path: m.path, Instance: m.instance, Methods: slices.Clone(m.route.Methods)}
		switch {
		case m.noAuth:
			ri.Auth = "none"
		case m.originOK:
			ri.Auth = "token or origin"
		case m.route.Auth.Kind == connectors.AuthParam:
			ri.Auth = "param:" + m.route.Auth.Param
		default:
			ri.Auth = m.route.Auth.Kind.String()
		}
		out = append(out, ri)
	}
	slices.SortFunc(out, func(a, b RouteInfo) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// Bind binds the configured address now, if it is not bound yet, so that
// Addr and URL are known before Run (port 0). A failure is also reported
// in State. Run binds by itself; Bind is only needed to know the address
// early.
func (l *Listener) Bind() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bindLocked()
}

func (l *Listener) bindLocked() error {
	if l.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", l.cfg.Listen)
	if err != nil {
		err = BindError(l.cfg.Listen, err)
		l.setStateLocked(func(s *State) {
			s.Status = StatusFailed
			s.Reason = err.Error()
			s.RetryAt = l.clock.Now().Add(l.cfg.RetryBind)
		})
		return err
	}
	l.ln = ln
	addr := ln.Addr().(*net.TCPAddr)
	l.hosts = newHostSet(l.cfg, addr)
	l.setStateLocked(func(s *State) {
		s.Status = StatusListening
		s.Addr = addr.String()
		s.Loopback = addr.IP.IsLoopback()
		s.Reason = ""
		s.RetryAt = time.Time{}
	})
	return nil
}

// BindError says in words why address could not be bound, and what to do.
func BindError(addr string, err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, syscall.EADDRINUSE) || strings.Contains(msg, "address already in use") || strings.Contains(msg, "Only one usage of each socket address"):
		return fmt.Errorf("webhook: cannot listen on %s: the port is taken by another program (or another Ringside); stop it or set [webhook] listen to another port", addr)
	case errors.Is(err, syscall.EACCES) || strings.Contains(msg, "permission denied"):
		return fmt.Errorf("webhook: cannot listen on %s: not allowed (ports below 1024 need privileges); set [webhook] listen to a port above 1024", addr)
	case errors.Is(err, syscall.EADDRNOTAVAIL) || strings.Contains(msg, "assign requested address"):
		return fmt.Errorf("webhook: cannot listen on %s: that is not an address of this computer; fix [webhook] listen", addr)
	}
	return fmt.Errorf("webhook: cannot listen on %s: %w", addr, err)
}

func (l *Listener) setStateLocked(f func(*State)) {
	before := l.state.Status
	f(&l.state)
	if l.state.Status != before {
		l.state.Since = l.clock.Now()
	}
	if l.onState != nil {
		l.onState(l.snapshotLocked())
	}
}

func (l *Listener) snapshotLocked() State {
	s := l.state
	s.Routes = slices.Clone(s.Routes)
	return s
}

// Close releases an address bound by Bind when Run is not called (an
// error before it). Once Run has been called, Run owns the address and
// Close does nothing.
func (l *Listener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.running || l.ln == nil {
		return nil
	}
	err := l.ln.Close()
	l.ln = nil
	l.setStateLocked(func(s *State) { s.Status = StatusStopped })
	return err
}

// State returns the listener's state.
func (l *Listener) State() State {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.snapshotLocked()
}

// Addr is the bound address ("127.0.0.1:8790"), or "" before binding.
func (l *Listener) Addr() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln == nil {
		return ""
	}
	return l.ln.Addr().String()
}

// URL is the listener's address on this computer, "http://127.0.0.1:8790"
// (a wildcard bind is reached on 127.0.0.1), or "" before binding.
func (l *Listener) URL() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln == nil {
		return ""
	}
	addr := l.ln.Addr().(*net.TCPAddr)
	ip := addr.IP
	if ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return "http://" + net.JoinHostPort(ip.String(), strconv.Itoa(addr.Port))
}

// shutdownGrace is how long in-flight requests may take to finish when the
// listener stops.
const shutdownGrace = 3 * time.Second

// Run serves until ctx is done, then stops accepting, lets requests in
// flight finish (at most 3 s; their contexts are already done, so a Sink
// answers them 503 at once) and returns nil. An address it cannot bind is
// reported in State as failed and tried again every RetryBind, so a port
// taken by another program is an error shown to the agent, not a crash.
// Run may be called once.
func (l *Listener) Run(ctx context.Context) error {
	l.mu.Lock()
	if l.running {
		l.mu.Unlock()
		return errors.New("webhook: Run called twice")
	}
	l.running = true
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		if l.ln != nil {
			_ = l.ln.Close()
			l.ln = nil
		}
		l.setStateLocked(func(s *State) { s.Status = StatusStopped; s.RetryAt = time.Time{} })
		l.mu.Unlock()
	}()
	for {
		l.mu.Lock()
		err := l.bindLocked()
		ln := l.ln
		l.mu.Unlock()
		if err != nil {
			l.log.Error("webhook listener not started; retrying", "error", err, "delay", l.cfg.RetryBind)
			select {
			case <-ctx.Done():
				return nil
			case <-l.clock.After(l.cfg.RetryBind):
				continue
			}
		}
		l.log.Info("webhook listener started", "addr", ln.Addr().String(), "routes", len(l.routes))
		err = l.serve(ctx, ln)
		if ctx.Err() != nil {
			return nil
		}
		// The listener broke under us (not seen in practice): bind again.
		l.mu.Lock()
		_ = ln.Close()
		l.ln = nil
		l.setStateLocked(func(s *State) {
			s.Status = StatusFailed
			s.Reason = fmt.Sprintf("webhook: serving on %s stopped: %v", ln.Addr(), err)
			s.RetryAt = l.clock.Now().Add(l.cfg.RetryBind)
		})
		l.mu.Unlock()
		l.log.Error("webhook listener stopped; restarting", "error", err, "delay", l.cfg.RetryBind)
		select {
		case <-ctx.Done():
			return nil
		case <-l.clock.After(l.cfg.RetryBind):
		}
	}
}

// serve runs an http.Server on ln until ctx is done (then shuts it down) or
// Serve fails.
func (l *Listener) serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           l,
		ReadHeaderTimeout: l.cfg.ReadHeaderTimeout,
		ReadTimeout:       l.cfg.ReadTimeout,
		WriteTimeout:      l.cfg.WriteTimeout,
		IdleTimeout:       l.cfg.IdleTimeout,
		MaxHeaderBytes:    l.cfg.MaxHeaderBytes,
		// Requests end with the listener: a Sink blocked on a stopping
		// engine answers 503 instead of holding the shutdown.
		BaseContext: func(net.Listener) context.Context { return ctx },
		ErrorLog:    slog.NewLogLogger(l.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() { errc <- srv.Serve(ln) }) // exits when srv is shut down or ln fails
	defer wg.Wait()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
		defer cancel()
		if err := srv.Shutdown(shut); err != nil {
			_ = srv.Close()
		}
		return nil
	}
}
