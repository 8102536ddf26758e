// Package retailcrm connects Ringside to retailCRM's telephony API (v5): it
// registers Ringside as the account's telephony module, tells retailCRM about
// calls as they ring, start and end so it shows its call card, uploads the
// call history, names callers from the responsible manager lookup, sets the
// agent's status, and parses the two callbacks retailCRM makes (click-to-dial
// and a user's status change).
//
// The protocol, from retailCRM's documentation and official API clients:
//   - Base address {url}/api/v5, the API key in the X-API-KEY header.
//   - POST bodies are application/x-www-form-urlencoded, each object a JSON
//     string in one field (integrationModule=, event=, calls=); GET filters
//     use brackets (filter[name]=…).
//   - Every answer is JSON with "success"; it is checked on HTTP 200 too.
//     A refusal is {"success":false,"errorMsg":"…","errors":…}, errors an
//     object or a list. 429 and 503 mean "rate limited"; a body starting
//     with "<" means there is no account at that address.
//   - 10 requests/s per key, 40/s for /api/v5/telephony/*.
//
// The spellings are retailCRM's and differ between methods on purpose: a
// hang-up event says hangupStatus "no answered", the history upload says
// result "no answer".
//
// CRM implements connectors.Lookuper, CallLogger, Batcher, RateLimiter,
// StatusSetter, Tester, Router and CallbackBaser (the two callbacks, served
// by the webhook listener); NotifyCall (live call events) and Register (the
// telephony module) are for the app.
package retailcrm

import (
	"cmp"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	// The timezone key names an IANA zone; Windows has no zone database
	// Go can read, so the binary carries one (about 450 KB).
	_ "time/tzdata"

	"github.com/jonboulle/clockwork"
	"golang.org/x/time/rate"

	"github.com/ringside/ringside/connectors"
)

//go:embed sample.toml
var sample string

// Type is the "retailcrm" connector type.
func Type() connectors.Type {
	return connectors.Type{
		Name:   "retailcrm",
		Doc:    "retailCRM telephony: call cards, call history, caller lookup, click-to-dial and agent status",
		Sample: []byte(sample),
		New: func(sec connectors.Section, deps connectors.Deps) (any, error) {
			var cfg Config
			if err := sec.Decode(&cfg); err != nil {
				return nil, err
			}
			return newCRM(sec.Where(), cfg, deps)
		},
	}
}

// Vendor is the namespace of the events this connector emits from
// retailCRM's callbacks (connectors.Event.Vendor).
const Vendor = "retailcrm"

// Defaults and limits.
const (
	DefaultCode           = "ringside"
	defaultTimeout        = 10 * time.Second
	defaultUploadInterval = 5 * time.Minute
	minUploadInterval     = time.Minute
	maxUploadInterval     = 24 * time.Hour

	// MaxBatch is the most calls one history upload may carry.
	MaxBatch = 50
	// TelephonyRate is retailCRM's limit for /api/v5/telephony/*, and
	// GeneralRate for every other method, in requests per second per key.
	TelephonyRate = 40
	GeneralRate   = 10

	// defaultEventTimeout bounds a live call event: it is worth nothing late.
	defaultEventTimeout = 3 * time.Second
	// maxAnswer is the most of an answer read, in bytes.
	maxAnswer = 1 << 20
	maxCode   = 64 // longest module, agent or site code accepted
)

// Upload strategies, the two of retailCRM's documentation.
const (
	UploadImmediate = "immediate" // each call as soon as it ends
	UploadPeriodic  = "periodic"  // what accumulated, every upload_interval
)

// Config is the settings section of a "retailcrm" connector. Durations are
// strings such as "10s"; empty fields take their defaults. The API key and
// the client id are secrets ("api_key", "client_id"), never in the file.
type Config struct {
	URL                 string           `toml:"url"`
	Code                string           `toml:"code"`
	UserID              int64            `toml:"user_id"`
	Site                string           `toml:"site"`
	Codes               map[string]int64 `toml:"codes"`
	ExternalPhones      []ExternalPhone  `toml:"external_phones"`
	Upload              string           `toml:"upload"`
	UploadInterval      string           `toml:"upload_interval"`
	MakeCallURL         string           `toml:"make_call_url"`
	ChangeUserStatusURL string           `toml:"change_user_status_url"`
	Timeout             string           `toml:"timeout"`
	Timezone            string           `toml:"timezone"`
}

// ExternalPhone ties one of the company's public numbers to a retailCRM
// site (shop), so retailCRM can say which shop a call is for.
type ExternalPhone struct {
	SiteCode      string `toml:"site_code"`
	ExternalPhone string `toml:"external_phone"`
}

// CRM is a "retailcrm" connector. It is safe for concurrent use.
type CRM struct {
	name      string
	root      string // the account's address, without a trailing slash
	code      string // the telephony module's code
	userID    int64  // the agent's retailCRM user; 0: not set
	site      string
	codes     map[string]int64 // agent code → retailCRM user id
	ownCode   string           // the code of userID in codes, if any
	external  []ExternalPhone
	periodic  bool
	interval  time.Duration
	makeCall  string
	setStatus string
	loc       *time.Location
	eventWait time.Duration // the most a call event may take

	client    *http.Client
	telephony *rate.Limiter // /telephony/*
	general   *rate.Limiter // everything else
	secrets   connectors.Secrets
	phones    *connectors.PhoneParser
	logger    *slog.Logger
	clock     clockwork.Clock

	clientIDCache atomic.Pointer[string] // the secret "client_id" as last read, for the listener

	mu           sync.Mutex
	callbackBase string // where the listener reaches the routes; "" until SetCallbackBase
}

func newCRM(where string, cfg Config, deps connectors.Deps) (*CRM, error) {
	if deps.Phones == nil {
		return nil, fmt.Errorf("%s: no phone parser (a wiring bug)", where)
	}
	c := &CRM{
		name:      deps.Name,
		secrets:   deps.Secrets,
		phones:    deps.Phones,
		logger:    deps.Logger,
		clock:     deps.Clock,
		loc:       time.Local,
		eventWait: defaultEventTimeout,
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if c.clock == nil {
		c.clock = clockwork.NewRealClock()
	}
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s: %s", where, key, fmt.Sprintf(format, args...)))
	}

	switch root, err := checkAccountURL(cfg.URL); {
	case cfg.URL == "":
		bad("url", `required: the address of your retailCRM account, e.g. "https://demo.retailcrm.ru"`)
	case err != nil:
		bad("url", "%v", err)
	default:
		c.root = root
	}

	c.code = cmp.Or(cfg.Code, DefaultCode)
	if err := checkCode(c.code); err != nil {
		bad("code", "%v", err)
	}
	if cfg.UserID < 0 {
		bad("user_id", "%d is not a retailCRM user id (a positive number, or leave it out)", cfg.UserID)
	}
	c.userID = max(cfg.UserID, 0)
	if cfg.Site != "" {
		if err := checkCode(cfg.Site); err != nil {
			bad("site", "%v", err)
		}
		c.site = cfg.Site
	}

	c.codes = make(map[string]int64, len(cfg.Codes))
	for _, code := range slices.Sorted(maps.Keys(cfg.Codes)) {
		id := cfg.Codes[code]
		if err := checkCode(code); err != nil {
			bad("codes", "agent code %v", err)
			continue
		}
		if id <= 0 {
			bad("codes", "the user id of agent code %q is %d: want retailCRM's user id, a positive number", code, id)
			continue
		}
		c.codes[code] = id
		if id == c.userID && c.ownCode == "" {
			c.ownCode = code // the first code in sorted order: deterministic
		}
	}

	for i, p := range cfg.ExternalPhones {
		switch {
		case p.SiteCode == "" || p.ExternalPhone == "":
			bad("external_phones", "entry %d: both site_code and external_phone are required", i+1)
		case checkCode(p.SiteCode) != nil:
			bad("external_phones", "entry %d: site_code %v", i+1, checkCode(p.SiteCode))
		case !plausiblePhone(p.ExternalPhone):
			bad("external_phones", "entry %d: external_phone is not a phone number", i+1)
		default:
			c.external = append(c.external, p)
		}
	}

	switch cfg.Upload {
	case "", UploadImmediate:
		if cfg.UploadInterval != "" {
			bad("upload_interval", `only used with upload = "periodic"`)
		}
	case UploadPeriodic:
		c.periodic = true
		c.interval = defaultUploadInterval
		if cfg.UploadInterval != "" {
			d, err := time.ParseDuration(cfg.UploadInterval)
			if err != nil || d < minUploadInterval || d > maxUploadInterval {
				bad("upload_interval", "%q is not a duration between %v and %v, such as \"10m\"", cfg.UploadInterval, minUploadInterval, maxUploadInterval)
			} else {
				c.interval = d
			}
		}
	default:
		bad("upload", "%q is not %q or %q", cfg.Upload, UploadImmediate, UploadPeriodic)
	}

	for _, u := range []struct {
		key string
		raw string
		dst *string
	}{{"make_call_url", cfg.MakeCallURL, &c.makeCall}, {"change_user_status_url", cfg.ChangeUserStatusURL, &c.setStatus}} {
		if u.raw == "" {
			continue
		}
		if err := checkCallbackURL(u.raw); err != nil {
			bad(u.key, "%v", err)
			continue
		}
		*u.dst = u.raw
	}

	timeout := defaultTimeout
	if cfg.Timeout != "" {
		d, err := time.ParseDuration(cfg.Timeout)
		if err != nil || d <= 0 || d > 5*time.Minute {
			bad("timeout", "%q is not a duration between 0s and 5m, such as \"10s\"", cfg.Timeout)
		} else {
			timeout = d
		}
	}
	if cfg.Timezone != "" {
		loc, err := time.LoadLocation(cfg.Timezone)
		if err != nil {
			bad("timezone", "%q is not a time zone name such as \"Europe/Moscow\"", cfg.Timezone)
		} else {
			c.loc = loc
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	c.client = deps.HTTPClient(timeout)
	// A redirect would carry X-API-KEY to wherever it points (Go strips
	// only its own sensitive headers): answers are taken as they come.
	c.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	// Burst 1: requests go evenly spaced at the rate, never bunched.
	c.telephony = rate.NewLimiter(TelephonyRate, 1)
	c.general = rate.NewLimiter(GeneralRate, 1)
	return c, nil
}

// checkAccountURL accepts the address of an account: https (http only to
// this computer, for tests), no user, no query, and no path but "/" or the
// API's own "/api/v5" (which is dropped). It returns the address without a
// trailing slash.
func checkAccountURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", errors.New("not an address such as \"https://demo.retailcrm.ru\"")
	case u.User != nil:
		return "", errors.New("put no user or password in the address: the API key is the secret \"api_key\"")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", errors.New("give the account's address without \"?…\" or \"#…\", e.g. \"https://demo.retailcrm.ru\"")
	case u.Host == "" || u.Scheme != "https" && u.Scheme != "http":
		return "", fmt.Errorf("%q is not an https:// address such as \"https://demo.retailcrm.ru\"", raw)
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return "", fmt.Errorf("http:// would send the API key unencrypted: use https://%s", u.Host)
	}
	switch strings.TrimSuffix(u.Path, "/") {
	case "", "/api/v5", "/api":
	default:
		return "", fmt.Errorf("%q: give the account's address without a path, e.g. \"%s://%s\"", raw, u.Scheme, u.Host)
	}
	return u.Scheme + "://" + u.Host, nil
}

// checkCallbackURL accepts an absolute http(s) address without credentials.
func checkCallbackURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.Scheme != "https" && u.Scheme != "http":
		return errors.New("not an http:// or https:// address")
	case u.User != nil:
		return errors.New("put no user or password in the address: retailCRM proves itself with the client id")
	}
	return nil
}

// reachableFromInternet reports whether retailCRM's servers could plausibly
// call raw: not a loopback, private or link-local address.
func reachableFromInternet(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if isLoopback(host) || strings.HasSuffix(host, ".local") || !strings.Contains(host, ".") && net.ParseIP(host) == nil {
		return false
	}
	if ip := net.ParseIP(host); ip != nil {
		return !(ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified())
	}
	return true
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkCode accepts the codes retailCRM uses for modules, sites and
// extensions: letters, digits, "-", "_" and ".", at most 64.
func checkCode(s string) error {
	if s == "" {
		return errors.New("is empty")
	}
	if len(s) > maxCode {
		return fmt.Errorf("%q… is longer than %d characters", clip(s, 16), maxCode)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("%q may hold only letters, digits, \"-\", \"_\" and \".\"", s)
		}
	}
	return nil
}

// plausiblePhone accepts a number as people write it: digits with +, spaces,
// dashes, dots and brackets, 3 to 20 digits.
func plausiblePhone(s string) bool {
	n := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			n++
		case strings.ContainsRune("+ -.()", r):
		default:
			return false
		}
	}
	return n >= 3 && n <= 20
}

// BatchSize is retailCRM's limit: 50 calls per history upload.
func (c *CRM) BatchSize() int { return MaxBatch }

// RateLimit is retailCRM's limit for telephony methods, 40 requests per
// second, with a burst of 1 so the outbox spaces its uploads evenly. The
// connector also holds every request it sends, live events and lookups
// included, to that limit.
func (c *CRM) RateLimit() (perSecond float64, burst int) { return TelephonyRate, 1 }

// agent returns the extension code and retailCRM user id a call is reported
// with: the agent code the phone system gave, when codes knows it, else this
// agent's user_id and its code.
func (c *CRM) agent(code string) (string, int64) {
	if id, ok := c.codes[code]; ok && code != "" {
		return code, id
	}
	return c.ownCode, c.userID
}

// externalPhone is the company number a call came in on or went out from:
// the source's when it said (Extra["external_phone"]), else the number of
// the configured site.
func (c *CRM) externalPhone(extra map[string]string) string {
	if p := extra["external_phone"]; p != "" && plausiblePhone(p) {
		return p
	}
	if c.site == "" {
		return ""
	}
	for _, p := range c.external {
		if p.SiteCode == c.site {
			return p.ExternalPhone
		}
	}
	return ""
}

// phoneOf is a number as retailCRM is sent it: E.164 when known, else as
// the vendor spelled it.
func phoneOf(p connectors.Phone) string {
	if p.E164 != "" {
		return p.E164
	}
	return strings.TrimSpace(p.Raw)
}
