package accolades

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/ringside/ringside/connectors"
)

// The phone number of a call notification may come in any of these fields.
var notificationNumberFields = [...]string{"phoneNumber", "number", "callerId", "callerNumber", "phone"}

// ParseNotification reads a call notification, the form Accolades POSTs to
// a user's webhook:
//
//	apiName=callNotification&event=answer&callId=1608743891.1344&userId=321&userType=agent&direction=in&phoneNumber=0211234567
//
// Its fields become an Event:
//   - event answer is KindAnswered; confirmHangup and hangup are KindEnded
//     (Extra["event"] keeps which);
//   - callId (required) is Event.CallID, the same id as the socket's
//     uniqueId, with Vendor "accolades";
//   - userId is Event.Agent, userType goes to Extra["userType"];
//   - direction, or callDirection: in/inbound/incoming or
//     out/outbound/outgoing (anything else is DirectionUnknown);
//   - the number, when given, from the first of phoneNumber, number,
//     callerId, callerNumber, phone, normalized with phones (which may be
//     nil: the number is then kept raw).
//
// apiName, when present, must be callNotification. At and Received are left
// for the caller (the engine dates the event when it is received). Errors
// name the field but never quote a number.
func ParseNotification(form url.Values, phones *connectors.PhoneParser) (connectors.Event, error) {
	get := func(k string) string { return strings.TrimSpace(form.Get(k)) }
	if api := get("apiName"); api != "" && api != "callNotification" {
		return connectors.Event{}, fmt.Errorf("apiName %q is not callNotification", cleanText(api, 40))
	}
	ev := connectors.Event{Vendor: Vendor}
	event := get("event")
	switch event {
	case "answer":
		ev.Kind = connectors.KindAnswered
	case "confirmHangup", "hangup":
		ev.Kind = connectors.KindEnded
	case "":
		return connectors.Event{}, errors.New("event is missing: want answer, confirmHangup or hangup")
	default:
		return connectors.Event{}, fmt.Errorf("event %q is not answer, confirmHangup or hangup", cleanText(event, 40))
	}
	raw := get("callId")
	if raw == "" {
		return connectors.Event{}, errors.New("callId is missing")
	}
	if ev.CallID = cleanID(raw); ev.CallID == "" {
		return connectors.Event{}, errors.New("callId is not a call id (number.number)")
	}
	ev.Agent = clip(get("userId"), 64)
	ev.Extra = map[string]string{"event": event}
	if t := get("userType"); t != "" {
		ev.Extra["userType"] = clip(t, 64)
	}
	dir := get("direction")
	if dir == "" {
		dir = get("callDirection")
	}
	ev.Direction = parseDirection(dir)
	for _, k := range notificationNumberFields {
		n := get(k)
		if n == "" {
			continue
		}
		if len(n) > 64 {
			return connectors.Event{}, fmt.Errorf("%s is too long for a phone number", k)
		}
		if phones != nil {
			ev.Phone = phones.Parse(n)
		} else {
			ev.Phone = connectors.Phone{Raw: n}
		}
		break
	}
	return ev, nil
}

func parseDirection(s string) connectors.Direction {
	switch strings.ToLower(s) {
	case "in", "inbound", "incoming":
		return connectors.DirectionInbound
	case "out", "outbound", "outgoing":
		return connectors.DirectionOutbound
	}
	return connectors.DirectionUnknown
}

// Routes makes the connector a connectors.Router: the call-notification
// webhook is POST /<instance>/notify on the webhook listener, a form body
// (application/x-www-form-urlencoded) authenticated by the listener's
// token. Accolades lets the user type the webhook's address, so the token
// goes in it: http(s)://<listener>/<instance>/notify?token=<webhook.token>.
// The listener answers 200 once the event is with the engine, 400 with the
// reason for a form ParseNotification refuses, and refuses the rest itself
// (401, 405, 413, 415 …).
func (c *Connector) Routes() []connectors.Route {
	return []connectors.Route{{
		Path:    "notify",
		Methods: []string{http.MethodPost},
		Auth:    connectors.TokenAuth(),
		Accept:  []string{connectors.MediaForm},
		Parse: func(req connectors.CallbackRequest) (connectors.Callback, error) {
			ev, err := ParseNotification(req.Form, c.phones)
			if err != nil {
				return connectors.Callback{}, err
			}
			return connectors.Callback{Events: []connectors.Event{ev}}, nil
		},
	}}
}
