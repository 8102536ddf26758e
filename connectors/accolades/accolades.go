// Package accolades connects Ringside to the Accolades (voipit.ro) cloud PBX:
// the "API CRM" WebSocket that announces the agent's calls, the REST call
// that dials from the agent's phone, and the per-user call-notification
// webhook that reports answers and hang-ups.
//
// The socket is wss://client.voipit.ro:14327. The client signs in with the
// agent's External CRM id (shown in the PHONE container of the Accolades web
// interface), is answered authSucces (sic; the current client says
// authSuccess) or authFailed with a reason, may ask for the configuration
// texts of the account, phone and agent and for the API version, and is then
// sent incomingCall and outgoingCall messages until the server says
// connectionClosed. The spellings of the vendor's documentation are kept
// exactly, typos included (authSucces, IP_MISSMATCH).
//
// The connector implements connectors.Source (the socket), connectors.Dialer
// (REST dial), connectors.Tester and connectors.Router (the webhook, mounted
// on Ringside's webhook listener).
// Package simulator is a local server speaking the same protocol, for tests
// and the demo.
package accolades

import (
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/jonboulle/clockwork"

	"github.com/ringside/ringside/connectors"
)

//go:embed sample.toml
var sample string

// Type is the "accolades" connector type: a Source (the API CRM socket), a
// Dialer (REST dial), a Tester and a Router (the call-notification webhook).
func Type() connectors.Type {
	return connectors.Type{
		Name:   "accolades",
		Doc:    "Accolades (voipit.ro) cloud PBX: call pop-ups from the API CRM socket, dialing from the agent's phone",
		Sample: []byte(sample),
		New: func(sec connectors.Section, deps connectors.Deps) (any, error) {
			var cfg Config
			if err := sec.Decode(&cfg); err != nil {
				return nil, err
			}
			return newConnector(sec.Where(), cfg, deps)
		},
	}
}

// Vendor is the namespace of the call ids this connector reports
// (connectors.Event.Vendor): the socket's uniqueId and the webhook's callId
// are the same id.
const Vendor = "accolades"

// Defaults and limits.
const (
	DefaultURL     = "wss://client.voipit.ro:14327"
	DefaultDialURL = "https://client.voipit.ro"

	defaultHandshake = 10 * time.Second
	defaultPongWait  = 60 * time.Second
	minTiming        = time.Second
	maxTiming        = 10 * time.Minute
	writeWait        = 10 * time.Second
	dialTimeout      = 15 * time.Second

	// MaxFrame is the largest message read from the socket, in bytes.
	MaxFrame = 64 << 10
	// maxData is the spec's limit for an entity's configuration text, in
	// characters; longer texts are cut in diagnostics.
	maxData = 2000
	maxID   = 128 // longest id_crm, account or device_id accepted
)

// Config is the settings section of an "accolades" connector. Durations are
// strings such as "10s"; empty fields take their defaults.
type Config struct {
	URL              string `toml:"url"`
	IDCrm            string `toml:"id_crm"`
	CAFile           string `toml:"ca_file"`
	HandshakeTimeout string `toml:"handshake_timeout"`
	PongWait         string `toml:"pong_wait"`
	Account          string `toml:"account"`
	DeviceID         string `toml:"device_id"`
	DialURL          string `toml:"dial_url"`
}

// Connector is an "accolades" connector. Run is called by the runner, one
// call at a time; Dial, Test, Configuration, Routes and the routes' Parse
// may be called from any goroutine.
type Connector struct {
	name   string
	url    string
	idCrm  string
	tls    *tls.Config // nil: the system roots
	phones *connectors.PhoneParser
	logger *slog.Logger
	clock  clockwork.Clock

	// Timings; tests shorten them.
	handshakeTimeout time.Duration // connect, and again for the auth answer
	pongWait         time.Duration // silence after which the link counts as stalled
	pingPeriod       time.Duration // 9/10 of pongWait
	writeWait        time.Duration

	account  string // REST dial; empty: dialing is off
	deviceID string
	dialURL  string
	client   *http.Client
	secrets  connectors.Secrets

	mu   sync.Mutex
	conf Configuration // the last configuration and version received
}

// New validates cfg and builds the connector. It makes no network call; it
// reads ca_file.
func New(cfg Config, deps connectors.Deps) (*Connector, error) {
	return newConnector("accolades", cfg, deps)
}

func newConnector(where string, cfg Config, deps connectors.Deps) (*Connector, error) {
	if deps.Phones == nil {
		return nil, fmt.Errorf("%s: no phone parser (a wiring bug)", where)
	}
	c := &Connector{
		name:             deps.Name,
		phones:           deps.Phones,
		logger:           deps.Logger,
		clock:            deps.Clock,
		secrets:          deps.Secrets,
		handshakeTimeout: defaultHandshake,
		pongWait:         defaultPongWait,
		writeWait:        writeWait,
	}
	if c.logger == nil { // deps.Logger already carries connector=<name>
		c.logger = slog.New(slog.DiscardHandler)
	}
	if c.clock == nil {
		c.clock = clockwork.NewRealClock()
	}

	c.url = strings.TrimSpace(cfg.URL)
	if c.url == "" {
		c.url = DefaultURL
	}
	if err := checkAddress(c.url, "wss", "ws"); err != nil {
		return nil, fmt.Errorf("%s: url: %w", where, err)
	}

	c.idCrm = strings.TrimSpace(cfg.IDCrm)
	if c.idCrm == "" {
		return nil, fmt.Errorf("%s: id_crm: required: the agent's External CRM id, shown in the PHONE container of the Accolades web interface", where)
	}
	if err := checkID(c.idCrm); err != nil {
		return nil, fmt.Errorf("%s: id_crm: %w", where, err)
	}

	if cfg.CAFile != "" {
		caFile, err := connectors.ResolvePath(deps.ConfigDir, cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s: ca_file: %w", where, err)
		}
		conf, err := loadCA(caFile)
		if err != nil {
			return nil, fmt.Errorf("%s: ca_file: %w", where, err)
		}
		c.tls = conf
	}

	var err error
	if c.handshakeTimeout, err = timing(cfg.HandshakeTimeout, defaultHandshake); err != nil {
		return nil, fmt.Errorf("%s: handshake_timeout: %w", where, err)
	}
	if c.pongWait, err = timing(cfg.PongWait, defaultPongWait); err != nil {
		return nil, fmt.Errorf("%s: pong_wait: %w", where, err)
	}
	c.pingPeriod = c.pongWait * 9 / 10

	c.account = strings.TrimSpace(cfg.Account)
	c.deviceID = strings.TrimSpace(cfg.DeviceID)
	switch {
	case c.account != "" && c.deviceID == "":
		return nil, fmt.Errorf("%s: device_id: required with account: dialing needs both (or neither, to leave dialing off)", where)
	case c.account == "" && c.deviceID != "":
		return nil, fmt.Errorf("%s: account: required with device_id: dialing needs both (or neither, to leave dialing off)", where)
	}
	if c.account != "" {
		if strings.IndexFunc(c.account, func(r rune) bool { return !isPathChar(r) }) >= 0 || len(c.account) > maxID {
			return nil, fmt.Errorf("%s: account: %q is not an account number (letters, digits, - and _ only)", where, c.account)
		}
		if err := checkID(c.deviceID); err != nil {
			return nil, fmt.Errorf("%s: device_id: %w", where, err)
		}
	}
	c.dialURL = strings.TrimRight(strings.TrimSpace(cfg.DialURL), "/")
	if c.dialURL == "" {
		c.dialURL = DefaultDialURL
	}
	if err := checkAddress(c.dialURL, "https", "http"); err != nil {
		return nil, fmt.Errorf("%s: dial_url: %w", where, err)
	}
	if u, _ := url.Parse(c.dialURL); u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%s: dial_url: put no query in the address: the account number and /dial/ are added to it", where)
	}
	c.client = deps.HTTPClient(dialTimeout)
	if c.tls != nil {
		if t, ok := c.client.Transport.(*http.Transport); ok {
			t.TLSClientConfig = c.tls.Clone()
		}
	}
	return c, nil
}

// checkAddress accepts an absolute URL with the secure scheme, or the plain
// one for a loopback host (a local simulator or test server).
func checkAddress(raw, secure, plain string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not an address: %w", raw, err)
	}
	if u.Host == "" || u.Scheme != secure && u.Scheme != plain {
		return fmt.Errorf("%q is not a %s:// address", raw, secure)
	}
	if u.User != nil {
		return errors.New("put no user or password in the address")
	}
	if u.Scheme == plain && !isLoopback(u.Hostname()) {
		return fmt.Errorf("%s:// sends calls unencrypted and is only allowed to this computer (localhost, 127.0.0.1, ::1): use %s://%s", plain, secure, u.Host)
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkID accepts one line of printable text without spaces.
func checkID(s string) error {
	if len(s) > maxID {
		return fmt.Errorf("longer than %d characters", maxID)
	}
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0 {
		return fmt.Errorf("%q holds spaces or control characters", s)
	}
	return nil
}

func isPathChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
}

func timing(s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < minTiming || d > maxTiming {
		return 0, fmt.Errorf("%q is not a duration between %v and %v, such as %q", s, minTiming, maxTiming, def.String())
	}
	return d, nil
}

// loadCA makes a TLS configuration trusting the system roots and the PEM
// certificates in path.
func loadCA(path string) (*tls.Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	n := 0
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: a certificate does not parse: %w", path, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate (-----BEGIN CERTIFICATE-----)", path)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// Entity is one of the three entities Accolades keeps a configuration text
// for (account, phone, agent).
type Entity struct {
	ID   string `json:"id"`
	Data string `json:"data"`
}

// Configuration is what the server told about the agent: the configuration
// texts of the account, phone and agent, and the API version. A zero Entity
// was not sent.
type Configuration struct {
	Account Entity `json:"account"`
	Phone   Entity `json:"phone"`
	Agent   Entity `json:"agent"`
	Version string `json:"version,omitempty"`
}

// Configuration returns the last configuration and version the server sent,
// kept across reconnects. It is safe for concurrent use.
func (c *Connector) Configuration() Configuration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conf
}

func (c *Connector) setConfiguration(f func(*Configuration)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(&c.conf)
}
