package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ringside/ringside/connectors"
)

// Limits of a number given to /dial.
const (
	maxDialLength = 64 // characters, as given
	minDialDigits = 2
	maxDialDigits = 20
)

// ParseDial reads the number of a click-to-dial request, from the first of:
// the query parameter number, the form field number (a form body), or the
// member "number" of a JSON object body ({"number":"+40 21 312 4567"}). A
// tel: or callto: prefix and tel URI parameters (;ext=…) are dropped; what
// is left may hold digits, a leading +, spaces and - . ( ) /, with 2 to 20
// digits. The number is normalized with phones. Errors name the field and
// never quote the number.
func ParseDial(req connectors.CallbackRequest, phones *connectors.PhoneParser) (connectors.Phone, error) {
	raw, field, err := dialField(req)
	if err != nil {
		return connectors.Phone{}, err
	}
	n, err := cleanDial(raw)
	if err != nil {
		return connectors.Phone{}, fmt.Errorf("%s: %w", field, err)
	}
	p := phones.Parse(n)
	if p.Key() == "" {
		return connectors.Phone{}, fmt.Errorf("%s: not a phone number", field)
	}
	return p, nil
}

// dialField finds the number and names where it came from.
func dialField(req connectors.CallbackRequest) (raw, field string, err error) {
	if vs, ok := req.Query["number"]; ok {
		if len(vs) != 1 {
			return "", "", errors.New("query parameter number is given more than once")
		}
		return vs[0], "query parameter number", nil
	}
	if vs, ok := req.Form["number"]; ok {
		if len(vs) != 1 {
			return "", "", errors.New("form field number is given more than once")
		}
		return vs[0], "form field number", nil
	}
	if req.ContentType == connectors.MediaJSON && len(req.Body) > 0 {
		var body struct {
			Number *string `json:"number"`
		}
		dec := json.NewDecoder(bytes.NewReader(req.Body))
		if err := dec.Decode(&body); err != nil {
			var ute *json.UnmarshalTypeError
			if errors.As(err, &ute) {
				return "", "", errors.New(`JSON body: want an object with "number" as a string`)
			}
			return "", "", errors.New("JSON body is not a JSON object")
		}
		if dec.More() {
			return "", "", errors.New("JSON body holds more than one value")
		}
		if body.Number == nil {
			return "", "", errors.New(`JSON body has no "number"`)
		}
		return *body.Number, "JSON number", nil
	}
	return "", "", errors.New(`number is missing: give /dial?number=<phone number>, or a form field or JSON member "number"`)
}

// cleanDial drops a tel:/callto: prefix and URI parameters and checks what
// is left; errors never quote s.
func cleanDial(s string) (string, error) {
	if len(s) > maxDialLength {
		return "", fmt.Errorf("longer than %d characters", maxDialLength)
	}
	s = strings.TrimSpace(s)
	for _, scheme := range []string{"tel:", "callto:"} {
		if len(s) >= len(scheme) && strings.EqualFold(s[:len(scheme)], scheme) {
			s = strings.TrimPrefix(s[len(scheme):], "//") // callto://+40…
			break
		}
	}
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("empty")
	}
	digits := 0
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0:
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || r == '/':
		default:
			return "", errors.New("holds characters that are not part of a phone number (allowed: digits, a leading +, spaces and - . ( ) /)")
		}
	}
	if digits < minDialDigits || digits > maxDialDigits {
		return "", fmt.Errorf("want %d to %d digits", minDialDigits, maxDialDigits)
	}
	return s, nil
}

// dedupe remembers the dials asked for in the last window, so that a
// double click, or a page and a vendor asking for the same call, dials once.
type dedupe struct {
	window time.Duration
	mu     sync.Mutex
	seen   map[string]time.Time
}

// maxDedupe bounds the remembered dials; past it the oldest are dropped
// first by pruning, then the map is cleared (a flood, not an agent).
const maxDedupe = 4096

func newDedupe(window time.Duration) *dedupe {
	return &dedupe{window: window, seen: make(map[string]time.Time)}
}

// reserve records key at now and reports true, or reports false and how
// long ago it was asked for when key was asked for within the window.
func (d *dedupe) reserve(key string, now time.Time) (time.Duration, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if at, ok := d.seen[key]; ok && now.Sub(at) < d.window {
		return now.Sub(at), false
	}
	if len(d.seen) >= 256 {
		for k, at := range d.seen {
			if now.Sub(at) >= d.window {
				delete(d.seen, k)
			}
		}
		if len(d.seen) >= maxDedupe {
			clear(d.seen)
		}
	}
	d.seen[key] = now
	return 0, true
}

// release forgets the reservation made at at, so that a dial that failed
// can be asked for again at once.
func (d *dedupe) release(key string, at time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.seen[key].Equal(at) {
		delete(d.seen, key)
	}
}
