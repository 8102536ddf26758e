package accolades

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/ringside/ringside/connectors"
)

const maxDialAnswer = 64 << 10

// Dial asks Accolades to place a call from the agent's phone (device_id) to
// p: a POST of the form fields password, deviceId and phoneNumber to
// <dial_url>/<account>/dial/, answered {"type":"ok"}. The number is sent as
// the agent gave it, without spaces, dashes, dots, slashes or brackets (a
// leading + is kept). The password is the secret "password", read now.
//
// Errors say what to fix: dialing not set up, the secret missing, the
// server's own words for a refusal ({"type":"error",…}, Permanent), or the
// HTTP failure as sorted by connectors.CheckResponse. Neither the password
// nor the full number reaches a log or an error.
func (c *Connector) Dial(ctx context.Context, p connectors.Phone) error {
	if c.account == "" || c.deviceID == "" {
		return connectors.Permanent(fmt.Errorf("Accolades: dialing is off: set account and device_id in the settings of connector %s", c.name))
	}
	number := dialNumber(p)
	if number == "" {
		return connectors.Permanent(fmt.Errorf("Accolades: cannot dial %q: not a phone number", p.Masked()))
	}
	password, err := c.password()
	if err != nil {
		return err
	}
	form := url.Values{
		"password":    {password},
		"deviceId":    {c.deviceID},
		"phoneNumber": {number},
	}
	endpoint := c.dialURL + "/" + url.PathEscape(c.account) + "/dial/"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return connectors.Permanent(fmt.Errorf("Accolades: dial: %w", err))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "Ringside")
	c.logger.Debug("Accolades: dial", "phone", p)

	resp, err := c.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the address holds no secret, but say it once, below
		}
		return fmt.Errorf("Accolades: dial: cannot reach %s: %w", c.dialURL, err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDialAnswer))
		_ = resp.Body.Close()
	}()
	scrub := func(s string) string {
		for _, secret := range []string{password, number, strings.TrimPrefix(number, "+"), p.Raw, p.E164} {
			if len(secret) >= 3 {
				s = strings.ReplaceAll(s, secret, "•••")
			}
		}
		return cleanText(s, 300)
	}
	if err := connectors.CheckResponse(resp, c.clock.Now()); err != nil {
		var hs *connectors.HTTPStatusError
		if errors.As(err, &hs) {
			hs.Body = scrub(hs.Body)
		}
		return fmt.Errorf("Accolades: dial: %w", err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDialAnswer))
	if err != nil {
		return fmt.Errorf("Accolades: dial: read the answer: %w", err)
	}
	m, err := decode(body)
	switch {
	case err != nil:
		return fmt.Errorf("Accolades: dial: the server answered something else than {\"type\":\"ok\"}: %q", scrub(string(body)))
	case m.Type == typeOK:
		return nil
	case m.Type == typeError:
		why := scrub(firstOf(string(m.Message), string(m.Reason), string(m.Value)))
		if why == "" {
			why = "no reason given"
		}
		return connectors.Permanent(fmt.Errorf("Accolades refused to dial: %s", why))
	}
	return fmt.Errorf("Accolades: dial: the server answered %q instead of {\"type\":\"ok\"}", scrub(string(body)))
}

// password reads the REST password from the keyring.
func (c *Connector) password() (string, error) {
	hint := fmt.Sprintf("run `ringside secret set %s.password` (the password of the Accolades REST API)", c.name)
	if c.secrets == nil {
		return "", connectors.Permanent(fmt.Errorf("Accolades: dial: the password is not set: %s", hint))
	}
	pw, err := c.secrets.Secret("password")
	if err != nil {
		return "", connectors.Permanent(fmt.Errorf("Accolades: dial: the password cannot be read (%v): %s", err, hint))
	}
	if pw == "" {
		return "", connectors.Permanent(fmt.Errorf("Accolades: dial: the password is not set: %s", hint))
	}
	return pw, nil
}

// dialNumber is the number as the agent gave it (the E.164 form if there is
// no raw one), without separators; a leading + is kept, and * and # are
// allowed for service codes. It is empty if anything else is left.
func dialNumber(p connectors.Phone) string {
	raw := strings.TrimSpace(p.Raw)
	if raw == "" {
		raw = p.E164
	}
	var b strings.Builder
	digits := 0
	for i, r := range raw {
		switch {
		case r >= '0' && r <= '9':
			digits++
			b.WriteRune(r)
		case r == '*' || r == '#':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '/' || r == '(' || r == ')' || r == '\u00a0':
		default:
			return ""
		}
	}
	if digits == 0 || b.Len() > 32 {
		return ""
	}
	return b.String()
}

func firstOf(ss ...string) string {
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}
