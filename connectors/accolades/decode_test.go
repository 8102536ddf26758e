package accolades

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// The examples of the vendor's documentation, verbatim.
const (
	specAuthRequest = `{"type":"authRequest", "idCrm":"f8cb549544"}`
	specAuthSucces  = `{"type":"authSucces", "version":"X.X.X"}`
	specAuthFailed  = `{"type":"authFailed", "reason":"REASON"}`
	specConfig      = "{\n\"type\": \"configuration\",\n\"account\": {\n\"id\": \"15\",\n\"data\": \"INFO_ACCOUNT\"\n},\n\"phone\": {\n\"id\": \"27\",\n\"data\": \"INFO_PHONE\"\n},\n\"agent\": {\n\"id\": \"321\",\n\"data\": \"INFO_AGENT\"\n},\n}"
	specIncoming    = "{\n\"type\": \"incomingCall\",\n\"phoneNumber\":\"0211234567\",\n\"uniqueId\":\"1608743891.1344\"\n\"callCenter\":\"yes\"\n}"
	specVersion     = `{"type":"version", "value":"1.1.0"}`
	specClosed      = `{"type":"connectionClosed"}`
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name  string
		frame string
		want  message
	}{
		{"authRequest", specAuthRequest, message{Type: "authRequest"}},
		{"authSucces", specAuthSucces, message{Type: "authSucces", Version: "X.X.X"}},
		{"authFailed", specAuthFailed, message{Type: "authFailed", Reason: "REASON"}},
		{"configuration with trailing comma", specConfig, message{Type: "configuration",
			Account: &entity{ID: "15", Data: "INFO_ACCOUNT"}, Phone: &entity{ID: "27", Data: "INFO_PHONE"}, Agent: &entity{ID: "321", Data: "INFO_AGENT"}}},
		{"incomingCall without a comma", specIncoming, message{Type: "incomingCall", PhoneNumber: "0211234567", UniqueID: "1608743891.1344", CallCenter: "yes"}},
		{"version", specVersion, message{Type: "version", Value: "1.1.0"}},
		{"connectionClosed", specClosed, message{Type: "connectionClosed"}},
		{"numbers and objects kept as written", `{"type":"configuration","account":{"id":15,"data":{"a": [1, 2]}},"phone":null}`,
			message{Type: "configuration", Account: &entity{ID: "15", Data: `{"a":[1,2]}`}}},
		{"trailing comma in an array", `{"type":"x","data":[1,2,],}`, message{Type: "x"}},
		{"CRLF line breaks", "{\"type\":\"incomingCall\",\r\n\"uniqueId\":\"1.2\"\r\n\"callCenter\":\"no\"\r\n}", message{Type: "incomingCall", UniqueID: "1.2", CallCenter: "no"}},
		{"comma and bracket inside strings untouched", `{"type":"error","message":",}\n\"x\""}`, message{Type: "error", Message: `,}` + "\n" + `"x"`}},
		{"spaces around", " \n{\"type\" : \"ok\"}\n ", message{Type: "ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decode([]byte(tt.frame))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(tt.want)
			if !bytes.Equal(gj, wj) {
				t.Errorf("decode =\n %s\nwant\n %s", gj, wj)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		frame string
		want  string
	}{
		{``, "not a JSON object"},
		{`0722123456`, "not a JSON object"},
		{`["type"]`, "not a JSON object"},
		{`{}`, "no type"},
		{`{"type":"  "}`, "no type"},
		{`{"type":null}`, "no type"},
		{`{"type":7}`, "type is not a string"},
		{`{"type":"x","phoneNumber":"0722123456"`, "bad JSON"},
		{`{"type":"x" "phoneNumber":"0722123456"}`, "bad JSON"},                      // a missing comma on one line is not fixed
		{"{\"type\":\"x\",\n\"id\":15\n\"phoneNumber\":\"0722123456\"}", "bad JSON"}, // nor after a number
		{`{"type":"x",,}`, "bad JSON"},
		{`{"type":"x"} 0722123456`, "bad JSON"},
		{strings.Repeat(" ", MaxFrame+1), "frame too large"},
	}
	digits := regexp.MustCompile(`[0-9]`)
	for _, tt := range tests {
		_, err := decode([]byte(tt.frame))
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("decode(%.40q) = %v, want %q", tt.frame, err, tt.want)
			continue
		}
		if digits.MatchString(err.Error()) {
			t.Errorf("decode(%.40q) error %q holds digits", tt.frame, err)
		}
	}
}

func TestRelax(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a":1}`, `{"a":1}`},
		{`{"a":1,}`, `{"a":1}`},
		{"{\"a\":1,\n\t }", "{\"a\":1\n\t }"},
		{`[1,2, ]`, `[1,2 ]`},
		{`[1,,]`, `[1,]`}, // only the last comma goes; the decoder refuses the rest
		{"{\"a\":\"x\"\n\"b\":\"y\"}", "{\"a\":\"x\",\n\"b\":\"y\"}"},
		{"{\"a\":\"x\" \"b\":\"y\"}", "{\"a\":\"x\" \"b\":\"y\"}"}, // same line: left alone
		{`{"a":",}"}`, `{"a":",}"}`},
		{`{"a":"\",}"}`, `{"a":"\",}"}`},
		{`{"a":"\\",}`, `{"a":"\\"}`},
		{"\"a\"\n\"b\"", "\"a\",\n\"b\""},
		{`"unterminated,}`, `"unterminated,}`},
	}
	for _, tt := range tests {
		if got := string(relax([]byte(tt.in))); got != tt.want {
			t.Errorf("relax(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	valid := []byte(`{"type":"x","a":[1,2,{"b":"c"}]}`)
	if got := relax(valid); &got[0] != &valid[0] {
		t.Error("relax copied valid JSON")
	}
}

func TestMaskNumbers(t *testing.T) {
	for in, want := range map[string]string{
		"call 0722123456 failed": "call ########## failed",
		"code 1234 and 12345":    "code 1234 and #####",
		"12345":                  "#####",
		"":                       "",
		"v1.1.0":                 "v1.1.0",
	} {
		if got := maskNumbers(in); got != want {
			t.Errorf("maskNumbers(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClip(t *testing.T) {
	if got := clip("ăîșțâ", 3); got != "ăîș…" {
		t.Errorf("clip = %q", got)
	}
	if got := clip("abc", 3); got != "abc" {
		t.Errorf("clip = %q", got)
	}
	long := strings.Repeat("x", 5000)
	if got := clip(long, maxData); len([]rune(got)) != maxData+1 {
		t.Errorf("clip kept %d characters", len([]rune(got)))
	}
}

// FuzzDecode checks that no frame makes decode panic, that what it accepts
// has a type, and that its errors never quote digits.
func FuzzDecode(f *testing.F) {
	// Seeds, the documentation's examples among them: testdata/fuzz/FuzzDecode.
	digits := regexp.MustCompile(`[0-9]`)
	f.Fuzz(func(t *testing.T, frame []byte) {
		m, err := decode(frame)
		if err != nil {
			if digits.MatchString(err.Error()) {
				t.Errorf("error %q holds digits", err)
			}
			return
		}
		if strings.TrimSpace(m.Type) == "" || m.Type != strings.TrimSpace(m.Type) {
			t.Errorf("accepted a message with type %q", m.Type)
		}
	})
}

// FuzzRelax checks that relax leaves valid JSON alone and otherwise only
// drops or adds commas.
func FuzzRelax(f *testing.F) {
	// Seeds: testdata/fuzz/FuzzRelax.
	noCommas := func(b []byte) []byte { return bytes.ReplaceAll(b, []byte(","), nil) }
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		out := relax(in)
		if !bytes.Equal(in, orig) {
			t.Fatal("relax changed its input")
		}
		if json.Valid(in) && !bytes.Equal(out, in) {
			t.Errorf("relax changed valid JSON %q to %q", in, out)
		}
		if !bytes.Equal(noCommas(out), noCommas(in)) {
			t.Errorf("relax(%q) = %q changed more than commas", in, out)
		}
		if len(out) > len(in)+bytes.Count(in, []byte(`"`))/2+1 {
			t.Errorf("relax grew %d bytes to %d", len(in), len(out))
		}
	})
}
