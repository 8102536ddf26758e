package retailcrm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/ringside/ringside/connectors"
)

// credentialsAnswer is what GET /api/credentials answers besides success.
type credentialsAnswer struct {
	SiteAccess     flexString `json:"siteAccess"`
	SitesAvailable flexList   `json:"sitesAvailable"`
}

// moduleAnswer is what GET /api/v5/integration-modules/{code} answers.
type moduleAnswer struct {
	IntegrationModule *module `json:"integrationModule"`
}

// Test checks what Ringside needs of retailCRM and says, in words, what to
// fix: the secret "api_key"; that the key works (GET /api/credentials) and
// may use site; that the telephony module code is registered, active and
// not frozen (GET /api/v5/integration-modules/{code}); that it carries
// every entry of codes and a code for user_id, and the configured callback
// addresses; and that the secret "client_id" is set. It changes nothing in
// retailCRM and blocks on the network.
func (c *CRM) Test(ctx context.Context) error {
	b, err := c.do(ctx, request{method: http.MethodGet, path: pathCredentials})
	if err != nil {
		return fmt.Errorf("retailcrm: %s", c.explain(err, "the API key"))
	}
	var problems []string
	var cred credentialsAnswer
	if decodeAnswer(b, &cred) == nil && c.site != "" && cred.SiteAccess == "access_selective" && !slices.Contains(cred.SitesAvailable, c.site) {
		problems = append(problems, fmt.Sprintf("the API key may not use site %q: allow it in the key's settings in retailCRM, or change site", c.site))
	}

	b, err = c.do(ctx, request{method: http.MethodGet, path: pathModule + url.PathEscape(c.code)})
	var ae *APIError
	switch {
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound && !ae.HTML:
		problems = append(problems, fmt.Sprintf("the telephony module %q is not registered in retailCRM: register it from Ringside's settings", c.code))
	case err != nil:
		problems = append(problems, c.explain(err, "the telephony module "+strconv.Quote(c.code)))
	default:
		var ans moduleAnswer
		if err := decodeAnswer(b, &ans); err != nil || ans.IntegrationModule == nil {
			problems = append(problems, fmt.Sprintf("retailCRM's answer about the module %q is not what the API documents", c.code))
			break
		}
		problems = append(problems, c.checkModule(*ans.IntegrationModule)...)
	}

	if id, err := c.secret("client_id"); err != nil {
		problems = append(problems, err.Error()+": retailCRM's callbacks (dial, status) are refused without it")
	} else {
		c.clientIDCache.Store(&id)
	}
	if len(problems) > 0 {
		return fmt.Errorf("retailcrm: %s", strings.Join(problems, "; "))
	}
	return nil
}

// checkModule compares the registered module with the settings.
func (c *CRM) checkModule(m module) []string {
	var p []string
	switch {
	case !m.Active:
		p = append(p, fmt.Sprintf("the telephony module %q is switched off in retailCRM: switch it on, or register it again", c.code))
	case m.Freeze:
		p = append(p, fmt.Sprintf("the telephony module %q is frozen in retailCRM (often an unpaid subscription): ask the account's administrator", c.code))
	}
	t := m.Integrations.Telephony
	if t == nil {
		return append(p, fmt.Sprintf("the module %q is not a telephony module: choose another code, or register it again", c.code))
	}
	registered := make(map[string]int64, len(t.AdditionalCodes))
	hasUser := false
	for _, ac := range t.AdditionalCodes {
		registered[string(ac.Code)] = int64(ac.UserID)
		hasUser = hasUser || c.userID != 0 && int64(ac.UserID) == c.userID
	}
	var missing []string
	for _, code := range c.sortedCodes() {
		if id, ok := registered[code]; !ok || id != c.codes[code] {
			missing = append(missing, fmt.Sprintf("%q = %d", code, c.codes[code]))
		}
	}
	if len(missing) > 0 {
		p = append(p, fmt.Sprintf("the module lacks codes %s: register it again", strings.Join(missing, ", ")))
	}
	if c.userID != 0 && !hasUser {
		p = append(p, fmt.Sprintf("user %d (user_id) has no extension code in the module, so retailCRM shows this agent no call cards: add it to codes and register again", c.userID))
	}
	makeCall, status := c.callbackURLs()
	if makeCall != "" && t.MakeCallURL != makeCall {
		p = append(p, "the module's makeCallUrl is not this Ringside's (make_call_url, or the webhook listener's address): register it again")
	}
	if status != "" && t.ChangeUserStatusURL != status {
		p = append(p, "the module's changeUserStatusUrl is not this Ringside's (change_user_status_url, or the webhook listener's address): register it again")
	}
	return p
}

// explain puts a failed request about what in words for the agent.
func (c *CRM) explain(err error, what string) string {
	var se *secretError
	if errors.As(err, &se) {
		return se.Error()
	}
	var ae *APIError
	if !errors.As(err, &ae) {
		return fmt.Sprintf("cannot reach %s (%v): check url and the network", c.root, err)
	}
	switch s := ae.Status; {
	case ae.HTML:
		return fmt.Sprintf("there is no retailCRM account at %s (it answers with a web page, not the API): check url", c.root)
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return fmt.Sprintf("retailCRM refused %s (%v): check the secret api_key and the key's permissions in retailCRM", what, ae)
	case s == http.StatusTooManyRequests || s == http.StatusServiceUnavailable:
		return fmt.Sprintf("retailCRM is busy or limiting requests (%v): try again in a moment", ae)
	case s >= 500:
		return fmt.Sprintf("retailCRM failed (%v): try again later", ae)
	case connectors.IsPermanent(err):
		return fmt.Sprintf("retailCRM refused the request about %s (%v)", what, ae)
	}
	return fmt.Sprintf("retailCRM's answer about %s is not usable (%v)", what, ae)
}
