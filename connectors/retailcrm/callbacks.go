package retailcrm

import (
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ringside/ringside/connectors"
)

// MakeCall is retailCRM asking to dial a number: its GET of makeCallUrl
// when a user clicks a phone icon.
type MakeCall struct {
	ClientID      string // proves the request comes from retailCRM; see ClientIDMatches
	Code          string // the user's extension code, when given
	Phone         string // the number to dial, as retailCRM wrote it
	UserID        int64  // the retailCRM user, 0 when not given
	ExternalPhone string // the company number to call from, when the page belongs to a site
}

// ChangeStatus is retailCRM reporting that a user changed their status:
// its GET of changeUserStatusUrl.
type ChangeStatus struct {
	ClientID string
	Code     string
	UserID   int64
	Status   connectors.AgentStatus // free, busy, dinner or break
}

// Limits on callback parameters.
const (
	maxClientID = 256
	maxPhone    = 64
)

// The paths of the callbacks below the instance (connectors.Route.Path),
// and the query parameter that carries the client id.
const (
	RouteMakeCall = "make-call"
	RouteStatus   = "status"
	clientIDParam = "clientId"
)

// param reads a parameter given at most once.
func param(q url.Values, k string) (string, error) {
	switch v := q[k]; len(v) {
	case 0:
		return "", nil
	case 1:
		return v[0], nil
	}
	return "", fmt.Errorf("%s is given more than once", k)
}

// parseClientID reads clientId, required.
func parseClientID(q url.Values) (string, error) {
	id, err := param(q, clientIDParam)
	switch {
	case err != nil:
		return "", err
	case id == "":
		return "", errors.New("clientId is missing")
	case len(id) > maxClientID:
		return "", fmt.Errorf("clientId is longer than %d characters", maxClientID)
	}
	return id, nil
}

// parseUser reads code and userId, at least one of them.
func parseUser(q url.Values) (code string, userID int64, err error) {
	if code, err = param(q, "code"); err != nil {
		return "", 0, err
	}
	if code = strings.TrimSpace(code); code != "" {
		if err := checkCode(code); err != nil {
			return "", 0, fmt.Errorf("code %s", maskNumbers(err.Error()))
		}
	}
	raw, err := param(q, "userId")
	if err != nil {
		return "", 0, err
	}
	if raw = strings.TrimSpace(raw); raw != "" {
		userID, err = strconv.ParseInt(raw, 10, 64)
		if err != nil || userID <= 0 {
			return "", 0, errors.New("userId is not a retailCRM user id (a positive number)")
		}
	}
	if code == "" && userID == 0 {
		return "", 0, errors.New("neither code nor userId says which user")
	}
	return code, userID, nil
}

// callbackPhone reads a number retailCRM put in a query. Its example sends
// phone=+79121234567 unescaped, which a query decodes as " 79121234567":
// a leading space before a digit was a "+".
func callbackPhone(q url.Values, k string) (string, error) {
	raw, err := param(q, k)
	if err != nil {
		return "", err
	}
	if t := strings.TrimLeft(raw, " "); t != raw && t != "" && isDigit(t[0]) {
		raw = "+" + t
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", nil
	}
	if len(raw) > maxPhone || !plausiblePhone(raw) {
		return "", fmt.Errorf("%s is not a phone number", k)
	}
	return raw, nil
}

// ParseMakeCall reads the query of retailCRM's make-call request:
//
//	clientId=…&code=100&phone=+79121234567&userId=1[&externalPhone=…]
//
// clientId and phone are required, and code or userId; a parameter given
// twice is refused. It does not check the client id: see ClientIDMatches.
// Errors name the parameter but never quote a number or the client id.
func ParseMakeCall(q url.Values) (MakeCall, error) {
	id, err := parseClientID(q)
	if err != nil {
		return MakeCall{}, fmt.Errorf("retailcrm: make call: %w", err)
	}
	mc, err := parseMakeCall(q)
	mc.ClientID = id
	return mc, err
}

// parseMakeCall reads a make-call request but its clientId.
func parseMakeCall(q url.Values) (MakeCall, error) {
	code, userID, err := parseUser(q)
	if err != nil {
		return MakeCall{}, fmt.Errorf("retailcrm: make call: %w", err)
	}
	phone, err := callbackPhone(q, "phone")
	if err != nil {
		return MakeCall{}, fmt.Errorf("retailcrm: make call: %w", err)
	}
	if phone == "" {
		return MakeCall{}, errors.New("retailcrm: make call: phone is missing")
	}
	ext, err := callbackPhone(q, "externalPhone")
	if err != nil {
		return MakeCall{}, fmt.Errorf("retailcrm: make call: %w", err)
	}
	return MakeCall{Code: code, Phone: phone, UserID: userID, ExternalPhone: ext}, nil
}

// ParseChangeStatus reads the query of retailCRM's status notification:
//
//	clientId=…&code=100&userId=1&status=busy
//
// clientId and status (free, busy, dinner or break) are required, and code
// or userId. It does not check the client id: see ClientIDMatches.
func ParseChangeStatus(q url.Values) (ChangeStatus, error) {
	id, err := parseClientID(q)
	if err != nil {
		return ChangeStatus{}, fmt.Errorf("retailcrm: change status: %w", err)
	}
	cs, err := parseChangeStatus(q)
	cs.ClientID = id
	return cs, err
}

// parseChangeStatus reads a status notification but its clientId.
func parseChangeStatus(q url.Values) (ChangeStatus, error) {
	code, userID, err := parseUser(q)
	if err != nil {
		return ChangeStatus{}, fmt.Errorf("retailcrm: change status: %w", err)
	}
	raw, err := param(q, "status")
	if err != nil {
		return ChangeStatus{}, fmt.Errorf("retailcrm: change status: %w", err)
	}
	var s connectors.AgentStatus
	if err := s.UnmarshalText([]byte(strings.TrimSpace(raw))); err != nil || s == connectors.StatusUnknown {
		return ChangeStatus{}, fmt.Errorf("retailcrm: change status: status %q is not free, busy, dinner or break", maskNumbers(clip(raw, 20)))
	}
	return ChangeStatus{Code: code, UserID: userID, Status: s}, nil
}

// ClientIDMatches compares the client id a callback carries with the one
// registered, in time that depends on neither (both are hashed first, so
// not even the length leaks). An empty want matches nothing.
func ClientIDMatches(want, got string) bool {
	if want == "" {
		return false
	}
	w, g := sha256.Sum256([]byte(want)), sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(w[:], g[:]) == 1
}

// forAgent reports whether a callback about code and userID is about this
// agent: true unless both this agent's user_id and the callback's user
// (given, or the user of its code in codes) are known and differ.
func (c *CRM) forAgent(code string, userID int64) bool {
	if userID == 0 {
		userID = c.codes[code]
	}
	return c.userID == 0 || userID == 0 || userID == c.userID
}

// Routes are retailCRM's two callbacks, mounted by the webhook listener
// under the instance (connectors.Router), both GET with the fields in the
// query and authenticated by clientId against the secret "client_id":
//   - "make-call" (makeCallUrl): a number to dial for this agent becomes
//     Callback.Dial; a request for another user (user_id) is refused, so
//     retailCRM shows that user a failed call instead of this agent's phone
//     ringing.
//   - "status" (changeUserStatusUrl): this agent's new status becomes
//     Callback.Status; another user's is understood and ignored.
//
// The client id is read from the keyring here, and again by Register and
// Test; the listener's check never waits for the keyring. Until it is set,
// the listener refuses both routes.
func (c *CRM) Routes() []connectors.Route {
	c.refreshClientID()
	auth := connectors.ParamAuth(clientIDParam, c.clientID)
	return []connectors.Route{
		{Path: RouteMakeCall, Methods: []string{http.MethodGet}, Auth: auth, Parse: c.parseMakeCallRoute},
		{Path: RouteStatus, Methods: []string{http.MethodGet}, Auth: auth, Parse: c.parseStatusRoute},
	}
}

func (c *CRM) parseMakeCallRoute(req connectors.CallbackRequest) (connectors.Callback, error) {
	mc, err := parseMakeCall(req.Query)
	if err != nil {
		return connectors.Callback{}, err
	}
	if !c.forAgent(mc.Code, mc.UserID) {
		return connectors.Callback{}, errors.New("retailcrm: make call: the user is not this Ringside's agent (user_id)")
	}
	p := c.phones.Parse(mc.Phone)
	if p.Key() == "" {
		return connectors.Callback{}, errors.New("retailcrm: make call: phone is not a phone number")
	}
	return connectors.Callback{Dial: p}, nil
}

func (c *CRM) parseStatusRoute(req connectors.CallbackRequest) (connectors.Callback, error) {
	cs, err := parseChangeStatus(req.Query)
	if err != nil || !c.forAgent(cs.Code, cs.UserID) {
		return connectors.Callback{}, err
	}
	return connectors.Callback{Status: cs.Status}, nil
}

// SetCallbackBase is where the listener reaches this instance's routes
// from outside (connectors.CallbackBaser). Register sends base +
// "/make-call" and base + "/status" as makeCallUrl and changeUserStatusUrl,
// unless make_call_url or change_user_status_url say otherwise.
func (c *CRM) SetCallbackBase(base string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.callbackBase = strings.TrimSuffix(base, "/")
}

// callbackURLs are the addresses Register sends: the settings', else the
// listener's.
func (c *CRM) callbackURLs() (makeCall, status string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	makeCall, status = c.makeCall, c.setStatus
	if c.callbackBase != "" {
		makeCall = cmp.Or(makeCall, c.callbackBase+"/"+RouteMakeCall)
		status = cmp.Or(status, c.callbackBase+"/"+RouteStatus)
	}
	return makeCall, status
}

// clientID is the client id callbacks must carry, as last read; "" until
// it has been read.
func (c *CRM) clientID() string {
	if p := c.clientIDCache.Load(); p != nil {
		return *p
	}
	return ""
}

// refreshClientID reads the secret "client_id" into the cache; an unset
// secret keeps what was there.
func (c *CRM) refreshClientID() {
	if v, err := c.secret("client_id"); err == nil {
		c.clientIDCache.Store(&v)
	}
}
