package retailcrm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/ringside/ringside/connectors"
)

// The API paths, relative to the account's address.
const (
	pathCredentials = "/api/credentials"
	pathModule      = "/api/v5/integration-modules/" // + {code}, + {code}/edit
	pathEvent       = "/api/v5/telephony/call/event"
	pathUpload      = "/api/v5/telephony/calls/upload"
	pathManager     = "/api/v5/telephony/manager"
	pathUsers       = "/api/v5/users/" // + {id}/status
	telephonyPrefix = "/api/v5/telephony/"
)

// APIError is an answer that is not a success: retailCRM refusing a request
// (its errorMsg and errors), a status without the API's JSON, or a page that
// is not the API at all. Numbers in the server's words are masked.
type APIError struct {
	Status int      // the HTTP status
	Msg    string   // errorMsg, or what is wrong with the answer
	Errors []string // "errors", flattened: "field: message" or "message"
	// HTML is set when the answer was a web page, not the API: retailCRM
	// answers so for an account that does not exist.
	HTML bool
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d", e.Status)
	if t := http.StatusText(e.Status); t != "" {
		b.WriteString(" " + t)
	}
	if e.HTML {
		b.WriteString(": an HTML page, not the API: there is no retailCRM account at this address (check url)")
		return b.String()
	}
	if e.Msg != "" {
		b.WriteString(": " + e.Msg)
	}
	if len(e.Errors) > 0 {
		b.WriteString(" (" + strings.Join(e.Errors, "; ") + ")")
	}
	return b.String()
}

// blot replaces the secrets in b, as written and URL-escaped, with •••;
// b itself is left as it is.
func blot(b []byte, secrets ...string) []byte {
	for _, sec := range secrets {
		if len(sec) < 4 {
			continue
		}
		for _, form := range []string{sec, url.QueryEscape(sec)} {
			if bytes.Contains(b, []byte(form)) {
				b = bytes.ReplaceAll(b, []byte(form), []byte("•••"))
			}
		}
	}
	return b
}

// Limits on what of an error answer is kept.
const (
	maxErrorEntries = 20
	maxErrorText    = 200
)

// envelope is what every answer of the API has.
type envelope struct {
	Success  *bool           `json:"success"`
	ErrorMsg json.RawMessage `json:"errorMsg"`
	Errors   json.RawMessage `json:"errors"`
}

// checkAnswer sorts an answer of the API, given its status, its
// Retry-After header and its body:
//   - success true with a 2xx status is nil;
//   - 429, 503, other 5xx and 408 are retryable, no sooner than Retry-After
//     when given, whatever the body;
//   - a body starting with "<" is an HTML page: no account at this address,
//     Permanent;
//   - a 2xx body that is not JSON is retryable (a proxy's page in transit);
//   - anything else — success false on 200, 400, 401, 403, 404, other 4xx,
//     JSON without success — is Permanent.
//
// Every error is an *APIError, wrapped by connectors.Permanent or
// connectors.RetryAfter as above.
func checkAnswer(status int, retryAfter string, body []byte, now time.Time) error {
	b := bytes.TrimSpace(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))
	retryable := status == http.StatusTooManyRequests || status >= 500 || status == http.StatusRequestTimeout
	ok2xx := status >= 200 && status < 300

	var env envelope
	isJSON := len(b) > 0 && b[0] == '{' && json.Unmarshal(b, &env) == nil
	if isJSON && ok2xx && env.Success != nil && *env.Success {
		return nil
	}
	e := &APIError{Status: status}
	switch {
	case isJSON:
		e.Msg = clean(textOf(env.ErrorMsg))
		e.Errors = flattenErrors(env.Errors)
		if env.Success == nil && e.Msg == "" {
			e.Msg = `the answer has no "success": is url the address of a retailCRM account?`
		}
	case len(b) > 0 && b[0] == '<':
		e.HTML = !retryable // a proxy's error page on 502 or 503 says nothing about the account
		if !e.HTML {
			e.Msg = "an HTML page"
		}
	case len(b) == 0:
		e.Msg = "an empty answer"
	default:
		e.Msg = "not the API's JSON: " + clean(string(b))
	}
	switch {
	case retryable:
		if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
			e.Msg = strings.TrimSuffix("rate limited: "+e.Msg, ": ")
		}
		if d, ok := connectors.ParseRetryAfter(retryAfter, now); ok {
			return connectors.RetryAfter(e, d)
		}
		return e
	case ok2xx && !isJSON && !e.HTML:
		return e
	default:
		return connectors.Permanent(e)
	}
}

// textOf reads a JSON string, or keeps another JSON value as written.
func textOf(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// flattenErrors turns "errors" — an object of field → message(s), a list
// of messages, or a single message — into short lines, sorted by field.
func flattenErrors(raw json.RawMessage) []string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil
	}
	var out []string
	add := func(key string, v json.RawMessage) {
		if len(out) >= maxErrorEntries {
			return
		}
		msg := textOf(v)
		var list []json.RawMessage
		if json.Unmarshal(v, &list) == nil {
			parts := make([]string, 0, len(list))
			for _, m := range list {
				parts = append(parts, textOf(m))
			}
			msg = strings.Join(parts, ", ")
		}
		if key != "" {
			msg = key + ": " + msg
		}
		if msg = clean(msg); msg != "" {
			out = append(out, msg)
		}
	}
	switch raw[0] {
	case '{':
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			break
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, compareKeys)
		for _, k := range keys {
			add(k, m[k])
		}
	case '[':
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil {
			break
		}
		for _, v := range list {
			add("", v)
		}
	default:
		add("", raw)
	}
	return out
}

// compareKeys orders "calls[2]" before "calls[10]": by text, but numbers
// by value.
func compareKeys(a, b string) int {
	for a != "" && b != "" {
		na, ra := leadingNumber(a)
		nb, rb := leadingNumber(b)
		if na >= 0 && nb >= 0 {
			if na != nb {
				return na - nb
			}
			a, b = ra, rb
			continue
		}
		if a[0] != b[0] {
			return int(a[0]) - int(b[0])
		}
		a, b = a[1:], b[1:]
	}
	return len(a) - len(b)
}

// leadingNumber reads the digits s starts with (at most 9 of them); -1
// when it does not start with one.
func leadingNumber(s string) (int, string) {
	i := 0
	for i < len(s) && i < 9 && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return -1, s
	}
	n, _ := strconv.Atoi(s[:i])
	return n, s[i:]
}

// clean makes server text fit for a message: one line, at most 200
// characters, phone numbers masked.
func clean(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = maskNumbers(s)
	if r := []rune(s); len(r) > maxErrorText {
		s = string(r[:maxErrorText]) + "…"
	}
	return s
}

// maskNumbers hides what may be a phone number: in every run of digits and
// the separators people write numbers with (space, "-", ".", "(", ")"), of
// seven digits or more, every digit but the last two becomes •. Dates
// written with "-" are masked too: better a lost date than a leaked number.
func maskNumbers(s string) string {
	var b strings.Builder
	i := 0
	for i < len(s) {
		if !isDigit(s[i]) {
			b.WriteByte(s[i])
			i++
			continue
		}
		j, digits, last := i, 0, i
		for j < len(s) && (isDigit(s[j]) || strings.IndexByte(" -.()", s[j]) >= 0) {
			if isDigit(s[j]) {
				digits++
				last = j
			}
			j++
		}
		run := s[i : last+1]
		if digits < 7 {
			b.WriteString(run)
		} else {
			seen := 0
			for k := 0; k < len(run); k++ {
				if !isDigit(run[k]) {
					b.WriteByte(run[k])
					continue
				}
				seen++
				if seen > digits-2 {
					b.WriteByte(run[k])
				} else {
					b.WriteString("•")
				}
			}
		}
		i = last + 1
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// request is one call of the API.
type request struct {
	method string
	path   string     // relative to the account's address, without query
	query  url.Values // for GET
	form   url.Values // for POST, sent as application/x-www-form-urlencoded
}

// secretError is a missing or unreadable secret: retryable, since the agent
// can set it without restarting anything.
type secretError struct {
	name, instance string
	err            error
}

func (e *secretError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("secret %q of connector %s is empty: run \"ringside secret set %s.%s\"", e.name, e.instance, e.instance, e.name)
	}
	return fmt.Sprintf("secret %q of connector %s: %v", e.name, e.instance, e.err)
}

func (e *secretError) Unwrap() error { return e.err }

// secret reads a secret at the time of use, so setting it takes effect
// without a restart.
func (c *CRM) secret(name string) (string, error) {
	if c.secrets == nil {
		return "", &secretError{name: name, instance: c.name, err: errors.New("no secret store (a wiring bug)")}
	}
	v, err := c.secrets.Secret(name)
	if err != nil {
		return "", &secretError{name: name, instance: c.name, err: err}
	}
	if v == "" {
		return "", &secretError{name: name, instance: c.name}
	}
	return v, nil
}

// do sends r within the rate limit of its method and returns the answer's
// body: on success, and with an *APIError when retailCRM refused (the body
// may then hold more than the error says). Errors name the method and path,
// never the query (it may hold a number) nor the key.
func (c *CRM) do(ctx context.Context, r request) ([]byte, error) {
	key, err := c.secret("api_key")
	if err != nil {
		return nil, err
	}
	lim := c.general
	if strings.HasPrefix(r.path, telephonyPrefix) {
		lim = c.telephony
	}
	if err := c.wait(ctx, lim); err != nil {
		return nil, err
	}
	u := c.root + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.form != nil {
		body = strings.NewReader(r.form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, connectors.Permanent(fmt.Errorf("%s %s: %w", r.method, r.path, err))
	}
	req.Header.Set("X-API-KEY", key)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "Ringside retailcrm")
	if r.form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		where := "another address"
		if loc, err := resp.Location(); err == nil {
			where = loc.Scheme + "://" + loc.Host
		}
		return nil, connectors.Permanent(fmt.Errorf("%s %s: %w", r.method, r.path, &APIError{Status: resp.StatusCode,
			Msg: "the server sends Ringside to " + where + ": set url to the account's own address"}))
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", r.method, r.path, err)
	}
	if len(b) > maxAnswer {
		return nil, connectors.Permanent(fmt.Errorf("%s %s: %w", r.method, r.path, &APIError{Status: resp.StatusCode, Msg: fmt.Sprintf("an answer larger than %d KiB", maxAnswer>>10)}))
	}
	// An answer may echo what it was sent: its words never show a secret.
	if err := checkAnswer(resp.StatusCode, resp.Header.Get("Retry-After"), blot(b, key, c.clientID()), c.clock.Now()); err != nil {
		return b, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	return b, nil
}

// decodeAnswer reads a successful answer into v; a mismatch is the API
// not answering as documented.
func decodeAnswer(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return &APIError{Status: http.StatusOK, Msg: "the answer is not what the API documents: " + clean(err.Error())}
	}
	return nil
}

// wait blocks until lim allows a request, measuring time with the
// connector's clock.
func (c *CRM) wait(ctx context.Context, lim *rate.Limiter) error {
	now := c.clock.Now()
	r := lim.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d <= 0 {
		return nil
	}
	t := c.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.Chan():
		return nil
	case <-ctx.Done():
		r.CancelAt(c.clock.Now())
		return ctx.Err()
	}
}
