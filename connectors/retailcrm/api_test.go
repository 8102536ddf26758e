package retailcrm

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/connectors/connectortest"
)

// outcome classes of an answer.
const (
	delivered = "delivered"
	retry     = "retry"
	permanent = "permanent"
)

func classOf(err error) string {
	switch {
	case err == nil:
		return delivered
	case connectors.IsPermanent(err):
		return permanent
	}
	return retry
}

// answers are what retailCRM (or something in its place) may answer, and
// how each must be taken.
var answers = []struct {
	name       string
	status     int
	retryAfter string
	body       string
	class      string
	delay      time.Duration // RetryAfter asked, 0 for none
	says       []string      // the error mentions each
}{
	{"200 success", 200, "", `{"success":true}`, delivered, 0, nil},
	{"201 success", 201, "", `{"success":true,"id":7}`, delivered, 0, nil},
	{"200 success with a BOM and spaces", 200, "", "\xef\xbb\xbf \n{\"success\":true}", delivered, 0, nil},
	{"200 success false, errors object", 200, "", `{"success":false,"errorMsg":"Errors in the input parameters","errors":{"calls[0][phone]":"required","calls[10][type]":"bad","calls[2][type]":"bad"}}`,
		permanent, 0, []string{"HTTP 200 OK: Errors in the input parameters (calls[0][phone]: required; calls[2][type]: bad; calls[10][type]: bad)"}},
	{"200 success false, errors list", 200, "", `{"success":false,"errorMsg":"Invalid data","errors":["phone is empty",{"x":1}]}`,
		permanent, 0, []string{`Invalid data (phone is empty; {"x":1})`}},
	{"200 success false, errors string", 200, "", `{"success":false,"errorMsg":"Invalid data","errors":"bad"}`, permanent, 0, []string{"Invalid data (bad)"}},
	{"200 without success", 200, "", `{"calls":[]}`, permanent, 0, []string{`no "success"`}},
	{"200 HTML: no such account", 200, "", "<!DOCTYPE html><html>Account not found</html>", permanent, 0, []string{"no retailCRM account at this address"}},
	{"200 not JSON", 200, "", "OK", retry, 0, []string{"not the API's JSON: OK"}},
	{"200 empty", 200, "", "", retry, 0, []string{"an empty answer"}},
	{"400", 400, "", `{"success":false,"errorMsg":"Parameter 'calls' is missing"}`, permanent, 0, []string{"HTTP 400 Bad Request: Parameter 'calls' is missing"}},
	{"401", 401, "", `{"success":false,"errorMsg":"Wrong \"apiKey\" value."}`, permanent, 0, []string{`HTTP 401 Unauthorized: Wrong "apiKey" value.`}},
	{"403", 403, "", `{"success":false,"errorMsg":"Access denied."}`, permanent, 0, []string{"HTTP 403 Forbidden: Access denied."}},
	{"404", 404, "", `{"success":false,"errorMsg":"API method not found"}`, permanent, 0, []string{"HTTP 404 Not Found: API method not found"}},
	{"404 HTML: no such account", 404, "", "<html><body>Not found</body></html>", permanent, 0, []string{"no retailCRM account"}},
	{"429", 429, "", `{"success":false,"errorMsg":"Too many requests"}`, retry, 0, []string{"HTTP 429 Too Many Requests: rate limited: Too many requests"}},
	{"429 with Retry-After", 429, "2", `{"success":false}`, retry, 2 * time.Second, []string{"rate limited"}},
	{"503 HTML with Retry-After", 503, "30", "<html>Service Unavailable</html>", retry, 30 * time.Second, []string{"HTTP 503 Service Unavailable: rate limited: an HTML page"}},
	{"500", 500, "", `{"success":false,"errorMsg":"Internal error"}`, retry, 0, []string{"HTTP 500 Internal Server Error: Internal error"}},
	{"502 empty", 502, "", "", retry, 0, []string{"HTTP 502 Bad Gateway: an empty answer"}},
	{"408", 408, "", "", retry, 0, []string{"HTTP 408"}},
	{"a number echoed is masked", 400, "", `{"success":false,"errorMsg":"Customer +7 (912) 123-45-67 not found","errors":{"phone":"79121234567 is bad"}}`,
		permanent, 0, []string{"Customer +• (•••) •••-••-67 not found (phone: •••••••••67 is bad)"}},
}

func TestCheckAnswer(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	for _, tt := range answers {
		t.Run(tt.name, func(t *testing.T) {
			err := checkAnswer(tt.status, tt.retryAfter, []byte(tt.body), now)
			if got := classOf(err); got != tt.class {
				t.Fatalf("checkAnswer = %v: %s, want %s", err, got, tt.class)
			}
			if d, _ := connectors.RetryDelay(err); d != tt.delay {
				t.Errorf("retry delay %v, want %v", d, tt.delay)
			}
			var ae *APIError
			if err != nil && (!errors.As(err, &ae) || ae.Status != tt.status) {
				t.Errorf("error %v is not an APIError of status %d", err, tt.status)
			}
			for _, w := range tt.says {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestAnswersOverHTTP takes every answer through each kind of request: the
// classification is the same whichever method asked.
func TestAnswersOverHTTP(t *testing.T) {
	for _, tt := range answers {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFake(t, func(w http.ResponseWriter, _ seen) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			c := newTestCRM(t, testDeps(t), baseConf(srv.URL))
			ctx := context.Background()
			calls := map[string]error{
				"LogCalls":   c.LogCalls(ctx, []connectors.CallLog{callLog("call-1")}),
				"SetStatus":  c.SetStatus(ctx, connectors.StatusBusy),
				"NotifyCall": c.NotifyCall(ctx, "call-1", connectors.Event{Kind: connectors.KindRinging, Phone: caller}),
			}
			_, calls["Register"] = c.Register(ctx)
			if tt.class != delivered || strings.HasPrefix(tt.body, "{") {
				_, calls["Lookup"] = c.Lookup(ctx, caller)
			}
			for name, err := range calls {
				if got := classOf(err); got != tt.class {
					t.Errorf("%s = %v: %s, want %s", name, err, got, tt.class)
				}
				if d, _ := connectors.RetryDelay(err); d != tt.delay {
					t.Errorf("%s: retry delay %v, want %v", name, d, tt.delay)
				}
			}
		})
	}
}

func TestNetworkErrors(t *testing.T) {
	srv := newFake(t, ok)
	c := newTestCRM(t, testDeps(t), baseConf(srv.URL))
	srv.Close()
	_, err := c.Lookup(context.Background(), caller)
	if err == nil || connectors.IsPermanent(err) {
		t.Fatalf("Lookup with the server gone = %v, want a retryable error", err)
	}
	if s := err.Error(); !strings.Contains(s, "GET /api/v5/telephony/manager") || strings.Contains(s, "9121234567") || strings.Contains(s, "phone=") {
		t.Errorf("error %q: want the method and path without the query", s)
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	elsewhere := newFake(t, ok)
	srv := newFake(t, func(w http.ResponseWriter, r seen) {
		w.Header().Set("Location", elsewhere.URL+r.Path)
		w.WriteHeader(http.StatusFound)
	})
	c := newTestCRM(t, testDeps(t), baseConf(srv.URL))
	err := c.SetStatus(context.Background(), connectors.StatusBusy)
	if !connectors.IsPermanent(err) || !strings.Contains(err.Error(), "sends Ringside to "+elsewhere.URL) {
		t.Errorf("SetStatus = %v, want a permanent error naming where it was sent", err)
	}
	if n := len(elsewhere.requests()); n != 0 {
		t.Errorf("the redirect was followed: the key went elsewhere %d times", n)
	}
}

func TestMissingAPIKey(t *testing.T) {
	srv := newFake(t, ok)
	d := testDeps(t)
	d.Secrets = connectortest.Secrets{}
	c := newTestCRM(t, d, baseConf(srv.URL))
	err := c.LogCalls(context.Background(), []connectors.CallLog{callLog("call-1")})
	if err == nil || connectors.IsPermanent(err) || !strings.Contains(err.Error(), `secret "api_key" of connector crm`) {
		t.Errorf("LogCalls without a key = %v, want a retryable error naming the secret", err)
	}
	d.Secrets = connectortest.Secrets{"api_key": ""}
	c = newTestCRM(t, d, baseConf(srv.URL))
	if err := c.SetStatus(context.Background(), connectors.StatusFree); err == nil || !strings.Contains(err.Error(), `ringside secret set crm.api_key`) {
		t.Errorf("SetStatus with an empty key = %v, want how to set it", err)
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("%d requests sent without a key", n)
	}
}

// TestNothingSecretInLogsOrErrors runs every operation with debug logs
// against answers that echo what they were sent, and looks for the key,
// the client id and the full number in the logs and the errors.
func TestNothingSecretInLogsOrErrors(t *testing.T) {
	srv := newFake(t, func(w http.ResponseWriter, r seen) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"success":false,"errorMsg":"bad request for 79121234567","errors":{"echo":`+jsonString(r.Body)+`}}`)
	})
	logs := &connectortest.LogBuffer{}
	d := testDeps(t)
	d.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newTestCRM(t, d, baseConf(srv.URL))
	ctx := context.Background()
	var errs []error
	errs = append(errs, c.LogCalls(ctx, []connectors.CallLog{callLog("call-1")}))
	errs = append(errs, c.NotifyCall(ctx, "call-1", connectors.Event{Kind: connectors.KindRinging, Phone: caller}))
	_, err := c.Lookup(ctx, caller)
	errs = append(errs, err, c.SetStatus(ctx, connectors.StatusBusy), c.Test(ctx))
	_, err = c.Register(ctx)
	errs = append(errs, err)
	srv.setAnswer(ok)
	errs = append(errs, c.NotifyCall(ctx, "call-1", connectors.Event{Kind: connectors.KindRinging, Phone: caller}))
	for _, err := range errs {
		if err != nil {
			logs.Write([]byte(err.Error() + "\n"))
		}
	}
	for _, secret := range []string{apiKey, clientID, "9121234567", "912 123-45-67"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("%q reached the logs or an error:\n%s", secret, logs)
		}
	}
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

func TestMaskNumbers(t *testing.T) {
	for in, want := range map[string]string{
		"call +7 (912) 123-45-67 now": "call +• (•••) •••-••-67 now",
		"79121234567":                 "•••••••••67",
		"ext 105, code 123456":        "ext 105, code 123456",
		"ids 1234567 and 12":          "ids •••••67 and 12",
		"on 2026-11-21 10:00:00":      "on ••••-••-•• 10:00:00",
		"":                            "",
		"trailing 1234567-":           "trailing •••••67-",
	} {
		if got := maskNumbers(in); got != want {
			t.Errorf("maskNumbers(%q) = %q, want %q", in, got, want)
		}
	}
}
