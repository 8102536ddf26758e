package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/ringside/ringside/app/journal"
	"github.com/ringside/ringside/connectors"
)

// HistoryTitle is the history window's title.
const HistoryTitle = "Ringside: call history"

// History filters.
const (
	FilterAll    = "All calls"
	FilterMissed = "Missed"
	FilterFailed = "Not in the CRM"
)

// historyWindow searches the journal: by number, name and date, missed
// calls and calls the CRM refused on their own tab, each call with its
// delivery state and a retry.
type historyWindow struct {
	u       *UI
	w       fyne.Window
	number  *widget.Entry
	name    *widget.Entry
	from    *widget.Entry
	to      *widget.Entry
	filter  *widget.RadioGroup
	table   *widget.Table
	count   *widget.Label
	detail  *widget.Label
	retry   *widget.Button
	dial    *widget.Button
	calls   []journal.Call
	current int // selected row, -1 for none
	seq     int // search generation: answers to older searches are dropped
}

var historyColumns = [...]struct {
	title string
	width float32
}{
	{"When", 130}, {"", 34}, {"Number", 150}, {"Name", 170}, {"Result", 110}, {"CRM", 90},
}

// ShowHistory opens the call history.
func (u *UI) ShowHistory() {
	if u.history == nil {
		u.history = newHistoryWindow(u)
	}
	u.history.search()
	showWindow(u.history.w)
}

func newHistoryWindow(u *UI) *historyWindow {
	h := &historyWindow{u: u, w: u.newWindow(HistoryTitle), current: -1}
	h.number = widget.NewEntry()
	h.number.SetPlaceHolder("Number (digits)")
	h.name = widget.NewEntry()
	h.name.SetPlaceHolder("Name or company")
	h.from = widget.NewEntry()
	h.from.SetPlaceHolder("From YYYY-MM-DD")
	h.to = widget.NewEntry()
	h.to.SetPlaceHolder("To YYYY-MM-DD")
	for _, e := range []*widget.Entry{h.number, h.name, h.from, h.to} {
		e.OnChanged = func(string) { h.search() }
	}
	h.filter = widget.NewRadioGroup([]string{FilterAll, FilterMissed, FilterFailed}, func(string) { h.search() })
	h.filter.Horizontal = true
	h.filter.Required = true
	h.filter.Selected = FilterAll
	h.count = widget.NewLabel("")
	h.table = widget.NewTableWithHeaders(
		func() (int, int) { return len(h.calls), len(historyColumns) },
		func() fyne.CanvasObject { return widget.NewLabel("") },
		func(id widget.TableCellID, o fyne.CanvasObject) {
			o.(*widget.Label).SetText(historyCell(h.calls[id.Row], id.Col))
		},
	)
	h.table.ShowHeaderColumn = false
	h.table.CreateHeader = func() fyne.CanvasObject {
		return widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	}
	h.table.UpdateHeader = func(id widget.TableCellID, o fyne.CanvasObject) {
		if id.Col >= 0 {
			o.(*widget.Label).SetText(historyColumns[id.Col].title)
		}
	}
	for i, c := range historyColumns {
		h.table.SetColumnWidth(i, c.width)
	}
	h.table.OnSelected = func(id widget.TableCellID) { h.selectRow(id.Row) }
	h.detail = widget.NewLabel("Select a call to see its details.")
	h.detail.Wrapping = fyne.TextWrapWord
	h.detail.Selectable = true
	h.retry = widget.NewButtonWithIcon("Retry sending to the CRM", theme.ViewRefreshIcon(), h.onRetry)
	h.retry.Disable()
	h.dial = widget.NewButtonWithIcon("Call back", theme.MailReplyIcon(), h.onCallBack)
	h.dial.Disable()

	filters := container.NewGridWithColumns(4, h.number, h.name, h.from, h.to)
	top := container.NewVBox(filters, container.NewBorder(nil, nil, nil, h.count, h.filter))
	bottom := container.NewVBox(widget.NewSeparator(), h.detail, container.NewHBox(h.retry, h.dial))
	h.w.SetContent(container.NewBorder(top, bottom, nil, nil, h.table))
	h.w.Resize(fyne.NewSize(740, 560))
	h.w.SetOnClosed(func() { u.history = nil })
	return h
}

// query is the journal query the filters ask for.
func (h *historyWindow) query() (journal.Query, error) {
	q := journal.Query{
		Number: strings.TrimSpace(h.number.Text),
		Name:   strings.TrimSpace(h.name.Text),
		Limit:  500,
	}
	var err error
	if q.From, err = parseDay(h.from.Text); err != nil {
		return q, fmt.Errorf("from: %w", err)
	}
	to, err := parseDay(h.to.Text)
	if err != nil {
		return q, fmt.Errorf("to: %w", err)
	}
	if !to.IsZero() {
		q.To = to.AddDate(0, 0, 1) // the whole day
	}
	switch h.filter.Selected {
	case FilterMissed:
		q.Missed = true
	case FilterFailed:
		q.Delivery, q.HasDelivery = journal.DeliveryFailed, true
	}
	return q, nil
}

// parseDay reads YYYY-MM-DD in local time; "" is no limit.
func parseDay(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation("2006-01-02", s, time.Local)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date: write YYYY-MM-DD", s)
	}
	return t, nil
}

// search runs the query and shows its answer, unless a newer search
// started meanwhile.
func (h *historyWindow) search() {
	q, err := h.query()
	if err != nil {
		h.count.SetText(err.Error())
		return
	}
	h.seq++
	seq := h.seq
	var calls []journal.Call
	h.u.background(func(ctx context.Context) error {
		var err error
		calls, err = h.u.core.Search(ctx, q)
		return err
	}, func(err error) {
		if seq != h.seq {
			return
		}
		if err != nil {
			h.count.SetText("Search failed: " + err.Error())
			return
		}
		key := ""
		if h.current >= 0 && h.current < len(h.calls) {
			key = h.calls[h.current].Key
		}
		h.calls = calls
		h.count.SetText(plural(len(calls), "call"))
		h.table.Refresh()
		h.current = -1
		for i, c := range calls {
			if c.Key == key {
				h.current = i
			}
		}
		h.showDetail()
	})
}

func (h *historyWindow) selectRow(row int) {
	h.current = row
	h.showDetail()
}

func (h *historyWindow) showDetail() {
	if h.current < 0 || h.current >= len(h.calls) {
		h.detail.SetText("Select a call to see its details.")
		h.retry.Disable()
		h.dial.Disable()
		return
	}
	c := h.calls[h.current]
	h.detail.SetText(CallDetail(c))
	if c.Delivery == journal.DeliveryFailed {
		h.retry.Enable()
	} else {
		h.retry.Disable()
	}
	if c.Phone.Key() != "" {
		h.dial.Enable()
	} else {
		h.dial.Disable()
	}
}

// onRetry puts the selected call's refused logs back in the outbox.
func (h *historyWindow) onRetry() {
	if h.current < 0 || h.current >= len(h.calls) {
		return
	}
	key := h.calls[h.current].Key
	h.retry.Disable()
	h.u.background(func(ctx context.Context) error {
		_, err := h.u.core.RetryDeliveries(ctx, key)
		return err
	}, func(err error) {
		if err != nil {
			h.u.showError("Retry failed", err)
		}
		h.search()
	})
}

func (h *historyWindow) onCallBack() {
	if h.current < 0 || h.current >= len(h.calls) {
		return
	}
	p := h.calls[h.current].Phone
	n := p.E164
	if n == "" {
		n = p.Raw
	}
	h.u.ShowDial(n)
}

// historyCell is one cell of the history table.
func historyCell(c journal.Call, col int) string {
	switch col {
	case 0:
		return c.StartedAt.Local().Format("2006-01-02 15:04")
	case 1:
		if c.Direction == connectors.DirectionOutbound {
			return "out"
		}
		return "in"
	case 2:
		return c.Phone.String()
	case 3:
		return firstNonEmpty(c.Contact.Name, c.Contact.Company)
	case 4:
		if c.State != journal.StateEnded {
			return c.State.String()
		}
		return resultWords(c.Result)
	case 5:
		return deliveryWords(c.Delivery)
	}
	return ""
}

func deliveryWords(d journal.Delivery) string {
	switch d {
	case journal.DeliverySent:
		return "sent"
	case journal.DeliveryPending:
		return "pending"
	case journal.DeliveryFailed:
		return "FAILED"
	}
	return "—"
}

// CallDetail is everything the history knows about a call, in words.
func CallDetail(c journal.Call) string {
	var b strings.Builder
	dir := "Incoming"
	if c.Direction == connectors.DirectionOutbound {
		dir = "Outgoing"
	}
	fmt.Fprintf(&b, "%s call, %s, %s", dir, c.Phone.String(), c.StartedAt.Local().Format("Mon 2 Jan 2006 15:04:05"))
	if c.Queue {
		b.WriteString(", from a queue")
	}
	if c.Source != "" {
		fmt.Fprintf(&b, ", via %s", c.Source)
	}
	b.WriteString(".\n")
	if who := firstNonEmpty(c.Contact.Name, c.Contact.Company); who != "" {
		b.WriteString(who)
		if c.Contact.Name != "" && c.Contact.Company != "" {
			b.WriteString(", " + c.Contact.Company)
		}
		if c.Contact.Manager != "" {
			b.WriteString("; manager " + c.Contact.Manager)
		}
		b.WriteString(".\n")
	} else {
		b.WriteString("Unknown caller.\n")
	}
	if c.State == journal.StateEnded {
		fmt.Fprintf(&b, "Result: %s", resultWords(c.Result))
		if !c.AnsweredAt.IsZero() && !c.EndedAt.IsZero() {
			fmt.Fprintf(&b, ", talked %s", shortDuration(c.EndedAt.Sub(c.AnsweredAt)))
		}
		b.WriteString(".\n")
	} else {
		fmt.Fprintf(&b, "In progress: %s.\n", c.State)
	}
	if c.Note != "" || c.Disposition != "" {
		fmt.Fprintf(&b, "Note: %s", firstNonEmpty(c.Note, "—"))
		if c.Disposition != "" {
			fmt.Fprintf(&b, " (%s)", c.Disposition)
		}
		b.WriteString("\n")
	}
	switch c.Delivery {
	case journal.DeliverySent:
		b.WriteString("CRM: the call log was delivered.")
	case journal.DeliveryPending:
		b.WriteString("CRM: waiting to be delivered (retried automatically).")
	case journal.DeliveryFailed:
		fmt.Fprintf(&b, "CRM: refused: %s. Fix the cause, then Retry.", firstNonEmpty(c.DeliveryError, "no reason given"))
	default:
		b.WriteString("CRM: nothing to send (no CRM takes call logs, or the call is not over).")
	}
	return b.String()
}

// plural is "1 call", "2 calls".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
