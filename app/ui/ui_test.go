package ui

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/ringside/ringside/app"
	"github.com/ringside/ringside/app/journal"
	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/settings"
)

// fakeCore records what the UI asks of the core.
type fakeCore struct {
	mu          sync.Mutex
	registered  []string
	cfg         *settings.Config
	statuses    []connectors.AgentStatus
	dials       []string
	dialErr     error
	annotations [][3]string
	calls       []journal.Call
	queries     []journal.Query
	retries     []string
	stats       journal.Stats
	states      []app.ConnState
	reloaded    *settings.Config
	tested      []string
}

func (f *fakeCore) SetStatus(_ context.Context, s connectors.AgentStatus) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statuses = append(f.statuses, s)
	return nil
}

func (f *fakeCore) Dial(_ context.Context, raw string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dials = append(f.dials, raw)
	return f.dialErr
}

func (f *fakeCore) Annotate(_ context.Context, key, note, disp string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.annotations = append(f.annotations, [3]string{key, note, disp})
	return nil
}

func (f *fakeCore) Search(_ context.Context, q journal.Query) ([]journal.Call, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, q)
	var out []journal.Call
	for _, c := range f.calls {
		if q.Missed && !c.Missed() {
			continue
		}
		if q.HasDelivery && c.Delivery != q.Delivery {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

func (f *fakeCore) RetryDeliveries(_ context.Context, key string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.retries = append(f.retries, key)
	return 1, nil
}

func (f *fakeCore) Stats(context.Context) (journal.Stats, error) { return f.stats, nil }
func (f *fakeCore) States() []app.ConnState                      { return f.states }
func (f *fakeCore) Status(context.Context) (connectors.AgentStatus, error) {
	return connectors.StatusUnknown, nil
}
func (f *fakeCore) Err() error { return nil }
func (f *fakeCore) Config() *settings.Config {
	c := *f.cfg
	return &c
}

func (f *fakeCore) Reload(_ context.Context, cfg *settings.Config) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reloaded = cfg
	return nil
}

func (f *fakeCore) TestConnector(_ context.Context, _ *settings.Config, name string) app.TestResult {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tested = append(f.tested, name)
	return app.TestResult{Name: name, Took: 42 * time.Millisecond}
}

func (f *fakeCore) RegisterConnector(_ context.Context, _ *settings.Config, name string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.registered = append(f.registered, name)
	return []string{"retailCRM has no user 2 (codes)"}, nil
}

func (f *fakeCore) ConnectorTypes() []string {
	return []string{"accolades", "contacts", "httpcrm", "jsonl"}
}

// fakeNotifier records notifications.
type fakeNotifier struct {
	mu     sync.Mutex
	titles []string
}

func (n *fakeNotifier) Notify(_ context.Context, title, _ string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.titles = append(n.titles, title)
	return nil
}

func newFake(t *testing.T) *fakeCore {
	cfg := settings.Defaults()
	cfg.Path = filepath.Join(t.TempDir(), "config.toml")
	cfg.Region = "RO"
	cfg.Data.Dir = t.TempDir()
	return &fakeCore{cfg: cfg}
}

// newUI builds the UI on a test app; background work runs inline.
func newUI(t *testing.T, core *fakeCore, opt Options) *UI {
	t.Helper()
	opt.Inline = true
	return New(test.NewTempApp(t), core, opt)
}

func menuItem(t *testing.T, m *fyne.Menu, label string) *fyne.MenuItem {
	t.Helper()
	for _, it := range m.Items {
		if it.Label == label {
			return it
		}
	}
	t.Fatalf("tray menu has no item %q", label)
	return nil
}

func TestTrayStatus(t *testing.T) {
	core := newFake(t)
	var icons []string
	u := newUI(t, core, Options{SetTrayIcon: func(r fyne.Resource) { icons = append(icons, r.Name()) }})

	menuItem(t, u.Tray(), "Busy").Action()
	if got, want := core.statuses, []connectors.AgentStatus{connectors.StatusBusy}; !slices.Equal(got, want) {
		t.Fatalf("SetStatus calls = %v, want %v", got, want)
	}
	// The tray follows the core, not the click: a status pushed from
	// outside (here the PBX says dinner) marks that one.
	u.HandleUpdate(app.Update{Kind: app.UpdateStatus, Status: connectors.StatusDinner})
	for _, s := range connectors.Statuses() {
		if got, want := menuItem(t, u.Tray(), StatusLabel(s)).Checked, s == connectors.StatusDinner; got != want {
			t.Errorf("%s checked = %v, want %v", StatusLabel(s), got, want)
		}
	}
	if got, want := icons[len(icons)-1], "tray-offline-away.png"; got != want {
		t.Errorf("icon = %s, want %s", got, want)
	}
	u.HandleUpdate(app.Update{Kind: app.UpdateConnection, Conn: app.ConnState{Name: "office", Status: app.LinkConnected}})
	menuItem(t, u.Tray(), LabelDND).Action()
	if !menuItem(t, u.Tray(), LabelDND).Checked {
		t.Error("do not disturb not checked after toggling")
	}
	if got, want := icons[len(icons)-1], "tray-connected-dnd.png"; got != want {
		t.Errorf("icon = %s, want %s", got, want)
	}
}

func TestTrayOutbox(t *testing.T) {
	core := newFake(t)
	u := newUI(t, core, Options{})
	if !menuItem(t, u.Tray(), LabelRetry).Disabled {
		t.Error("retry enabled with nothing to retry")
	}
	u.HandleUpdate(app.Update{Kind: app.UpdateOutbox, Outbox: journal.Stats{Pending: 2, Failed: 1}})
	menuItem(t, u.Tray(), "CRM logs: 2 pending, 1 failed")
	menuItem(t, u.Tray(), LabelRetry).Action()
	if got, want := core.retries, []string{""}; !slices.Equal(got, want) {
		t.Errorf("RetryDeliveries calls = %q, want %q", got, want)
	}
}

func testCall(t *testing.T) journal.Call {
	t.Helper()
	pp, err := connectors.NewPhoneParser("RO")
	if err != nil {
		t.Fatal(err)
	}
	return journal.Call{
		Key:       "0190a1b2-call",
		State:     journal.StateRinging,
		Direction: connectors.DirectionInbound,
		Phone:     pp.Parse("0721234567"),
		Queue:     true,
		Source:    "office",
		StartedAt: time.Date(2026, 3, 2, 10, 4, 5, 0, time.UTC),
	}
}

func TestPopupRaisedThenFilled(t *testing.T) {
	core := newFake(t)
	u := newUI(t, core, Options{})
	c := testCall(t)

	u.HandleUpdate(app.Update{Kind: app.UpdateCall, Phase: app.PhaseRaised, Call: c})
	card := u.Card(c.Key)
	if card == nil {
		t.Fatal("no popup card after PhaseRaised")
	}
	if u.PopupWindow() == nil {
		t.Fatal("no popup window")
	}
	test.AssertObjectRendersToMarkup(t, "popup_raised.xml", card)

	c.Contact = connectors.Contact{Name: "Ana Popescu", Company: "Acme SRL", Manager: "Ion Ionescu", URL: "https://crm.example/contacts/7"}
	u.HandleUpdate(app.Update{Kind: app.UpdateCall, Phase: app.PhaseFilled, Call: c})
	test.AssertObjectRendersToMarkup(t, "popup_filled.xml", card)

	// A second call stacks under the first.
	c2 := testCall(t)
	c2.Key, c2.Queue, c2.Direction, c2.State = "0190a1b2-other", false, connectors.DirectionOutbound, journal.StateDialing
	u.HandleUpdate(app.Update{Kind: app.UpdateCall, Phase: app.PhaseRaised, Call: c2})
	u.HandleUpdate(app.Update{Kind: app.UpdateCall, Phase: app.PhaseFilled, Call: c2})
	if u.Card(c2.Key) == nil || len(u.popups.cards) != 2 {
		t.Fatalf("cards = %d, want 2 stacked", len(u.popups.cards))
	}
	if got := u.popups.card(c2.Key).who.Text; got != "Unknown caller" {
		t.Errorf("unknown caller shows %q", got)
	}
	test.Tap(u.popups.card(c2.Key).dismiss)
	if len(u.popups.cards) != 1 {
		t.Errorf("cards after dismiss = %d, want 1", len(u.popups.cards))
	}
}

func TestPopupNote(t *testing.T) {
	core := newFake(t)
	u := newUI(t, core, Options{})
	c := testCall(t)
	u.HandleUpdate(app.Update{Kind: app.UpdateCall, Phase: app.PhaseRaised, Call: c})
	k := u.popups.card(c.Key)
	test.Type(k.note, "wants a callback tomorrow")
	k.disposition.SetText("callback")
	test.Tap(k.save)
	if got, want := core.annotations, [][3]string{{c.Key, "wants a callback tomorrow", "callback"}}; !slices.Equal(got, want) {
		t.Errorf("Annotate calls = %q, want %q", got, want)
	}
	if k.saved.Text != "Saved" {
		t.Errorf("save says %q", k.saved.Text)
	}
	// The agent touched the card: ending the call does not dismiss it.
	c.State, c.Result = journal.StateEnded, connectors.ResultAnswered
	u.HandleUpdate(app.Update{Kind: app.UpdateCall, Phase: app.PhaseEnded, Call: c})
	if k.linger != nil {
		t.Error("a card the agent typed in lingers to be dismissed")
	}
}

func TestPopupEndedLingers(t *testing.T) {
	core := newFake(t)
	u := newUI(t, core, Options{Linger: time.Hour})
	c := testCall(t)
	u.HandleUpdate(app.Update{Kind: app.UpdateCall, Phase: app.PhaseRaised, Call: c})
	c.State, c.Result = journal.StateEnded, connectors.ResultMissed
	u.HandleUpdate(app.Update{Kind: app.UpdateCall, Phase: app.PhaseEnded, Call: c})
	k := u.popups.card(c.Key)
	if k == nil || k.linger == nil {
		t.Fatal("ended call's card does not linger")
	}
	if got := k.state.Text; got != "Missed" {
		t.Errorf("state = %q, want Missed", got)
	}
	k.expire(k.gen) // the timer firing, on the UI thread
	if u.Card(c.Key) != nil {
		t.Error("ended call's card still up after linger")
	}
	if u.popups.shown {
		t.Error("popup window still shown with no cards")
	}
}

func TestCallShownAsPreferred(t *testing.T) {
	tests := []struct {
		name       string
		mode       string
		dnd        bool
		wantCard   bool
		wantNotify int
	}{
		{"popup", settings.NotifyPopup, false, true, 0},
		{"notification", settings.NotifyNotification, false, false, 2},
		{"do not disturb", settings.NotifyPopup, true, false, 2},
		{"off", settings.NotifyOff, false, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core := newFake(t)
			core.cfg.Notifications.Mode, core.cfg.Notifications.DND = tt.mode, tt.dnd
			n := &fakeNotifier{}
			u := newUI(t, core, Options{Notifier: n})
			c := testCall(t)
			u.HandleUpdate(app.Update{Kind: app.UpdateCall, Phase: app.PhaseRaised, Call: c})
			c.Contact = connectors.Contact{Name: "Ana Popescu"}
			u.HandleUpdate(app.Update{Kind: app.UpdateCall, Phase: app.PhaseFilled, Call: c})
			if got := u.Card(c.Key) != nil; got != tt.wantCard {
				t.Errorf("card shown = %v, want %v", got, tt.wantCard)
			}
			if got := len(n.titles); got != tt.wantNotify {
				t.Errorf("notifications = %d (%q), want %d", got, n.titles, tt.wantNotify)
			}
		})
	}
}

func TestDialWithoutDialer(t *testing.T) {
	core := newFake(t)
	core.dialErr = app.ErrNoDialer
	u := newUI(t, core, Options{})
	u.DialNow("+40721234567")
	if u.dial == nil {
		t.Fatal("a failed dial opened no dial box")
	}
	if got := u.dial.number.Text; got != "+40721234567" {
		t.Errorf("dial box number = %q", got)
	}
	if got := u.dial.msg.Text; !strings.Contains(got, "No connector can dial") {
		t.Errorf("dial box says %q, want the no-dialer explanation", got)
	}
	core.dialErr = nil
	u.dial.number.SetText("0211234567")
	test.Tap(u.dial.dial)
	if got, want := core.dials, []string{"+40721234567", "0211234567"}; !slices.Equal(got, want) {
		t.Errorf("dials = %q, want %q", got, want)
	}
}

func TestDialRecentNumbers(t *testing.T) {
	core := newFake(t)
	a, b := testCall(t), testCall(t)
	b.Key = "other"
	a.Contact.Name = "Ana Popescu"
	core.calls = []journal.Call{a, b}
	u := newUI(t, core, Options{})
	u.ShowDial("")
	if got := len(u.dial.recent); got != 1 {
		t.Fatalf("recent numbers = %d, want 1 (same number twice)", got)
	}
	u.dial.list.Select(0)
	if got := u.dial.number.Text; got != "+40721234567" {
		t.Errorf("picking a recent number fills %q", got)
	}
}

func TestHistory(t *testing.T) {
	core := newFake(t)
	ok, missed, failed := testCall(t), testCall(t), testCall(t)
	ok.Key, ok.State, ok.Result, ok.Delivery = "a", journal.StateEnded, connectors.ResultAnswered, journal.DeliverySent
	missed.Key, missed.State, missed.Result, missed.Delivery = "b", journal.StateEnded, connectors.ResultMissed, journal.DeliveryPending
	failed.Key, failed.State, failed.Result = "c", journal.StateEnded, connectors.ResultAnswered
	failed.Delivery, failed.DeliveryError = journal.DeliveryFailed, "crm: 422 Unprocessable Entity: phone is invalid"
	core.calls = []journal.Call{ok, missed, failed}
	u := newUI(t, core, Options{})
	u.ShowHistory()
	h := u.history
	if len(h.calls) != 3 {
		t.Fatalf("history shows %d calls, want 3", len(h.calls))
	}
	h.filter.SetSelected(FilterMissed)
	if len(h.calls) != 1 || h.calls[0].Key != "b" {
		t.Fatalf("missed tab shows %v", h.calls)
	}
	h.filter.SetSelected(FilterFailed)
	if len(h.calls) != 1 || h.calls[0].Key != "c" {
		t.Fatalf("failed tab shows %v", h.calls)
	}
	h.table.Select(widget.TableCellID{Row: 0, Col: 0})
	if !strings.Contains(h.detail.Text, "phone is invalid") {
		t.Errorf("detail does not give the refusal: %q", h.detail.Text)
	}
	test.Tap(h.retry)
	if got, want := core.retries, []string{"c"}; !slices.Equal(got, want) {
		t.Errorf("retries = %q, want %q", got, want)
	}
	h.number.SetText("0721")
	h.from.SetText("2026-03-02")
	h.to.SetText("2026-03-02")
	q := core.queries[len(core.queries)-1]
	if q.Number != "0721" || q.From.IsZero() || q.To.Sub(q.From) != 24*time.Hour {
		t.Errorf("query = %+v", q)
	}
	h.from.SetText("yesterday")
	if !strings.Contains(h.count.Text, "YYYY-MM-DD") {
		t.Errorf("bad date says %q", h.count.Text)
	}
}

func TestConnectionsInWords(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	got := DescribeConnections([]app.ConnState{
		{Name: "office", Status: app.LinkConnected, Detail: "API 1.1.0", Info: map[string]string{"configuration": "queue agent"}},
		{Name: "pbx", Status: app.LinkReconnecting, Reason: "dial tcp: connection refused", RetryAt: now.Add(8 * time.Second), Attempts: 3},
	}, nil, now)
	for _, want := range []string{"office: connected", "(API 1.1.0)", "configuration: queue agent", "pbx: connection lost; trying again in 8s", "why: dial tcp: connection refused", "attempts since the last success: 3"} {
		if !strings.Contains(got, want) {
			t.Errorf("diagnostics miss %q:\n%s", want, got)
		}
	}
	if got := DescribeConnections(nil, errors.New("secret \"office.password\" not found"), now); !strings.Contains(got, "office.password") {
		t.Errorf("core error not shown: %s", got)
	}
}

// TestSettingsNeverWriteSecrets enters a secret in the settings window and
// saves: the secret reaches the keyring, the file never sees it, and a
// secret typed as a plain key is refused with the file left alone.
func TestSettingsNeverWriteSecrets(t *testing.T) {
	core := newFake(t)
	core.cfg.Connectors = map[string]settings.ConnectorConfig{
		"crm": settings.NewConnectorConfig("crm", "httpcrm", true, map[string]any{
			"url": "https://crm.example/api/calls", "auth": "bearer", "batch_size": int64(1),
			"headers": map[string]any{"X-Team": "support"},
		}),
	}
	core.cfg.CRM = "crm"
	secrets := settings.NewMemoryStore()
	u := newUI(t, core, Options{Secrets: secrets})
	u.ShowSettings()
	s := u.settings
	e := s.connectors[0]
	const secret = "tok-9f8e7d6c5b4a"
	e.secName.SetText("token")
	test.Type(e.secValue, secret)
	test.Tap(e.store)
	if got, err := secrets.Get("crm.token"); err != nil || got != secret {
		t.Fatalf("keyring crm.token = %q, %v", got, err)
	}
	if e.secValue.Text != "" {
		t.Error("the secret stays in the entry after storing it")
	}
	const hookToken = "hook-5e4d3c2b1a"
	test.Type(s.hook.token, hookToken)
	test.Tap(s.hook.storeToken)
	if got, err := secrets.Get("webhook.token"); err != nil || got != hookToken {
		t.Fatalf("keyring webhook.token = %q, %v (%s)", got, err, s.hook.tokenMsg.Text)
	}
	s.workers.SetText("4")
	test.Tap(s.save)
	data, err := os.ReadFile(core.cfg.Path)
	if err != nil {
		t.Fatalf("not saved: %v (window says %q)", err, s.problems.Text)
	}
	if strings.Contains(string(data), secret) || strings.Contains(string(data), hookToken) {
		t.Fatalf("the settings file holds a secret:\n%s", data)
	}
	loaded, err := settings.Load(core.cfg.Path)
	if err != nil {
		t.Fatalf("saved file does not load: %v\n%s", err, data)
	}
	if loaded.Outbox.Workers != 4 || loaded.Connectors["crm"].Values()["url"] != "https://crm.example/api/calls" {
		t.Errorf("saved settings lost values:\n%s", data)
	}
	if core.reloaded == nil || core.reloaded.Outbox.Workers != 4 {
		t.Error("the core was not restarted with the saved settings")
	}

	// A secret typed as a key is refused, and the file stays as it was.
	e.addRow("token", `"`+secret+`"`)
	test.Tap(s.save)
	if !strings.Contains(s.problems.Text, "looks like a secret") {
		t.Errorf("window says %q, want the secret refusal", s.problems.Text)
	}
	after, _ := os.ReadFile(core.cfg.Path)
	if string(after) != string(data) || strings.Contains(string(after), secret) {
		t.Errorf("file changed after a refused save:\n%s", after)
	}
}

func TestSettingsValidation(t *testing.T) {
	core := newFake(t)
	u := newUI(t, core, Options{})
	u.ShowSettings()
	s := u.settings
	s.lookupTimeout.SetText("1h")
	s.region.SetText("XX")
	test.Tap(s.save)
	for _, want := range []string{"lookup.timeout", "region"} {
		if !strings.Contains(s.problems.Text, want) {
			t.Errorf("problems %q do not name %s", s.problems.Text, want)
		}
	}
	if _, err := os.Stat(core.cfg.Path); err == nil {
		t.Error("an invalid configuration was saved")
	}
}

func TestSettingsTestConnection(t *testing.T) {
	core := newFake(t)
	u := newUI(t, core, Options{})
	u.ShowSettings()
	s := u.settings
	s.newName.SetText("pbx")
	s.newType.SetSelected("jsonl")
	test.Tap(s.add)
	if len(s.connectors) != 1 {
		t.Fatalf("connectors = %d after adding one", len(s.connectors))
	}
	e := s.connectors[0]
	e.addRow("path", "/tmp/events.jsonl") // unquoted: taken as text
	test.Tap(e.test)
	if got := e.testMsg.Text; got != "Works: pbx answered in 42ms." {
		t.Errorf("test says %q", got)
	}
	cfg, err := s.config()
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Connectors["pbx"].Values()["path"]; got != "/tmp/events.jsonl" {
		t.Errorf("path = %#v", got)
	}
}

func TestSettingsRegister(t *testing.T) {
	core := newFake(t)
	u := newUI(t, core, Options{})
	u.ShowSettings()
	s := u.settings
	s.newName.SetText("crm")
	s.newType.SetSelected("httpcrm")
	test.Tap(s.add)
	e := s.connectors[0]
	e.addRow("url", "https://crm.example/calls")
	test.Tap(e.register)
	if got, want := e.testMsg.Text, "Registered with the vendor.\nretailCRM has no user 2 (codes)"; got != want {
		t.Errorf("register says %q, want %q", got, want)
	}
	core.mu.Lock()
	defer core.mu.Unlock()
	if len(core.registered) != 1 || core.registered[0] != "crm" {
		t.Errorf("registered = %q, want [crm]", core.registered)
	}
}

func TestTOMLValues(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{"wss://x:1", `"wss://x:1"`},
		{int64(10), "10"},
		{true, "true"},
		{[]any{"a", "b"}, `["a", "b"]`},
		{map[string]any{"X-Team": "support", "b": int64(2)}, `{ X-Team = "support", b = 2 }`},
	}
	for _, tt := range tests {
		got := TOMLLiteral(tt.in)
		if got != tt.want {
			t.Errorf("TOMLLiteral(%#v) = %s, want %s", tt.in, got, tt.want)
		}
		back, err := ParseTOMLValue(got)
		if err != nil || TOMLLiteral(back) != got {
			t.Errorf("ParseTOMLValue(%s) = %#v, %v", got, back, err)
		}
	}
	if _, err := ParseTOMLValue(`["unclosed"`); err == nil {
		t.Error("broken TOML array accepted")
	}
}

func TestConnectionsWindow(t *testing.T) {
	core := newFake(t)
	core.states = []app.ConnState{{Name: "office", Status: app.LinkConnected, Detail: "Accolades API 1.1.0"}}
	u := newUI(t, core, Options{})
	u.Refresh()
	if got := menuItem(t, u.Tray(), "Ringside: office connected"); !got.Disabled {
		t.Error("the summary line is clickable")
	}
	u.ShowConnections()
	if got := u.ConnectionsText(); !strings.Contains(got, "office: connected") || !strings.Contains(got, "Accolades API 1.1.0") {
		t.Errorf("connections window says %q", got)
	}
	core.states = []app.ConnState{{Name: "office", Status: app.LinkFailed, Reason: "accolades: id_crm not known to the server"}}
	u.HandleUpdate(app.Update{Kind: app.UpdateConnection, Conn: core.states[0]})
	if got := u.ConnectionsText(); !strings.Contains(got, "id_crm not known") {
		t.Errorf("connections window not refreshed: %q", got)
	}
	if u.tray.iconName != "tray-failed.png" && u.tray.iconName != "tray-failed-none.png" {
		t.Errorf("icon = %s, want the failed one", u.tray.iconName)
	}
}
