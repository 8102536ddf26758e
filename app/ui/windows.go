package ui

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/ringside/ringside/app"
	"github.com/ringside/ringside/assets"
)

// newWindow makes a window of the app with Ringside's icon.
func (u *UI) newWindow(title string) fyne.Window {
	w := u.fyne.NewWindow(title)
	w.SetIcon(fyne.NewStaticResource("ringside.png", assets.Icon()))
	return w
}

// showError tells the agent that something they asked for did not happen,
// in a small window of its own (the tray has no window to hang a dialog on).
func (u *UI) showError(title string, err error) {
	u.log.Warn(strings.ToLower(title), "error", err)
	w := u.newWindow("Ringside: " + title)
	msg := widget.NewLabel(err.Error())
	msg.Wrapping = fyne.TextWrapWord
	ok := widget.NewButton("OK", w.Close)
	ok.Importance = widget.HighImportance
	w.SetContent(container.NewBorder(nil, container.NewHBox(ok), nil, nil, msg))
	w.Resize(fyne.NewSize(420, 160))
	showWindow(w)
}

// openURL opens a CRM link in the browser; only web links are followed.
func (u *UI) openURL(raw string) {
	p, err := url.Parse(raw)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") {
		u.showError("Cannot open link", fmt.Errorf("%q is not a web address", raw))
		return
	}
	if err := u.fyne.OpenURL(p); err != nil {
		u.showError("Cannot open link", err)
	}
}

// ShowAbout shows the version and where things are.
func (u *UI) ShowAbout() {
	if u.about != nil {
		showWindow(u.about)
		return
	}
	w := u.newWindow("About Ringside")
	cfg := u.core.Config()
	lines := []string{
		"Ringside " + u.opt.Version,
		"Caller popups, click-to-dial and a call journal for call-center agents.",
	}
	if cfg != nil {
		lines = append(lines, "", "Settings: "+cfg.Path, "Data: "+cfg.Data.Dir)
	}
	text := widget.NewLabel(strings.Join(lines, "\n"))
	text.Wrapping = fyne.TextWrapWord
	w.SetContent(container.NewBorder(nil, container.NewHBox(widget.NewButton("Close", w.Close)), nil, nil, text))
	w.SetOnClosed(func() { u.about = nil })
	w.Resize(fyne.NewSize(460, 200))
	u.about = w
	showWindow(w)
}

// diagWindow shows every connection: state, why it is not connected, and
// what the vendor told about itself.
type diagWindow struct {
	u    *UI
	w    fyne.Window
	text *widget.Label
}

// ShowConnections opens the connection diagnostics.
func (u *UI) ShowConnections() {
	if u.diag != nil {
		u.diag.refresh()
		showWindow(u.diag.w)
		return
	}
	d := &diagWindow{u: u, w: u.newWindow("Ringside connections"), text: widget.NewLabel("")}
	d.text.Wrapping = fyne.TextWrapWord
	d.text.Selectable = true
	d.w.SetContent(container.NewBorder(nil,
		container.NewHBox(widget.NewButton("Refresh", d.refresh), widget.NewButton("Close", d.w.Close)),
		nil, nil, container.NewVScroll(d.text)))
	d.w.SetOnClosed(func() { u.diag = nil })
	d.w.Resize(fyne.NewSize(520, 360))
	u.diag = d
	d.refresh()
	showWindow(d.w)
}

func (d *diagWindow) refresh() {
	d.text.SetText(DescribeConnections(d.u.core.States(), d.u.core.Err(), time.Now()))
}

// ConnectionsText returns what the diagnostics window says, for tests.
func (u *UI) ConnectionsText() string {
	if u.diag == nil {
		return ""
	}
	return u.diag.text.Text
}

// DescribeConnections puts connection states in words.
func DescribeConnections(states []app.ConnState, coreErr error, now time.Time) string {
	var b strings.Builder
	if coreErr != nil {
		fmt.Fprintf(&b, "Ringside is not running:\n%s\n\nOpen Settings to fix it.\n", coreErr)
		return b.String()
	}
	if len(states) == 0 {
		return "No phone system is configured: add a connector in Settings.\n"
	}
	for i, s := range states {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s: %s", s.Name, linkWords(s, now))
		if s.Detail != "" {
			fmt.Fprintf(&b, " (%s)", s.Detail)
		}
		b.WriteString("\n")
		if s.Reason != "" {
			fmt.Fprintf(&b, "  why: %s\n", s.Reason)
		}
		if s.Attempts > 0 {
			fmt.Fprintf(&b, "  failed attempts since the last success: %d\n", s.Attempts)
		}
		for _, k := range slices.Sorted(maps.Keys(s.Info)) {
			fmt.Fprintf(&b, "  %s: %s\n", k, s.Info[k])
		}
	}
	return b.String()
}

func linkWords(s app.ConnState, now time.Time) string {
	since := ""
	if !s.Since.IsZero() {
		since = " since " + s.Since.Local().Format("15:04:05")
	}
	switch s.Status {
	case app.LinkConnected:
		return "connected" + since
	case app.LinkConnecting:
		return "connecting"
	case app.LinkReconnecting:
		if !s.RetryAt.IsZero() {
			return fmt.Sprintf("connection lost; trying again in %s", max(s.RetryAt.Sub(now), 0).Round(time.Second))
		}
		return "connection lost; trying again"
	case app.LinkFailed:
		return "stopped: it will not retry until the settings change"
	case app.LinkStopped:
		return "stopped"
	}
	return s.Status.String()
}

// errWords is err for a person: the first line, or a default.
func errWords(err error, ok string) string {
	if err == nil {
		return ok
	}
	if errors.Is(err, app.ErrNoDialer) {
		return "No connector can dial. Set one up in Settings (a phone system with dialing, e.g. Accolades with account and device_id)."
	}
	return err.Error()
}
