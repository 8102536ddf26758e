package accolades

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Message types, spelled as the server spells them.
const (
	typeAuthRequest      = "authRequest"
	typeAuthSucces       = "authSucces"  // the documentation's spelling
	typeAuthSuccess      = "authSuccess" // the current client's spelling
	typeAuthFailed       = "authFailed"
	typeConfiguration    = "configuration"
	typeVersion          = "version"
	typeIncomingCall     = "incomingCall"
	typeOutgoingCall     = "outgoingCall"
	typeConnectionClosed = "connectionClosed"
	typeError            = "error"
	typeOK               = "ok" // the REST dial's answer
)

// authFailed reasons.
const (
	reasonIDNotFound       = "ID_NOT_FOUND"
	reasonIPMissmatch      = "IP_MISSMATCH"
	reasonConnectionExists = "CONNECTION_EXISTS"
)

// message is any frame of the API CRM socket (and the REST dial's answer);
// which fields are set depends on Type.
type message struct {
	Type string `json:"type"`

	Version text `json:"version"` // authSucces
	Reason  text `json:"reason"`  // authFailed
	Value   text `json:"value"`   // version
	Message text `json:"message"` // error (not in the spec; sent by the server)

	PhoneNumber text `json:"phoneNumber"` // incomingCall, outgoingCall
	UniqueID    text `json:"uniqueId"`
	CallCenter  text `json:"callCenter"` // "yes" or "no"

	Account *entity `json:"account"` // configuration
	Phone   *entity `json:"phone"`
	Agent   *entity `json:"agent"`
}

type entity struct {
	ID   text `json:"id"`
	Data text `json:"data"`
}

// text is a JSON string, or a number, bool, object or array kept as written
// (compacted), or null (empty). The spec gives "id" as a string of digits
// and "data" as free text; servers are not always that careful.
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*t = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = text(s)
	default:
		var buf bytes.Buffer
		if err := json.Compact(&buf, b); err != nil {
			return err
		}
		*t = text(buf.String())
	}
	return nil
}

// decode reads one frame of the socket. The frame is JSON as the server
// writes it, which is not always strict: see relax. The object must have a
// "type"; other fields are optional and unknown ones are ignored.
//
// Errors never quote the frame or its digits (frames carry phone numbers),
// so they may be logged.
func decode(frame []byte) (message, error) {
	if len(frame) > MaxFrame {
		return message{}, errors.New("frame too large")
	}
	b := bytes.TrimSpace(frame)
	if len(b) == 0 || b[0] != '{' {
		return message{}, errors.New("not a JSON object")
	}
	var m message
	if err := json.Unmarshal(relax(b), &m); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field == "type" {
			return message{}, errors.New("type is not a string")
		}
		return message{}, fmt.Errorf("bad JSON: %s", maskDigits(err.Error()))
	}
	m.Type = strings.TrimSpace(m.Type)
	if m.Type == "" {
		return message{}, errors.New("no type")
	}
	return m, nil
}

// relax fixes two mistakes of the vendor's documented examples, outside
// strings, so that a server (or an account's configuration) that writes JSON
// the way the documentation does is still understood:
//
//   - a comma before a closing } or ] is dropped (the configuration example
//     ends in "},\n}");
//   - a string followed, across a line break, by another string gets the
//     missing comma between them (the incomingCall example has
//     "uniqueId":"…"\n"callCenter":"yes").
//
// Neither can occur in valid JSON, which is returned unchanged (the same
// slice); everything else is left for the JSON decoder to judge. relax runs
// in linear time and never grows its input by more than one byte per string.
func relax(b []byte) []byte {
	var out []byte // nil until the first change
	copied := 0    // b[:copied] is in out
	inString, escaped := false, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
				j, newline := skipSpace(b, i+1)
				if newline && j < len(b) && b[j] == '"' {
					out = append(out, b[copied:i+1]...)
					out = append(out, ',')
					copied = i + 1
				}
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case ',':
			if j, _ := skipSpace(b, i+1); j < len(b) && (b[j] == '}' || b[j] == ']') {
				out = append(out, b[copied:i]...)
				copied = i + 1
			}
		}
	}
	if out == nil {
		return b
	}
	return append(out, b[copied:]...)
}

// skipSpace returns the index of the first non-whitespace byte at or after
// i, and whether the whitespace skipped held a line break.
func skipSpace(b []byte, i int) (int, bool) {
	newline := false
	for ; i < len(b); i++ {
		switch b[i] {
		case '\n', '\r':
			newline = true
		case ' ', '\t':
		default:
			return i, newline
		}
	}
	return i, newline
}

// maskDigits hides digits in a message that may quote input.
func maskDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '#'
		}
		return r
	}, s)
}

// maskNumbers hides runs of five or more digits (phone numbers) in text the
// server wrote, such as an error message, before it is logged or shown.
func maskNumbers(s string) string {
	var b strings.Builder
	run := 0
	flush := func(end int) {
		if run >= 5 {
			b.WriteString(strings.Repeat("#", run))
		} else {
			b.WriteString(s[end-run : end])
		}
		run = 0
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			run++
			continue
		}
		flush(i)
		b.WriteByte(s[i])
	}
	flush(len(s))
	return b.String()
}

// clip cuts s to n characters, marking the cut with "…".
func clip(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j] + "…"
		}
		i++
	}
	return s
}
