package retailcrm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringside/ringside/connectors"
)

// callLog is an answered inbound call of agent 100 that started at 10:00:00
// UTC (13:00:00 in Moscow): 5 s waiting, 90.4 s talking.
func callLog(key string) connectors.CallLog {
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	return connectors.CallLog{
		Key:        key,
		CallKey:    key,
		Revision:   1,
		Direction:  connectors.DirectionInbound,
		Phone:      caller,
		Agent:      "100",
		Result:     connectors.ResultAnswered,
		StartedAt:  at,
		AnsweredAt: at.Add(5 * time.Second),
		EndedAt:    at.Add(95400 * time.Millisecond),
		Talk:       90400 * time.Millisecond,
		Waiting:    5 * time.Second,
		Note:       "wants a callback",
	}
}

func TestLogCalls(t *testing.T) {
	srv := newFake(t, reply(http.StatusOK, `{"success":true,"processedCallsCount":3,"duplicateCalls":[]}`))
	c := newTestCRM(t, testDeps(t), baseConf(srv.URL)+`site = "shop1"
external_phones = [ { site_code = "shop1", external_phone = "+74999999999" } ]`)

	out := callLog("call-2")
	out.Direction, out.Agent, out.Result = connectors.DirectionOutbound, "200", connectors.ResultNoAnswer
	out.AnsweredAt, out.Talk, out.Waiting = time.Time{}, 0, 30*time.Second
	out.Recording = "https://pbx.example/rec/2.mp3"
	missed := callLog("call-3")
	missed.Agent, missed.Result, missed.Talk, missed.Waiting = "", connectors.ResultMissed, 0, 12600*time.Millisecond
	missed.Recording = "/var/spool/rec/3.wav" // not a web address: left out
	missed.Extra = map[string]string{"external_phone": "+74998888888"}
	busy := callLog("call-4")
	busy.Result, busy.Phone = connectors.ResultCancelled, connectors.Phone{Raw: "105"}
	note := callLog("call-1-r2")
	note.Revision = 2 // a later note: nowhere to put it in retailCRM's history

	if err := c.LogCalls(context.Background(), []connectors.CallLog{callLog("call-1"), out, missed, note, busy}); err != nil {
		t.Fatalf("LogCalls: %v", err)
	}
	reqs := srv.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	checkRequest(t, reqs[0], http.MethodPost, "/api/v5/telephony/calls/upload")
	checkForm(t, reqs[0], "calls", `[
		{"date":"2026-11-21 13:00:00","type":"in","phone":"+79121234567","code":"100","userId":1,"result":"answered",
		 "duration":90,"durationWaiting":5,"externalId":"call-1","externalPhone":"+74999999999","site":"shop1"},
		{"date":"2026-11-21 13:00:00","type":"out","phone":"+79121234567","code":"200","userId":2,"result":"no answer",
		 "duration":0,"durationWaiting":30,"externalId":"call-2","recordUrl":"https://pbx.example/rec/2.mp3","externalPhone":"+74999999999","site":"shop1"},
		{"date":"2026-11-21 13:00:00","type":"in","phone":"+79121234567","code":"100","userId":1,"result":"no answer",
		 "duration":0,"durationWaiting":13,"externalId":"call-3","externalPhone":"+74998888888","site":"shop1"},
		{"date":"2026-11-21 13:00:00","type":"in","phone":"105","code":"100","userId":1,"result":"no answer",
		 "duration":90,"durationWaiting":5,"externalId":"call-4","externalPhone":"+74999999999","site":"shop1"}
	]`)
}

func TestUploadResults(t *testing.T) {
	for r, want := range map[connectors.Result]string{
		connectors.ResultAnswered:  "answered",
		connectors.ResultBusy:      "busy",
		connectors.ResultFailed:    "failed",
		connectors.ResultNoAnswer:  "no answer",
		connectors.ResultMissed:    "no answer",
		connectors.ResultCancelled: "no answer",
		connectors.ResultUnknown:   "unknown",
	} {
		if got := uploadResult(r); got != want {
			t.Errorf("uploadResult(%v) = %q, want %q", r, got, want)
		}
	}
}

func TestLogCallsDuplicatesAreDelivered(t *testing.T) {
	srv := newFake(t, reply(http.StatusOK, `{"success":true,"processedCallsCount":0,"duplicateCalls":["call-1","call-2"]}`))
	c := newTestCRM(t, testDeps(t), baseConf(srv.URL))
	if err := c.LogCalls(context.Background(), []connectors.CallLog{callLog("call-1"), callLog("call-2")}); err != nil {
		t.Errorf("LogCalls = %v, want duplicates delivered", err)
	}
}

func TestLogCallsSplitsBatches(t *testing.T) {
	var n atomic.Int32
	srv := newFake(t, func(w http.ResponseWriter, r seen) {
		if n.Add(1) == 2 {
			reply(http.StatusServiceUnavailable, `{"success":false,"errorMsg":"busy"}`)(w, r)
			return
		}
		ok(w, r)
	})
	c := newTestCRM(t, testDeps(t), baseConf(srv.URL))
	logs := make([]connectors.CallLog, 120)
	for i := range logs {
		logs[i] = callLog(fmt.Sprintf("call-%d", i))
	}
	err := c.LogCalls(context.Background(), logs)
	var be *connectors.BatchError
	if !errors.As(err, &be) || len(be.Errs) != 120 {
		t.Fatalf("LogCalls = %v, want a BatchError of 120", err)
	}
	for i, e := range be.Errs {
		if failed := i >= 50 && i < 100; (e != nil) != failed || e != nil && connectors.IsPermanent(e) {
			t.Errorf("log %d: %v", i, e)
		}
	}
	var sizes []int
	for _, r := range srv.requests() {
		var calls []uploadCall
		_ = json.Unmarshal([]byte(r.Form.Get("calls")), &calls)
		sizes = append(sizes, len(calls))
	}
	if fmt.Sprint(sizes) != "[50 50 20]" {
		t.Errorf("batches of %v, want [50 50 20]", sizes)
	}
}

func TestLogCallsWithoutNumber(t *testing.T) {
	srv := newFake(t, ok)
	c := newTestCRM(t, testDeps(t), baseConf(srv.URL))
	hidden := callLog("call-2")
	hidden.Phone = connectors.Phone{}
	err := c.LogCalls(context.Background(), []connectors.CallLog{callLog("call-1"), hidden})
	var be *connectors.BatchError
	if !errors.As(err, &be) || be.Errs[0] != nil || !connectors.IsPermanent(be.Errs[1]) || !strings.Contains(be.Errs[1].Error(), "no number") {
		t.Fatalf("LogCalls = %v, want the call without a number refused alone", err)
	}
	if n := len(srv.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// TestLogCallsRefusedCall: retailCRM refuses the upload naming one call;
// that call is refused for good, the others are sent again.
func TestLogCallsRefusedCall(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string // per log: "ok", "retry" or "permanent"
	}{
		{"errors object naming call 1", `{"success":false,"errorMsg":"Errors in the input parameters","errors":{"calls[1][phone]":"This value is not a valid phone number."}}`,
			[]string{"retry", "permanent", "retry"}},
		{"errors list naming calls", `{"success":false,"errorMsg":"Errors in the input parameters","errors":["calls[0][date]: bad date","calls[2][type]: bad type"]}`,
			[]string{"permanent", "retry", "permanent"}},
		{"errors about the whole upload", `{"success":false,"errorMsg":"Errors in the input parameters","errors":{"calls":"too many"}}`,
			[]string{"permanent", "permanent", "permanent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFake(t, reply(http.StatusBadRequest, tt.body))
			c := newTestCRM(t, testDeps(t), baseConf(srv.URL))
			err := c.LogCalls(context.Background(), []connectors.CallLog{callLog("a"), callLog("b"), callLog("c")})
			errs := []error{err, err, err}
			var be *connectors.BatchError
			if errors.As(err, &be) {
				errs = be.Errs
			}
			for i, want := range tt.want {
				got := "ok"
				if errs[i] != nil {
					got = "retry"
					if connectors.IsPermanent(errs[i]) {
						got = "permanent"
					}
				}
				if got != want {
					t.Errorf("log %d: %s (%v), want %s", i, got, errs[i], want)
				}
			}
		})
	}
}

func TestFlushInterval(t *testing.T) {
	srv := newFake(t, ok)
	for _, tt := range []struct {
		conf string
		want time.Duration
	}{
		{"", 0},
		{"upload = \"immediate\"", 0},
		{"upload = \"periodic\"\nupload_interval = \"10m\"", 10 * time.Minute},
		{"upload = \"periodic\"", 5 * time.Minute},
	} {
		c := newTestCRM(t, testDeps(t), baseConf(srv.URL)+tt.conf)
		if got := c.FlushInterval(); got != tt.want {
			t.Errorf("%q: FlushInterval = %v, want %v", tt.conf, got, tt.want)
		}
	}
}
