// Package httpcrm delivers finished calls to any CRM with a JSON HTTP
// endpoint, and optionally looks callers up over HTTP: the connector for a
// CRM Ringside has no dedicated connector for, or for a small in-house
// service.
//
// A call log is POSTed as the JSON of connectors.CallLog, with its Key as the
// Idempotency-Key header; a lookup is a GET of a URL template with the number
// in it. Answers are sorted by connectors.CheckResponse; 409 Conflict means
// the CRM already has the call and counts as delivered.
package httpcrm

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/time/rate"

	"github.com/ringside/ringside/connectors"
)

//go:embed sample.toml
var sample string

// Type is the "httpcrm" connector type: a CallLogger, Batcher, RateLimiter,
// Lookuper and Tester for a generic JSON HTTP CRM.
func Type() connectors.Type {
	return connectors.Type{
		Name:   "httpcrm",
		Doc:    "Send finished calls to any CRM as JSON over HTTP, and look callers up there",
		Sample: []byte(sample),
		New:    newCRM,
	}
}

// Limits and defaults of the settings.
const (
	defaultTimeout = 10 * time.Second
	maxBatch       = 100
	maxAnswer      = 1 << 20 // bytes of a lookup answer read
)

// testPhone is the number Test looks up: a fictional North American number
// (555-0100 to 555-0199 are reserved for fiction), unlikely to be anyone's.
const testPhone = "+15555550100"

// config is the settings section of an "httpcrm" connector.
type config struct {
	URL       string            `toml:"url"`
	LookupURL string            `toml:"lookup_url"`
	Auth      string            `toml:"auth"`
	Username  string            `toml:"username"`
	Timeout   string            `toml:"timeout"`
	BatchSize int               `toml:"batch_size"`
	RateLimit float64           `toml:"rate_limit"`
	Headers   map[string]string `toml:"headers"`
}

// authMode is how requests are authenticated.
type authMode uint8

const (
	authNone   authMode = iota
	authBearer          // Authorization: Bearer <secret "token">
	authBasic           // basic auth with username and secret "password"
)

// CRM is an "httpcrm" connector. It is safe for concurrent use.
type CRM struct {
	name      string
	url       string
	lookupURL string // template with {phone}; empty: no lookups
	auth      authMode
	username  string
	batch     int
	rate      float64
	headers   http.Header

	client  *http.Client
	limiter *rate.Limiter // nil when rate is 0
	secrets connectors.Secrets
	logger  *slog.Logger
	clock   clockwork.Clock
}

func newCRM(sec connectors.Section, deps connectors.Deps) (any, error) {
	var cfg config
	if err := sec.Decode(&cfg); err != nil {
		return nil, err
	}
	where := sec.Where()
	c := &CRM{name: deps.Name, secrets: deps.Secrets, logger: deps.Logger, clock: deps.Clock}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if c.clock == nil {
		c.clock = clockwork.NewRealClock()
	}

	if cfg.URL == "" {
		return nil, fmt.Errorf("%s: url: required: the address call logs are POSTed to, e.g. \"https://crm.example/api/calls\"", where)
	}
	if err := checkURL(cfg.URL); err != nil {
		return nil, fmt.Errorf("%s: url: %w", where, err)
	}
	c.url = cfg.URL
	if cfg.LookupURL != "" {
		if !strings.Contains(cfg.LookupURL, "{phone}") {
			return nil, fmt.Errorf("%s: lookup_url: put {phone} where the number goes, e.g. \"https://crm.example/api/contacts?phone={phone}\"", where)
		}
		if err := checkURL(strings.ReplaceAll(cfg.LookupURL, "{phone}", "%2B40211234567")); err != nil {
			return nil, fmt.Errorf("%s: lookup_url: %w", where, err)
		}
		c.lookupURL = cfg.LookupURL
	}

	switch cfg.Auth {
	case "", "none":
		c.auth = authNone
	case "bearer":
		c.auth = authBearer
	case "basic":
		c.auth = authBasic
		if cfg.Username == "" {
			return nil, fmt.Errorf("%s: username: required with auth = \"basic\" (the password is the secret \"password\")", where)
		}
	default:
		return nil, fmt.Errorf("%s: auth: %q is not one of \"none\", \"bearer\", \"basic\"", where, cfg.Auth)
	}
	if cfg.Username != "" && c.auth != authBasic {
		return nil, fmt.Errorf("%s: username: only used with auth = \"basic\"", where)
	}
	c.username = cfg.Username

	timeout := defaultTimeout
	if cfg.Timeout != "" {
		d, err := time.ParseDuration(cfg.Timeout)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%s: timeout: %q is not a positive duration such as \"10s\"", where, cfg.Timeout)
		}
		timeout = d
	}

	switch {
	case cfg.BatchSize == 0:
		c.batch = 1
	case cfg.BatchSize < 1 || cfg.BatchSize > maxBatch:
		return nil, fmt.Errorf("%s: batch_size: %d is not between 1 and %d", where, cfg.BatchSize, maxBatch)
	default:
		c.batch = cfg.BatchSize
	}

	if cfg.RateLimit < 0 || math.IsNaN(cfg.RateLimit) || math.IsInf(cfg.RateLimit, 0) {
		return nil, fmt.Errorf("%s: rate_limit: %v is not a number of requests per second (0 for no limit)", where, cfg.RateLimit)
	}
	if cfg.RateLimit > 0 {
		c.rate = cfg.RateLimit
		c.limiter = rate.NewLimiter(rate.Limit(c.rate), burst(c.rate))
	}

	c.headers = make(http.Header, len(cfg.Headers))
	for k, v := range cfg.Headers {
		if err := checkHeader(k, v, c.auth); err != nil {
			return nil, fmt.Errorf("%s: headers: %w", where, err)
		}
		c.headers.Set(k, v)
	}

	c.client = deps.HTTPClient(timeout)
	return c, nil
}

// checkURL accepts absolute http and https URLs without credentials.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%q is not an http:// or https:// address", raw)
	}
	if u.User != nil {
		return errors.New("put no user or password in the address: use auth = \"basic\" with username and the secret \"password\"")
	}
	return nil
}

// checkHeader refuses malformed headers and those the connector sets.
func checkHeader(k, v string, auth authMode) error {
	if k == "" || strings.IndexFunc(k, func(r rune) bool { return !isTokenChar(r) }) >= 0 {
		return fmt.Errorf("%q is not a valid header name", k)
	}
	if strings.ContainsAny(v, "\r\n\x00") {
		return fmt.Errorf("the value of %s holds a line break", k)
	}
	switch http.CanonicalHeaderKey(k) {
	case "Content-Type", "Content-Length", "Idempotency-Key", "Host", "Transfer-Encoding":
		return fmt.Errorf("%s is set by the connector", k)
	case "Authorization":
		if auth != authNone {
			return fmt.Errorf("%s is set by auth; leave it out or set auth = \"none\"", k)
		}
	}
	return nil
}

func isTokenChar(r rune) bool {
	return r < 0x7f && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r))
}

func burst(perSecond float64) int { return max(1, int(math.Ceil(perSecond))) }

// BatchSize is the batch_size setting: how many call logs one request
// carries (1 unless set).
func (c *CRM) BatchSize() int { return c.batch }

// RateLimit is the rate_limit setting and a burst of max(1, ceil(rate)).
// Without a rate_limit it is (0, 0): 0 means unlimited.
func (c *CRM) RateLimit() (perSecond float64, burst int) {
	if c.limiter == nil {
		return 0, 0
	}
	return c.rate, c.limiter.Burst()
}

// LogCalls POSTs the logs: one JSON object per request when batch_size is 1,
// otherwise a JSON array of up to batch_size objects. The Idempotency-Key
// header holds the first log's Key; each object carries its own "key".
// 2xx and 409 Conflict are delivered; 429 and 5xx are retried (honouring
// Retry-After), other 4xx are permanent; network errors are retried.
// Given more than batch_size logs it sends several requests and reports
// per-log outcomes with a *connectors.BatchError.
func (c *CRM) LogCalls(ctx context.Context, logs []connectors.CallLog) error {
	if len(logs) <= c.batch {
		return c.deliver(ctx, logs)
	}
	errs := make([]error, len(logs))
	failed := false
	for i := 0; i < len(logs); i += c.batch {
		j := min(i+c.batch, len(logs))
		if err := c.deliver(ctx, logs[i:j]); err != nil {
			failed = true
			for k := i; k < j; k++ {
				errs[k] = err
			}
		}
	}
	if !failed {
		return nil
	}
	return &connectors.BatchError{Errs: errs}
}

// deliver sends logs (at most one batch) in one request.
func (c *CRM) deliver(ctx context.Context, logs []connectors.CallLog) error {
	if len(logs) == 0 {
		return nil
	}
	var body []byte
	var err error
	if c.batch > 1 {
		body, err = json.Marshal(logs)
	} else {
		body, err = json.Marshal(logs[0])
	}
	if err != nil {
		return connectors.Permanent(fmt.Errorf("httpcrm: encode call log: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return connectors.Permanent(fmt.Errorf("httpcrm: deliver call log: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	if logs[0].Key != "" {
		req.Header.Set("Idempotency-Key", logs[0].Key)
	}
	resp, err := c.do(ctx, req, c.url)
	if err != nil {
		return fmt.Errorf("httpcrm: deliver call log: %w", err)
	}
	defer drain(resp.Body)
	if resp.StatusCode == http.StatusConflict {
		c.logger.Debug("httpcrm: the CRM already has the call", "key", logs[0].Key, "logs", len(logs))
		return nil
	}
	if err := connectors.CheckResponse(resp, c.clock.Now()); err != nil {
		scrubBody(err, phonesOf(logs)...)
		return fmt.Errorf("httpcrm: deliver call log: %w", err)
	}
	c.logger.Debug("httpcrm: delivered", "key", logs[0].Key, "logs", len(logs), "status", resp.StatusCode)
	return nil
}

func phonesOf(logs []connectors.CallLog) []connectors.Phone {
	ps := make([]connectors.Phone, len(logs))
	for i, l := range logs {
		ps[i] = l.Phone
	}
	return ps
}

// Lookup GETs lookup_url with the number (E.164 when known, otherwise its
// digits) in place of {phone}. The answer is a JSON object with any of id,
// name, company, manager, url and new_url, or an array whose first element
// is one; 404, 204, an empty array or null mean not found. Without a
// lookup_url it returns a Contact that is not Known.
func (c *CRM) Lookup(ctx context.Context, p connectors.Phone) (connectors.Contact, error) {
	contact, err := c.lookup(ctx, p)
	if err != nil {
		return connectors.Contact{}, fmt.Errorf("httpcrm: lookup: %w", err)
	}
	return contact, nil
}

func (c *CRM) lookup(ctx context.Context, p connectors.Phone) (connectors.Contact, error) {
	if c.lookupURL == "" {
		return connectors.Contact{}, nil
	}
	num := p.E164
	if num == "" {
		num = p.Key()
	}
	if num == "" {
		return connectors.Contact{}, nil
	}
	u := strings.ReplaceAll(c.lookupURL, "{phone}", url.QueryEscape(num))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return connectors.Contact{}, err
	}
	resp, err := c.do(ctx, req, c.lookupURL)
	if err != nil {
		return connectors.Contact{}, err
	}
	defer drain(resp.Body)
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusNoContent {
		return connectors.Contact{}, nil
	}
	if err := connectors.CheckResponse(resp, c.clock.Now()); err != nil {
		scrubBody(err, p)
		return connectors.Contact{}, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return connectors.Contact{}, fmt.Errorf("read answer: %w", err)
	}
	if len(body) > maxAnswer {
		return connectors.Contact{}, &answerError{fmt.Errorf("larger than %d KiB", maxAnswer>>10)}
	}
	contact, err := decodeContact(body)
	if err != nil {
		return connectors.Contact{}, &answerError{err}
	}
	contact.Source = c.name
	return contact, nil
}

// answerError is a lookup answer that could not be decoded.
type answerError struct{ err error }

func (e *answerError) Error() string { return "decode answer: " + e.err.Error() }
func (e *answerError) Unwrap() error { return e.err }

// Test checks the secret, then looks up a fictional number when lookup_url
// is set (2xx or 404 is fine), then sends HEAD to url: any answer but
// 401/403 (credentials), 404 (wrong path) and 5xx shows the CRM is there.
// It sends no call log.
func (c *CRM) Test(ctx context.Context) error {
	if _, err := c.authorization(); err != nil {
		return fmt.Errorf("httpcrm: %w", err)
	}
	if c.lookupURL != "" {
		if _, err := c.lookup(ctx, connectors.Phone{Raw: testPhone, E164: testPhone}); err != nil {
			return fmt.Errorf("httpcrm: lookup_url does not work: %s", explain(err))
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, c.url, nil)
	if err != nil {
		return fmt.Errorf("httpcrm: url: %w", err)
	}
	resp, err := c.do(ctx, req, c.url)
	if err != nil {
		return fmt.Errorf("httpcrm: url does not work: %s", explain(err))
	}
	defer drain(resp.Body)
	switch s := resp.StatusCode; {
	case s == http.StatusUnauthorized || s == http.StatusForbidden,
		s == http.StatusNotFound, s >= 500:
		return fmt.Errorf("httpcrm: url does not work: %s", explain(&connectors.HTTPStatusError{Status: s}))
	}
	return nil
}

// explain puts a failed request in words for the agent.
func explain(err error) string {
	var hs *connectors.HTTPStatusError
	if errors.As(err, &hs) {
		switch s := hs.Status; {
		case s == http.StatusUnauthorized || s == http.StatusForbidden:
			return fmt.Sprintf("the CRM refused the credentials (%v): check auth, username and the secret", hs)
		case s == http.StatusNotFound:
			return fmt.Sprintf("no such address on the CRM (%v): check the path", hs)
		case s == http.StatusTooManyRequests:
			return fmt.Sprintf("the CRM says too many requests (%v): lower rate_limit or try later", hs)
		case s >= 500:
			return fmt.Sprintf("the CRM failed (%v): try later or ask its administrator", hs)
		default:
			return fmt.Sprintf("the CRM refused the request (%v)", hs)
		}
	}
	var se *secretError
	if errors.As(err, &se) {
		return se.Error()
	}
	var ae *answerError
	if errors.As(err, &ae) {
		return fmt.Sprintf("the answer is not the JSON this connector expects (%v)", ae.err)
	}
	return fmt.Sprintf("cannot reach the CRM (%v)", err)
}

// do waits for the rate limit, adds the static headers and credentials and
// sends req. Errors name the request by tmpl (the configured address without
// its query, so neither a number nor a key in it is shown).
func (c *CRM) do(ctx context.Context, req *http.Request, tmpl string) (*http.Response, error) {
	if err := c.wait(ctx); err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "Ringside httpcrm")
	for k, vs := range c.headers {
		req.Header[k] = vs
	}
	auth, err := c.authorization()
	if err != nil {
		return nil, err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, fmt.Errorf("%s %s: %w", req.Method, redact(tmpl), ue.Err)
		}
		return nil, err
	}
	return resp, nil
}

// redact drops the query and fragment of an address for messages.
func redact(raw string) string {
	u, err := url.Parse(strings.ReplaceAll(raw, "{phone}", "PHONE"))
	if err != nil {
		return "the configured address"
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return strings.ReplaceAll(u.String(), "PHONE", "{phone}")
}

// wait blocks until the rate limit allows a request, measuring time with
// the connector's clock.
func (c *CRM) wait(ctx context.Context) error {
	if c.limiter == nil {
		return nil
	}
	now := c.clock.Now()
	r := c.limiter.ReserveN(now, 1)
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

// secretError is a missing or unreadable secret.
type secretError struct{ msg string }

func (e *secretError) Error() string { return e.msg }

// authorization reads the secret for the configured auth, at request time,
// and returns the Authorization header value ("" for auth = "none").
func (c *CRM) authorization() (string, error) {
	switch c.auth {
	case authBearer:
		tok, err := c.secret("token")
		if err != nil {
			return "", err
		}
		return "Bearer " + tok, nil
	case authBasic:
		pw, err := c.secret("password")
		if err != nil {
			return "", err
		}
		r := http.Request{Header: http.Header{}}
		r.SetBasicAuth(c.username, pw)
		return r.Header.Get("Authorization"), nil
	}
	return "", nil
}

func (c *CRM) secret(name string) (string, error) {
	if c.secrets == nil {
		return "", &secretError{fmt.Sprintf("secret %q of connector %s is not set: enter it in the connector's settings", name, c.name)}
	}
	v, err := c.secrets.Secret(name)
	if err != nil {
		return "", &secretError{fmt.Sprintf("secret %q of connector %s cannot be read (%v): enter it in the connector's settings", name, c.name, err)}
	}
	if v == "" {
		return "", &secretError{fmt.Sprintf("secret %q of connector %s is not set: enter it in the connector's settings", name, c.name)}
	}
	return v, nil
}

// scrubBody masks the numbers of phones in the body of an HTTP error, which
// a CRM may echo back and which ends up in logs and on screen.
func scrubBody(err error, phones ...connectors.Phone) {
	var hs *connectors.HTTPStatusError
	if !errors.As(err, &hs) || hs.Body == "" {
		return
	}
	for _, p := range phones {
		for _, s := range []string{p.Raw, p.E164, strings.TrimPrefix(p.E164, "+"), p.Key(), url.QueryEscape(p.E164)} {
			if len(s) >= 3 {
				hs.Body = strings.ReplaceAll(hs.Body, s, p.Masked())
			}
		}
	}
}

// drain reads a little of what is left so the connection can be reused,
// then closes the body.
func drain(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	_ = body.Close()
}

// answer is a lookup answer; fields may be strings or numbers.
type answer struct {
	ID      flexString `json:"id"`
	Name    flexString `json:"name"`
	Company flexString `json:"company"`
	Manager flexString `json:"manager"`
	URL     flexString `json:"url"`
	NewURL  flexString `json:"new_url"`
}

// flexString is a JSON string or number (kept as written), or null.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(strings.TrimSpace(s))
		return nil
	case b[0] == '-' || b[0] >= '0' && b[0] <= '9':
		*f = flexString(b)
		return nil
	}
	kind := "object"
	switch b[0] {
	case 't', 'f':
		kind = "bool"
	case '[':
		kind = "array"
	}
	return &json.UnmarshalTypeError{Value: kind, Type: reflect.TypeFor[string]()}
}

// decodeContact reads a lookup answer: an object, an array whose first
// element is the contact, or nothing (not found).
func decodeContact(body []byte) (connectors.Contact, error) {
	b := bytes.TrimSpace(body)
	if len(b) == 0 {
		return connectors.Contact{}, nil
	}
	if b[0] == '[' {
		var list []json.RawMessage
		if err := json.Unmarshal(b, &list); err != nil {
			return connectors.Contact{}, err
		}
		if len(list) == 0 {
			return connectors.Contact{}, nil
		}
		b = list[0]
	}
	var a answer
	if err := json.Unmarshal(b, &a); err != nil {
		return connectors.Contact{}, err
	}
	return connectors.Contact{
		ID:      string(a.ID),
		Name:    string(a.Name),
		Company: string(a.Company),
		Manager: string(a.Manager),
		URL:     string(a.URL),
		NewURL:  string(a.NewURL),
	}, nil
}
