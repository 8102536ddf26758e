package retailcrm

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/connectors/connectortest"
)

// where names the test's settings section.
const where = "test.toml [connectors.crm]"

const (
	apiKey   = "k3y-0f-the-api"
	clientID = "c1ient-1d-2dbh26tahjj26sg"
)

func testDeps(t testing.TB) connectors.Deps {
	t.Helper()
	d := connectortest.Deps(t, "crm", "RU")
	d.Secrets = connectortest.Secrets{"api_key": apiKey, "client_id": clientID}
	return d
}

func newTestCRM(t testing.TB, d connectors.Deps, conf string) *CRM {
	t.Helper()
	return connectortest.New[*CRM](t, Type(), connectortest.Section(where, conf), d)
}

// baseConf is a connector of agent 100 (user 1) on srv.
func baseConf(srv string) string {
	return fmt.Sprintf(`url = %q
user_id = 1
codes = { "100" = 1, "200" = 2 }
timezone = "Europe/Moscow"
`, srv)
}

// seen is a request the fake retailCRM got.
type seen struct {
	Method, Path string
	Query        url.Values
	Header       http.Header
	Body         string
	Form         url.Values // the parsed body
}

// fakeCRM is a local retailCRM: it records every request and answers with
// the handler of the test.
type fakeCRM struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []seen
	answer func(w http.ResponseWriter, r seen)
}

func newFake(t *testing.T, answer func(w http.ResponseWriter, r seen)) *fakeCRM {
	t.Helper()
	f := &fakeCRM{answer: answer}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		s := seen{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: string(body), Form: form}
		f.mu.Lock()
		f.reqs = append(f.reqs, s)
		answer := f.answer
		f.mu.Unlock()
		answer(w, s)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeCRM) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reqs)
}

func (f *fakeCRM) setAnswer(a func(w http.ResponseWriter, r seen)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer = a
}

// reply answers status with body as JSON.
func reply(status int, body string) func(http.ResponseWriter, seen) {
	return func(w http.ResponseWriter, _ seen) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

var ok = reply(http.StatusOK, `{"success":true}`)

// checkRequest checks method, path, the API key and, for a POST, that the
// form has exactly the field field, whose JSON equals want structurally.
func checkRequest(t *testing.T, got seen, method, path string) {
	t.Helper()
	if got.Method != method || got.Path != path {
		t.Errorf("request %s %s, want %s %s", got.Method, got.Path, method, path)
	}
	if k := got.Header.Get("X-API-KEY"); k != apiKey {
		t.Errorf("X-API-KEY %q, want the api_key secret", k)
	}
	if method == http.MethodPost {
		if ct := got.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			t.Errorf("Content-Type %q, want a form", ct)
		}
	}
}

// checkForm checks that the form body is exactly field = JSON equal to
// want (compared as decoded values, so key order and spacing do not count).
func checkForm(t *testing.T, got seen, field, want string) {
	t.Helper()
	if keys := slices.Sorted(maps.Keys(got.Form)); !slices.Equal(keys, []string{field}) {
		t.Fatalf("form fields %v, want only %q (body %q)", keys, field, got.Body)
	}
	if len(got.Form[field]) != 1 {
		t.Fatalf("form field %s given %d times", field, len(got.Form[field]))
	}
	checkJSON(t, got.Form[field][0], want)
}

func checkJSON(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("sent %q, not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %q: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("sent\n%s\nwant\n%s", got, want)
	}
}

func TestSample(t *testing.T) {
	var cfg Config
	if err := connectortest.Section(where, string(Type().Sample)).Decode(&cfg); err != nil {
		t.Fatalf("sample does not decode: %v", err)
	}
	c := newTestCRM(t, testDeps(t), string(Type().Sample))
	var _ connectors.Lookuper = c
	var _ connectors.CallLogger = c
	var _ connectors.Batcher = c
	var _ connectors.RateLimiter = c
	var _ connectors.StatusSetter = c
	var _ connectors.Tester = c
	var _ connectors.Router = c
	var _ connectors.CallbackBaser = c
	if c.root != "https://demo.retailcrm.ru" || c.code != "ringside" || c.userID != 1 || c.periodic ||
		!reflect.DeepEqual(c.codes, map[string]int64{"100": 1, "200": 2}) || c.ownCode != "100" ||
		!reflect.DeepEqual(c.external, []ExternalPhone{{SiteCode: "shop1", ExternalPhone: "+74999999999"}}) ||
		c.client.Timeout != 10*time.Second {
		t.Errorf("sample decoded to %+v", c)
	}
}

func TestDefaults(t *testing.T) {
	c := newTestCRM(t, testDeps(t), `url = "https://demo.retailcrm.ru/"`)
	if c.code != DefaultCode || c.periodic || c.userID != 0 || c.loc != time.Local || c.client.Timeout != defaultTimeout || c.eventWait != 3*time.Second {
		t.Errorf("defaults: %+v", c)
	}
	if got := c.BatchSize(); got != 50 {
		t.Errorf("BatchSize() = %d, want 50", got)
	}
	if r, b := c.RateLimit(); r != 40 || b != 1 {
		t.Errorf("RateLimit() = %v, %d; want 40, 1", r, b)
	}
	if c.telephony.Limit() != 40 || c.general.Limit() != 10 {
		t.Errorf("limiters %v/s telephony, %v/s general; want 40 and 10", c.telephony.Limit(), c.general.Limit())
	}
	c = newTestCRM(t, testDeps(t), `url = "https://demo.retailcrm.ru/api/v5"
upload = "periodic"`)
	if c.root != "https://demo.retailcrm.ru" || !c.periodic || c.interval != 5*time.Minute {
		t.Errorf("periodic: root %q periodic %v interval %v", c.root, c.periodic, c.interval)
	}
	c = newTestCRM(t, testDeps(t), `url = "http://127.0.0.1:8080"
upload = "periodic"
upload_interval = "10m"
timeout = "3s"`)
	if c.interval != 10*time.Minute || c.client.Timeout != 3*time.Second {
		t.Errorf("interval %v timeout %v", c.interval, c.client.Timeout)
	}
}

func TestNewErrors(t *testing.T) {
	const u = `url = "https://demo.retailcrm.ru"` + "\n"
	tests := []struct {
		name string
		conf string
		key  string // the error names it
	}{
		{"no url", ``, "url"},
		{"http to the internet", `url = "http://demo.retailcrm.ru"`, "url"},
		{"ftp", `url = "ftp://demo.retailcrm.ru"`, "url"},
		{"path", `url = "https://demo.retailcrm.ru/orders"`, "url"},
		{"query", `url = "https://demo.retailcrm.ru/?apiKey=x"`, "url"},
		{"credentials", `url = "https://me:pw@demo.retailcrm.ru"`, "url"},
		{"bad code", u + `code = "ring side"`, "code"},
		{"negative user", u + `user_id = -1`, "user_id"},
		{"bad site", u + `site = "shop/1"`, "site"},
		{"bad agent code", u + `codes = { "1 0" = 1 }`, "codes"},
		{"zero user in codes", u + `codes = { "100" = 0 }`, "codes"},
		{"external phone without site", u + `external_phones = [ { external_phone = "+74999999999" } ]`, "external_phones"},
		{"external phone not a number", u + `external_phones = [ { site_code = "a", external_phone = "call us" } ]`, "external_phones"},
		{"unknown upload", u + `upload = "nightly"`, "upload"},
		{"interval without periodic", u + `upload_interval = "5m"`, "upload_interval"},
		{"interval too short", u + "upload = \"periodic\"\n" + `upload_interval = "10s"`, "upload_interval"},
		{"bad make_call_url", u + `make_call_url = "agent.example/make-call"`, "make_call_url"},
		{"credentials in status url", u + `change_user_status_url = "https://a:b@agent.example/s"`, "change_user_status_url"},
		{"bad timeout", u + `timeout = "soon"`, "timeout"},
		{"bad timezone", u + `timezone = "Mars/Olympus"`, "timezone"},
		{"api key in file", u + `api_key = "x"`, "api_key"},
		{"wrong type", u + `user_id = "1"`, "user_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Type().New(connectortest.Section(where, tt.conf), testDeps(t))
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			for _, w := range []string{"test.toml [connectors.crm]", tt.key} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			for _, secret := range []string{"apiKey=x", "me:pw"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q shows %q", err, secret)
				}
			}
		})
	}
	// Every problem at once.
	_, err := Type().New(connectortest.Section(where, `url = "ftp://x"`+"\n"+`code = "a b"`+"\n"+`timeout = "x"`), testDeps(t))
	for _, key := range []string{"url:", "code:", "timeout:"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("error %v does not report %s", err, key)
		}
	}
}
