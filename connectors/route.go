package connectors

import (
	"net/http"
	"net/url"
)

// Router is implemented by connectors that take callbacks: requests a
// vendor's system (or a CRM page in the agent's browser) makes to the
// agent's computer — retailCRM's makeCallUrl, an IVR's call notification,
// Accolades' call-notification webhook.
//
// The app calls Routes once, after the connector is built and before Run,
// and mounts every route on the one webhook listener (package
// connectors/webhook) under the instance's name: a route with Path "notify"
// of instance "office" answers at /office/notify. The listener does
// everything HTTP: it checks the Host header, the Origin, the rate, the
// method, the route's Auth, the content type and the body size, and answers
// every refusal itself with a JSON {"error":"<reason>"}. Only a request that
// passed all of that reaches Parse.
type Router interface {
	Routes() []Route
}

// CallbackBaser is implemented by Routers that register the address of
// their routes with their vendor (retailCRM's makeCallUrl). The app calls
// SetCallbackBase once, after the connector is built and before Run or Test,
// with the address at which this instance's routes are reached from outside,
// without a trailing slash: the listener's public URL followed by
// "/<instance>", e.g. "https://agent1.example.com/crm" or
// "http://127.0.0.1:8790/crm". A route with Path "make-call" is then at
// base + "/make-call". The base holds no secret.
type CallbackBaser interface {
	SetCallbackBase(base string)
}

// Media types a route may accept as a request body (Route.Accept).
const (
	MediaForm = "application/x-www-form-urlencoded"
	MediaJSON = "application/json"
)

// Route is one callback a connector takes.
type Route struct {
	// Path below the instance: "notify" answers at /<instance>/notify. One
	// or more segments of letters, digits, "-", "_" and "." separated by
	// "/"; no leading or trailing "/", no query. Matched exactly.
	Path string
	// Methods accepted, upper case: GET, POST, PUT, PATCH or DELETE. Another
	// method is answered 405 with an Allow header. OPTIONS is the listener's
	// (CORS preflight).
	Methods []string
	// Auth says how a request proves it may call the route. Required: the
	// listener mounts no route anyone may call.
	Auth RouteAuth
	// Accept lists the media types a request body may have (MediaForm,
	// MediaJSON). A body of another type is answered 415. Empty: the route
	// takes no body and its fields come in the query string; a request with
	// a body is answered 415.
	Accept []string
	// Parse turns an authenticated request into what it asks for. It must
	// be pure: no I/O, no blocking, no goroutines, nothing kept from req. It
	// is called from many goroutines at once.
	//
	// An error is a request the route refuses: the listener answers 400 with
	// the error's text as the reason and nothing is done. The text is sent to
	// the caller and logged, so it must never quote a secret or a full phone
	// number (name the field instead). A zero Callback is a request that is
	// understood and asks for nothing (an event for another agent, say):
	// answered 200.
	Parse func(req CallbackRequest) (Callback, error)
}

// AuthKind is how a request authenticates itself to a route.
type AuthKind uint8

// Ways to authenticate.
const (
	AuthUnset AuthKind = iota // not allowed: a route must say
	// AuthToken is the listener's own token (the keyring secret
	// webhook.token), given as the query parameter "token", as
	// "Authorization: Bearer <token>" or as "X-Ringside-Token: <token>". For
	// vendors that let the user type the URL they call.
	AuthToken
	// AuthParam is a secret the vendor itself sends in a query parameter
	// (retailCRM's clientId), compared with RouteAuth.Secret.
	AuthParam
)

var authNames = [...]string{"unset", "token", "param"}

func (k AuthKind) String() string {
	if int(k) < len(authNames) {
		return authNames[k]
	}
	return "auth?"
}

// RouteAuth is a route's authentication. Build it with TokenAuth or
// ParamAuth. Secrets are compared in constant time, and the field that
// carried the secret (token, or Param) is removed from the request before
// Parse sees it. Auth fields are read from the headers and the query string
// only, never from the body, so a refused request's body is never read.
type RouteAuth struct {
	Kind AuthKind
	// Param is the query parameter that carries the secret (AuthParam).
	Param string
	// Secret returns the value Param must have (AuthParam). It is called
	// for every request, may be called from many goroutines at once and
	// must not block; "" refuses every request (the secret is not set up
	// yet).
	Secret func() string
}

// TokenAuth authenticates with the listener's token.
func TokenAuth() RouteAuth { return RouteAuth{Kind: AuthToken} }

// ParamAuth authenticates with a vendor's secret in query parameter param,
// compared with what secret returns.
func ParamAuth(param string, secret func() string) RouteAuth {
	return RouteAuth{Kind: AuthParam, Param: param, Secret: secret}
}

// CallbackRequest is an authenticated request as Parse sees it: already
// read, bounded and decoded by the listener.
type CallbackRequest struct {
	Method string
	// Query is the query string, without the field that carried the secret.
	Query url.Values
	// Form holds the fields of a MediaForm body; empty otherwise.
	Form url.Values
	// ContentType is the body's media type without parameters
	// ("application/json"); "" when there is no body.
	ContentType string
	// Body is the body as received (at most the listener's max_body bytes);
	// empty when there is none.
	Body []byte
	// Header holds the request's headers, without Authorization,
	// X-Ringside-Token and Cookie.
	Header http.Header
}

// Callback is what a request asks for. The listener hands it to the app
// once Parse accepted the request, and answers the caller when it is done:
//   - Events go to the engine, in order, as if a Source had emitted them:
//     Source (the instance) and Received are filled in.
//   - Status, when not StatusUnknown, becomes the agent's status: the tray
//     follows and every other connector that takes a status is told.
//   - Dial, when not zero, is dialled through the configured dialer. The
//     same number asked for from the same client within the listener's
//     dedupe window is dialled once; the repeat is answered 202.
//
// The caller is answered 200 when everything was done (202 when the dial
// was a repeat), 502 with the reason when the dialer or a status setter
// refused, 504 when they took longer than the listener waits, and 503 when
// Ringside is stopping.
type Callback struct {
	Events []Event
	Status AgentStatus
	Dial   Phone
}

// IsZero reports whether the callback asks for nothing.
func (c Callback) IsZero() bool {
	return len(c.Events) == 0 && c.Status == StatusUnknown && c.Dial.IsZero()
}
