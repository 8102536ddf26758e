package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/ringside/ringside/app/journal"
	"github.com/ringside/ringside/connectors"
)

// Notifier shows a desktop notification.
type Notifier interface {
	Notify(ctx context.Context, title, body string) error
}

// Announcer turns updates into desktop notifications and log lines: the
// popup of headless mode. A call is announced when it is raised; when the
// CRM then names the caller, a second notification says who it is.
type Announcer struct {
	notifier Notifier // nil: log lines only
	log      *slog.Logger

	// Owned by Run.
	links     map[string]LinkStatus // last logged state per source
	notifyErr string                // last notification failure logged
}

// NewAnnouncer makes an announcer; notifier may be nil.
func NewAnnouncer(n Notifier, log *slog.Logger) *Announcer {
	return &Announcer{notifier: n, log: log, links: make(map[string]LinkStatus)}
}

// Run consumes updates until the channel closes or ctx is done.
func (a *Announcer) Run(ctx context.Context, updates <-chan Update) {
	for {
		select {
		case <-ctx.Done():
			return
		case u, ok := <-updates:
			if !ok {
				return
			}
			a.on(ctx, u)
		}
	}
}

func (a *Announcer) on(ctx context.Context, u Update) {
	switch u.Kind {
	case UpdateCall:
		c := u.Call
		a.log.Info("call", "phase", u.Phase.String(), "call", c.Key, "direction", c.Direction.String(),
			"phone", c.Phone, "state", c.State.String(), "result", c.Result.String(), "contact_known", c.Contact.Known())
		switch {
		case u.Phase == PhaseRaised:
			a.notify(ctx, PopupTitle(c), PopupBody(c))
		case u.Phase == PhaseFilled && c.Contact.Known():
			a.notify(ctx, PopupTitle(c), PopupBody(c))
		}
	case UpdateStatus:
		a.log.Info("agent status", "status", u.Status.String())
	case UpdateConnection:
		if last, ok := a.links[u.Conn.Name]; ok && last == u.Conn.Status {
			return // only diagnostics changed
		}
		a.links[u.Conn.Name] = u.Conn.Status
		a.log.Info("connection", "connector", u.Conn.Name, "status", u.Conn.Status.String(), "reason", u.Conn.Reason)
	case UpdateOutbox:
		a.log.Debug("outbox", "pending", u.Outbox.Pending, "failed", u.Outbox.Failed)
	}
}

func (a *Announcer) notify(ctx context.Context, title, body string) {
	if a.notifier == nil {
		return
	}
	err := a.notifier.Notify(ctx, title, body)
	switch {
	case err == nil:
		a.notifyErr = ""
	case err.Error() != a.notifyErr: // say it once, not at every call
		a.notifyErr = err.Error()
		a.log.Warn("desktop notification failed", "error", err)
	}
}

// PopupTitle is the first line of a call's popup: who, or the number.
func PopupTitle(c journal.Call) string {
	verb := "Incoming call"
	if c.Direction == connectors.DirectionOutbound {
		verb = "Outgoing call"
	}
	if c.Queue {
		verb += " (queue)"
	}
	if c.Contact.Name != "" {
		return fmt.Sprintf("%s: %s", verb, c.Contact.Name)
	}
	return fmt.Sprintf("%s: %s", verb, c.Phone.String())
}

// PopupBody is the rest of a call's popup text.
func PopupBody(c journal.Call) string {
	var lines []string
	if c.Contact.Name != "" {
		lines = append(lines, c.Phone.String())
	}
	if c.Contact.Company != "" {
		lines = append(lines, c.Contact.Company)
	}
	if c.Contact.Manager != "" {
		lines = append(lines, "Manager: "+c.Contact.Manager)
	}
	if c.Source != "" {
		lines = append(lines, "via "+c.Source)
	}
	return strings.Join(lines, "\n")
}
