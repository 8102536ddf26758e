package retailcrm

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/connectors/connectortest"
)

func query(t *testing.T, raw string) url.Values {
	t.Helper()
	q, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatalf("query %q: %v", raw, err)
	}
	return q
}

func TestParseMakeCall(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  MakeCall
		err   string // the error says it; "" for none
	}{
		{"the spec's example, + unescaped", "clientId=2dbh26tahjj26sg&code=100&phone=+79121234567&userId=1",
			MakeCall{ClientID: "2dbh26tahjj26sg", Code: "100", Phone: "+79121234567", UserID: 1}, ""},
		{"+ escaped, external phone", "clientId=x&code=100&phone=%2B7%20(912)%20123-45-67&userId=1&externalPhone=%2B7-499-999-99-99",
			MakeCall{ClientID: "x", Code: "100", Phone: "+7 (912) 123-45-67", UserID: 1, ExternalPhone: "+7-499-999-99-99"}, ""},
		{"code only", "clientId=x&code=100&phone=89121234567", MakeCall{ClientID: "x", Code: "100", Phone: "89121234567"}, ""},
		{"user only", "clientId=x&userId=12&phone=105", MakeCall{ClientID: "x", Phone: "105", UserID: 12}, ""},
		{"no client id", "code=100&phone=105", MakeCall{}, "clientId is missing"},
		{"empty client id", "clientId=&code=100&phone=105", MakeCall{}, "clientId is missing"},
		{"client id twice", "clientId=x&clientId=y&code=100&phone=105", MakeCall{}, "clientId is given more than once"},
		{"no phone", "clientId=x&code=100", MakeCall{}, "phone is missing"},
		{"phone twice", "clientId=x&code=100&phone=105&phone=106", MakeCall{}, "phone is given more than once"},
		{"phone not a number", "clientId=x&code=100&phone=call%20me", MakeCall{}, "phone is not a phone number"},
		{"phone too long", "clientId=x&code=100&phone=" + strings.Repeat("1", 21), MakeCall{}, "phone is not a phone number"},
		{"no user", "clientId=x&phone=105", MakeCall{}, "neither code nor userId"},
		{"bad user", "clientId=x&userId=-1&phone=105", MakeCall{}, "userId is not"},
		{"bad code", "clientId=x&code=1%3B0&phone=105", MakeCall{}, `code "1;0" may hold only`},
		{"bad external phone", "clientId=x&code=100&phone=105&externalPhone=shop", MakeCall{}, "externalPhone is not a phone number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMakeCall(query(t, tt.query))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseMakeCall = %+v, %v; want an error saying %q", got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseMakeCall: %v", err)
			}
			if got != tt.want {
				t.Errorf("ParseMakeCall = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseChangeStatus(t *testing.T) {
	tests := []struct {
		query string
		want  ChangeStatus
		err   string
	}{
		{"clientId=2dbh26tahjj26sg&code=100&userId=1&status=busy", ChangeStatus{ClientID: "2dbh26tahjj26sg", Code: "100", UserID: 1, Status: connectors.StatusBusy}, ""},
		{"clientId=x&userId=1&status=free", ChangeStatus{ClientID: "x", UserID: 1, Status: connectors.StatusFree}, ""},
		{"clientId=x&code=100&status=dinner", ChangeStatus{ClientID: "x", Code: "100", Status: connectors.StatusDinner}, ""},
		{"clientId=x&code=100&status=break", ChangeStatus{ClientID: "x", Code: "100", Status: connectors.StatusBreak}, ""},
		{"clientId=x&code=100&status=unknown", ChangeStatus{}, `status "unknown" is not`},
		{"clientId=x&code=100&status=away", ChangeStatus{}, `status "away" is not`},
		{"clientId=x&code=100", ChangeStatus{}, `status "" is not`},
		{"clientId=x&code=100&status=busy&status=free", ChangeStatus{}, "status is given more than once"},
		{"code=100&status=busy", ChangeStatus{}, "clientId is missing"},
		{"clientId=x&status=busy", ChangeStatus{}, "neither code nor userId"},
	}
	for _, tt := range tests {
		got, err := ParseChangeStatus(query(t, tt.query))
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("ParseChangeStatus(%s) = %+v, %v; want an error saying %q", tt.query, got, err, tt.err)
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("ParseChangeStatus(%s) = %+v, %v; want %+v", tt.query, got, err, tt.want)
		}
	}
}

func TestClientIDMatches(t *testing.T) {
	for _, tt := range []struct {
		want, got string
		match     bool
	}{
		{"2dbh26tahjj26sg", "2dbh26tahjj26sg", true},
		{"2dbh26tahjj26sg", "2dbh26tahjj26sG", false},
		{"2dbh26tahjj26sg", "2dbh26tahjj26s", false},
		{"2dbh26tahjj26sg", "", false},
		{"", "", false},
	} {
		if got := ClientIDMatches(tt.want, tt.got); got != tt.match {
			t.Errorf("ClientIDMatches(%q, %q) = %v", tt.want, tt.got, got)
		}
	}
}

func TestRoutes(t *testing.T) {
	c := newTestCRM(t, testDeps(t), baseConf("https://demo.retailcrm.ru"))
	routes := c.Routes()
	var paths []string
	for _, r := range routes {
		paths = append(paths, r.Path)
		if !slices.Equal(r.Methods, []string{http.MethodGet}) || len(r.Accept) != 0 {
			t.Errorf("route %s: methods %v accept %v, want GET with no body", r.Path, r.Methods, r.Accept)
		}
		if r.Auth.Kind != connectors.AuthParam || r.Auth.Param != "clientId" || r.Auth.Secret() != clientID {
			t.Errorf("route %s: auth %v param %q, want clientId against the secret client_id", r.Path, r.Auth.Kind, r.Auth.Param)
		}
	}
	if !slices.Equal(paths, []string{"make-call", "status"}) {
		t.Fatalf("routes %v, want make-call and status", paths)
	}
	makeCall, status := routes[0].Parse, routes[1].Parse
	// The listener has taken clientId out of the query.
	req := func(raw string) connectors.CallbackRequest {
		return connectors.CallbackRequest{Method: http.MethodGet, Query: query(t, raw)}
	}

	cb, err := makeCall(req("code=100&phone=+79121234567&userId=1"))
	if err != nil || cb.Dial != (connectors.Phone{Raw: "+79121234567", E164: "+79121234567"}) || len(cb.Events) != 0 || cb.Status != connectors.StatusUnknown {
		t.Errorf("make-call = %+v, %v; want a dial of +79121234567", cb, err)
	}
	cb, err = makeCall(req("code=100&phone=89121234567"))
	if err != nil || cb.Dial.E164 != "+79121234567" {
		t.Errorf("make-call of a national number = %+v, %v; want it normalized", cb, err)
	}
	for _, q := range []string{"code=200&phone=105", "userId=2&phone=105"} {
		if cb, err := makeCall(req(q)); err == nil || !cb.IsZero() {
			t.Errorf("make-call for another user (%s) = %+v, %v; want refused", q, cb, err)
		}
	}
	if _, err := makeCall(req("code=100&phone=1-800-FLOWERS")); err == nil || strings.Contains(err.Error(), "800") {
		t.Errorf("make-call of a bad number = %v, want an error that does not quote it", err)
	}

	cb, err = status(req("code=100&userId=1&status=dinner"))
	if err != nil || cb.Status != connectors.StatusDinner || !cb.Dial.IsZero() {
		t.Errorf("status = %+v, %v; want dinner", cb, err)
	}
	if cb, err := status(req("code=200&userId=2&status=busy")); err != nil || !cb.IsZero() {
		t.Errorf("another user's status = %+v, %v; want understood and ignored", cb, err)
	}
	if _, err := status(req("code=100&status=lunch")); err == nil {
		t.Error("an unknown status was taken")
	}
}

func TestRoutesWithoutClientID(t *testing.T) {
	d := testDeps(t)
	secrets := connectortest.Secrets{"api_key": apiKey}
	d.Secrets = secrets
	c := newTestCRM(t, d, baseConf("https://demo.retailcrm.ru"))
	auth := c.Routes()[0].Auth
	if got := auth.Secret(); got != "" {
		t.Fatalf("Secret() = %q without a client id, want \"\" (refuse every request)", got)
	}
	secrets["client_id"] = clientID
	c.refreshClientID() // as Register and Test do
	if got := auth.Secret(); got != clientID {
		t.Errorf("Secret() = %q after the client id was set, want it", got)
	}
}

func TestCallbackBase(t *testing.T) {
	c := newTestCRM(t, testDeps(t), baseConf("https://demo.retailcrm.ru"))
	if m, s := c.callbackURLs(); m != "" || s != "" {
		t.Errorf("callback URLs %q %q before SetCallbackBase, want none", m, s)
	}
	c.SetCallbackBase("https://agent1.example.com/crm")
	if m, s := c.callbackURLs(); m != "https://agent1.example.com/crm/make-call" || s != "https://agent1.example.com/crm/status" {
		t.Errorf("callback URLs %q %q", m, s)
	}
}
