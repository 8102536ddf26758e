package connectors

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPhoneParse(t *testing.T) {
	pp, err := NewPhoneParser("ro")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		raw, wantE164, wantMasked, wantString string
	}{
		{"0211234567", "+40211234567", "+40•••••••67", "+40 21 123 4567"},
		{"+40 21 123 4567", "+40211234567", "+40•••••••67", "+40 21 123 4567"},
		{"0040-722-123-456", "+40722123456", "+40•••••••56", "+40 722 123 456"},
		{"+49 30 1234567", "+49301234567", "+49•••••••67", "+49 30 1234567"},
		{"101", "", "•01", "101"},      // an extension stays raw
		{"", "", "", ""},               // nothing
		{"call me", "", "", "call me"}, // garbage
		{" 0722123456 ", "+40722123456", "+40•••••••56", "+40 722 123 456"},
	}
	for _, tt := range tests {
		p := pp.Parse(tt.raw)
		if got := p.E164; got != tt.wantE164 {
			t.Errorf("Parse(%q).E164 = %q, want %q", tt.raw, got, tt.wantE164)
		}
		if got := p.Masked(); got != tt.wantMasked {
			t.Errorf("Parse(%q).Masked() = %q, want %q", tt.raw, got, tt.wantMasked)
		}
		if got := p.String(); got != tt.wantString {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.raw, got, tt.wantString)
		}
		if got := p.LogValue().String(); got != tt.wantMasked {
			t.Errorf("Parse(%q) logs as %q, want %q", tt.raw, got, tt.wantMasked)
		}
	}
	if _, err := NewPhoneParser("XX"); err == nil {
		t.Error("NewPhoneParser(XX) accepted an unknown region")
	}
}

func FuzzParsePhone(f *testing.F) {
	for _, s := range []string{"0211234567", "+40 21 123 4567", "00", "+", "101", "\x00"} {
		f.Add(s)
	}
	pp, _ := NewPhoneParser("RO")
	f.Fuzz(func(t *testing.T, raw string) {
		p := pp.Parse(raw)
		if p.E164 != "" && !strings.HasPrefix(p.E164, "+") {
			t.Fatalf("E164 %q without +", p.E164)
		}
		m := p.Masked()
		visible := 0
		for _, r := range m {
			if r >= '0' && r <= '9' {
				visible++
			}
		}
		if visible > 4 {
			t.Fatalf("masked %q shows %d digits of %q", m, visible, p.Key())
		}
		_ = p.String()
	})
}

func TestEnumsRoundTrip(t *testing.T) {
	type all struct {
		K EventKind
		D Direction
		S AgentStatus
		R Result
	}
	in := all{KindAgentStatus, DirectionOutbound, StatusDinner, ResultNoAnswer}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"K":"agent_status","D":"out","S":"dinner","R":"no_answer"}`; got != want {
		t.Errorf("json = %s, want %s", got, want)
	}
	var out all
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Errorf("round trip = %+v, %v; want %+v", out, err, in)
	}
	if err := json.Unmarshal([]byte(`{"K":"exploded"}`), &out); err == nil {
		t.Error("unknown kind accepted")
	}
}

func TestEventLogValueMasksNumber(t *testing.T) {
	ev := Event{Kind: KindRinging, Phone: Phone{Raw: "0211234567", E164: "+40211234567"}, CallID: "1.2"}
	got := ev.LogValue().String()
	if strings.Contains(got, "1234567") || !strings.Contains(got, "+40•••••••67") {
		t.Errorf("log value %q leaks or lacks the masked number", got)
	}
}

func TestCheckResponse(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		status      int
		retryAfter  string
		wantNil     bool
		wantPerm    bool
		wantDelay   time.Duration
		wantDelayOK bool
	}{
		{200, "", true, false, 0, false},
		{204, "", true, false, 0, false},
		{400, "", false, true, 0, false},
		{401, "", false, true, 0, false},
		{404, "", false, true, 0, false},
		{408, "", false, false, 0, false},
		{429, "7", false, false, 7 * time.Second, true},
		{503, "Sat, 21 Nov 2026 10:00:30 GMT", false, false, 30 * time.Second, true},
		{503, "soon", false, false, 0, false},
		{500, "", false, false, 0, false},
		{429, "99999", false, false, time.Hour, true},
	}
	for _, tt := range tests {
		resp := &http.Response{StatusCode: tt.status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("  nope  "))}
		if tt.retryAfter != "" {
			resp.Header.Set("Retry-After", tt.retryAfter)
		}
		err := CheckResponse(resp, now)
		if (err == nil) != tt.wantNil {
			t.Errorf("%d: err = %v, want nil %v", tt.status, err, tt.wantNil)
			continue
		}
		if err == nil {
			continue
		}
		if got := IsPermanent(err); got != tt.wantPerm {
			t.Errorf("%d: permanent = %v, want %v", tt.status, got, tt.wantPerm)
		}
		d, ok := RetryDelay(err)
		if d != tt.wantDelay || ok != tt.wantDelayOK {
			t.Errorf("%d %q: delay = %v %v, want %v %v", tt.status, tt.retryAfter, d, ok, tt.wantDelay, tt.wantDelayOK)
		}
		var se *HTTPStatusError
		if !errors.As(err, &se) || se.Body != "nope" {
			t.Errorf("%d: status error %+v, want body %q", tt.status, se, "nope")
		}
	}
}

func TestRegistry(t *testing.T) {
	r := NewRegistry(Type{Name: "b", New: func(Section, Deps) (any, error) { return nil, nil }},
		Type{Name: "a", New: func(Section, Deps) (any, error) { return nil, nil }})
	if got := strings.Join(r.Names(), ","); got != "a,b" {
		t.Errorf("names = %q", got)
	}
	if _, err := r.Lookup("c"); err == nil || !strings.Contains(err.Error(), "known: a, b") {
		t.Errorf("Lookup(c) = %v, want an error listing the known types", err)
	}
}

func TestResolvePath(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip(err)
	}
	tests := []struct{ dir, in, want string }{
		{"/etc/ringside", "contacts.csv", filepath.Join("/etc/ringside", "contacts.csv")},
		{"/etc/ringside", "~/c.csv", filepath.Join(home, "c.csv")},
		{"", "c.csv", "c.csv"},
	}
	for _, tt := range tests {
		got, err := ResolvePath(tt.dir, tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ResolvePath(%q, %q) = %q, %v; want %q", tt.dir, tt.in, got, err, tt.want)
		}
	}
}
