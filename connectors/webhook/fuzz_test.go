package webhook

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/connectors/connectortest"
)

// fullNumber is a run of digits long enough to be a phone number.
var fullNumber = regexp.MustCompile(`[0-9]{5}`)

// FuzzParseDial checks that no request makes ParseDial panic, that what it
// accepts is a number with digits, and that its errors never quote one.
func FuzzParseDial(f *testing.F) {
	// Seeds: testdata/fuzz/FuzzParseDial.
	pp := connectortest.Phones(f, "RO")
	f.Fuzz(func(t *testing.T, query, contentType string, body []byte) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		req := connectors.CallbackRequest{Method: "POST", Query: q, ContentType: contentType, Body: body}
		if contentType == connectors.MediaForm {
			if req.Form, err = url.ParseQuery(string(body)); err != nil {
				return
			}
		}
		p, err := ParseDial(req, pp)
		if err != nil {
			if fullNumber.MatchString(err.Error()) {
				t.Errorf("error %q quotes a number", err)
			}
			if !p.IsZero() {
				t.Errorf("a number with an error: %+v", p)
			}
			return
		}
		key := p.Key()
		digits := strings.TrimPrefix(key, "+")
		if len(digits) < minDialDigits || strings.Trim(digits, "0123456789") != "" {
			t.Errorf("accepted %+v: key %q is not digits", p, key)
		}
		if len(p.Raw) > maxDialLength {
			t.Errorf("accepted a number of %d characters", len(p.Raw))
		}
	})
}

// FuzzRequest drives the whole pipeline with arbitrary HTTP/1.1 requests:
// whatever comes in, the answer is one of the documented statuses with a
// JSON body, nothing that was refused reaches the sink, and neither the
// answer nor the log holds the token, the vendor secret or a full number.
func FuzzRequest(f *testing.F) {
	// Seeds: testdata/fuzz/FuzzRequest.
	pp := connectortest.Phones(f, "RO")
	sink := &recorder{}
	logs := &connectortest.LogBuffer{}
	cfg := testConfig()
	cfg.Rate, cfg.Burst = 1e9, 1e9
	cfg.MaxBody = 256
	cfg.Listen = "127.0.0.1:8790"
	l, err := New(cfg, Deps{Sink: sink, Phones: pp, Logger: newTextLogger(logs)})
	if err != nil {
		f.Fatal(err)
	}
	if err := l.Mount("office", testRoutes(pp)); err != nil {
		f.Fatal(err)
	}
	// Serve without a socket: the host set of a bound 127.0.0.1:8790.
	l.hosts = newHostSet(cfg, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8790})
	allowed := map[int]bool{200: true, 202: true, 204: true, 400: true, 401: true, 403: true, 404: true, 405: true, 413: true, 415: true}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return
		}
		r.RemoteAddr = "127.0.0.1:40000"
		sink.reset()
		w := newRecorder()
		l.ServeHTTP(w, r)
		if !allowed[w.status] {
			t.Fatalf("status %d for %q: %s", w.status, raw, w.body.String())
		}
		if w.status != 204 {
			var v map[string]any
			if err := json.Unmarshal(w.body.Bytes(), &v); err != nil {
				t.Fatalf("body %q is not JSON", w.body.String())
			}
		}
		if got := sink.got(); len(got) > 0 && w.status != 200 && w.status != 202 {
			t.Fatalf("answered %d but the sink got %+v", w.status, got)
		}
		out := w.body.String() + logs.String()
		for _, secret := range []string{testToken, testClientID} {
			// A path or method that is the secret is logged as it came.
			if strings.Contains(out, secret) && !strings.Contains(r.URL.Path, secret) && !strings.Contains(r.Method, secret) {
				t.Fatalf("%q leaked", secret)
			}
		}
		if m := fullNumber.FindString(logs.String()); m != "" {
			t.Fatalf("the log holds %q for %q:\n%s", m, raw, logs.String())
		}
		logs.Reset()
	})
}

// FuzzHost checks the Host and Origin readers: no panic, and what they
// accept reads back the same.
func FuzzHost(f *testing.F) {
	// Seeds: testdata/fuzz/FuzzHost.
	f.Fuzz(func(t *testing.T, s string) {
		if name, port, err := splitHost(s); err == nil {
			h := name
			if strings.Contains(name, ":") {
				h = "[" + name + "]"
			}
			if port != "" {
				h += ":" + port
			}
			n2, p2, err := splitHost(h)
			if err != nil || n2 != name || p2 != port {
				t.Errorf("splitHost(%q) = %q %q, but %q reads back as %q %q %v", s, name, port, h, n2, p2, err)
			}
		}
		if o, err := CanonicalOrigin(s); err == nil {
			if o2, err := CanonicalOrigin(o); err != nil || o2 != o {
				t.Errorf("CanonicalOrigin(%q) = %q, which reads back as %q %v", s, o, o2, err)
			}
		}
	})
}

// newTextLogger logs at debug level without the time and the request's
// duration, whose digits would look like numbers to the checks.
func newTextLogger(w *connectortest.LogBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "took" {
				return slog.Attr{}
			}
			return a
		}}))
}
