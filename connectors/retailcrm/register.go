package retailcrm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// moduleName is how the telephony module is named in retailCRM.
const moduleName = "Ringside"

// module is the integrationModule of POST /integration-modules/{code}/edit,
// and what GET /integration-modules/{code} answers. clientId belongs to the
// module itself, not to its telephony part.
type module struct {
	Code            string       `json:"code"`
	IntegrationCode string       `json:"integrationCode"`
	Active          bool         `json:"active"`
	Freeze          bool         `json:"freeze,omitempty"`
	Name            string       `json:"name"`
	ClientID        string       `json:"clientId,omitempty"`
	Integrations    integrations `json:"integrations"`
}

type integrations struct {
	Telephony *telephony `json:"telephony,omitempty"`
}

type telephony struct {
	MakeCallURL          string              `json:"makeCallUrl,omitempty"`
	AllowEdit            bool                `json:"allowEdit"`
	InputEventSupported  bool                `json:"inputEventSupported"`
	OutputEventSupported bool                `json:"outputEventSupported"`
	HangupEventSupported bool                `json:"hangupEventSupported"`
	ChangeUserStatusURL  string              `json:"changeUserStatusUrl,omitempty"`
	AdditionalCodes      []additionalCode    `json:"additionalCodes,omitempty"`
	ExternalPhones       []externalPhoneJSON `json:"externalPhones,omitempty"`
}

type additionalCode struct {
	Code   flexString `json:"code"`
	UserID flexInt    `json:"userId"`
}

type externalPhoneJSON struct {
	SiteCode      string `json:"siteCode"`
	ExternalPhone string `json:"externalPhone"`
}

// registerAnswer is what the edit answers besides success; the lists come
// with a success and with a refusal alike.
type registerAnswer struct {
	NotExistUsersIDs  flexList `json:"notExistUsersIds"`
	NotExistSiteCodes flexList `json:"notExistSiteCodes"`
}

// RegisterResult is what Register has to tell the agent besides an error.
type RegisterResult struct {
	// UnknownUserIDs are user ids of codes retailCRM has no user for
	// (its notExistUsersIds).
	UnknownUserIDs []string
	// UnknownSiteCodes are site codes of external_phones retailCRM has no
	// site for (its notExistSiteCodes).
	UnknownSiteCodes []string
	// Warnings say, in words, what to fix: the above, and callback
	// addresses retailCRM cannot use.
	Warnings []string
}

// moduleFor is the module Register sends: active, the client id, every
// event kind supported, editable only through the API (the settings file is
// the truth), with codes and external_phones.
func (c *CRM) moduleFor(clientID string) module {
	makeCall, status := c.callbackURLs()
	t := &telephony{
		MakeCallURL:          makeCall,
		InputEventSupported:  true,
		OutputEventSupported: true,
		HangupEventSupported: true,
		ChangeUserStatusURL:  status,
	}
	for _, code := range c.sortedCodes() {
		t.AdditionalCodes = append(t.AdditionalCodes, additionalCode{Code: flexString(code), UserID: flexInt(c.codes[code])})
	}
	for _, p := range c.external {
		t.ExternalPhones = append(t.ExternalPhones, externalPhoneJSON{SiteCode: p.SiteCode, ExternalPhone: p.ExternalPhone})
	}
	return module{
		Code:            c.code,
		IntegrationCode: c.code,
		Active:          true,
		Name:            moduleName,
		ClientID:        clientID,
		Integrations:    integrations{Telephony: t},
	}
}

func (c *CRM) sortedCodes() []string {
	codes := make([]string, 0, len(c.codes))
	for code := range c.codes {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	return codes
}

// Register creates the telephony module, or updates it when it exists:
// POST /api/v5/integration-modules/{code}/edit with integrationModule= the
// module as JSON. It needs the secrets "api_key" and "client_id" (any long
// random text: retailCRM sends it back with every callback, which is how
// Ringside knows a callback is genuine).
//
// It replaces the module's settings with this connector's: every agent's
// Ringside should carry the same codes and external_phones, or one
// administrator registers. Call it when the agent asks (the settings
// window's button) or after this connector's settings change, not at every
// start. The result lists what retailCRM did not recognise, and Warnings say
// what to fix, whether or not err is nil. It blocks on the network.
func (c *CRM) Register(ctx context.Context) (RegisterResult, error) {
	var res RegisterResult
	res.Warnings = c.callbackWarnings()
	clientID, err := c.secret("client_id")
	if err != nil {
		return res, fmt.Errorf("retailcrm: register module %s: %w", c.code, err)
	}
	c.clientIDCache.Store(&clientID) // the listener checks callbacks against what is registered
	body, err := json.Marshal(c.moduleFor(clientID))
	if err != nil {
		return res, fmt.Errorf("retailcrm: register module %s: %w", c.code, err)
	}
	b, err := c.do(ctx, request{
		method: http.MethodPost,
		path:   pathModule + url.PathEscape(c.code) + "/edit",
		form:   url.Values{"integrationModule": {string(body)}},
	})
	// The lists come with a success and with a refusal alike; a list that
	// does not decode is left out rather than hiding the outcome.
	var ans registerAnswer
	_ = json.Unmarshal(b, &ans)
	res.UnknownUserIDs = ans.NotExistUsersIDs
	res.UnknownSiteCodes = ans.NotExistSiteCodes
	if len(res.UnknownUserIDs) > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("retailCRM has no user %s: fix %s in codes (agent code = retailCRM user id) and register again",
			maskNumbers(strings.Join(res.UnknownUserIDs, ", ")), c.codesOf(res.UnknownUserIDs)))
	}
	if len(res.UnknownSiteCodes) > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("retailCRM has no site (shop) %s: fix site_code in external_phones and register again",
			maskNumbers(strings.Join(res.UnknownSiteCodes, ", "))))
	}
	if err != nil {
		return res, fmt.Errorf("retailcrm: register module %s: %w", c.code, err)
	}
	c.logger.Info("retailcrm: telephony module registered", "code", c.code, "agent_codes", len(c.codes), "external_phones", len(c.external), "warnings", len(res.Warnings))
	return res, nil
}

// codesOf names the agent codes mapped to the user ids, for a message.
func (c *CRM) codesOf(ids []string) string {
	var parts []string
	for _, code := range c.sortedCodes() {
		if slices.Contains(ids, strconv.FormatInt(c.codes[code], 10)) {
			parts = append(parts, fmt.Sprintf("%q = %d", code, c.codes[code]))
		}
	}
	if len(parts) == 0 {
		return "the user ids"
	}
	return strings.Join(parts, ", ")
}

// callbackWarnings says what is wrong with the callback addresses for
// retailCRM, which calls them from its own servers.
func (c *CRM) callbackWarnings() []string {
	var w []string
	makeCall, status := c.callbackURLs()
	for _, u := range []struct{ key, url, what string }{
		{"make_call_url", makeCall, "retailCRM shows no dial button"},
		{"change_user_status_url", status, "status changes in retailCRM do not reach the tray"},
	} {
		switch {
		case u.url == "":
			w = append(w, fmt.Sprintf("%s is not set and the webhook listener has no public address: %s", u.key, u.what))
		case !reachableFromInternet(u.url):
			w = append(w, fmt.Sprintf("%s is an address on this computer or a private network: retailCRM's servers cannot reach it; give the public address of the webhook listener (a tunnel or a reverse proxy)", u.key))
		case strings.HasPrefix(u.url, "http://"):
			w = append(w, fmt.Sprintf("%s is http://: the client id would cross the internet unencrypted; use https://", u.key))
		}
	}
	return w
}

// flexString is a JSON string or number (kept as written); null is "".
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*f = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(strings.TrimSpace(s))
	case b[0] == '-' || b[0] >= '0' && b[0] <= '9':
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*f = flexString(n)
	default:
		return fmt.Errorf("want a string or a number, got %.20s", b)
	}
	return nil
}

// flexInt is a JSON integer, or a string holding one; null is 0. It is
// sent as a number.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	var s flexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	if s == "" {
		*f = 0
		return nil
	}
	n, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil {
		return fmt.Errorf("want an integer, got %.20q", s)
	}
	*f = flexInt(n)
	return nil
}

// flexList is a JSON list of strings or numbers, or an object whose values
// are (PHP's arrays with keys); null or absent is empty.
type flexList []string

func (f *flexList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	var raw []json.RawMessage
	switch {
	case len(b) == 0 || string(b) == "null":
		*f = nil
		return nil
	case b[0] == '[':
		if err := json.Unmarshal(b, &raw); err != nil {
			return err
		}
	case b[0] == '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, compareKeys)
		for _, k := range keys {
			raw = append(raw, m[k])
		}
	default:
		raw = []json.RawMessage{b}
	}
	out := make([]string, 0, len(raw))
	for _, r := range raw {
		var s flexString
		if err := s.UnmarshalJSON(r); err != nil {
			return err
		}
		if s != "" {
			out = append(out, clip(string(s), maxCode))
		}
	}
	*f = out
	return nil
}

// clip cuts s to at most n bytes, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// RegisterIntegration implements connectors.Registrar with Register.
func (c *CRM) RegisterIntegration(ctx context.Context) ([]string, error) {
	res, err := c.Register(ctx)
	return res.Warnings, err
}
