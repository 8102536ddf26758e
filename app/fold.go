package app

import (
	"strconv"
	"time"

	"github.com/ringside/ringside/app/journal"
	"github.com/ringside/ringside/connectors"
)

// apply folds one event into a call: the call state machine.
//
//	new      --ringing--> ringing   --answered--> answered --ended--> ended
//	new      --dialing--> dialing   --answered--> answered
//	ringing  --ended/missed--> ended (missed)
//	dialing  --ended--> ended (no answer, or the vendor's result)
//
// An event that moves the call nowhere (a repeat, a late ringing after the
// answer, anything after the end) only fills in what the call lacks. apply
// reports whether the call changed in a way worth saving.
func apply(c *journal.Call, ev connectors.Event) bool {
	at := ev.At
	if at.IsZero() {
		at = ev.Received
	}
	changed := fill(c, ev)
	switch ev.Kind {
	case connectors.KindRinging, connectors.KindDialing:
		if c.State != journal.StateNew {
			return changed
		}
		c.State = journal.StateRinging
		if ev.Kind == connectors.KindDialing {
			c.State = journal.StateDialing
		}
		if c.Direction == connectors.DirectionUnknown {
			c.Direction = connectors.DirectionInbound
			if ev.Kind == connectors.KindDialing {
				c.Direction = connectors.DirectionOutbound
			}
		}
		c.StartedAt = at
		return true
	case connectors.KindAnswered:
		if c.State == journal.StateAnswered || c.State == journal.StateEnded {
			return changed
		}
		if c.State == journal.StateNew {
			c.StartedAt = at
		}
		c.State = journal.StateAnswered
		c.AnsweredAt = at
		return true
	case connectors.KindEnded, connectors.KindMissed:
		if c.State == journal.StateEnded {
			if c.Result == connectors.ResultUnknown && ev.Result != connectors.ResultUnknown {
				c.Result = ev.Result
				return true
			}
			return changed
		}
		if c.State == journal.StateNew {
			c.StartedAt = at
		}
		c.Result = endResult(c, ev)
		c.State = journal.StateEnded
		c.EndedAt = at
		return true
	}
	return changed
}

// endResult decides how a call ended: the vendor's word when it gave one,
// else what the state says.
func endResult(c *journal.Call, ev connectors.Event) connectors.Result {
	if ev.Kind == connectors.KindMissed {
		return connectors.ResultMissed
	}
	if ev.Result != connectors.ResultUnknown {
		return ev.Result
	}
	switch c.State {
	case journal.StateAnswered:
		return connectors.ResultAnswered
	case journal.StateRinging:
		return connectors.ResultMissed
	case journal.StateDialing:
		return connectors.ResultNoAnswer
	}
	return connectors.ResultUnknown
}

// fill copies what the call does not know yet from the event.
func fill(c *journal.Call, ev connectors.Event) bool {
	changed := false
	set := func(dst *string, v string) {
		if *dst == "" && v != "" {
			*dst = v
			changed = true
		}
	}
	if c.Phone.IsZero() && !ev.Phone.IsZero() {
		c.Phone = ev.Phone
		changed = true
	}
	if c.Direction == connectors.DirectionUnknown && ev.Direction != connectors.DirectionUnknown {
		c.Direction = ev.Direction
		changed = true
	}
	if ev.Queue && !c.Queue {
		c.Queue = true
		changed = true
	}
	set(&c.Source, ev.Source)
	set(&c.Vendor, ev.Vendor)
	if c.Vendor == ev.Vendor {
		set(&c.VendorCallID, ev.CallID)
	}
	set(&c.Agent, ev.Agent)
	set(&c.Recording, ev.Recording)
	return changed
}

// callLog is the CRM's view of a finished call, revision rev.
func callLog(c journal.Call, rev int) connectors.CallLog {
	key := c.Key
	if rev > 1 {
		key = c.Key + "-r" + strconv.Itoa(rev)
	}
	var talk, waiting time.Duration
	if !c.AnsweredAt.IsZero() {
		waiting = c.AnsweredAt.Sub(c.StartedAt)
		if !c.EndedAt.IsZero() {
			talk = c.EndedAt.Sub(c.AnsweredAt)
		}
	} else if !c.EndedAt.IsZero() {
		waiting = c.EndedAt.Sub(c.StartedAt)
	}
	return connectors.CallLog{
		Key:          key,
		CallKey:      c.Key,
		Revision:     rev,
		Direction:    c.Direction,
		Phone:        c.Phone,
		Agent:        c.Agent,
		Source:       c.Source,
		Vendor:       c.Vendor,
		VendorCallID: c.VendorCallID,
		Queue:        c.Queue,
		Result:       c.Result,
		StartedAt:    c.StartedAt,
		AnsweredAt:   c.AnsweredAt,
		EndedAt:      c.EndedAt,
		Talk:         max(talk, 0),
		Waiting:      max(waiting, 0),
		Note:         c.Note,
		Disposition:  c.Disposition,
		Recording:    c.Recording,
		ContactID:    c.Contact.ID,
	}
}
