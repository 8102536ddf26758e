package settings

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/ringside/ringside/connectors"
)

// ConnectorConfig is what connectors' constructors are handed.
var _ connectors.Section = ConnectorConfig{}

// writeConfig writes body as a settings file in a fresh directory.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadMissingFileGivesDefaults(t *testing.T) {
	t.Setenv("LC_ALL", "")
	t.Setenv("LC_MESSAGES", "")
	t.Setenv("LANG", "ro_RO.UTF-8")
	path := filepath.Join(t.TempDir(), "nope", "config.toml")

	c, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	got := *c
	want := Config{
		Path:          path,
		Exists:        false,
		Region:        "RO",
		Lookup:        LookupConfig{Timeout: Duration{3 * time.Second}, CacheTTL: Duration{2 * time.Minute}},
		Calls:         CallsConfig{MaxDuration: Duration{4 * time.Hour}},
		Outbox:        OutboxConfig{Workers: 2, MaxBackoff: Duration{15 * time.Minute}},
		Notifications: NotifyConfig{Mode: "popup"},
		Log:           LogConfig{Level: "info", Format: "text"},
		Data:          DataConfig{Dir: DefaultDataDir()},
		Webhook: WebhookConfig{Enabled: true, Listen: "127.0.0.1:8790", MaxBody: 64 << 10, Rate: 20, Burst: 40,
			Dedupe: Duration{5 * time.Second}},
		Connectors: map[string]ConnectorConfig{},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", got, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}

func TestDefaultPaths(t *testing.T) {
	if got, want := filepath.Base(DefaultPath()), "config.toml"; got != want {
		t.Errorf("DefaultPath base = %q, want %q", got, want)
	}
	if got, want := filepath.Base(filepath.Dir(DefaultPath())), "ringside"; got != want {
		t.Errorf("DefaultPath dir = %q, want %q", got, want)
	}
	if got, want := filepath.Base(DefaultDataDir()), "ringside"; got != want {
		t.Errorf("DefaultDataDir base = %q, want %q", got, want)
	}
}

func TestRegionFromLocale(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"LANG", map[string]string{"LANG": "ro_RO.UTF-8"}, "RO"},
		{"LC_ALL wins", map[string]string{"LC_ALL": "de_DE.UTF-8", "LC_MESSAGES": "fr_FR", "LANG": "ro_RO.UTF-8"}, "DE"},
		{"LC_MESSAGES before LANG", map[string]string{"LC_MESSAGES": "fr_FR", "LANG": "ro_RO.UTF-8"}, "FR"},
		{"modifier", map[string]string{"LANG": "de_AT@euro"}, "AT"},
		{"BCP 47", map[string]string{"LANG": "pt-BR"}, "BR"},
		{"C falls through", map[string]string{"LC_ALL": "C.UTF-8", "LANG": "en_GB.UTF-8"}, "GB"},
		{"no territory", map[string]string{"LANG": "C"}, "US"},
		{"unknown territory", map[string]string{"LANG": "xx_QQ.UTF-8"}, "US"},
		{"nothing set", nil, "US"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := regionFromLocale(func(k string) string { return tt.env[k] })
			if got != tt.want {
				t.Errorf("regionFromLocale(%v) = %q, want %q", tt.env, got, tt.want)
			}
		})
	}
}

func TestExampleLoads(t *testing.T) {
	path := writeConfig(t, string(Example()))
	c, err := Load(path)
	if err != nil {
		t.Fatalf("Load(example): %v", err)
	}
	if !c.Exists {
		t.Error("Exists = false for an existing file")
	}
	got := []string{c.Region, c.CRM, c.Dialer, c.Lookup.Timeout.String(), c.Notifications.Mode}
	want := []string{"US", "", "", "3s", "popup"}
	if !slices.Equal(got, want) {
		t.Errorf("top-level values = %q, want %q", got, want)
	}
	if len(c.Contacts) != 0 || len(c.Connectors) != 0 {
		t.Errorf("example has contacts %q and connectors %v; want the defaults (none)", c.Contacts, c.Connectors)
	}
}

func TestExampleDocumentsEveryKey(t *testing.T) {
	example := string(Example())
	m := mustDecodeMap(t, Defaults())
	walkKeys(nil, m, func(k toml.Key) {
		show := "\n" + k[len(k)-1] + " = "
		if len(k) == 1 {
			if _, ok := m[k[0]].(map[string]any); ok {
				show = "\n[" + k[0] + "]\n"
			}
		}
		if !strings.Contains(example, show) {
			t.Errorf("example.toml does not show %q", show)
		}
	})
}

// mustDecodeMap renders c and reads it back as a generic map.
func mustDecodeMap(t *testing.T, c *Config) map[string]any {
	t.Helper()
	data, err := c.encode()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if _, err := toml.Decode(string(data), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string // each must appear in the error, after the file name
	}{
		{
			name: "corrupt TOML",
			body: "region = \"RO\"\ncrm = office\n",
			want: []string{":2:7:", `key "crm": expected value but found "office" instead`},
		},
		{
			name: "unknown top-level key",
			body: "region = \"RO\"\ncolour = \"blue\"\n",
			want: []string{`: unknown key "colour"`},
		},
		{
			name: "unknown key in a table",
			body: "[lookup]\ntimeout = \"3s\"\nretries = 3\n",
			want: []string{`: unknown key "lookup.retries"`},
		},
		{
			name: "bad duration",
			body: "[lookup]\ntimeout = \"3 seconds\"\n",
			want: []string{":2:", `key "lookup.timeout": invalid duration "3 seconds"`, `"3s"`},
		},
		{
			name: "duration without quotes",
			body: "[calls]\nmax_duration = 60\n",
			want: []string{":2:", `key "calls.max_duration": invalid duration "60"`},
		},
		{
			name: "wrong type",
			body: "[outbox]\nworkers = \"two\"\n",
			want: []string{":2:", `key "outbox.workers"`, "incompatible types"},
		},
		{
			name: "table written as value",
			body: "log = \"debug\"\n",
			want: []string{`key "log"`, "expected table"},
		},
		{
			name: "bad region",
			body: "region = \"XX\"\n",
			want: []string{`key "region": "XX" is not a known ISO 3166 country code`, `"US"`},
		},
		{
			name: "empty region",
			body: "region = \"\"\n",
			want: []string{`key "region": is empty`},
		},
		{
			name: "crm names a missing connector",
			body: "crm = \"office\"\n[connectors.crm]\ntype = \"httpcrm\"\n",
			want: []string{`key "crm": no connector named "office"; allowed: "" or "crm"`},
		},
		{
			name: "dialer names a missing connector",
			body: "dialer = \"pbx\"\n",
			want: []string{`key "dialer": no connector named "pbx"`, "no connectors are defined"},
		},
		{
			name: "secret-looking key",
			body: "[connectors.office]\ntype = \"accolades\"\npassword = \"hunter2\"\n",
			want: []string{`[connectors.office] key "password": looks like a secret`, `ringside secret set office.password`, "RINGSIDE_SECRET_OFFICE_PASSWORD"},
		},
		{
			name: "secret-looking key nested",
			body: "[connectors.crm]\ntype = \"httpcrm\"\n[connectors.crm.auth]\nclient_secret = \"x\"\n",
			want: []string{`[connectors.crm] key "auth.client_secret": looks like a secret`, `ringside secret set crm.client_secret`},
		},
		{
			name: "secret-looking key in array of tables",
			body: "[connectors.crm]\ntype = \"httpcrm\"\n[[connectors.crm.hooks]]\nAccess_Token = \"x\"\n",
			want: []string{`[connectors.crm] key "hooks.Access_Token": looks like a secret`, "crm.access_token"},
		},
		{
			name: "out of range",
			body: "[lookup]\ntimeout = \"50ms\"\n[outbox]\nworkers = 0\n",
			want: []string{`key "lookup.timeout": 50ms is out of range; allowed: 100ms to 30s`, `key "outbox.workers": 0 is out of range; allowed: 1 to 16`},
		},
		{
			name: "bad enums",
			body: "[notifications]\nmode = \"loud\"\n[log]\nlevel = \"trace\"\nformat = \"xml\"\n",
			want: []string{
				`key "notifications.mode": "loud" is not allowed; allowed: "popup", "notification", "off"`,
				`key "log.level": "trace" is not allowed; allowed: "debug", "info", "warn", "error"`,
				`key "log.format": "xml" is not allowed; allowed: "text", "json"`,
			},
		},
		{
			name: "bad connector name",
			body: "[connectors.Office]\ntype = \"accolades\"\n",
			want: []string{`[connectors.Office] connector name "Office" is not allowed`, "lower-case"},
		},
		{
			name: "missing type",
			body: "[connectors.office]\nurl = \"wss://pbx\"\n",
			want: []string{`[connectors.office] key "type": is missing`},
		},
		{
			name: "type not a string",
			body: "[connectors.office]\ntype = 5\n",
			want: []string{`[connectors.office] key "type": must be a string`},
		},
		{
			name: "enabled not a bool",
			body: "[connectors.office]\ntype = \"x\"\nenabled = \"yes\"\n",
			want: []string{`[connectors.office] key "enabled": must be true or false`},
		},
		{
			name: "connector not a table",
			body: "[connectors]\noffice = \"accolades\"\n",
			want: []string{`[connectors.office] must be a table`},
		},
		{
			name: "contacts file type",
			body: "contacts = [\"people.txt\"]\n",
			want: []string{`key "contacts[0]": `, "not a contacts file", ".csv or .vcf"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.body)
			c, err := Load(path)
			if err == nil {
				t.Fatalf("Load succeeded with %+v, want an error", c)
			}
			got := err.Error()
			for _, line := range strings.Split(got, "\n") {
				if !strings.HasPrefix(line, path) {
					t.Errorf("error line %q does not start with the file name %q", line, path)
				}
			}
			for _, want := range tt.want {
				if !strings.Contains(got, want) {
					t.Errorf("error:\n%s\nwant it to contain %q", got, want)
				}
			}
			if _, ok := errors.AsType[*FileError](err); !ok {
				t.Errorf("error %v holds no *FileError", err)
			}
			if strings.Contains(got, "hunter2") {
				t.Errorf("error %q repeats a secret value", got)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Defaults()
	c.Path = "/etc/ringside.toml"
	c.Region = "XX"
	c.CRM = "nope"
	c.Outbox.Workers = 99
	c.Log.Format = "xml"
	c.Connectors["bad name"] = NewConnectorConfig("bad name", "", true, map[string]any{"api_key": "x"})

	err := c.Validate()
	if err == nil {
		t.Fatal("Validate succeeded")
	}
	got := strings.Split(err.Error(), "\n")
	want := []string{
		`/etc/ringside.toml: key "region": "XX" is not a known ISO 3166 country code; allowed: a two-letter upper-case code such as "US", "DE" or "RO"`,
		`/etc/ringside.toml: key "crm": no connector named "nope"; allowed: "" or "bad name"`,
		`/etc/ringside.toml: key "outbox.workers": 99 is out of range; allowed: 1 to 16`,
		`/etc/ringside.toml: key "log.format": "xml" is not allowed; allowed: "text", "json"`,
		`/etc/ringside.toml: [connectors."bad name"] connector name "bad name" is not allowed; allowed: 1 to 32 lower-case letters, digits, "_" or "-", starting with a letter`,
		`/etc/ringside.toml: [connectors."bad name"] key "type": is missing; set it to the connector type, e.g. type = "httpcrm"`,
		`/etc/ringside.toml: [connectors."bad name"] key "api_key": looks like a secret, and secrets are never kept in the settings file; remove the key and run "ringside secret set bad name.api_key" (or set RINGSIDE_SECRET_BAD_NAME_API_KEY)`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("Validate:\n got %q\nwant %q", got, want)
	}
}

func TestSecretLooking(t *testing.T) {
	tests := []struct {
		key  string
		want bool
	}{
		{"password", true},
		{"Password", true},
		{"smtp_password", true},
		{"passwd", true},
		{"pass", true},
		{"user_pass", true},
		{"secret", true},
		{"client_secret", true},
		{"token", true},
		{"access_token", true},
		{"refresh_token", true},
		{"api_key", true},
		{"API-KEY", true},
		{"apikey", true},
		{"private_key", true},
		{"token_header", false},
		{"key_file", false},
		{"key", false},
		{"public_key", false},
		{"bypass", false},
		{"compass", false},
		{"passphrase_hint", false},
		{"secret_name", false},
		{"tokens_url", false},
		{"username", false},
	}
	for _, tt := range tests {
		if got := secretLooking(tt.key); got != tt.want {
			t.Errorf("secretLooking(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in   string
		want string // MarshalText of the parsed value
	}{
		{"3s", "3s"},
		{"2m", "2m"},
		{"120s", "2m"},
		{"4h", "4h"},
		{"1h30m", "1h30m"},
		{"90m", "1h30m"},
		{"1h0m5s", "1h0m5s"},
		{"500ms", "500ms"},
		{" 1.5s ", "1.5s"},
		{"0", "0s"},
	}
	for _, tt := range tests {
		var d Duration
		if err := d.UnmarshalText([]byte(tt.in)); err != nil {
			t.Errorf("UnmarshalText(%q): %v", tt.in, err)
			continue
		}
		got, _ := d.MarshalText()
		if string(got) != tt.want {
			t.Errorf("MarshalText(UnmarshalText(%q)) = %q, want %q", tt.in, got, tt.want)
		}
		var back Duration
		if err := back.UnmarshalText(got); err != nil || back != d {
			t.Errorf("%q does not read back: %v, %v", got, back, err)
		}
	}
	var d Duration
	if err := d.UnmarshalText([]byte("3")); err == nil {
		t.Error(`UnmarshalText("3") succeeded, want an error asking for a unit`)
	}
}

func TestResolvePath(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(t.TempDir(), "x.csv")
	c := &Config{Path: filepath.Join("/etc", "ringside", "config.toml")}
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"~", home},
		{"~/contacts.csv", filepath.Join(home, "contacts.csv")},
		{"contacts.csv", filepath.Join("/etc", "ringside", "contacts.csv")},
		{"../shared/contacts.vcf", filepath.Join("/etc", "shared", "contacts.vcf")},
		{abs, abs},
		{"~user/x", filepath.Join("/etc", "ringside", "~user", "x")},
	}
	for _, tt := range tests {
		if got := c.ResolvePath(tt.in); got != tt.want {
			t.Errorf("ResolvePath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEnabledConnectorsSorted(t *testing.T) {
	c := Defaults()
	c.Path = "/x/config.toml"
	for _, n := range []string{"zeta", "alpha", "off", "mid"} {
		c.Connectors[n] = NewConnectorConfig(n, "t", n != "off", nil)
	}
	var got []string
	for _, cc := range c.EnabledConnectors() {
		got = append(got, cc.Where())
	}
	want := []string{"/x/config.toml [connectors.alpha]", "/x/config.toml [connectors.mid]", "/x/config.toml [connectors.zeta]"}
	if !slices.Equal(got, want) {
		t.Errorf("EnabledConnectors = %q, want %q", got, want)
	}
}

// vendorConfig is what a connector might decode its section into.
type vendorConfig struct {
	URL      string            `toml:"url"`
	Username string            `toml:"username"`
	Port     int               `toml:"port"`
	Timeout  Duration          `toml:"timeout"`
	Headers  map[string]string `toml:"headers"`
	Queues   []string          `toml:"queues"`
}

func TestDecode(t *testing.T) {
	body := `crm = "office"

[connectors.office]
type = "accolades"
url = "wss://pbx.example.com"
username = "agent42"
port = 8443
timeout = "10s"
queues = ["sales", "support"]

[connectors.office.headers]
X-Team = "blue"
`
	path := writeConfig(t, body)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cc := c.Connectors["office"]
	want := vendorConfig{
		URL: "wss://pbx.example.com", Username: "agent42", Port: 8443, Timeout: Duration{10 * time.Second},
		Headers: map[string]string{"X-Team": "blue"}, Queues: []string{"sales", "support"},
	}
	// Decode must give the same answer however often and from however
	// many goroutines it is called.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			var got vendorConfig
			if err := cc.Decode(&got); err != nil {
				t.Errorf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Decode:\n got %+v\nwant %+v", got, want)
			}
		})
	}
	wg.Wait()
	if got, want := cc.Where(), path+" [connectors.office]"; got != want {
		t.Errorf("Where = %q, want %q", got, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{
			name: "unknown key",
			body: "[connectors.office]\ntype = \"accolades\"\npasword = \"x\"\n",
			want: `PATH: [connectors.office] unknown key "pasword"`,
		},
		{
			name: "unknown table reported once",
			body: "[connectors.office]\ntype = \"accolades\"\n[connectors.office.extra]\na = 1\nb = 2\n",
			want: `PATH: [connectors.office] unknown key "extra"`,
		},
		{
			name: "unknown nested key",
			body: "[connectors.office]\ntype = \"accolades\"\nheaders = { X-Team = \"blue\", Bad = 1 }\n",
			want: `PATH:3: [connectors.office] key "headers.Bad": incompatible types: TOML value has type int64; destination has type string`,
		},
		{
			name: "wrong type",
			body: "[connectors.office]\ntype = \"accolades\"\n\nport = \"8443\"\n",
			want: `PATH:4: [connectors.office] key "port": incompatible types: TOML value has type string; destination has type integer`,
		},
		{
			name: "bad duration",
			body: "[connectors.office]\ntype = \"accolades\"\ntimeout = \"soon\"\n",
			want: `PATH:3:12: [connectors.office] key "timeout": invalid duration "soon"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.body)
			c, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			var v vendorConfig
			err = c.Connectors["office"].Decode(&v)
			if err == nil {
				t.Fatal("Decode succeeded")
			}
			got := err.Error()
			want := strings.ReplaceAll(tt.want, "PATH", path)
			if !strings.HasPrefix(got, want) {
				t.Errorf("Decode error\n got %q\nwant %q…", got, want)
			}
			// A second call must find the same problem.
			if err2 := c.Connectors["office"].Decode(&v); err2 == nil || err2.Error() != got {
				t.Errorf("second Decode = %v, want %q", err2, got)
			}
		})
	}
}

func TestDecodeBuiltInCode(t *testing.T) {
	cc := NewConnectorConfig("office", "accolades", true, map[string]any{
		"type": "ignored", "url": "wss://pbx", "port": int64(1), "pasword": "x",
	})
	var v vendorConfig
	err := cc.Decode(&v)
	if got, want := fmt.Sprint(err), `settings: [connectors.office] unknown key "pasword"`; got != want {
		t.Errorf("Decode error = %q, want %q", got, want)
	}
	if v.URL != "wss://pbx" || v.Port != 1 {
		t.Errorf("Decode = %+v, want url and port set", v)
	}
	if err := cc.Decode(v); err == nil {
		t.Error("Decode into a non-pointer succeeded")
	}
	if got, want := cc.Where(), "[connectors.office]"; got != want {
		t.Errorf("Where = %q, want %q", got, want)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	c := Defaults()
	c.Path = filepath.Join(dir, "config.toml")
	c.Region = "DE"
	c.CRM = "crm"
	c.Contacts = []string{filepath.Join(dir, "a.csv")}
	c.Lookup.Timeout = Duration{1500 * time.Millisecond}
	c.Outbox.Workers = 4
	c.Notifications = NotifyConfig{Mode: NotifyOff, DND: true}
	c.Log = LogConfig{Level: LogDebug, Format: LogJSON}
	vendor := map[string]any{
		"base_url":   "https://crm.example.com",
		"batch":      int64(50),
		"ratio":      0.5,
		"verify_tls": false,
		"since":      time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC),
		"queues":     []any{"a", "b"},
		"headers":    map[string]any{"X-A": "1"},
		"routes":     []map[string]any{{"from": "1", "to": "2"}},
		"key_file":   "/etc/crm.pem",
	}
	c.Connectors["crm"] = NewConnectorConfig("crm", "httpcrm", true, vendor)
	c.Connectors["old"] = NewConnectorConfig("old", "httpcrm", false, nil)

	if err := Save(c); err != nil {
		t.Fatalf("Save: %v", err)
	}
	if !c.Exists {
		t.Error("Exists = false after Save")
	}
	if runtime.GOOS != "windows" {
		for p, want := range map[string]os.FileMode{c.Path: 0o600, dir: 0o700} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != want {
				t.Errorf("mode of %s = %v, want %v", p, got, want)
			}
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("dir holds %d entries after Save, want only config.toml", len(entries))
	}

	got, err := Load(c.Path)
	if err != nil {
		data, _ := os.ReadFile(c.Path)
		t.Fatalf("Load after Save: %v\n%s", err, data)
	}
	gotConns := got.Connectors
	wantConns := c.Connectors
	got.Connectors, c.Connectors = nil, nil
	if !reflect.DeepEqual(*got, *c) {
		t.Errorf("round trip:\n got %+v\nwant %+v", *got, *c)
	}
	if len(gotConns) != len(wantConns) {
		t.Fatalf("connectors: got %d, want %d", len(gotConns), len(wantConns))
	}
	for name, w := range wantConns {
		g := gotConns[name]
		if g.Name != w.Name || g.Type != w.Type || g.Enabled != w.Enabled {
			t.Errorf("connector %s = %s/%s/%v, want %s/%s/%v", name, g.Name, g.Type, g.Enabled, w.Name, w.Type, w.Enabled)
		}
		if !reflect.DeepEqual(g.Values(), w.Values()) {
			t.Errorf("connector %s vendor keys:\n got %#v\nwant %#v", name, g.Values(), w.Values())
		}
	}
}

func TestSaveNeverWritesASecret(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	c := Defaults()
	c.Path = path
	c.Connectors["office"] = NewConnectorConfig("office", "accolades", true, map[string]any{
		"url":  "wss://pbx",
		"auth": map[string]any{"password": "hunter2"},
	})
	err := Save(c)
	if err == nil {
		t.Fatal("Save accepted a secret")
	}
	if !strings.Contains(err.Error(), `key "auth.password": looks like a secret`) {
		t.Errorf("Save error %q does not name the key", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Save error %q repeats the secret", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Save wrote %s anyway (stat: %v)", path, err)
	}

	// What Save does write holds no secret-looking key anywhere.
	c.Connectors["office"] = NewConnectorConfig("office", "accolades", true, map[string]any{
		"url": "wss://pbx", "token_header": "X-Auth", "key_file": "k.pem",
	})
	if err := Save(c); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if _, err := toml.DecodeFile(path, &m); err != nil {
		t.Fatal(err)
	}
	walkKeys(nil, m, func(k toml.Key) {
		if secretLooking(k[len(k)-1]) {
			t.Errorf("saved file holds secret-looking key %s", k)
		}
	})
}

func TestSaveNeedsPath(t *testing.T) {
	c := Defaults()
	c.Path = ""
	if err := Save(c); err == nil {
		t.Error("Save without a path succeeded")
	}
}

func TestCheckNesting(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string // "" when accepted
	}{
		{"example", string(Example()), ""},
		{"brackets in strings and comments", "a = \"[[[[{{{{\" # [[[[{{{{\nb = '{{{{' \nc = \"\"\"\n[[[[\n\\\"\"\"\" \nd = '''{{{{\n'''\n" + strings.Repeat("e = \"[\\\"[\"\n", 40), ""},
		{"deep but allowed", "a = " + strings.Repeat("[", 32) + strings.Repeat("]", 32) + "\n", ""},
		{"many floats", "a = [" + strings.Repeat("1.5, ", 1000) + "]\n", ""},
		{"nested too deep", "a = 1\nb = " + strings.Repeat("{c=", 33), `/x.toml:2: nested more than 32 levels deep`},
		{"arrays too deep across lines", "b = " + strings.Repeat("[\n", 40), `/x.toml:33: nested more than 32 levels deep`},
		{"dotted key too long", "a" + strings.Repeat(".b", 1100) + " = 1\n", `/x.toml:1: more than 1024 dots on one line`},
		{"unterminated string does not hide what follows", "a = \"[[[\nb = " + strings.Repeat("[", 33), `/x.toml:2: nested`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkNesting("/x.toml", []byte(tt.body))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if (tt.want == "") != (got == "") || !strings.HasPrefix(got, tt.want) {
				t.Errorf("checkNesting = %q, want %q", got, tt.want)
			}
		})
	}
	// A file of the largest size Load reads is refused quickly.
	start := time.Now()
	if _, err := parse("/x.toml", []byte("a = "+strings.Repeat("{b=", maxFileSize/3))); err == nil {
		t.Error("parse accepted a deeply nested file")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("parse took %v on a deeply nested file", d)
	}
}

func TestWebhook(t *testing.T) {
	path := writeConfig(t, `
[webhook]
listen = "0.0.0.0:9000"
public_url = "https://agent1.example.com"
hosts = ["agent1.lan", "box.lan:9000"]
origins = ["https://mycompany.retailcrm.ru", "http://localhost:3000"]
max_body = 2048
rate = 5
burst = 10
dedupe = "0s"
`)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := WebhookConfig{Enabled: true, Listen: "0.0.0.0:9000", PublicURL: "https://agent1.example.com",
		Hosts: []string{"agent1.lan", "box.lan:9000"}, Origins: []string{"https://mycompany.retailcrm.ru", "http://localhost:3000"},
		MaxBody: 2048, Rate: 5, Burst: 10}
	if !reflect.DeepEqual(c.Webhook, want) {
		t.Errorf("webhook:\n got %+v\nwant %+v", c.Webhook, want)
	}

	for body, wants := range map[string][]string{
		"[webhook]\nlisten = \"example.com:8790\"\n":   {`key "webhook.listen"`, "IP address"},
		"[webhook]\nlisten = \"127.0.0.1\"\n":          {`key "webhook.listen"`, "host:port"},
		"[webhook]\nlisten = \"127.0.0.1:70000\"\n":    {`key "webhook.listen"`, "65535"},
		"[webhook]\npublic_url = \"agent1\"\n":         {`key "webhook.public_url"`},
		"[webhook]\nhosts = [\"https://x\"]\n":         {`key "webhook.hosts[0]"`},
		"[webhook]\norigins = [\"https://a/b\"]\n":     {`key "webhook.origins[0]"`, "no path"},
		"[webhook]\norigins = [\"null\"]\n":            {`key "webhook.origins[0]"`},
		"[webhook]\nmax_body = \"64 bananas\"\n":       {"webhook.max_body", "invalid size"},
		"[webhook]\nmax_body = 10\n":                   {`key "webhook.max_body"`, "1KiB"},
		"[webhook]\nmax_body = \"32MiB\"\n":            {`key "webhook.max_body"`, "16MiB"},
		"[webhook]\nmax_body = true\n":                 {"webhook.max_body", "invalid size"},
		"[webhook]\nrate = 0\n":                        {`key "webhook.rate"`, "0.1 to 10000"},
		"[webhook]\nrate = nan\n":                      {`key "webhook.rate"`},
		"[webhook]\nburst = 0\n":                       {`key "webhook.burst"`},
		"[webhook]\ndedupe = \"2m\"\n":                 {`key "webhook.dedupe"`, "1m"},
		"[webhook]\nport = 1\n":                        {`unknown key "webhook.port"`},
		"webhook = 1\n":                                {`"webhook"`, "expected table"},
		"[connectors.webhook]\ntype = \"httpcrm\"\n":   {"[connectors.webhook]", "taken by the webhook listener"},
		"[webhook]\ntoken = \"abc\"\n":                 {`unknown key "webhook.token"`},
		"[webhook]\nenabled = false\nrate = 1e9\n":     {`key "webhook.rate"`},
		"[webhook]\nlisten = \"[::1]:8790\"\nrate=1\n": nil,
	} {
		_, err := Load(writeConfig(t, body))
		if wants == nil {
			if err != nil {
				t.Errorf("%q: %v", body, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%q loads", body)
			continue
		}
		for _, w := range wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q does not mention %q", body, err, w)
			}
		}
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"65536": 65536, "512B": 512, "64KiB": 64 << 10, "64kb": 64 << 10, " 1 MiB ": 1 << 20, "2M": 2 << 20} {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "KiB", "-1", "1.5MiB", "64 bananas", "99999999999999MiB"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) accepted", in)
		}
	}
	for n, want := range map[ByteSize]string{65536: "64KiB", 1 << 20: "1MiB", 1000: "1000B", 1536: "1536B", 0: "0B"} {
		if got := n.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", n, got, want)
		}
	}
}
