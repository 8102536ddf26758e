package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/ringside/ringside/app/journal"
	"github.com/ringside/ringside/connectors"
)

// cardTimeout bounds one live call-card notification.
const cardTimeout = 5 * time.Second

// callCards tells a CRM that shows live call cards (connectors.CallNotifier)
// when a call rings or is dialed and when it ends, from the calls as the
// engine folded them. Notifications are best effort and in order per call;
// a slow CRM never holds up the engine (updates come off the bus).
type callCards struct {
	crm connectors.CallNotifier
	log *slog.Logger
}

// run consumes updates until the channel closes or ctx is done. It sends
// one notification at a time, so a ring reaches the CRM before its hangup.
func (cc callCards) run(ctx context.Context, updates <-chan Update) {
	for {
		select {
		case <-ctx.Done():
			return
		case u, ok := <-updates:
			if !ok {
				return
			}
			if ev, send := cardEvent(u); send {
				cc.notify(ctx, u.Call.Key, ev)
			}
		}
	}
}

func (cc callCards) notify(ctx context.Context, callKey string, ev connectors.Event) {
	ctx, cancel := context.WithTimeout(ctx, cardTimeout)
	defer cancel()
	if err := cc.crm.NotifyCall(ctx, callKey, ev); err != nil {
		cc.log.Warn("crm call card", "call", callKey, "kind", ev.Kind.String(), "error", err)
	}
}

// cardEvent is the event a call card gets for an update, if any.
func cardEvent(u Update) (connectors.Event, bool) {
	if u.Kind != UpdateCall {
		return connectors.Event{}, false
	}
	c := u.Call
	ev := connectors.Event{
		Direction: c.Direction,
		Source:    c.Source,
		Vendor:    c.Vendor,
		CallID:    c.VendorCallID,
		Phone:     c.Phone,
		Agent:     c.Agent,
		Queue:     c.Queue,
		Result:    c.Result,
		Recording: c.Recording,
		At:        u.At,
		Received:  u.At,
	}
	switch {
	case u.Phase == PhaseRaised && c.State == journal.StateDialing:
		ev.Kind = connectors.KindDialing
	case u.Phase == PhaseRaised && c.State != journal.StateEnded:
		ev.Kind = connectors.KindRinging
	case u.Phase == PhaseEnded && c.Result == connectors.ResultMissed:
		ev.Kind = connectors.KindMissed
	case u.Phase == PhaseEnded:
		ev.Kind = connectors.KindEnded
	default:
		return connectors.Event{}, false
	}
	return ev, true
}
