package contacts

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/quotedprintable"
	"strings"

	"github.com/emersion/go-vcard"

	"github.com/ringside/ringside/connectors"
)

// parseVCard reads every card of a vCard file (versions 2.1, 3.0 and 4.0):
// FN (or N), ORG, every TEL, URL, UID and the first EMAIL. A card that does
// not parse is skipped and counted; a file without any card is an error.
func parseVCard(data []byte, phones *connectors.PhoneParser) (parsed, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	dec := vcard.NewDecoder(bytes.NewReader(compat21(data)))
	var p parsed
	cards := 0
	// Each Decode consumes at least one line, so this ends; the bound is a
	// guard against a decoder that would not.
	for n := 1; n <= len(data)+1; n++ {
		card, err := dec.Decode()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			p.skip(fmt.Sprintf("entry %d: %v", n, err))
			continue
		}
		cards++
		var keys []string
		for _, f := range card[vcard.FieldTelephone] {
			keys = addNumbers(keys, phones, telValue(fieldValue(f)))
		}
		if len(keys) == 0 {
			p.noPhone++
			continue
		}
		c := connectors.Contact{
			ID:      strings.TrimSpace(card.Value(vcard.FieldUID)),
			Name:    cardName(card),
			Company: firstOf(splitStructured(firstValue(card, vcard.FieldOrganization))),
			URL:     firstValue(card, vcard.FieldURL),
		}
		if email := firstValue(card, vcard.FieldEmail); email != "" {
			c.Extra = map[string]string{"email": email}
		}
		p.contacts = append(p.contacts, entry{contact: c, keys: keys})
	}
	if cards == 0 {
		return parsed{}, errors.New("no vCard found: want BEGIN:VCARD … END:VCARD")
	}
	return p, nil
}

// cardName is FN, or the given and family names of N.
func cardName(card vcard.Card) string {
	if fn := strings.ReplaceAll(firstValue(card, vcard.FieldFormattedName), `\;`, ";"); fn != "" {
		return fn
	}
	// N is family;given;additional;prefix;suffix.
	parts := splitStructured(firstValue(card, vcard.FieldName))
	get := func(i int) string {
		if i < len(parts) {
			return strings.TrimSpace(parts[i])
		}
		return ""
	}
	return strings.Join(strings.Fields(strings.Join([]string{get(3), get(1), get(2), get(0), get(4)}, " ")), " ")
}

// firstValue is the first non-empty value of property k, decoded.
func firstValue(card vcard.Card, k string) string {
	for _, f := range card[k] {
		if v := strings.TrimSpace(fieldValue(f)); v != "" {
			return v
		}
	}
	return ""
}

// fieldValue decodes a vCard 2.1 quoted-printable value; others are as is.
func fieldValue(f *vcard.Field) string {
	if f == nil {
		return ""
	}
	if !strings.EqualFold(f.Params.Get("ENCODING"), "QUOTED-PRINTABLE") {
		return f.Value
	}
	b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(f.Value)))
	if err != nil {
		return f.Value
	}
	return string(b)
}

// telValue strips a tel: URI down to its number: "tel:+1-555-0100;ext=7"
// is "+1-555-0100".
func telValue(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 4 && strings.EqualFold(v[:4], "tel:") {
		v = v[4:]
		if i := strings.IndexByte(v, ';'); i >= 0 {
			v = v[:i]
		}
	}
	return v
}

// splitStructured splits a structured value (N, ORG) at unescaped ';'.
func splitStructured(v string) []string {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '\\' && i+1 < len(v) && v[i+1] == ';':
			cur.WriteByte(';')
			i++
		case v[i] == ';':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(v[i])
		}
	}
	return append(parts, cur.String())
}

// compat21 rewrites vCard 2.1 habits that the decoder does not know into
// their 3.0 spelling: bare parameters ("TEL;CELL;VOICE:…" becomes
// "TEL;TYPE=CELL;TYPE=VOICE:…", "…;QUOTED-PRINTABLE:" becomes
// "…;ENCODING=QUOTED-PRINTABLE:"), and quoted-printable soft line breaks (a
// value line ending in "=" continues on the next line) are joined.
func compat21(data []byte) []byte {
	if !bytes.Contains(data, []byte(";")) {
		return data
	}
	lines := strings.SplitAfter(string(data), "\n")
	var out strings.Builder
	out.Grow(len(data) + len(data)/8)
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			out.WriteString(line)
			continue
		}
		colon := nameEnd(line)
		if colon < 0 {
			out.WriteString(line)
			continue
		}
		head, qp := rewriteParams(line[:colon])
		out.WriteString(head)
		part := line[colon:]
		for qp && i+1 < len(lines) {
			body := strings.TrimRight(part, "\r\n")
			if !strings.HasSuffix(body, "=") {
				break
			}
			out.WriteString(body[:len(body)-1]) // a soft line break
			i++
			part = lines[i]
		}
		out.WriteString(part)
	}
	return []byte(out.String())
}

// nameEnd is the index of the ':' ending a property's name and parameters,
// skipping quoted parameter values; -1 if there is none.
func nameEnd(line string) int {
	quoted := false
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '"':
			quoted = !quoted
		case ':':
			if !quoted {
				return i
			}
		case '\n':
			return -1
		}
	}
	return -1
}

// rewriteParams names bare parameters in head ("TEL;CELL") and reports
// whether the value is quoted-printable.
func rewriteParams(head string) (string, bool) {
	segs := strings.Split(head, ";")
	qp := false
	for i := 1; i < len(segs); i++ {
		s := segs[i]
		if s == "" || strings.Contains(s, "=") || strings.Contains(s, `"`) {
			if k, v, ok := strings.Cut(s, "="); ok && strings.EqualFold(strings.TrimSpace(k), "ENCODING") && strings.EqualFold(strings.TrimSpace(v), "QUOTED-PRINTABLE") {
				qp = true
			}
			continue
		}
		switch strings.ToUpper(strings.TrimSpace(s)) {
		case "QUOTED-PRINTABLE":
			qp = true
			segs[i] = "ENCODING=" + s
		case "BASE64", "B", "8BIT", "7BIT":
			segs[i] = "ENCODING=" + s
		default:
			segs[i] = "TYPE=" + s
		}
	}
	return strings.Join(segs, ";"), qp
}
