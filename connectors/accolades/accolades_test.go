package accolades

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/connectors/accolades/simulator"
	"github.com/ringside/ringside/connectors/connectortest"
)

// where names the test's settings section.
const where = "test.toml [connectors.office]"

const (
	agentID  = "f8cb549544"
	password = "pa55-w0rd"
)

func testDeps(t testing.TB) connectors.Deps {
	t.Helper()
	d := connectortest.Deps(t, "office", "RO")
	d.Secrets = connectortest.Secrets{"password": password}
	return d
}

func newTestConnector(t testing.TB, d connectors.Deps, conf string) *Connector {
	t.Helper()
	return connectortest.New[*Connector](t, Type(), connectortest.Section(where, conf), d)
}

// demoAgent is the configuration the test simulator holds for agentID.
var demoAgent = simulator.Agent{
	Account: simulator.Entity{ID: "15", Data: "INFO_ACCOUNT"},
	Phone:   simulator.Entity{ID: "27", Data: "INFO_PHONE"},
	Agent:   simulator.Entity{ID: "321", Data: "INFO_AGENT"},
}

// newSim starts a simulator knowing agentID behind an httptest server and
// returns it with its ws:// address.
func newSim(t testing.TB, opts simulator.Options) (*simulator.Server, string) {
	t.Helper()
	if opts.IDs == nil {
		opts.IDs = map[string]simulator.Agent{agentID: demoAgent}
	}
	sim := simulator.New(opts)
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	t.Cleanup(sim.Close) // runs first: ends the hijacked connections
	return sim, "ws" + strings.TrimPrefix(ts.URL, "http")
}

// conf is a settings section for a socket at url.
func conf(url string) string {
	return fmt.Sprintf("url = %q\nid_crm = %q\n", url, agentID)
}

// run runs c.Run in the background until the test ends (or stop is called)
// and returns its result channel.
type running struct {
	done   chan error
	cancel context.CancelFunc
}

func startRun(t testing.TB, c *Connector, link connectors.Link) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{done: make(chan error, 1), cancel: cancel}
	go func() { r.done <- c.Run(ctx, link) }() // exits when Run returns
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return r
}

// wait waits for Run's result; Run must return within 10 s.
func (r *running) wait(t testing.TB) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

func TestSample(t *testing.T) {
	var cfg Config
	if err := connectortest.Section(where, string(Type().Sample)).Decode(&cfg); err != nil {
		t.Fatalf("sample does not decode: %v", err)
	}
	c := newTestConnector(t, testDeps(t), string(Type().Sample))
	var _ connectors.Source = c
	var _ connectors.Dialer = c
	var _ connectors.Tester = c
	if c.url != DefaultURL || c.idCrm != "f8cb549544" || c.account != "1234" || c.deviceID != "27" || c.dialURL != DefaultDialURL {
		t.Errorf("sample decoded to url %q id %q account %q device %q dial %q", c.url, c.idCrm, c.account, c.deviceID, c.dialURL)
	}
	if c.handshakeTimeout != 10*time.Second || c.pongWait != time.Minute || c.pingPeriod != 54*time.Second {
		t.Errorf("timings %v %v %v", c.handshakeTimeout, c.pongWait, c.pingPeriod)
	}
}

func TestDefaults(t *testing.T) {
	c := newTestConnector(t, testDeps(t), `id_crm = "abc"`)
	if c.url != DefaultURL || c.dialURL != DefaultDialURL || c.account != "" || c.tls != nil {
		t.Errorf("defaults: url %q dial %q account %q tls %v", c.url, c.dialURL, c.account, c.tls)
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	const id = `id_crm = "abc"` + "\n"
	tests := []struct {
		name string
		conf string
		want string // the error holds it
	}{
		{"no id_crm", ``, "id_crm: required"},
		{"blank id_crm", `id_crm = "  "`, "id_crm: required"},
		{"id_crm with space", `id_crm = "a b"`, "id_crm:"},
		{"ws to a remote host", id + `url = "ws://client.voipit.ro:14327"`, "url: ws:// sends calls unencrypted and is only allowed to this computer"},
		{"http url", id + `url = "https://client.voipit.ro"`, "url:"},
		{"no host", id + `url = "wss://"`, "url:"},
		{"credentials in url", id + `url = "wss://me:pw@client.voipit.ro"`, "url: put no user"},
		{"missing ca_file", id + `ca_file = "nope.pem"`, "ca_file:"},
		{"ca_file without certificate", id + fmt.Sprintf("ca_file = %q", notPEM), "holds no PEM certificate"},
		{"bad handshake_timeout", id + `handshake_timeout = "soon"`, "handshake_timeout:"},
		{"tiny pong_wait", id + `pong_wait = "10ms"`, "pong_wait:"},
		{"huge pong_wait", id + `pong_wait = "1h"`, "pong_wait:"},
		{"account without device", id + `account = "1234"`, "device_id: required with account"},
		{"device without account", id + `device_id = "27"`, "account: required with device_id"},
		{"account with slash", id + "account = \"12/34\"\ndevice_id = \"27\"", "account:"},
		{"http dial_url to a remote host", id + "account = \"1\"\ndevice_id = \"2\"\ndial_url = \"http://client.voipit.ro\"", "dial_url:"},
		{"dial_url with query", id + "dial_url = \"https://client.voipit.ro/?a=b\"", "dial_url:"},
		{"unknown key", id + `password = "x"`, `unknown key "password"`},
		{"wrong type", id + `account = 1234`, "account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Type().New(connectortest.Section(where, tt.conf), testDeps(t))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %v, want it to hold %q", err, tt.want)
			}
		})
	}
}

func TestNewAcceptsLoopback(t *testing.T) {
	for _, u := range []string{"ws://127.0.0.1:14327", "ws://localhost:1", "ws://[::1]:80", "wss://client.voipit.ro:14327"} {
		if _, err := Type().New(connectortest.Section(where, conf(u)), testDeps(t)); err != nil {
			t.Errorf("New(%s): %v", u, err)
		}
	}
}

func TestNewNeedsPhones(t *testing.T) {
	d := testDeps(t)
	d.Phones = nil
	if _, err := New(Config{IDCrm: "x"}, d); err == nil {
		t.Error("New without a phone parser succeeded")
	}
}
