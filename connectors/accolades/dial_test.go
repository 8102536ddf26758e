package accolades

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/connectors/connectortest"
)

// request is what the test server saw.
type request struct {
	Method, Path, ContentType, Body string
}

// dialServer answers every request with status and body, and records it.
func dialServer(t *testing.T, status int, body string) (string, func() []request) {
	t.Helper()
	var mu sync.Mutex
	var reqs []request
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, request{r.Method, r.URL.Path, r.Header.Get("Content-Type"), string(b)})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(ts.Close)
	return ts.URL, func() []request {
		mu.Lock()
		defer mu.Unlock()
		return append([]request(nil), reqs...)
	}
}

func dialConf(url string) string {
	return fmt.Sprintf("id_crm = %q\naccount = \"1234\"\ndevice_id = \"27\"\ndial_url = %q\n", agentID, url)
}

func TestDial(t *testing.T) {
	url, reqs := dialServer(t, http.StatusOK, `{"type":"ok"}`)
	var logs connectortest.LogBuffer
	d := testDeps(t)
	d.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newTestConnector(t, d, dialConf(url+"/"))
	p := d.Phones.Parse("+40 721-234.567")
	if err := c.Dial(context.Background(), p); err != nil {
		t.Fatalf("Dial: %v", err)
	}
	got := reqs()
	want := []request{{
		Method:      "POST",
		Path:        "/1234/dial/",
		ContentType: "application/x-www-form-urlencoded",
		Body:        "deviceId=27&password=pa55-w0rd&phoneNumber=%2B40721234567",
	}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests:\n got %+v\nwant %+v", got, want)
	}
	if out := logs.String(); strings.Contains(out, password) || strings.Contains(out, "721234567") || !strings.Contains(out, "dial") {
		t.Errorf("log:\n%s", out)
	}
}

func TestDialNumber(t *testing.T) {
	tests := []struct {
		p    connectors.Phone
		want string
	}{
		{connectors.Phone{Raw: "0721 234 567"}, "0721234567"},
		{connectors.Phone{Raw: "+40 (21) 312-45-67"}, "+40213124567"},
		{connectors.Phone{Raw: "", E164: "+40211234567"}, "+40211234567"},
		{connectors.Phone{Raw: "101"}, "101"},
		{connectors.Phone{Raw: "*97#"}, "*97#"},
		{connectors.Phone{Raw: "1+2"}, ""},
		{connectors.Phone{Raw: "call me"}, ""},
		{connectors.Phone{Raw: "+"}, ""},
		{connectors.Phone{}, ""},
	}
	for _, tt := range tests {
		if got := dialNumber(tt.p); got != tt.want {
			t.Errorf("dialNumber(%+v) = %q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestDialErrors(t *testing.T) {
	ctx := context.Background()
	phone := connectors.Phone{Raw: "0721234567", E164: "+40721234567"}
	tests := []struct {
		name      string
		status    int
		body      string
		want      string
		permanent bool
	}{
		{"error answer", 200, `{"type":"error","message":"wrong password for 0721234567"}`, "Accolades refused to dial: wrong password for •••", true},
		{"error without words", 200, `{"type":"error"}`, "Accolades refused to dial: no reason given", true},
		{"other type", 200, `{"type":"queued"}`, `the server answered "{\"type\":\"queued\"}" instead of {"type":"ok"}`, false},
		{"not JSON", 200, `<html>login</html>`, `the server answered something else than {"type":"ok"}: "<html>login</html>"`, false},
		{"empty", 200, ``, `the server answered something else than {"type":"ok"}`, false},
		{"server error", 500, `oops`, "Accolades: dial: HTTP 500 Internal Server Error: oops", false},
		{"forbidden", 403, `{"type":"error"}`, "Accolades: dial: HTTP 403 Forbidden", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, _ := dialServer(t, tt.status, tt.body)
			c := newTestConnector(t, testDeps(t), dialConf(url))
			err := c.Dial(ctx, phone)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Dial = %v, want %q", err, tt.want)
			}
			if connectors.IsPermanent(err) != tt.permanent {
				t.Errorf("IsPermanent = %v", !tt.permanent)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}

	url, reqs := dialServer(t, 200, `{"type":"ok"}`)
	t.Run("missing secret", func(t *testing.T) {
		d := testDeps(t)
		d.Secrets = connectortest.Secrets{}
		c := newTestConnector(t, d, dialConf(url))
		err := c.Dial(ctx, phone)
		if err == nil || !strings.Contains(err.Error(), "run `ringside secret set office.password`") {
			t.Errorf("Dial = %v", err)
		}
		d.Secrets = nil
		c = newTestConnector(t, d, dialConf(url))
		if err := c.Dial(ctx, phone); err == nil || !strings.Contains(err.Error(), "the password is not set") {
			t.Errorf("Dial without a keyring = %v", err)
		}
	})
	t.Run("dialing off", func(t *testing.T) {
		c := newTestConnector(t, testDeps(t), conf("wss://client.voipit.ro:14327"))
		err := c.Dial(ctx, phone)
		if err == nil || err.Error() != "Accolades: dialing is off: set account and device_id in the settings of connector office" {
			t.Errorf("Dial = %v", err)
		}
	})
	t.Run("not a number", func(t *testing.T) {
		c := newTestConnector(t, testDeps(t), dialConf(url))
		if err := c.Dial(ctx, connectors.Phone{Raw: "sales"}); err == nil || !strings.Contains(err.Error(), "not a phone number") {
			t.Errorf("Dial = %v", err)
		}
	})
	if n := len(reqs()); n != 0 {
		t.Errorf("%d requests sent for calls that should not be dialed", n)
	}
	t.Run("unreachable", func(t *testing.T) {
		c := newTestConnector(t, testDeps(t), dialConf("http://127.0.0.1:1"))
		if err := c.Dial(ctx, phone); err == nil || !strings.HasPrefix(err.Error(), "Accolades: dial: cannot reach http://127.0.0.1:1") {
			t.Errorf("Dial = %v", err)
		}
	})
}
