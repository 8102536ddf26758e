package settings

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/adrg/xdg"
	"github.com/nyaruka/phonenumbers"

	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/connectors/webhook"
)

// Values of NotifyConfig.Mode.
const (
	NotifyPopup        = "popup"        // Ringside's own caller window
	NotifyNotification = "notification" // a desktop notification
	NotifyOff          = "off"          // nothing is shown
)

// Values of LogConfig.Level and LogConfig.Format.
const (
	LogDebug = "debug"
	LogInfo  = "info"
	LogWarn  = "warn"
	LogError = "error"

	LogText = "text"
	LogJSON = "json"
)

// maxFileSize bounds the settings file: anything larger is not a settings
// file someone wrote by hand.
const maxFileSize = 1 << 20

//go:embed example.toml
var example []byte

// Example is a complete settings file with every key commented.
func Example() []byte { return bytes.Clone(example) }

// DefaultPath is where the settings file lives unless the user says
// otherwise: <config home>/ringside/config.toml (~/.config on Linux,
// ~/Library/Application Support on macOS, %LOCALAPPDATA% on Windows).
func DefaultPath() string { return filepath.Join(xdg.ConfigHome, "ringside", "config.toml") }

// DefaultDataDir is where the journal and connector files live unless the
// settings say otherwise: <data home>/ringside.
func DefaultDataDir() string { return filepath.Join(xdg.DataHome, "ringside") }

// Config is the settings file. The zero value is not useful: start from
// Defaults or Load.
type Config struct {
	Path   string `toml:"-"` // file it was loaded from and is saved to
	Exists bool   `toml:"-"` // false when the file did not exist and defaults were used

	// Region is the phone region (ISO 3166 alpha-2) for numbers written
	// without a country code.
	Region string `toml:"region"`
	// CRM names the connector instance that answers lookups and receives
	// call logs; "" means local contacts and the journal only.
	CRM string `toml:"crm"`
	// Dialer names the connector instance for click-to-dial; "" means the
	// first one able to dial.
	Dialer string `toml:"dialer"`
	// Contacts are local contacts files (.csv, .vcf). Load resolves them
	// (see ResolvePath).
	Contacts []string `toml:"contacts"`

	Lookup        LookupConfig  `toml:"lookup"`
	Calls         CallsConfig   `toml:"calls"`
	Outbox        OutboxConfig  `toml:"outbox"`
	Notifications NotifyConfig  `toml:"notifications"`
	Log           LogConfig     `toml:"log"`
	Data          DataConfig    `toml:"data"`
	Webhook       WebhookConfig `toml:"webhook"`

	// Connectors are the [connectors.<name>] sections by name.
	Connectors map[string]ConnectorConfig `toml:"-"`
}

// LookupConfig bounds contact lookups.
type LookupConfig struct {
	Timeout  Duration `toml:"timeout"`   // per lookup; 100ms..30s
	CacheTTL Duration `toml:"cache_ttl"` // how long an answer is reused; 0 (no cache)..24h
}

// CallsConfig shapes the call model.
type CallsConfig struct {
	// MaxDuration closes a call that never got an end event; 1m..48h.
	MaxDuration Duration `toml:"max_duration"`
}

// OutboxConfig shapes delivery of call logs to the CRM.
type OutboxConfig struct {
	Workers    int      `toml:"workers"`     // parallel deliveries; 1..16
	MaxBackoff Duration `toml:"max_backoff"` // longest wait between retries; 1s..24h
}

// NotifyConfig says how an incoming call is shown.
type NotifyConfig struct {
	Mode string `toml:"mode"` // NotifyPopup, NotifyNotification or NotifyOff
	DND  bool   `toml:"dnd"`  // do not disturb: nothing is shown, calls are still logged
}

// LogConfig shapes the process log.
type LogConfig struct {
	Level  string `toml:"level"`  // LogDebug, LogInfo, LogWarn or LogError
	Format string `toml:"format"` // LogText or LogJSON
}

// SlogLevel is Level as a slog.Level; an unknown level is Info.
func (l LogConfig) SlogLevel() slog.Level {
	switch l.Level {
	case LogDebug:
		return slog.LevelDebug
	case LogWarn:
		return slog.LevelWarn
	case LogError:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// DataConfig says where Ringside keeps its files.
type DataConfig struct {
	Dir string `toml:"dir"` // journal and connector files; Load resolves it (see ResolvePath)
}

// WebhookConfig is the local webhook listener (package connectors/webhook):
// where vendors' callbacks and click-to-dial from the agent's browser reach
// Ringside. Its token is a secret, kept in the keyring as webhook.token.
type WebhookConfig struct {
	Enabled bool `toml:"enabled"`
	// Listen is host:port; the host an IP address or localhost. Default
	// 127.0.0.1:8790: only this computer can connect.
	Listen string `toml:"listen"`
	// PublicURL is where vendors reach the listener through a reverse proxy
	// or tunnel; "" when there is none.
	PublicURL string   `toml:"public_url"`
	Hosts     []string `toml:"hosts"`   // further names the Host header may carry
	Origins   []string `toml:"origins"` // web origins of CRM pages allowed to call (CORS)
	MaxBody   ByteSize `toml:"max_body"`
	Rate      float64  `toml:"rate"`  // requests per second per client; 0.1..10000
	Burst     int      `toml:"burst"` // 1..10000
	// Dedupe: a dial of the same number from the same client within this
	// is done once; 0 turns it off; 0..1m.
	Dedupe Duration `toml:"dedupe"`
}

// WebhookInstance is the instance name of the webhook listener's secrets
// (its token is webhook.token); no connector may take it.
const WebhookInstance = "webhook"

// ByteSize is a size in bytes, written in the settings file as a number of
// bytes or a string with a unit: "512B", "64KiB", "1MiB".
type ByteSize int64

// UnmarshalTOML reads an integer or a string with a unit.
func (b *ByteSize) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case int64:
		*b = ByteSize(v)
		return nil
	case string:
		n, err := ParseByteSize(v)
		if err != nil {
			return err
		}
		*b = n
		return nil
	}
	return fmt.Errorf(`invalid size %v: write a number of bytes or a quoted size with a unit, e.g. "64KiB"`, v)
}

// ParseByteSize reads "65536", "512B", "64KiB" or "1MiB" (KB and MB are
// taken as KiB and MiB).
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	unit := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"K", 1 << 10}, {"M", 1 << 20}, {"B", 1}} {
		if len(t) > len(u.suffix) && strings.EqualFold(t[len(t)-len(u.suffix):], u.suffix) {
			t, unit = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<40)/unit {
		return 0, fmt.Errorf(`invalid size %q: write a number of bytes or a quoted size with a unit, e.g. "64KiB" or "1MiB"`, s)
	}
	return ByteSize(n * unit), nil
}

// MarshalText writes b with the largest unit that divides it: "64KiB".
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// String is b as written in the settings file.
func (b ByteSize) String() string {
	n := int64(b)
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KiB"
	}
	return strconv.FormatInt(n, 10) + "B"
}

// Duration is a time.Duration written in the settings file as a string
// such as "500ms", "3s", "2m" or "1h30m".
type Duration struct{ time.Duration }

// MarshalText writes d the way a person would: "2m", not "2m0s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: write a quoted number with a unit, e.g. \"500ms\", \"3s\", \"2m\", \"1h30m\"", s)
	}
	d.Duration = v
	return nil
}

// String is d as written in the settings file.
func (d Duration) String() string {
	s := d.Duration.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// Defaults is the configuration used when there is no settings file.
func Defaults() *Config {
	return &Config{
		Path:          DefaultPath(),
		Region:        regionFromLocale(os.Getenv),
		Lookup:        LookupConfig{Timeout: Duration{3 * time.Second}, CacheTTL: Duration{2 * time.Minute}},
		Calls:         CallsConfig{MaxDuration: Duration{4 * time.Hour}},
		Outbox:        OutboxConfig{Workers: 2, MaxBackoff: Duration{15 * time.Minute}},
		Notifications: NotifyConfig{Mode: NotifyPopup},
		Log:           LogConfig{Level: LogInfo, Format: LogText},
		Data:          DataConfig{Dir: DefaultDataDir()},
		Webhook: WebhookConfig{Enabled: true, Listen: webhook.DefaultListen, MaxBody: webhook.DefaultMaxBody,
			Rate: webhook.DefaultRate, Burst: webhook.DefaultBurst, Dedupe: Duration{webhook.DefaultDedupe}},
		Connectors: map[string]ConnectorConfig{},
	}
}

// regionFromLocale is the territory of the first of LC_ALL, LC_MESSAGES and
// LANG that names a known one ("ro_RO.UTF-8" → "RO"), else "US".
func regionFromLocale(getenv func(string) string) string {
	for _, name := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if r := localeTerritory(getenv(name)); r != "" {
			return r
		}
	}
	return "US"
}

// localeTerritory parses language[_territory][.codeset][@modifier]; it also
// takes the BCP 47 form "ro-RO".
func localeTerritory(locale string) string {
	if i := strings.IndexAny(locale, ".@"); i >= 0 {
		locale = locale[:i]
	}
	i := strings.IndexAny(locale, "_-")
	if i < 0 {
		return ""
	}
	t := strings.ToUpper(locale[i+1:])
	if !knownRegion(t) {
		return ""
	}
	return t
}

func knownRegion(r string) bool {
	return len(r) == 2 && phonenumbers.GetCountryCodeForRegion(r) != 0
}

// document is the file as decoded: the typed keys plus the connector
// sections, kept raw.
type document struct {
	Config
	Connectors map[string]toml.Primitive `toml:"connectors"`
}

// Load reads the settings file at path (DefaultPath when ""). A missing
// file is not an error: Load returns Defaults with Exists false. Otherwise
// every problem found is returned, joined, each a *FileError naming the
// file and key.
func Load(path string) (*Config, error) {
	if path == "" {
		path = DefaultPath()
	}
	data, err := readFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		c := Defaults()
		c.Path = path
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	return parse(path, data)
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("settings: read %s: larger than %d bytes, not a settings file", path, maxFileSize)
	}
	return data, nil
}

// parse decodes data read from path.
func parse(path string, data []byte) (*Config, error) {
	if err := checkNesting(path, data); err != nil {
		return nil, err
	}
	doc := document{Config: *Defaults()}
	md, err := toml.Decode(string(data), &doc)
	if err != nil {
		return nil, tomlError(path, "", err)
	}
	c := &doc.Config
	c.Path = path
	c.Exists = true
	c.Connectors = map[string]ConnectorConfig{}

	var problems []error
	// BurntSushi/toml quietly skips a value that is not a table where a
	// table is wanted; say so instead.
	for _, table := range []string{"lookup", "calls", "outbox", "notifications", "log", "data", "webhook", "connectors"} {
		if !isTable(&md, table) {
			problems = append(problems, keyError(path, "", table, "must be a table, written [%s]", table))
		}
	}
	var reported []toml.Key
	for _, k := range md.Undecoded() {
		if k[0] == "connectors" || hasPrefix(k, reported) {
			continue // vendor keys: checked by the vendor through Decode
		}
		reported = append(reported, k)
		problems = append(problems, unknownKeyError(path, "", k.String()))
	}
	for _, name := range slices.Sorted(maps.Keys(doc.Connectors)) {
		cc, ok, errs := connectorFromFile(path, data, &md, name, doc.Connectors[name])
		problems = append(problems, errs...)
		if ok {
			c.Connectors[name] = cc
		}
	}

	c.Region = strings.ToUpper(strings.TrimSpace(c.Region))
	for i, f := range c.Contacts {
		if f != "" {
			c.Contacts[i] = c.ResolvePath(f)
		}
	}
	if c.Data.Dir != "" {
		c.Data.Dir = c.ResolvePath(c.Data.Dir)
	}
	if err := c.Validate(); err != nil {
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return c, nil
}

// Nesting limits: BurntSushi/toml takes time quadratic in the depth of a
// key (16,000 nested inline tables take half a minute), and no settings file
// comes near these.
const (
	maxNesting = 32   // open [ and { at once
	maxDots    = 1024 // dots on one line: dotted keys, floats, times
)

// checkNesting refuses a file nested deeper than the limits, scanning it the
// way TOML does: brackets and dots inside strings and comments do not count.
func checkNesting(path string, data []byte) error {
	depth, dots, line := 0, 0, 1
	tooDeep := func(msg string) error {
		return &FileError{File: path, Line: line, Msg: msg}
	}
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '\n':
			line++
			dots = 0
		case '#':
			for i+1 < len(data) && data[i+1] != '\n' {
				i++
			}
		case '"', '\'':
			multi := i+2 < len(data) && data[i+1] == c && data[i+2] == c
			if multi {
				i += 2
			}
			for i++; i < len(data); i++ {
				d := data[i]
				if d == '\\' && c == '"' {
					i++
					if i < len(data) && data[i] == '\n' {
						line++
					}
					continue
				}
				if d == '\n' {
					if !multi {
						i-- // an unterminated string: let the parser say so
						break
					}
					line++
				}
				if d == c && (!multi || (i+2 < len(data) && data[i+1] == c && data[i+2] == c)) {
					if multi {
						i += 2
					}
					break
				}
			}
		case '[', '{':
			if depth++; depth > maxNesting {
				return tooDeep(fmt.Sprintf("nested more than %d levels deep; a settings file never needs that", maxNesting))
			}
		case ']', '}':
			if depth > 0 {
				depth--
			}
		case '.':
			if dots++; dots > maxDots {
				return tooDeep(fmt.Sprintf("more than %d dots on one line; a settings file never needs that", maxDots))
			}
		}
	}
	return nil
}

// hasPrefix reports whether k is inside one of the keys in prefixes.
func hasPrefix(k toml.Key, prefixes []toml.Key) bool {
	for _, p := range prefixes {
		if len(k) > len(p) && slices.Equal(k[:len(p)], p) {
			return true
		}
	}
	return false
}

// isTable reports whether key is absent or a table (explicit, inline or
// implied by a dotted key or a sub-table).
func isTable(md *toml.MetaData, key ...string) bool {
	t := md.Type(key...)
	return t == "" || t == "Hash"
}

// connectorFromFile reads the [connectors.<name>] section: type and enabled
// are settings' own, every other key is kept for the vendor. ok is false
// when the section is not a table at all.
func connectorFromFile(path string, data []byte, md *toml.MetaData, name string, prim toml.Primitive) (cc ConnectorConfig, ok bool, problems []error) {
	section := sectionName(name)
	cc = ConnectorConfig{Name: name, Enabled: true, file: path, src: data, values: map[string]any{}}
	if !isTable(md, "connectors", name) {
		return cc, false, []error{&FileError{File: path, Section: section,
			Msg: fmt.Sprintf(`must be a table: write [%s] followed by type = "<connector type>" and the connector's keys`, section)}}
	}
	var raw map[string]any
	if err := md.PrimitiveDecode(prim, &raw); err != nil {
		return cc, false, []error{tomlError(path, section, err)}
	}
	switch t := raw["type"].(type) {
	case nil:
	case string:
		cc.Type = t
	default:
		problems = append(problems, keyError(path, section, "type", `must be a string naming the connector type, e.g. type = "httpcrm"`))
		cc.Type = fmt.Sprint(t) // already reported: keep Validate from calling it missing
	}
	switch e := raw["enabled"].(type) {
	case nil:
	case bool:
		cc.Enabled = e
	default:
		problems = append(problems, keyError(path, section, "enabled", "must be true or false"))
	}
	for k, v := range raw {
		if k != "type" && k != "enabled" {
			cc.values[k] = v
		}
	}
	return cc, true, problems
}

// ResolvePath expands a leading "~/" to the home directory and makes a
// relative path relative to the directory of the settings file. Absolute
// paths are returned cleaned.
func (c *Config) ResolvePath(p string) string {
	if p == "" {
		return ""
	}
	dir := ""
	if c.Path != "" {
		dir = filepath.Dir(c.Path)
	}
	resolved, err := connectors.ResolvePath(dir, p)
	if err != nil {
		return p
	}
	return resolved
}

// EnabledConnectors are the enabled connector sections, sorted by name.
func (c *Config) EnabledConnectors() []ConnectorConfig {
	var out []ConnectorConfig
	for _, name := range slices.Sorted(maps.Keys(c.Connectors)) {
		cc := c.Connectors[name]
		if !cc.Enabled {
			continue
		}
		if cc.file == "" {
			cc.file = c.Path
		}
		out = append(out, cc)
	}
	return out
}

// connectorName is what an instance may be called: it becomes part of
// secret names, environment variables and directory names.
var connectorName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// Validate checks every value and returns all problems found, joined, each a
// *FileError saying which key is wrong and what is allowed.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, keyError(c.Path, "", key, format, args...))
	}

	switch {
	case c.Region == "":
		bad("region", `is empty; allowed: a two-letter ISO 3166 country code such as "US", "DE" or "RO"`)
	case !knownRegion(c.Region):
		bad("region", `%q is not a known ISO 3166 country code; allowed: a two-letter upper-case code such as "US", "DE" or "RO"`, c.Region)
	}
	for _, k := range []struct{ key, value string }{{"crm", c.CRM}, {"dialer", c.Dialer}} {
		if k.value == "" {
			continue
		}
		if _, ok := c.Connectors[k.value]; !ok {
			bad(k.key, "no connector named %q; allowed: %s", k.value, c.definedConnectors())
		}
	}
	for i, f := range c.Contacts {
		key := fmt.Sprintf("contacts[%d]", i)
		switch ext := strings.ToLower(filepath.Ext(f)); {
		case strings.TrimSpace(f) == "":
			bad(key, "is empty; allowed: the path of a .csv or .vcf file")
		case ext != ".csv" && ext != ".vcf":
			bad(key, "%q is not a contacts file; allowed: .csv or .vcf files", f)
		}
	}
	durations := []struct {
		key      string
		d        Duration
		min, max time.Duration
	}{
		{"lookup.timeout", c.Lookup.Timeout, 100 * time.Millisecond, 30 * time.Second},
		{"lookup.cache_ttl", c.Lookup.CacheTTL, 0, 24 * time.Hour},
		{"calls.max_duration", c.Calls.MaxDuration, time.Minute, 48 * time.Hour},
		{"outbox.max_backoff", c.Outbox.MaxBackoff, time.Second, 24 * time.Hour},
	}
	for _, d := range durations {
		if d.d.Duration < d.min || d.d.Duration > d.max {
			bad(d.key, "%s is out of range; allowed: %s to %s", d.d, Duration{d.min}, Duration{d.max})
		}
	}
	if w := c.Outbox.Workers; w < 1 || w > 16 {
		bad("outbox.workers", "%d is out of range; allowed: 1 to 16", w)
	}
	enums := []struct {
		key, value string
		allowed    []string
	}{
		{"notifications.mode", c.Notifications.Mode, []string{NotifyPopup, NotifyNotification, NotifyOff}},
		{"log.level", c.Log.Level, []string{LogDebug, LogInfo, LogWarn, LogError}},
		{"log.format", c.Log.Format, []string{LogText, LogJSON}},
	}
	for _, e := range enums {
		if !slices.Contains(e.allowed, e.value) {
			bad(e.key, "%q is not allowed; allowed: %s", e.value, quoteList(e.allowed))
		}
	}
	if strings.TrimSpace(c.Data.Dir) == "" {
		bad("data.dir", "is empty; allowed: a directory path, e.g. %q", DefaultDataDir())
	}
	errs = append(errs, c.validateWebhook()...)
	for _, name := range slices.Sorted(maps.Keys(c.Connectors)) {
		errs = append(errs, c.validateConnector(name, c.Connectors[name])...)
	}
	return errors.Join(errs...)
}

// validateWebhook checks [webhook]; the checks are the listener's own.
func (c *Config) validateWebhook() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, keyError(c.Path, "", "webhook."+key, format, args...))
	}
	w := c.Webhook
	if err := webhook.CheckListen(w.Listen); err != nil {
		bad("listen", "%v", err)
	}
	if w.PublicURL != "" {
		if err := webhook.CheckPublicURL(w.PublicURL); err != nil {
			bad("public_url", "%v; allowed: \"\" or the address vendors reach Ringside at, e.g. \"https://agent1.example.com\"", err)
		}
	}
	for i, h := range w.Hosts {
		if err := webhook.CheckHost(h); err != nil {
			bad(fmt.Sprintf("hosts[%d]", i), "%v; allowed: a host name, optionally with :port, e.g. \"agent1.example.com\"", err)
		}
	}
	for i, o := range w.Origins {
		if _, err := webhook.CanonicalOrigin(o); err != nil {
			bad(fmt.Sprintf("origins[%d]", i), "%v", err)
		}
	}
	if w.MaxBody < 1<<10 || w.MaxBody > 16<<20 {
		bad("max_body", "%s is out of range; allowed: \"1KiB\" to \"16MiB\"", w.MaxBody)
	}
	if !(w.Rate >= 0.1 && w.Rate <= 10000) {
		bad("rate", "%g is out of range; allowed: 0.1 to 10000 requests per second", w.Rate)
	}
	if w.Burst < 1 || w.Burst > 10000 {
		bad("burst", "%d is out of range; allowed: 1 to 10000", w.Burst)
	}
	if w.Dedupe.Duration < 0 || w.Dedupe.Duration > time.Minute {
		bad("dedupe", "%s is out of range; allowed: \"0s\" (off) to \"1m\"", w.Dedupe)
	}
	return errs
}

func (c *Config) validateConnector(name string, cc ConnectorConfig) []error {
	section := sectionName(name)
	var errs []error
	if !connectorName.MatchString(name) {
		errs = append(errs, &FileError{File: c.Path, Section: section,
			Msg: fmt.Sprintf(`connector name %q is not allowed; allowed: 1 to 32 lower-case letters, digits, "_" or "-", starting with a letter`, name)})
	}
	if name == WebhookInstance {
		errs = append(errs, &FileError{File: c.Path, Section: section,
			Msg: fmt.Sprintf("connector name %q is taken by the webhook listener (its secrets are %s.*); choose another name", name, WebhookInstance)})
	}
	if cc.Name != name {
		errs = append(errs, &FileError{File: c.Path, Section: section,
			Msg: fmt.Sprintf("connector is filed under %q but named %q; the names must match", name, cc.Name)})
	}
	if strings.TrimSpace(cc.Type) == "" {
		errs = append(errs, keyError(c.Path, section, "type", `is missing; set it to the connector type, e.g. type = "httpcrm"`))
	}
	walkKeys(nil, cc.values, func(key toml.Key) {
		last := key[len(key)-1]
		if !secretLooking(last) {
			return
		}
		secret := name + "." + strings.ReplaceAll(strings.ToLower(last), "-", "_")
		errs = append(errs, keyError(c.Path, section, key.String(),
			`looks like a secret, and secrets are never kept in the settings file; remove the key and run "ringside secret set %s" (or set %s)`,
			secret, EnvName(secret)))
	})
	return errs
}

// secretLooking reports whether a key name looks like it holds a secret:
// "password", "api_key", "smtp_password" do; "token_header", "key_file",
// "passphrase_hint" do not. "-" counts as "_".
func secretLooking(key string) bool {
	k := strings.ReplaceAll(strings.ToLower(key), "-", "_")
	// Names that hold credentials, alone or as the last "_"-separated part.
	for _, w := range []string{"password", "passwd", "pass", "secret", "client_secret", "token", "access_token", "api_key", "apikey", "private_key"} {
		if k == w || strings.HasSuffix(k, "_"+w) {
			return true
		}
	}
	return false
}

// walkKeys calls fn for every key in v, depth first, in sorted order,
// looking into tables, arrays of tables and inline tables inside arrays.
func walkKeys(prefix toml.Key, v any, fn func(toml.Key)) {
	switch v := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			key := append(slices.Clone(prefix), k)
			fn(key)
			walkKeys(key, v[k], fn)
		}
	case []map[string]any:
		for _, m := range v {
			walkKeys(prefix, m, fn)
		}
	case []any:
		for _, e := range v {
			walkKeys(prefix, e, fn)
		}
	}
}

func (c *Config) definedConnectors() string {
	if len(c.Connectors) == 0 {
		return `"" (no connectors are defined; add a [connectors.<name>] section)`
	}
	return `"" or ` + quoteList(slices.Sorted(maps.Keys(c.Connectors)))
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

// sectionName is the TOML name of a connector section, quoted if needed.
func sectionName(name string) string { return toml.Key{"connectors", name}.String() }

// Save writes c to c.Path atomically (a temporary file renamed over the old
// one), mode 0600 in a directory created 0700. It refuses a Config that
// does not pass Validate, so a file Save wrote always loads and never holds
// a secret. Comments in an existing file are not kept.
func Save(c *Config) error {
	if c.Path == "" {
		return errors.New("settings: save: no path")
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("settings: not saving %s: %w", c.Path, err)
	}
	data, err := c.encode()
	if err != nil {
		return fmt.Errorf("settings: save %s: %w", c.Path, err)
	}
	if err := writeFileAtomic(c.Path, data); err != nil {
		return fmt.Errorf("settings: save %s: %w", c.Path, err)
	}
	c.Exists = true
	return nil
}

const fileHeader = `# Ringside settings, written by Ringside. "ringside config example" shows
# every key with comments. Secrets are never kept here: store them with
# "ringside secret set <connector>.<name>".

`

// encode renders c as TOML.
func (c *Config) encode() ([]byte, error) {
	out := struct {
		Config
		Connectors map[string]map[string]any `toml:"connectors,omitempty"`
	}{Config: *c}
	if out.Contacts == nil {
		out.Contacts = []string{}
	}
	if len(c.Connectors) > 0 {
		out.Connectors = make(map[string]map[string]any, len(c.Connectors))
		for name, cc := range c.Connectors {
			m := cc.Values()
			m["type"] = cc.Type
			m["enabled"] = cc.Enabled
			out.Connectors[name] = m
		}
	}
	var b bytes.Buffer
	b.WriteString(fileHeader)
	enc := toml.NewEncoder(&b)
	enc.Indent = ""
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return b.Bytes(), nil
}

// writeFileAtomic replaces path with data so that a reader sees the old
// file or the new one, never half of one.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*") // mode 0600
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	if runtime.GOOS != "windows" {
		// Make the rename itself durable; not all file systems allow it.
		if d, err := os.Open(dir); err == nil {
			_ = d.Sync()
			d.Close()
		}
	}
	return nil
}
