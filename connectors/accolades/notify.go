package accolades

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/ringside/ringside/connectors"
)

// MaxNotification is the largest call-notification body accepted, in bytes.
const MaxNotification = 64 << 10

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
// for the caller. Errors name the field but never quote a number.
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

// NotificationHandler serves the call-notification webhook: it accepts only
// POSTed application/x-www-form-urlencoded bodies of at most 64 KiB, hands
// the event to emit (with At and Received set to now) and answers 204 No
// Content. Bad input is answered with a JSON {"error":"…"}: 405 for another
// method, 415 for another content type, 413 for a larger body, 400 for a
// form ParseNotification refuses. emit may block; the request waits.
func (c *Connector) NotificationHandler(emit func(connectors.Event)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			httpError(w, http.StatusMethodNotAllowed, "only POST is accepted")
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
			httpError(w, http.StatusUnsupportedMediaType, "want a form (Content-Type: application/x-www-form-urlencoded)")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxNotification)
		if err := r.ParseForm(); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d KiB", MaxNotification>>10))
				return
			}
			httpError(w, http.StatusBadRequest, "the body is not a form")
			return
		}
		ev, err := ParseNotification(r.PostForm, c.phones)
		if err != nil {
			c.logger.Warn("Accolades: call notification refused", "error", err)
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		now := c.clock.Now()
		ev.At, ev.Received = now, now
		c.logger.Debug("Accolades: call notification", "event", ev)
		emit(ev)
		w.WriteHeader(http.StatusNoContent)
	})
}

func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error string `json:"error"`
	}{msg})
}
