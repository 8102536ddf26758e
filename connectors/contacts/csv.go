package contacts

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/ringside/ringside/connectors"
)

// columns are the indexes of the header's known columns; -1 when absent.
type columns struct {
	name, first, last, company, manager, url, id, email int
	phones                                              []int
}

// normalizeHeader lowercases h and folds "_" and runs of spaces to one space.
func normalizeHeader(h string) string {
	h = strings.TrimPrefix(h, "\ufeff")
	h = strings.ToLower(strings.ReplaceAll(h, "_", " "))
	return strings.Join(strings.Fields(h), " ")
}

// isPhoneHeader accepts "phone", "Mobile Phone", "Phone 1 - Value",
// "Telefon", "tel", "cell", and refuses the label columns of Google and
// Outlook exports ("Phone 1 - Type", "Phone 1 - Label").
func isPhoneHeader(h string) bool {
	words := strings.FieldsFunc(h, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	phone := false
	for _, w := range words {
		switch {
		case w == "type" || w == "label" || w == "kind":
			return false
		case strings.Contains(w, "phone"), strings.HasPrefix(w, "tel"), strings.HasPrefix(w, "mobil"), w == "cell", w == "gsm":
			phone = true
		}
	}
	return phone
}

// matchColumns finds the known columns by their usual names (after
// normalizeHeader); any other column that looks like a phone column is one.
// The first column of a kind wins, except that every phone column counts.
func matchColumns(header []string) columns {
	c := columns{name: -1, first: -1, last: -1, company: -1, manager: -1, url: -1, id: -1, email: -1}
	set := func(at *int, i int) {
		if *at < 0 {
			*at = i
		}
	}
	for i, raw := range header {
		switch h := normalizeHeader(raw); h {
		case "name", "full name", "fullname", "display name", "contact", "contact name":
			set(&c.name, i)
		case "first name", "firstname", "given name", "first":
			set(&c.first, i)
		case "last name", "lastname", "family name", "surname", "last":
			set(&c.last, i)
		case "company", "company name", "organization", "organisation", "organization name", "organization 1 - name", "org":
			set(&c.company, i)
		case "manager", "account manager", "owner", "responsible":
			set(&c.manager, i)
		case "url", "link", "crm url", "contact url":
			set(&c.url, i)
		case "id", "contact id", "uid", "external id":
			set(&c.id, i)
		case "email", "e-mail", "email address", "e-mail address", "email 1 - value", "e-mail 1 - value":
			set(&c.email, i)
		default:
			if isPhoneHeader(h) {
				c.phones = append(c.phones, i)
			}
		}
	}
	return c
}

// detectDelimiter picks ',', ';' or '\t', whichever the header line has most
// of outside quotes; ',' on a tie.
func detectDelimiter(data []byte) rune {
	line := data
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	counts := map[byte]int{}
	quoted := false
	for _, ch := range line {
		switch {
		case ch == '"':
			quoted = !quoted
		case !quoted && (ch == ',' || ch == ';' || ch == '\t'):
			counts[ch]++
		}
	}
	best := byte(',')
	for _, d := range []byte{';', '\t'} {
		if counts[d] > counts[best] {
			best = d
		}
	}
	return rune(best)
}

// splitNumbers splits a cell holding several numbers: " ::: " (Google
// export), ";", "," or new lines.
func splitNumbers(cell string) []string {
	return strings.FieldsFunc(strings.ReplaceAll(cell, ":::", ";"), func(r rune) bool {
		return r == ';' || r == ',' || r == '\n' || r == '\r'
	})
}

// parseCSV reads a contact CSV: a header row, then one contact per row.
// Rows that do not parse are skipped and counted; a missing header or a
// header without a phone column is an error.
func parseCSV(data []byte, phones *connectors.PhoneParser) (parsed, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	r := csv.NewReader(bytes.NewReader(data))
	r.Comma = detectDelimiter(data)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true

	header, err := r.Read()
	switch {
	case errors.Is(err, io.EOF):
		return parsed{}, errors.New("empty file: want a header row naming the columns, such as name,company,phone")
	case err != nil:
		return parsed{}, fmt.Errorf("header row: %w", err)
	}
	header = append([]string(nil), header...)
	cols := matchColumns(header)
	if len(cols.phones) == 0 {
		return parsed{}, errors.New("no phone column in the header row: name one phone, mobile or tel")
	}

	var p parsed
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return parsed{}, err
			}
			p.skip(fmt.Sprintf("line %d: %v", pe.StartLine, pe.Err))
			continue
		}
		line, _ := r.FieldPos(0)
		if len(rec) > len(header) && strings.Join(rec[len(header):], "") != "" {
			p.skip(fmt.Sprintf("line %d: %d fields, the header has %d", line, len(rec), len(header)))
			continue
		}
		cell := func(i int) string {
			if i < 0 || i >= len(rec) {
				return ""
			}
			return strings.TrimSpace(rec[i])
		}
		var keys []string
		for _, i := range cols.phones {
			keys = addNumbers(keys, phones, splitNumbers(cell(i))...)
		}
		if len(keys) == 0 {
			if strings.TrimSpace(strings.Join(rec, "")) != "" {
				p.noPhone++
			}
			continue
		}
		c := connectors.Contact{
			ID:      cell(cols.id),
			Name:    cell(cols.name),
			Company: cell(cols.company),
			Manager: cell(cols.manager),
			URL:     cell(cols.url),
		}
		if c.Name == "" {
			c.Name = strings.TrimSpace(cell(cols.first) + " " + cell(cols.last))
		}
		if email := cell(cols.email); email != "" {
			c.Extra = map[string]string{"email": firstOf(splitNumbers(email))}
		}
		p.contacts = append(p.contacts, entry{contact: c, keys: keys})
	}
	return p, nil
}

func firstOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return strings.TrimSpace(s[0])
}
