package accolades

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/connectors/webhook"
)

func TestParseNotification(t *testing.T) {
	pp := testDeps(t).Phones
	tests := []struct {
		name string
		form string
		want connectors.Event
	}{
		{"answer", "apiName=callNotification&event=answer&callId=1608743891.1344&userId=321&userType=agent&direction=in&phoneNumber=0211234567",
			connectors.Event{Kind: connectors.KindAnswered, Direction: connectors.DirectionInbound, Vendor: "accolades", CallID: "1608743891.1344",
				Agent: "321", Phone: connectors.Phone{Raw: "0211234567", E164: "+40211234567"}, Extra: map[string]string{"event": "answer", "userType": "agent"}}},
		{"hangup, callDirection", "apiName=callNotification&event=hangup&callId=1.2&userId=7&callDirection=outgoing",
			connectors.Event{Kind: connectors.KindEnded, Direction: connectors.DirectionOutbound, Vendor: "accolades", CallID: "1.2",
				Agent: "7", Extra: map[string]string{"event": "hangup"}}},
		{"confirmHangup, callerId, no apiName", "event=confirmHangup&callId=1.3&direction=INBOUND&callerId=%2B40722345678",
			connectors.Event{Kind: connectors.KindEnded, Direction: connectors.DirectionInbound, Vendor: "accolades", CallID: "1.3",
				Phone: connectors.Phone{Raw: "+40722345678", E164: "+40722345678"}, Extra: map[string]string{"event": "confirmHangup"}}},
		{"unknown direction", "apiName=callNotification&event=answer&callId=1.4&direction=sideways&number=101",
			connectors.Event{Kind: connectors.KindAnswered, Vendor: "accolades", CallID: "1.4",
				Phone: connectors.Phone{Raw: "101"}, Extra: map[string]string{"event": "answer"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form, err := url.ParseQuery(tt.form)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseNotification(form, pp)
			if err != nil {
				t.Fatalf("ParseNotification: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}

	for form, want := range map[string]string{
		"event=answer":                    "callId is missing",
		"event=answer&callId=":            "callId is missing",
		"event=answer&callId=1 2":         "callId is not a call id",
		"callId=1.2":                      "event is missing",
		"event=ring&callId=1.2":           `event "ring" is not answer, confirmHangup or hangup`,
		"apiName=smsNotification&event=x": `apiName "smsNotification" is not callNotification`,
		"event=answer&callId=1.2&phoneNumber=" + strings.Repeat("1", 65): "phoneNumber is too long",
	} {
		f, _ := url.ParseQuery(form)
		if _, err := ParseNotification(f, pp); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("ParseNotification(%.50s) = %v, want %q", form, err, want)
		}
	}

	// without a phone parser the number stays raw
	f, _ := url.ParseQuery("event=answer&callId=1.2&phoneNumber=0211234567")
	if ev, err := ParseNotification(f, nil); err != nil || ev.Phone != (connectors.Phone{Raw: "0211234567"}) {
		t.Errorf("ParseNotification(nil parser) = %+v, %v", ev.Phone, err)
	}
}

// TestRoutes mounts the webhook on the real listener and posts
// notifications to it as Accolades does.
func TestRoutes(t *testing.T) {
	deps := testDeps(t)
	c := newTestConnector(t, deps, conf("wss://client.voipit.ro:14327"))
	sink := &eventSink{}
	cfg := webhook.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.Token = "accolades-test-token-0123"
	l, err := webhook.New(cfg, webhook.Deps{Sink: sink, Phones: deps.Phones})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Mount("office", c.Routes()); err != nil {
		t.Fatal(err)
	}
	if err := l.Bind(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	hook := l.URL() + "/office/notify?token=" + cfg.Token

	const form = "application/x-www-form-urlencoded"
	good := "apiName=callNotification&event=answer&callId=1608743891.1344&userId=321&userType=agent&direction=in&phoneNumber=0211234567"
	tests := []struct {
		name        string
		method      string
		url         string
		contentType string
		body        string
		status      int
		errWant     string // the JSON error holds it
	}{
		{"good", "POST", hook, form, good, 200, ""},
		{"with charset", "POST", hook, form + "; charset=UTF-8", good, 200, ""},
		{"no token", "POST", l.URL() + "/office/notify", form, good, 401, "missing token"},
		{"wrong method", "GET", hook, "", "", 405, "allowed: POST"},
		{"json body", "POST", hook, "application/json", `{"event":"answer"}`, 415, "want a body of type application/x-www-form-urlencoded"},
		{"oversize", "POST", hook, form, "event=answer&callId=1.2&x=" + strings.Repeat("a", webhook.DefaultMaxBody), 413, "larger than 64KiB"},
		{"bad form encoding", "POST", hook, form, "event=%zz", 400, "not a well-formed form"},
		{"missing callId", "POST", hook, form, "apiName=callNotification&event=answer&phoneNumber=0211234567", 400, "callId is missing"},
		{"unknown event", "POST", hook, form, "apiName=callNotification&event=transfer&callId=1.2", 400, `event \"transfer\" is not`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, tt.url, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.status, body)
			}
			if tt.errWant == "" {
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var e struct{ Error string }
			if err := json.Unmarshal(body, &e); err != nil || !strings.Contains(string(body), tt.errWant) {
				t.Errorf("body %s, want a JSON error holding %q", body, tt.errWant)
			}
		})
	}
	got := sink.events()
	if len(got) != 2 {
		t.Fatalf("%d events reached the sink, want 2", len(got))
	}
	want := connectors.Event{Kind: connectors.KindAnswered, Direction: connectors.DirectionInbound, Vendor: "accolades", CallID: "1608743891.1344",
		Agent: "321", Phone: connectors.Phone{Raw: "0211234567", E164: "+40211234567"}, Extra: map[string]string{"event": "answer", "userType": "agent"}}
	if !reflect.DeepEqual(got[0], want) {
		t.Errorf("event %+v\nwant  %+v", got[0], want)
	}
}

// eventSink records the events of callbacks, from instance "office" only.
type eventSink struct {
	mu  sync.Mutex
	evs []connectors.Event
}

func (s *eventSink) Handle(_ context.Context, from string, cb connectors.Callback) error {
	if from != "office" || !cb.Dial.IsZero() || cb.Status != connectors.StatusUnknown {
		return fmt.Errorf("callback from %q: %+v", from, cb)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evs = append(s.evs, cb.Events...)
	return nil
}

func (s *eventSink) events() []connectors.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]connectors.Event(nil), s.evs...)
}

// FuzzParseNotification checks that no form makes ParseNotification panic,
// that what it accepts is a call event with an id, and that its errors never
// quote a phone number.
func FuzzParseNotification(f *testing.F) {
	// Seeds: testdata/fuzz/FuzzParseNotification.
	pp := testDeps(f).Phones
	number := regexp.MustCompile(`[0-9]{5}`)
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		ev, err := ParseNotification(form, pp)
		if err != nil {
			if number.MatchString(err.Error()) {
				t.Errorf("error %q quotes a number", err)
			}
			return
		}
		if ev.CallID == "" || ev.Vendor != Vendor || ev.Kind != connectors.KindAnswered && ev.Kind != connectors.KindEnded {
			t.Errorf("accepted %+v", ev)
		}
	})
}
