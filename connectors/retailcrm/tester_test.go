package retailcrm

import (
	"cmp"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/ringside/ringside/connectors/connectortest"
)

// goodModule is the module as Register leaves it for baseConf.
const goodModule = `{"success":true,"integrationModule":{"code":"ringside","integrationCode":"ringside","active":true,"freeze":false,"name":"Ringside",
	"integrations":{"telephony":{"makeCallUrl":"https://agent.example.net/crm/make-call","changeUserStatusUrl":"https://agent.example.net/crm/status",
	"additionalCodes":[{"code":"100","userId":"1"},{"code":200,"userId":2}],"externalPhones":[]}}}}`

// testConf is, after url, a connector whose module is goodModule.
const testConf = `user_id = 1
codes = { "100" = 1, "200" = 2 }
make_call_url = "https://agent.example.net/crm/make-call"
change_user_status_url = "https://agent.example.net/crm/status"
`

func TestTest(t *testing.T) {
	tests := []struct {
		name    string
		conf    string // after url; "" is testConf
		secrets connectortest.Secrets
		cred    func(http.ResponseWriter, seen)
		module  func(http.ResponseWriter, seen)
		says    []string // nil: no error
	}{
		{"all good", "", nil, reply(200, `{"success":true,"credentials":[],"siteAccess":"access_full"}`), reply(200, goodModule), nil},
		{"wrong key", "", nil, reply(401, `{"success":false,"errorMsg":"Wrong \"apiKey\" value."}`), nil,
			[]string{"retailCRM refused the API key", `Wrong "apiKey" value.`, "check the secret api_key"}},
		{"no account", "", nil, reply(200, "<html>Account does not exist</html>"), nil,
			[]string{"there is no retailCRM account at http://127.0.0.1", "check url"}},
		{"no key", "", connectortest.Secrets{"client_id": clientID}, nil, nil, []string{`secret "api_key" of connector crm`}},
		{"rate limited", "", nil, reply(429, `{"success":false}`), nil, []string{"busy or limiting requests"}},
		{"site not allowed", testConf + `site = "shop2"`, nil, reply(200, `{"success":true,"siteAccess":"access_selective","sitesAvailable":["shop1"]}`), reply(200, goodModule),
			[]string{`may not use site "shop2"`}},
		{"module missing", "", nil, ok, reply(404, `{"success":false,"errorMsg":"Not found"}`),
			[]string{`the telephony module "ringside" is not registered`}},
		{"module switched off", "", nil, ok, reply(200, strings.Replace(goodModule, `"active":true`, `"active":false`, 1)), []string{"switched off"}},
		{"module frozen", "", nil, ok, reply(200, strings.Replace(goodModule, `"freeze":false`, `"freeze":true`, 1)), []string{"frozen"}},
		{"not telephony", "", nil, ok, reply(200, `{"success":true,"integrationModule":{"code":"ringside","active":true,"integrations":{}}}`),
			[]string{"not a telephony module"}},
		{"codes missing", "user_id = 4\n" + `codes = { "100" = 1, "200" = 2, "300" = 3 }`, nil, ok, reply(200, goodModule),
			[]string{`the module lacks codes "300" = 3`, "user 4 (user_id) has no extension code"}},
		{"other callback address", `make_call_url = "https://other.example/m"`, nil, ok, reply(200, goodModule),
			[]string{"makeCallUrl is not this Ringside's"}},
		{"no client id", "", connectortest.Secrets{"api_key": apiKey}, ok, reply(200, goodModule),
			[]string{`secret "client_id" of connector crm`, "callbacks (dial, status) are refused"}},
		{"module lookup refused", "", nil, ok, reply(403, `{"success":false,"errorMsg":"Access denied"}`),
			[]string{`retailCRM refused the telephony module "ringside"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFake(t, func(w http.ResponseWriter, r seen) {
				switch r.Path {
				case "/api/credentials":
					tt.cred(w, r)
				case "/api/v5/integration-modules/ringside":
					tt.module(w, r)
				default:
					t.Errorf("unexpected %s %s", r.Method, r.Path)
					w.WriteHeader(http.StatusTeapot)
				}
			})
			d := testDeps(t)
			if tt.secrets != nil {
				d.Secrets = tt.secrets
			}
			c := newTestCRM(t, d, "url = \""+srv.URL+"\"\n"+cmp.Or(tt.conf, testConf))
			err := c.Test(context.Background())
			if tt.says == nil {
				if err != nil {
					t.Fatalf("Test = %v, want nil", err)
				}
			} else if err == nil {
				t.Fatal("Test = nil, want an error")
			}
			for _, w := range tt.says {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Test = %q, does not say %q", err, w)
				}
			}
			for _, r := range srv.requests() {
				checkRequest(t, r, http.MethodGet, r.Path) // Test changes nothing
			}
		})
	}
}
