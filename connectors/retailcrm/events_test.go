package retailcrm

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/connectors"
)

var caller = connectors.Phone{Raw: "8 912 123-45-67", E164: "+79121234567"}

func TestNotifyCall(t *testing.T) {
	tests := []struct {
		name string
		ev   connectors.Event
		want string // the event= JSON; "" means no request
	}{
		{"ringing", connectors.Event{Kind: connectors.KindRinging, Phone: caller},
			`{"phone":"+79121234567","type":"in","codes":["100"],"userIds":[1],"site":"shop1","externalPhone":"+74999999999","callExternalId":"call-1"}`},
		{"dialing by agent 200", connectors.Event{Kind: connectors.KindDialing, Phone: caller, Agent: "200"},
			`{"phone":"+79121234567","type":"out","codes":["200"],"userIds":[2],"site":"shop1","externalPhone":"+74999999999","callExternalId":"call-1"}`},
		{"unknown agent code is this agent", connectors.Event{Kind: connectors.KindDialing, Phone: caller, Agent: "777"},
			`{"phone":"+79121234567","type":"out","codes":["100"],"userIds":[1],"site":"shop1","externalPhone":"+74999999999","callExternalId":"call-1"}`},
		{"external phone from the source", connectors.Event{Kind: connectors.KindRinging, Phone: caller, Extra: map[string]string{"external_phone": "+74998888888"}},
			`{"phone":"+79121234567","type":"in","codes":["100"],"userIds":[1],"site":"shop1","externalPhone":"+74998888888","callExternalId":"call-1"}`},
		{"number without E.164", connectors.Event{Kind: connectors.KindRinging, Phone: connectors.Phone{Raw: "105"}},
			`{"phone":"105","type":"in","codes":["100"],"userIds":[1],"site":"shop1","externalPhone":"+74999999999","callExternalId":"call-1"}`},
		{"ended answered", connectors.Event{Kind: connectors.KindEnded, Phone: caller, Result: connectors.ResultAnswered},
			`{"phone":"+79121234567","type":"hangup","hangupStatus":"answered","codes":["100"],"userIds":[1],"site":"shop1","externalPhone":"+74999999999","callExternalId":"call-1"}`},
		{"ended busy", connectors.Event{Kind: connectors.KindEnded, Phone: caller, Result: connectors.ResultBusy},
			`{"phone":"+79121234567","type":"hangup","hangupStatus":"busy","codes":["100"],"userIds":[1],"site":"shop1","externalPhone":"+74999999999","callExternalId":"call-1"}`},
		{"ended cancelled", connectors.Event{Kind: connectors.KindEnded, Phone: caller, Result: connectors.ResultCancelled},
			`{"phone":"+79121234567","type":"hangup","hangupStatus":"cancel","codes":["100"],"userIds":[1],"site":"shop1","externalPhone":"+74999999999","callExternalId":"call-1"}`},
		{"ended failed", connectors.Event{Kind: connectors.KindEnded, Phone: caller, Result: connectors.ResultFailed},
			`{"phone":"+79121234567","type":"hangup","hangupStatus":"failed","codes":["100"],"userIds":[1],"site":"shop1","externalPhone":"+74999999999","callExternalId":"call-1"}`},
		{"ended no answer", connectors.Event{Kind: connectors.KindEnded, Phone: caller, Result: connectors.ResultNoAnswer},
			`{"phone":"+79121234567","type":"hangup","hangupStatus":"no answered","codes":["100"],"userIds":[1],"site":"shop1","externalPhone":"+74999999999","callExternalId":"call-1"}`},
		{"missed", connectors.Event{Kind: connectors.KindMissed, Phone: caller},
			`{"phone":"+79121234567","type":"hangup","hangupStatus":"no answered","codes":["100"],"userIds":[1],"site":"shop1","externalPhone":"+74999999999","callExternalId":"call-1"}`},
		{"ended, result unknown", connectors.Event{Kind: connectors.KindEnded, Phone: caller},
			`{"phone":"+79121234567","type":"hangup","codes":["100"],"userIds":[1],"site":"shop1","externalPhone":"+74999999999","callExternalId":"call-1"}`},
		{"answered: retailCRM has no such event", connectors.Event{Kind: connectors.KindAnswered, Phone: caller}, ""},
		{"status: not a call", connectors.Event{Kind: connectors.KindAgentStatus, Status: connectors.StatusBusy}, ""},
		{"hidden number", connectors.Event{Kind: connectors.KindRinging}, ""},
	}
	srv := newFake(t, ok)
	c := newTestCRM(t, testDeps(t), baseConf(srv.URL)+`site = "shop1"
external_phones = [ { site_code = "shop2", external_phone = "+74990000000" }, { site_code = "shop1", external_phone = "+74999999999" } ]`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(srv.requests())
			if err := c.NotifyCall(context.Background(), "call-1", tt.ev); err != nil {
				t.Fatalf("NotifyCall: %v", err)
			}
			reqs := srv.requests()[before:]
			if tt.want == "" {
				if len(reqs) != 0 {
					t.Fatalf("sent %d requests, want none", len(reqs))
				}
				return
			}
			if len(reqs) != 1 {
				t.Fatalf("sent %d requests, want 1", len(reqs))
			}
			checkRequest(t, reqs[0], http.MethodPost, "/api/v5/telephony/call/event")
			checkForm(t, reqs[0], "event", tt.want)
		})
	}
}

func TestNotifyCallUnknownAgents(t *testing.T) {
	srv := newFake(t, reply(http.StatusOK, `{"success":true,"notExistCodes":["100"],"notExistUsers":[1]}`))
	c := newTestCRM(t, testDeps(t), baseConf(srv.URL))
	err := c.NotifyCall(context.Background(), "call-1", connectors.Event{Kind: connectors.KindRinging, Phone: caller})
	var ua *UnknownAgentsError
	if !errors.As(err, &ua) || len(ua.Codes) != 1 || ua.Codes[0] != "100" || len(ua.Users) != 1 || ua.Users[0] != "1" {
		t.Fatalf("NotifyCall = %v, want an UnknownAgentsError for code 100 and user 1", err)
	}
	if !strings.Contains(err.Error(), "agent code 100 nor user 1") {
		t.Errorf("error %q does not name them", err)
	}
}

func TestNotifyCallWithoutAgent(t *testing.T) {
	srv := newFake(t, ok)
	c := newTestCRM(t, testDeps(t), `url = "`+srv.URL+`"`)
	err := c.NotifyCall(context.Background(), "call-1", connectors.Event{Kind: connectors.KindRinging, Phone: caller})
	if !connectors.IsPermanent(err) || !strings.Contains(err.Error(), "set user_id") {
		t.Errorf("NotifyCall = %v, want a permanent error asking for user_id", err)
	}
	if len(srv.requests()) != 0 {
		t.Error("an event without an agent was sent")
	}
}

func TestNotifyCallGivesUp(t *testing.T) {
	release := make(chan struct{})
	srv := newFake(t, func(w http.ResponseWriter, _ seen) { <-release })
	defer close(release)
	c := newTestCRM(t, testDeps(t), baseConf(srv.URL))
	c.eventWait = 50 * time.Millisecond
	start := time.Now()
	err := c.NotifyCall(context.Background(), "call-1", connectors.Event{Kind: connectors.KindRinging, Phone: caller})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("NotifyCall = %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("NotifyCall took %v, want about the event timeout", d)
	}
}
