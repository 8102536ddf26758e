package main

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// dialTarget is a number to dial from a tel: or callto: link or the
// command line.
type dialTarget struct {
	Number string // "+" (global numbers only), then digits, "*" and "#"
	Ext    string // the extension (;ext=), digits; Ringside does not dial it
}

// maxDialDigits bounds a number: E.164 allows 15 digits; local numbers with
// service codes stay well below this.
const maxDialDigits = 24

// isDialURI reports whether s looks like a tel: or callto: link, the form
// a desktop hands to `ringside %u`.
func isDialURI(s string) bool {
	scheme, _, ok := strings.Cut(s, ":")
	return ok && (strings.EqualFold(scheme, "tel") || strings.EqualFold(scheme, "callto"))
}

// parseDialTarget reads a tel: URI (RFC 3966), a callto: link, or a bare
// number. Visual separators (space, "-", ".", "(", ")") are dropped and
// percent-encoding is undone; parameters (";ext=", ";phone-context=", …)
// end the number. Anything else — letters, a second "+", an empty number —
// is an error that says what was wrong.
func parseDialTarget(s string) (dialTarget, error) {
	var t dialTarget
	in := strings.TrimSpace(s)
	if len(in) > 512 {
		return t, errors.New("dial: link too long to be a phone number")
	}
	body := in
	if scheme, rest, ok := strings.Cut(in, ":"); ok && isDialURI(in) {
		body = rest
		if strings.EqualFold(scheme, "callto") {
			body = strings.TrimPrefix(body, "//")
		}
	}
	body, _, _ = strings.Cut(body, "?") // headers (callto:…?… from some web pages)
	unescaped, err := url.PathUnescape(body)
	if err != nil {
		return t, fmt.Errorf("dial: %q: bad percent-encoding", s)
	}
	number, params, _ := strings.Cut(unescaped, ";")
	for p := range strings.SplitSeq(params, ";") {
		name, value, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(name), "ext") {
			ext, err := cleanDigits(value, false)
			if err != nil {
				return t, fmt.Errorf("dial: %q: extension: %w", s, err)
			}
			t.Ext = ext
		}
	}
	if t.Number, err = cleanDigits(number, true); err != nil {
		return dialTarget{}, fmt.Errorf("dial: %q: %w", s, err)
	}
	return t, nil
}

// cleanDigits keeps digits, "*" and "#" (and a leading "+" when plus is
// allowed), dropping the visual separators of RFC 3966.
func cleanDigits(s string, plus bool) (string, error) {
	var b strings.Builder
	digits := 0
	for i, r := range strings.TrimSpace(s) {
		switch {
		case r >= '0' && r <= '9':
			digits++
			b.WriteRune(r)
		case r == '*' || r == '#':
			b.WriteRune(r)
		case r == '+' && plus && i == 0:
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || r == '\u00a0':
		case r == '+':
			return "", errors.New(`"+" may only start a number`)
		default:
			return "", fmt.Errorf("%q is not part of a phone number", r)
		}
	}
	switch {
	case digits == 0:
		return "", errors.New("no digits: not a phone number")
	case digits > maxDialDigits:
		return "", fmt.Errorf("more than %d digits: not a phone number", maxDialDigits)
	}
	return b.String(), nil
}
