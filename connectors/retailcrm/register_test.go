package retailcrm

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/ringside/ringside/connectors/connectortest"
)

func TestRegister(t *testing.T) {
	srv := newFake(t, reply(http.StatusCreated, `{"success":true}`))
	c := newTestCRM(t, testDeps(t), baseConf(srv.URL)+`code = "my-telephony"
site = "shop1"
external_phones = [
  { site_code = "shop1", external_phone = "+7-499-999-99-99" },
  { site_code = "shop2", external_phone = "+7-499-888-88-88" },
]
make_call_url = "https://agent.example.net/crm/make-call"
change_user_status_url = "https://agent.example.net/crm/status"
`)
	res, err := c.Register(context.Background())
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if len(res.UnknownUserIDs) != 0 || len(res.UnknownSiteCodes) != 0 || len(res.Warnings) != 0 {
		t.Errorf("result %+v, want nothing to report", res)
	}
	reqs := srv.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	checkRequest(t, reqs[0], http.MethodPost, "/api/v5/integration-modules/my-telephony/edit")
	checkForm(t, reqs[0], "integrationModule", `{
		"code": "my-telephony",
		"integrationCode": "my-telephony",
		"active": true,
		"name": "Ringside",
		"clientId": "`+clientID+`",
		"integrations": {"telephony": {
			"makeCallUrl": "https://agent.example.net/crm/make-call",
			"allowEdit": false,
			"inputEventSupported": true,
			"outputEventSupported": true,
			"hangupEventSupported": true,
			"changeUserStatusUrl": "https://agent.example.net/crm/status",
			"additionalCodes": [{"code": "100", "userId": 1}, {"code": "200", "userId": 2}],
			"externalPhones": [
				{"siteCode": "shop1", "externalPhone": "+7-499-999-99-99"},
				{"siteCode": "shop2", "externalPhone": "+7-499-888-88-88"}
			]
		}}
	}`)
	if got := c.clientID(); got != clientID {
		t.Errorf("after Register the listener checks against %q, want the registered client id", got)
	}
}

func TestRegisterReportsRejections(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		wantErr bool
	}{
		{"with success", http.StatusOK, `{"success":true,"notExistUsersIds":[2,"9"],"notExistSiteCodes":["shop9"]}`, false},
		{"with refusal", http.StatusBadRequest, `{"success":false,"errorMsg":"Users not found","notExistUsersIds":{"0":2,"1":9},"notExistSiteCodes":["shop9"]}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFake(t, reply(tt.status, tt.body))
			c := newTestCRM(t, testDeps(t), baseConf(srv.URL)+`external_phones = [ { site_code = "shop9", external_phone = "+74999999999" } ]`)
			res, err := c.Register(context.Background())
			if (err != nil) != tt.wantErr {
				t.Fatalf("Register error %v, want error %v", err, tt.wantErr)
			}
			if !slices.Equal(res.UnknownUserIDs, []string{"2", "9"}) || !slices.Equal(res.UnknownSiteCodes, []string{"shop9"}) {
				t.Errorf("unknown users %q sites %q, want [2 9] and [shop9]", res.UnknownUserIDs, res.UnknownSiteCodes)
			}
			all := strings.Join(res.Warnings, "\n")
			for _, w := range []string{`retailCRM has no user 2, 9: fix "200" = 2 in codes`, "no site (shop) shop9", "make_call_url is not set"} {
				if !strings.Contains(all, w) {
					t.Errorf("warnings\n%s\ndo not say %q", all, w)
				}
			}
		})
	}
}

func TestRegisterUsesListenerAddress(t *testing.T) {
	srv := newFake(t, ok)
	c := newTestCRM(t, testDeps(t), baseConf(srv.URL)+`make_call_url = "https://tunnel.example.net/crm/make-call"`)
	c.SetCallbackBase("http://127.0.0.1:8790/crm/")
	res, err := c.Register(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := decodeModule(t, srv.requests()[0].Form.Get("integrationModule"))
	if got := m.Integrations.Telephony; got.MakeCallURL != "https://tunnel.example.net/crm/make-call" || got.ChangeUserStatusURL != "http://127.0.0.1:8790/crm/status" {
		t.Errorf("makeCallUrl %q changeUserStatusUrl %q: want the setting, then the listener's address", got.MakeCallURL, got.ChangeUserStatusURL)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "change_user_status_url is an address on this computer") {
		t.Errorf("warnings %q, want one about the loopback status address", res.Warnings)
	}
}

func TestRegisterWithoutClientID(t *testing.T) {
	srv := newFake(t, ok)
	d := testDeps(t)
	d.Secrets = connectortest.Secrets{"api_key": apiKey}
	c := newTestCRM(t, d, baseConf(srv.URL))
	_, err := c.Register(context.Background())
	if err == nil || !strings.Contains(err.Error(), `secret "client_id" of connector crm`) {
		t.Errorf("Register = %v, want the missing client_id named", err)
	}
	if len(srv.requests()) != 0 {
		t.Error("Register sent a module without a client id")
	}
}

func decodeModule(t *testing.T, s string) module {
	t.Helper()
	var m module
	if err := json.Unmarshal([]byte(s), &m); err != nil || m.Integrations.Telephony == nil {
		t.Fatalf("integrationModule %q: %v", s, err)
	}
	return m
}
