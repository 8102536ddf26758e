package ui

import (
	"context"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/ringside/ringside/app/journal"
)

// DialTitle is the dial box's window title.
const DialTitle = "Ringside: dial"

// recentLimit is how many recent calls the dial box looks through.
const recentLimit = 50

// dialBox is a number entry, the recent numbers, and a Dial button.
type dialBox struct {
	u      *UI
	w      fyne.Window
	number *widget.Entry
	dial   *widget.Button
	msg    *widget.Label
	list   *widget.List
	recent []recentNumber
}

// recentNumber is a number from the journal with who it was.
type recentNumber struct {
	number string // as dialed: E.164 when known
	label  string // formatted number and name
}

// ShowDial opens the dial box, with number filled in when not "".
func (u *UI) ShowDial(number string) {
	if u.dial == nil {
		u.dial = newDialBox(u)
	}
	if number != "" {
		u.dial.number.SetText(number)
	}
	u.dial.loadRecent()
	showWindow(u.dial.w)
	u.dial.w.Canvas().Focus(u.dial.number)
}

// DialNow places a call asked for from outside (a tel: link, `ringside
// dial`); on failure the dial box opens with the number and the reason.
func (u *UI) DialNow(number string) {
	u.background(func(ctx context.Context) error {
		return u.core.Dial(ctx, number)
	}, func(err error) {
		if err != nil {
			u.ShowDial(number)
			u.dial.msg.SetText(errWords(err, ""))
		}
	})
}

func newDialBox(u *UI) *dialBox {
	d := &dialBox{u: u, w: u.newWindow(DialTitle)}
	d.number = widget.NewEntry()
	d.number.SetPlaceHolder("Number, e.g. +40 21 123 4567")
	d.number.OnSubmitted = func(string) { d.onDial() }
	d.dial = widget.NewButtonWithIcon("Dial", theme.MailForwardIcon(), d.onDial)
	d.dial.Importance = widget.HighImportance
	d.msg = widget.NewLabel("")
	d.msg.Wrapping = fyne.TextWrapWord
	d.list = widget.NewList(
		func() int { return len(d.recent) },
		func() fyne.CanvasObject { return widget.NewLabel("") },
		func(i widget.ListItemID, o fyne.CanvasObject) { o.(*widget.Label).SetText(d.recent[i].label) },
	)
	d.list.OnSelected = func(i widget.ListItemID) {
		d.number.SetText(d.recent[i].number)
		d.list.UnselectAll()
	}
	top := container.NewVBox(
		container.NewBorder(nil, nil, nil, d.dial, d.number),
		d.msg,
		widget.NewLabelWithStyle("Recent numbers", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
	)
	d.w.SetContent(container.NewBorder(top, nil, nil, nil, d.list))
	d.w.Resize(fyne.NewSize(380, 420))
	d.w.SetOnClosed(func() { u.dial = nil })
	return d
}

// onDial places the call through the core's dialer.
func (d *dialBox) onDial() {
	number := strings.TrimSpace(d.number.Text)
	if number == "" {
		d.msg.SetText("Type a number first.")
		return
	}
	d.dial.Disable()
	d.msg.SetText("Dialing " + number + "…")
	d.u.background(func(ctx context.Context) error {
		return d.u.core.Dial(ctx, number)
	}, func(err error) {
		d.dial.Enable()
		d.msg.SetText(errWords(err, "Dialing "+number+": your phone rings first, then the other side."))
	})
}

// loadRecent fills the list from the journal, newest first, one row per
// number.
func (d *dialBox) loadRecent() {
	var calls []journal.Call
	d.u.background(func(ctx context.Context) error {
		var err error
		calls, err = d.u.core.Search(ctx, journal.Query{Limit: recentLimit})
		return err
	}, func(err error) {
		if err != nil {
			d.msg.SetText("Recent numbers unavailable: " + err.Error())
			return
		}
		d.recent = recentNumbers(calls)
		d.list.Refresh()
	})
}

func recentNumbers(calls []journal.Call) []recentNumber {
	seen := map[string]bool{}
	var out []recentNumber
	for _, c := range calls {
		key := c.Phone.Key()
		if key == "" || seen[key] {
			continue
		}
		seen[key] = true
		n := c.Phone.E164
		if n == "" {
			n = c.Phone.Raw
		}
		label := c.Phone.String()
		if who := firstNonEmpty(c.Contact.Name, c.Contact.Company); who != "" {
			label += "  " + who
		}
		out = append(out, recentNumber{number: n, label: label})
	}
	return out
}
