package journal

import (
	"database/sql"
	"encoding"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// msOrNull stores t as unix milliseconds, and the zero time as NULL.
func msOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// msOrZero stores t as unix milliseconds, and the zero time as 0, for the
// NOT NULL columns that queries order by.
func msOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMS reads a time stored by msOrNull or msOrZero: UTC, milliseconds.
func fromMS(v sql.NullInt64) time.Time {
	if !v.Valid || v.Int64 == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v.Int64).UTC()
}

// enumText is the stored text of an enum value. Every enum of the call model
// spells an out-of-range value as "name(n)", which could not be read back,
// so such a value is refused.
func enumText(what string, v fmt.Stringer) (string, error) {
	s := v.String()
	if strings.ContainsRune(s, '(') {
		return "", fmt.Errorf("invalid %s %s", what, s)
	}
	return s, nil
}

// parseText reads an enum stored by enumText.
func parseText(s string, into encoding.TextUnmarshaler) error {
	return into.UnmarshalText([]byte(s))
}

// jsonMap stores a map as a JSON object, and an empty one as NULL.
func jsonMap(m map[string]string) (any, error) {
	if len(m) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// readMap reads a map stored by jsonMap; NULL is a nil map.
func readMap(v sql.NullString) (map[string]string, error) {
	if !v.Valid || v.String == "" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(v.String), &m); err != nil {
		return nil, fmt.Errorf("decode extra: %w", err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// digitsOf keeps the ASCII digits of s.
func digitsOf(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// searchDigits is what a number search looks in: the digits of the raw and
// the E.164 form, separated so that no match spans the two.
func searchDigits(raw, e164 string) string {
	r, e := digitsOf(raw), digitsOf(e164)
	switch {
	case e == "" || e == r:
		return r
	case r == "":
		return e
	}
	return r + " " + e
}

// searchName is what a name search looks in: the contact's name and company,
// folded, separated so that no match spans the two.
func searchName(name, company string) string {
	switch {
	case company == "":
		return fold(name)
	case name == "":
		return fold(company)
	}
	return fold(name) + "\n" + fold(company)
}

// fold lower-cases s and drops the diacritics of Romanian and the other
// Latin letters a CRM is likely to hold, so that "stefan" finds "Ștefan" and
// "IONITA" finds "Ioniță". Stored values and queries are folded alike; a
// change here needs a migration that recomputes calls.name_fold.
func fold(s string) string {
	s = strings.ToLower(s)
	return strings.Map(func(r rune) rune {
		switch r {
		case 'ă', 'â', 'à', 'á', 'ä', 'ã', 'å', 'ą':
			return 'a'
		case 'î', 'í', 'ì', 'ï':
			return 'i'
		case 'ș', 'ş', 'ś', 'š':
			return 's'
		case 'ț', 'ţ':
			return 't'
		case 'é', 'è', 'ê', 'ë', 'ę', 'ě':
			return 'e'
		case 'ó', 'ò', 'ô', 'ö', 'õ', 'ő':
			return 'o'
		case 'ú', 'ù', 'û', 'ü', 'ű', 'ů':
			return 'u'
		case 'ç', 'ć', 'č':
			return 'c'
		case 'ñ', 'ń':
			return 'n'
		case 'ł':
			return 'l'
		case 'ž', 'ź', 'ż':
			return 'z'
		case 'ý':
			return 'y'
		case 'ř':
			return 'r'
		case 'ď':
			return 'd'
		}
		return r
	}, s)
}
