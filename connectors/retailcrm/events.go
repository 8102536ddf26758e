package retailcrm

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/ringside/ringside/connectors"
)

// callEvent is the event= of POST /api/v5/telephony/call/event.
type callEvent struct {
	Phone          string   `json:"phone"`
	Type           string   `json:"type"` // in, out, hangup
	Codes          []string `json:"codes,omitempty"`
	UserIDs        []int64  `json:"userIds,omitempty"`
	Site           string   `json:"site,omitempty"`
	HangupStatus   string   `json:"hangupStatus,omitempty"`
	ExternalPhone  string   `json:"externalPhone,omitempty"`
	CallExternalID string   `json:"callExternalId,omitempty"`
}

// eventAnswer is what an event answers besides success.
type eventAnswer struct {
	NotExistCodes flexList `json:"notExistCodes"`
	NotExistUsers flexList `json:"notExistUsers"`
}

// UnknownAgentsError says retailCRM took a call event but knows some of its
// agents by neither code nor user id, so they saw no call card. Fixing codes
// and user_id, then Register, mends it; repeating the event does not.
type UnknownAgentsError struct {
	Codes []string // its notExistCodes
	Users []string // its notExistUsers
}

func (e *UnknownAgentsError) Error() string {
	var parts []string
	if len(e.Codes) > 0 {
		parts = append(parts, "agent code "+strings.Join(e.Codes, ", "))
	}
	if len(e.Users) > 0 {
		parts = append(parts, "user "+strings.Join(e.Users, ", "))
	}
	return maskNumbers(fmt.Sprintf("retailCRM does not know %s: no call card was shown to them; check codes and user_id, then register the module again", strings.Join(parts, " nor ")))
}

// eventType is retailCRM's type of a call event for an event kind, and the
// hang-up status for an end; "" when retailCRM has no such event (an answer
// is not one).
func eventType(ev connectors.Event) (typ, hangup string) {
	switch ev.Kind {
	case connectors.KindRinging:
		return "in", ""
	case connectors.KindDialing:
		return "out", ""
	case connectors.KindMissed:
		return "hangup", "no answered"
	case connectors.KindEnded:
		return "hangup", hangupStatus(ev.Result)
	}
	return "", ""
}

// hangupStatus is a result in the spelling of call events (answered, busy,
// cancel, failed, "no answered"); "" leaves it out when unknown.
func hangupStatus(r connectors.Result) string {
	switch r {
	case connectors.ResultAnswered:
		return "answered"
	case connectors.ResultBusy:
		return "busy"
	case connectors.ResultCancelled:
		return "cancel"
	case connectors.ResultFailed:
		return "failed"
	case connectors.ResultMissed, connectors.ResultNoAnswer:
		return "no answered"
	}
	return ""
}

// NotifyCall tells retailCRM, live, that a call rings, is dialed or ended,
// so it shows (and closes) its call card: POST
// /api/v5/telephony/call/event. callKey is Ringside's key of the call (the
// journal's Call.Key): it is the event's callExternalId and the externalId
// of the call's history upload, which ties the two together.
//
// ev is the call as the engine folded it, not a raw vendor event:
//   - KindRinging: an inbound call alerts the agent → type "in";
//   - KindDialing: the agent started an outbound call → type "out";
//   - KindEnded with the call's Result, or KindMissed → type "hangup" with
//     hangupStatus (a missed call is "no answered");
//   - any other kind sends nothing and returns nil.
//
// The number is ev.Phone (a call without one sends nothing); ev.Agent is
// the vendor's agent code, used when codes knows it, else user_id;
// ev.Extra["external_phone"], when set, is the company number called.
//
// Events are best-effort: NotifyCall gives up after 3 seconds and nothing
// retries it; an error is for the log. An *UnknownAgentsError (wrapped) says
// retailCRM took the event but knows some agents by neither code nor id.
// It is safe to call from any goroutine; it blocks on the network.
func (c *CRM) NotifyCall(ctx context.Context, callKey string, ev connectors.Event) error {
	typ, hangup := eventType(ev)
	phone := phoneOf(ev.Phone)
	if typ == "" || phone == "" {
		return nil
	}
	code, userID := c.agent(ev.Agent)
	if code == "" && userID == 0 {
		return connectors.Permanent(fmt.Errorf("retailcrm: call event %s: no agent to show it to: set user_id, or codes with the phone system's agent codes", typ))
	}
	e := callEvent{
		Phone:          phone,
		Type:           typ,
		Site:           c.site,
		HangupStatus:   hangup,
		ExternalPhone:  c.externalPhone(ev.Extra),
		CallExternalID: callKey,
	}
	if code != "" {
		e.Codes = []string{code}
	}
	if userID != 0 {
		e.UserIDs = []int64{userID}
	}
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("retailcrm: call event %s: %w", typ, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.eventWait)
	defer cancel()
	b, err := c.do(ctx, request{method: http.MethodPost, path: pathEvent, form: url.Values{"event": {string(body)}}})
	if err != nil {
		return fmt.Errorf("retailcrm: call event %s: %w", typ, err)
	}
	var ans eventAnswer
	_ = json.Unmarshal(b, &ans) // the event was taken; the lists are extra
	c.logger.Debug("retailcrm: call event", "type", typ, "call", callKey, "phone", ev.Phone)
	if len(ans.NotExistCodes) > 0 || len(ans.NotExistUsers) > 0 {
		return fmt.Errorf("retailcrm: call event %s: %w", typ, &UnknownAgentsError{Codes: ans.NotExistCodes, Users: ans.NotExistUsers})
	}
	return nil
}
