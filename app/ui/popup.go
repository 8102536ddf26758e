package ui

import (
	"context"
	"fmt"
	"slices"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/ringside/ringside/app"
	"github.com/ringside/ringside/app/journal"
	"github.com/ringside/ringside/connectors"
)

// PopupTitle is the title of the caller popup window, which scripts and the
// ring→popup measurement look for.
const PopupTitle = "Ringside call"

// Dispositions are offered in the popup; the agent may type another.
func Dispositions() []string {
	return []string{"resolved", "callback", "sale", "complaint", "wrong number", "voicemail"}
}

// maxCards is how many calls the popup stacks; beyond it the oldest ended
// call makes room.
const maxCards = 5

// popups is the caller popup: one borderless window near the tray corner
// holding a card per call, newest at the bottom. The window is made once and
// hidden when the last card goes, so the next call shows without creating
// a window.
type popups struct {
	u      *UI
	win    fyne.Window
	stack  *fyne.Container
	cards  []*callCard
	shown  bool
	placed fyne.Size // content size the window was last placed for
}

// warm makes the popup window ahead of the first call and hides it again:
// making a window (its GL context, the painter, the first fonts) takes
// about a third of a second, which would otherwise delay the first popup
// of the session. The window is mapped for a few milliseconds, empty and
// tiny.
func (p *popups) warm() {
	if p.win != nil {
		return
	}
	p.win = p.newWindow()
	p.win.SetContent(container.NewWithoutLayout())
	p.win.SetPadded(false)
	p.win.Resize(fyne.NewSize(1, 1))
	p.win.Show()
	p.win.Hide()
	p.win.SetPadded(true)
	p.win.SetContent(p.stack)
}

func newPopups(u *UI) *popups {
	return &popups{u: u, stack: container.NewVBox()}
}

// update shows, fills or changes the card of a call.
func (p *popups) update(upd app.Update) {
	c := upd.Call
	card := p.card(c.Key)
	if card == nil {
		if upd.Phase == app.PhaseEnded {
			return // never shown (e.g. DND was on when it rang): nothing to end
		}
		card = newCallCard(p, c)
		p.cards = append(p.cards, card)
		p.trim()
		p.stack.Add(card.box)
	}
	card.set(c, upd.Phase)
	p.show()
}

// Card returns the card of a call, for tests.
func (u *UI) Card(callKey string) fyne.CanvasObject {
	if c := u.popups.card(callKey); c != nil {
		return c.box
	}
	return nil
}

// PopupWindow returns the popup window, nil before the first call.
func (u *UI) PopupWindow() fyne.Window { return u.popups.win }

func (p *popups) card(key string) *callCard {
	for _, c := range p.cards {
		if c.call.Key == key {
			return c
		}
	}
	return nil
}

// trim drops the oldest cards beyond maxCards, ended calls first.
func (p *popups) trim() {
	for len(p.cards) > maxCards {
		victim := p.cards[0]
		for _, c := range p.cards {
			if c.call.State == journal.StateEnded && !c.touched {
				victim = c
				break
			}
		}
		p.remove(victim)
	}
}

func (p *popups) remove(c *callCard) {
	i := slices.Index(p.cards, c)
	if i < 0 {
		return
	}
	c.stopLinger()
	p.cards = slices.Delete(p.cards, i, i+1)
	p.stack.Remove(c.box)
	p.show()
}

func (p *popups) closeAll() {
	for _, c := range slices.Clone(p.cards) {
		p.remove(c)
	}
}

// show makes the window match the cards: shown near the tray while there
// are any, hidden when there are none.
func (p *popups) show() {
	if len(p.cards) == 0 {
		if p.win != nil && p.shown {
			p.win.Hide()
			p.shown = false
		}
		return
	}
	if p.win == nil {
		p.win = p.newWindow()
	}
	size := p.win.Content().MinSize()
	if p.shown && size == p.placed {
		return
	}
	p.win.Resize(size)
	if !p.shown {
		p.win.Show() // no RequestFocus: the agent keeps typing where they were
		p.shown = true
	}
	if p.u.opt.Placer != nil {
		p.u.opt.Placer.Place(p.win, size)
	}
	p.placed = size
}

func (p *popups) newWindow() fyne.Window {
	var w fyne.Window
	if drv, ok := p.u.fyne.Driver().(desktop.Driver); ok {
		w = drv.CreateSplashWindow() // no decorations, like a notification
		w.SetTitle(PopupTitle)
	} else {
		w = p.u.fyne.NewWindow(PopupTitle)
	}
	w.SetPadded(true)
	w.SetContent(p.stack)
	w.SetCloseIntercept(func() { p.closeAll() })
	return w
}

// callCard is one call in the popup.
type callCard struct {
	p       *popups
	call    journal.Call
	touched bool // the agent typed or clicked: never dismissed for them
	filled  bool // the lookup has answered
	linger  *time.Timer
	gen     int // bumps on every change, so a stale linger timer does nothing

	heading     *widget.Label
	number      *widget.Label
	who         *widget.Label
	company     *widget.Label
	manager     *widget.Label
	state       *widget.Label
	open        *widget.Button
	create      *widget.Button
	note        *widget.Entry
	disposition *widget.SelectEntry
	save        *widget.Button
	saved       *widget.Label
	dismiss     *widget.Button
	box         *fyne.Container
}

func newCallCard(p *popups, c journal.Call) *callCard {
	k := &callCard{p: p, call: c}
	k.heading = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	k.number = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	k.number.SizeName = theme.SizeNameSubHeadingText
	k.number.Selectable = true
	k.who = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	k.company = widget.NewLabel("")
	k.manager = widget.NewLabel("")
	k.state = widget.NewLabel("")
	k.open = widget.NewButtonWithIcon("Open in CRM", theme.SearchIcon(), k.onOpen)
	k.create = widget.NewButtonWithIcon("Create contact", theme.ContentAddIcon(), k.onCreate)
	k.note = widget.NewEntry()
	k.note.SetPlaceHolder("Note for the CRM")
	k.note.OnChanged = func(string) { k.touch() }
	k.disposition = widget.NewSelectEntry(Dispositions())
	k.disposition.SetPlaceHolder("Disposition")
	k.disposition.OnChanged = func(string) { k.touch() }
	k.save = widget.NewButtonWithIcon("Save", theme.DocumentSaveIcon(), k.onSave)
	k.save.Importance = widget.HighImportance
	k.saved = widget.NewLabel("")
	k.dismiss = widget.NewButtonWithIcon("", theme.CancelIcon(), k.onDismiss)
	k.dismiss.Importance = widget.LowImportance

	width := canvas.NewRectangle(nil)
	width.SetMinSize(fyne.NewSize(340, 0))
	k.box = container.NewVBox(
		container.NewStack(width, container.NewBorder(nil, nil, nil, k.dismiss, k.heading)),
		k.number,
		k.who,
		k.company,
		k.manager,
		container.NewHBox(k.open, k.create),
		k.note,
		container.NewBorder(nil, nil, nil, k.save, k.disposition),
		container.NewHBox(k.state, layout.NewSpacer(), k.saved),
		widget.NewSeparator(),
	)
	return k
}

// set shows the call as of phase.
func (k *callCard) set(c journal.Call, phase app.Phase) {
	k.call = c
	k.gen++
	verb := "Incoming call"
	if c.Direction == connectors.DirectionOutbound {
		verb = "Outgoing call"
	}
	if c.Queue {
		verb += " · queue"
	}
	if c.Source != "" {
		verb += " · via " + c.Source
	}
	k.heading.SetText(verb)
	k.number.SetText(c.Phone.String())

	ct := c.Contact
	if phase == app.PhaseFilled || ct.Known() {
		k.filled = true
	}
	switch {
	case ct.Known():
		k.who.SetText(firstNonEmpty(ct.Name, ct.Company))
		k.company.SetText(ct.Company)
		if ct.Name == "" {
			k.company.SetText("")
		}
		k.manager.SetText(prefixed("Manager: ", ct.Manager))
	case !k.filled:
		k.who.SetText("Looking up the caller…")
		k.company.SetText("")
		k.manager.SetText("")
	default:
		k.who.SetText("Unknown caller")
		k.company.SetText("")
		k.manager.SetText("")
	}
	showIf(k.company, k.company.Text != "")
	showIf(k.manager, k.manager.Text != "")
	showIf(k.open, ct.URL != "")
	showIf(k.create, ct.NewURL != "" && !ct.Known())
	if k.note.Text == "" && c.Note != "" {
		k.note.SetText(c.Note)
	}
	if k.disposition.Text == "" && c.Disposition != "" {
		k.disposition.SetText(c.Disposition)
	}
	k.state.SetText(callState(c))

	if c.State == journal.StateEnded && !k.touched {
		k.startLinger()
	}
}

// callState is a few words on where the call is.
func callState(c journal.Call) string {
	switch c.State {
	case journal.StateRinging:
		return "Ringing"
	case journal.StateDialing:
		return "Dialing"
	case journal.StateAnswered:
		return "Talking since " + c.AnsweredAt.Local().Format("15:04")
	case journal.StateEnded:
		switch c.Result {
		case connectors.ResultMissed:
			return "Missed"
		case connectors.ResultAnswered:
			if !c.AnsweredAt.IsZero() && !c.EndedAt.IsZero() {
				return "Ended after " + shortDuration(c.EndedAt.Sub(c.AnsweredAt))
			}
			return "Ended"
		case connectors.ResultUnknown:
			return "Ended"
		}
		return "Ended: " + resultWords(c.Result)
	}
	return ""
}

func (k *callCard) touch() {
	k.touched = true
	k.stopLinger()
}

// startLinger dismisses the card of an ended call the agent left alone.
func (k *callCard) startLinger() {
	k.stopLinger()
	gen := k.gen
	k.linger = time.AfterFunc(k.p.u.opt.Linger, func() { // runs once, on its own goroutine
		fyne.Do(func() { k.expire(gen) })
	})
}

// expire dismisses the card when its linger ran out and nothing changed
// since it started.
func (k *callCard) expire(gen int) {
	if k.gen == gen && !k.touched {
		k.p.remove(k)
	}
}

func (k *callCard) stopLinger() {
	if k.linger != nil {
		k.linger.Stop()
		k.linger = nil
	}
}

func (k *callCard) onOpen()   { k.touch(); k.p.u.openURL(k.call.Contact.URL) }
func (k *callCard) onCreate() { k.touch(); k.p.u.openURL(k.call.Contact.NewURL) }

// onSave sends the note and disposition to the journal and, with the call's
// log, to the CRM.
func (k *callCard) onSave() {
	k.touch()
	key, note, disp := k.call.Key, k.note.Text, k.disposition.Text
	k.save.Disable()
	k.saved.SetText("Saving…")
	k.p.u.background(func(ctx context.Context) error {
		return k.p.u.core.Annotate(ctx, key, note, disp)
	}, func(err error) {
		k.save.Enable()
		if err != nil {
			k.saved.SetText("Not saved")
			k.p.u.showError("Note not saved", err)
			return
		}
		k.saved.SetText("Saved")
	})
}

func (k *callCard) onDismiss() { k.p.remove(k) }

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

func showIf(o fyne.CanvasObject, visible bool) {
	if visible {
		o.Show()
	} else {
		o.Hide()
	}
}

// shortDuration is 0:42 or 1:02:03.
func shortDuration(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}

// resultWords is a call result for people.
func resultWords(r connectors.Result) string {
	switch r {
	case connectors.ResultAnswered:
		return "answered"
	case connectors.ResultMissed:
		return "missed"
	case connectors.ResultNoAnswer:
		return "no answer"
	case connectors.ResultBusy:
		return "busy"
	case connectors.ResultFailed:
		return "failed"
	case connectors.ResultCancelled:
		return "cancelled"
	}
	return "unknown"
}
