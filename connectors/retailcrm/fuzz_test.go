package retailcrm

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// longDigits finds what could be a phone number written without spaces.
var longDigits = regexp.MustCompile(`[0-9]{7,}`)

// FuzzDecodeResponse feeds any status and body to the answer decoder and to
// the decoders of each method's answer. Seeds: testdata/fuzz/FuzzDecodeResponse.
func FuzzDecodeResponse(f *testing.F) {
	f.Add(200, []byte(`{"success":true}`))
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		status = 100 + (status%500+500)%500
		err := checkAnswer(status, "", body, now)
		if err == nil {
			var env envelope
			if status < 200 || status > 299 || json.Unmarshal(bytes.TrimSpace(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))), &env) != nil || env.Success == nil || !*env.Success {
				t.Fatalf("status %d body %q taken as a success", status, body)
			}
			if c, err := decodeContact(body); err == nil {
				for _, u := range []string{c.URL, c.NewURL, c.Extra["new_order_url"], c.Extra["last_order_url"]} {
					if u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
						t.Fatalf("link %q kept", u)
					}
				}
			}
			var up uploadAnswer
			_ = json.Unmarshal(body, &up)
			var ev eventAnswer
			_ = json.Unmarshal(body, &ev)
			var reg registerAnswer
			_ = json.Unmarshal(body, &reg)
			var mod moduleAnswer
			_ = json.Unmarshal(body, &mod)
			return
		}
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != status {
			t.Fatalf("error %v is not an APIError of status %d", err, status)
		}
		msg := err.Error()
		for _, run := range longDigits.FindAllString(string(body), -1) {
			if strings.Contains(msg, run) {
				t.Fatalf("error %q shows the number %s of the body", msg, run)
			}
		}
	})
}

// checkParseError checks that an error about q quotes no long number.
func checkParseError(t *testing.T, q url.Values, err error) {
	t.Helper()
	for _, vs := range q {
		for _, v := range vs {
			for _, run := range longDigits.FindAllString(v, -1) {
				if strings.Contains(err.Error(), run) {
					t.Fatalf("error %q shows the number %s", err, run)
				}
			}
		}
	}
}

// FuzzParseMakeCall feeds any query to the make-call parser. Seeds:
// testdata/fuzz/FuzzParseMakeCall.
func FuzzParseMakeCall(f *testing.F) {
	f.Add("clientId=2dbh26tahjj26sg&code=100&phone=+79121234567&userId=1")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		mc, err := ParseMakeCall(q)
		if err != nil {
			checkParseError(t, q, err)
			return
		}
		switch {
		case mc.ClientID == "" || len(mc.ClientID) > maxClientID:
			t.Fatalf("client id of %d bytes taken", len(mc.ClientID))
		case !plausiblePhone(mc.Phone) || len(mc.Phone) > maxPhone:
			t.Fatalf("phone %q taken", mc.Phone)
		case mc.ExternalPhone != "" && !plausiblePhone(mc.ExternalPhone):
			t.Fatalf("external phone %q taken", mc.ExternalPhone)
		case mc.Code == "" && mc.UserID == 0, mc.UserID < 0:
			t.Fatalf("user %q/%d taken", mc.Code, mc.UserID)
		case mc.Code != "" && checkCode(mc.Code) != nil:
			t.Fatalf("code %q taken", mc.Code)
		}
	})
}

// FuzzParseChangeStatus feeds any query to the status parser. Seeds:
// testdata/fuzz/FuzzParseChangeStatus.
func FuzzParseChangeStatus(f *testing.F) {
	f.Add("clientId=2dbh26tahjj26sg&code=100&userId=1&status=busy")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		cs, err := ParseChangeStatus(q)
		if err != nil {
			checkParseError(t, q, err)
			return
		}
		switch cs.Status.String() {
		case "free", "busy", "dinner", "break":
		default:
			t.Fatalf("status %v taken", cs.Status)
		}
		if cs.ClientID == "" || cs.Code == "" && cs.UserID == 0 || cs.UserID < 0 {
			t.Fatalf("%+v taken", cs)
		}
	})
}
