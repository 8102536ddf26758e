package connectors

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Phone is a phone number as the vendor spelled it and, when it parses as a
// possible number, in E.164.
type Phone struct {
	Raw  string `json:"raw"`
	E164 string `json:"e164,omitempty"`
}

// Key is the value calls and contacts are matched on: E.164 when known,
// otherwise the digits of the raw number (internal extensions, short codes).
func (p Phone) Key() string {
	if p.E164 != "" {
		return p.E164
	}
	return digits(p.Raw)
}

// IsZero reports whether there is no number at all.
func (p Phone) IsZero() bool { return p.Raw == "" && p.E164 == "" }

// Masked keeps the country prefix and the last two digits; everything else
// becomes •. It is the only form of a number that may reach a log.
func (p Phone) Masked() string {
	s := p.Key()
	if s == "" {
		return ""
	}
	keepHead := 0
	if strings.HasPrefix(s, "+") {
		keepHead = 3
	}
	if len(s) <= keepHead+2 {
		return strings.Repeat("•", len(s))
	}
	var b strings.Builder
	b.WriteString(s[:keepHead])
	b.WriteString(strings.Repeat("•", len(s)-keepHead-2))
	b.WriteString(s[len(s)-2:])
	return b.String()
}

// LogValue implements slog.LogValuer: a number is always masked in logs.
func (p Phone) LogValue() slog.Value { return slog.StringValue(p.Masked()) }

// String is the number for people: international format when known.
func (p Phone) String() string {
	if p.E164 == "" {
		return p.Raw
	}
	n, err := phonenumbers.Parse(p.E164, "")
	if err != nil {
		return p.E164
	}
	return phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
}

// PhoneParser normalizes numbers with a default region for numbers written
// without a country code. It is safe for concurrent use.
type PhoneParser struct {
	region string
}

// NewPhoneParser checks region, an ISO 3166 code such as "RO" or "DE".
func NewPhoneParser(region string) (*PhoneParser, error) {
	region = strings.ToUpper(strings.TrimSpace(region))
	if phonenumbers.GetCountryCodeForRegion(region) == 0 {
		return nil, fmt.Errorf("unknown phone region %q: want a two-letter country code such as RO or DE", region)
	}
	return &PhoneParser{region: region}, nil
}

// Region is the default region.
func (pp *PhoneParser) Region() string { return pp.region }

// Parse never fails: a number that is not a possible public number (an
// extension, garbage) keeps its raw form and an empty E164.
func (pp *PhoneParser) Parse(raw string) Phone {
	raw = strings.TrimSpace(raw)
	p := Phone{Raw: raw}
	if raw == "" || len(raw) > 64 {
		return p
	}
	s := raw
	if strings.HasPrefix(s, "00") {
		s = "+" + s[2:]
	}
	n, err := phonenumbers.Parse(s, pp.region)
	if err != nil || !phonenumbers.IsPossibleNumber(n) {
		return p
	}
	p.E164 = phonenumbers.Format(n, phonenumbers.E164)
	return p
}

func digits(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= '0' && r <= '9' || r == '+' && i == 0 {
			b.WriteRune(r)
		}
	}
	return b.String()
}
