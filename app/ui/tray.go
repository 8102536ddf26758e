package ui

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"fyne.io/fyne/v2"

	"github.com/ringside/ringside/app"
	"github.com/ringside/ringside/app/journal"
	"github.com/ringside/ringside/assets"
	"github.com/ringside/ringside/connectors"
)

// Tray menu labels that tests and scripts find items by.
const (
	LabelDND         = "Do not disturb"
	LabelDial        = "Dial…"
	LabelHistory     = "Call history"
	LabelSettings    = "Settings"
	LabelRetry       = "Retry CRM logs now"
	LabelConnections = "Connections…"
	LabelAbout       = "About Ringside"
	LabelQuit        = "Quit"
)

// StatusLabel is how the tray names s.
func StatusLabel(s connectors.AgentStatus) string {
	switch s {
	case connectors.StatusFree:
		return "Free"
	case connectors.StatusBusy:
		return "Busy"
	case connectors.StatusDinner:
		return "Dinner"
	case connectors.StatusBreak:
		return "Break"
	}
	return "Status unknown"
}

// tray is the system tray icon and menu. It is rebuilt from its state on
// every change that shows, and handed to the driver only when it differs.
type tray struct {
	u *UI

	status  connectors.AgentStatus
	conns   map[string]app.ConnState
	coreErr error
	outbox  journal.Stats

	menu     *fyne.Menu
	shown    string // signature of the menu last handed to the driver
	iconName string
	tooltip  string
}

func newTray(u *UI) *tray {
	t := &tray{u: u, conns: map[string]app.ConnState{}}
	t.render()
	return t
}

// Tray returns the current tray menu, as the driver shows it.
func (u *UI) Tray() *fyne.Menu { return u.tray.menu }

func (t *tray) setStatus(s connectors.AgentStatus) {
	t.status = s
	t.render()
}

func (t *tray) setConn(c app.ConnState) {
	t.conns[c.Name] = c
	t.render()
}

func (t *tray) setConns(cs []app.ConnState, coreErr error) {
	t.conns = make(map[string]app.ConnState, len(cs))
	for _, c := range cs {
		t.conns[c.Name] = c
	}
	t.coreErr = coreErr
	t.render()
}

func (t *tray) setOutbox(s journal.Stats) {
	t.outbox = s
	t.render()
}

// link is the connection state the icon shows: the worst of all sources.
func (t *tray) link() string {
	if t.coreErr != nil {
		return assets.TrayFailed
	}
	if len(t.conns) == 0 {
		return assets.TrayOffline
	}
	worst := assets.TrayConnected
	for _, c := range t.conns {
		switch c.Status {
		case app.LinkFailed:
			return assets.TrayFailed
		case app.LinkConnecting, app.LinkReconnecting:
			worst = assets.TrayReconnecting
		case app.LinkStopped:
			if worst == assets.TrayConnected {
				worst = assets.TrayOffline
			}
		}
	}
	return worst
}

// mark is the agent's state the icon shows in its top corner.
func (t *tray) mark() string {
	switch {
	case t.u.dnd:
		return assets.MarkDND
	case t.status == connectors.StatusBusy:
		return assets.MarkBusy
	case t.status == connectors.StatusDinner, t.status == connectors.StatusBreak:
		return assets.MarkAway
	}
	return assets.MarkNone
}

// summary is one line about the connections, for the menu and the tooltip.
func (t *tray) summary() string {
	if t.coreErr != nil {
		return "Not running: fix the settings"
	}
	if len(t.conns) == 0 {
		return "No phone connected"
	}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(t.conns)) {
		parts = append(parts, name+" "+t.conns[name].Status.String())
	}
	return strings.Join(parts, ", ")
}

// outboxLabel says how the call logs to the CRM are doing.
func (t *tray) outboxLabel() string {
	o := t.outbox
	if cfg := t.u.core.Config(); cfg != nil && cfg.CRM == "" && o.Pending == 0 && o.Failed == 0 {
		return "CRM logs: no CRM set up"
	}
	switch {
	case o.Pending == 0 && o.Failed == 0:
		return "CRM logs: all sent"
	case o.Failed == 0:
		return fmt.Sprintf("CRM logs: %d pending", o.Pending)
	case o.Pending == 0:
		return fmt.Sprintf("CRM logs: %d failed", o.Failed)
	}
	return fmt.Sprintf("CRM logs: %d pending, %d failed", o.Pending, o.Failed)
}

func (t *tray) render() {
	u := t.u
	item := func(label string, action func()) *fyne.MenuItem { return fyne.NewMenuItem(label, action) }
	disabled := func(label string) *fyne.MenuItem {
		it := fyne.NewMenuItem(label, nil)
		it.Disabled = true
		return it
	}
	items := []*fyne.MenuItem{disabled("Ringside: " + t.summary()), fyne.NewMenuItemSeparator()}
	for _, s := range connectors.Statuses() {
		it := item(StatusLabel(s), func() { u.onSetStatus(s) })
		it.Checked = s == t.status
		items = append(items, it)
	}
	dnd := item(LabelDND, u.onToggleDND)
	dnd.Checked = u.dnd
	retry := item(LabelRetry, u.onRetryAll)
	retry.Disabled = t.outbox.Pending == 0 && t.outbox.Failed == 0
	quit := item(LabelQuit, u.Quit)
	quit.IsQuit = true
	items = append(items,
		fyne.NewMenuItemSeparator(),
		dnd,
		item(LabelDial, func() { u.ShowDial("") }),
		item(LabelHistory, u.ShowHistory),
		item(LabelSettings, u.ShowSettings),
		fyne.NewMenuItemSeparator(),
		disabled(t.outboxLabel()),
		retry,
		item(LabelConnections, u.ShowConnections),
		item(LabelAbout, u.ShowAbout),
		fyne.NewMenuItemSeparator(),
		quit,
	)
	t.menu = fyne.NewMenu("Ringside", items...)

	var sig strings.Builder
	for _, it := range items {
		fmt.Fprintf(&sig, "%s|%t|%t\n", it.Label, it.Checked, it.Disabled)
	}
	if sig.String() != t.shown && u.opt.SetTrayMenu != nil {
		u.opt.SetTrayMenu(t.menu)
	}
	t.shown = sig.String()

	link, mark := t.link(), t.mark()
	if name := "tray-" + link + "-" + mark + ".png"; name != t.iconName {
		t.iconName = name
		if u.opt.SetTrayIcon != nil {
			u.opt.SetTrayIcon(fyne.NewStaticResource(name, assets.TrayMarked(link, mark)))
		}
	}
	tip := "Ringside: " + t.summary() + "; " + strings.ToLower(StatusLabel(t.status))
	if u.dnd {
		tip += ", do not disturb"
	}
	tip += "; " + strings.ToLower(t.outboxLabel())
	if tip != t.tooltip {
		t.tooltip = tip
		if u.opt.SetTrayTooltip != nil {
			u.opt.SetTrayTooltip(tip)
		}
	}
}

// onSetStatus sends the agent's choice to every connector that takes it.
// The tray follows the core's UpdateStatus, not the click.
func (u *UI) onSetStatus(s connectors.AgentStatus) {
	u.background(func(ctx context.Context) error {
		return u.core.SetStatus(ctx, s)
	}, func(err error) {
		if err != nil {
			u.showError("Status not changed everywhere", fmt.Errorf("set status %s: %w", strings.ToLower(StatusLabel(s)), err))
		}
	})
}

func (u *UI) onToggleDND() {
	u.dnd = !u.dnd
	u.tray.render()
}

// onRetryAll puts every refused call log back in the outbox.
func (u *UI) onRetryAll() {
	var n int
	u.background(func(ctx context.Context) error {
		var err error
		n, err = u.core.RetryDeliveries(ctx, "")
		return err
	}, func(err error) {
		if err != nil {
			u.showError("Retry failed", err)
			return
		}
		u.log.Info("call logs requeued", "count", n)
		u.Refresh()
	})
}
