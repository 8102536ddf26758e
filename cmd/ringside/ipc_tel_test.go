package main

import (
	"strings"
	"testing"
)

func TestParseDialTarget(t *testing.T) {
	tests := []struct {
		in      string
		number  string
		ext     string
		wantErr string
	}{
		{"tel:+40-21-123-4567", "+40211234567", "", ""},
		{"TEL:+40.21.123.4567", "+40211234567", "", ""},
		{"tel:+1-201-555-0123;ext=1234", "+12015550123", "1234", ""},
		{"tel:7042;phone-context=example.com", "7042", "", ""},
		{"tel:863-1234;phone-context=+1-914-555", "8631234", "", ""},
		{"tel:%2B40%20721%20234%20567", "+40721234567", "", ""},
		{"tel:+40(721)234-567", "+40721234567", "", ""},
		{"callto:+40721234567", "+40721234567", "", ""},
		{"callto://+40721234567", "+40721234567", "", ""},
		{"callto:0721 234 567?subject=hi", "0721234567", "", ""},
		{"tel:*100#", "*100#", "", ""},
		{"+40 721 234 567", "+40721234567", "", ""},
		{"0721234567", "0721234567", "", ""},
		{"tel:", "", "", "no digits"},
		{"tel:evil.example", "", "", "not part of a phone number"},
		{"tel:+40+21", "", "", `"+" may only start`},
		{"tel:%zz", "", "", "percent-encoding"},
		{"tel:+4021;ext=12a", "", "", "extension"},
		{"tel:" + strings.Repeat("1", 30), "", "", "more than 24 digits"},
		{"callto:skype.user", "", "", "not part of a phone number"},
	}
	for _, tt := range tests {
		got, err := parseDialTarget(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseDialTarget(%q) = %+v, %v; want error with %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got.Number != tt.number || got.Ext != tt.ext {
			t.Errorf("parseDialTarget(%q) = %+v, %v; want %q ext %q", tt.in, got, err, tt.number, tt.ext)
		}
	}
}

func TestIsDialURI(t *testing.T) {
	for in, want := range map[string]bool{
		"tel:+40": true, "Callto:x": true, "dial": false, "history": false, "telx:1": false, "": false,
	} {
		if got := isDialURI(in); got != want {
			t.Errorf("isDialURI(%q) = %v, want %v", in, got, want)
		}
	}
}

// FuzzParseDialTarget checks that any link either fails or gives a number
// made only of what a dialer takes, which parses again to itself.
func FuzzParseDialTarget(f *testing.F) {
	for _, s := range []string{"tel:+40-21-123-4567;ext=12", "callto://+40721234567", "tel:%2B40%20721", "tel:*100#", "+40 (721) 234.567"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseDialTarget(s)
		if err != nil {
			return
		}
		n := got.Number
		if n == "" || len(n) > maxDialDigits+8 {
			t.Fatalf("parseDialTarget(%q) = %q", s, n)
		}
		for i, r := range n {
			ok := r >= '0' && r <= '9' || r == '*' || r == '#' || r == '+' && i == 0
			if !ok {
				t.Fatalf("parseDialTarget(%q) = %q: %q at %d", s, n, r, i)
			}
		}
		for _, r := range got.Ext {
			if r < '0' || r > '9' {
				if r != '*' && r != '#' {
					t.Fatalf("parseDialTarget(%q) ext = %q", s, got.Ext)
				}
			}
		}
		again, err := parseDialTarget("tel:" + n)
		if err != nil || again.Number != n {
			t.Fatalf("tel:%s parses to %+v, %v", n, again, err)
		}
	})
}
