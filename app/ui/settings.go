package ui

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/ringside/ringside/settings"
)

// SettingsTitle is the settings window's title.
const SettingsTitle = "Ringside: settings"

// SecretNames are offered when storing a connector secret; each connector's
// README says which it reads.
func SecretNames() []string { return []string{"password", "token", "api_key", "client_secret"} }

// settingsWindow edits the settings file: typed fields for Ringside's own
// keys, key/value rows for each connector's, secrets straight to the
// keyring. Save checks everything with settings.Validate, the rules the
// file is loaded with, writes the file and restarts the core with it.
type settingsWindow struct {
	u    *UI
	w    fyne.Window
	base *settings.Config // as the core runs; edits start from a copy

	region, crm, dialer                  *widget.SelectEntry
	contacts                             *widget.Entry
	lookupTimeout, cacheTTL, maxDuration *widget.Entry
	workers, maxBackoff, dataDir         *widget.Entry
	logLevel, logFormat                  *widget.Select
	mode                                 *widget.RadioGroup
	dnd, autostart                       *widget.Check
	autostartWas                         bool
	connectors                           []*connEditor
	connList                             *fyne.Container
	newName                              *widget.Entry
	newType                              *widget.Select
	add                                  *widget.Button
	hook                                 webhookFields
	save                                 *widget.Button
	problems                             *widget.Label
}

// webhookFields edit [webhook], the local listener for vendors' callbacks
// and click-to-dial from the agent's browser.
type webhookFields struct {
	enabled                      *widget.Check
	listen, publicURL            *widget.Entry
	hosts, origins               *widget.Entry
	maxBody, rate, burst, dedupe *widget.Entry
	token                        *widget.Entry
	tokenMsg                     *widget.Label
	storeToken                   *widget.Button
}

// connEditor edits one [connectors.<name>] section.
type connEditor struct {
	s        *settingsWindow
	name     string
	typ      *widget.Select
	enabled  *widget.Check
	rows     []*kvRow
	rowBox   *fyne.Container
	secName  *widget.SelectEntry
	secValue *widget.Entry
	secMsg   *widget.Label
	store    *widget.Button
	test     *widget.Button
	testMsg  *widget.Label
	register *widget.Button // register the integration with the vendor (retailCRM's module)
	item     *widget.AccordionItem
	removed  bool
}

// kvRow is one vendor key: its name and its value as TOML.
type kvRow struct {
	key, value *widget.Entry
	box        *fyne.Container
}

// ShowSettings opens the settings window.
func (u *UI) ShowSettings() {
	if u.settings == nil {
		cfg := u.core.Config()
		if cfg == nil {
			cfg = settings.Defaults()
		}
		u.settings = newSettingsWindow(u, cfg)
	}
	showWindow(u.settings.w)
}

func newSettingsWindow(u *UI, cfg *settings.Config) *settingsWindow {
	s := &settingsWindow{u: u, w: u.newWindow(SettingsTitle), base: cfg}
	s.region = widget.NewSelectEntry([]string{"RO", "DE", "US", "GB", "FR", "IT", "ES"})
	s.region.SetText(cfg.Region)
	names := slices.Sorted(maps.Keys(cfg.Connectors))
	s.crm = widget.NewSelectEntry(append([]string{""}, names...))
	s.crm.SetText(cfg.CRM)
	s.dialer = widget.NewSelectEntry(append([]string{""}, names...))
	s.dialer.SetText(cfg.Dialer)
	s.contacts = widget.NewMultiLineEntry()
	s.contacts.SetText(strings.Join(cfg.Contacts, "\n"))
	s.contacts.SetMinRowsVisible(2)
	entry := func(text string) *widget.Entry {
		e := widget.NewEntry()
		e.SetText(text)
		return e
	}
	s.lookupTimeout = entry(cfg.Lookup.Timeout.String())
	s.cacheTTL = entry(cfg.Lookup.CacheTTL.String())
	s.maxDuration = entry(cfg.Calls.MaxDuration.String())
	s.workers = entry(strconv.Itoa(cfg.Outbox.Workers))
	s.maxBackoff = entry(cfg.Outbox.MaxBackoff.String())
	s.dataDir = entry(cfg.Data.Dir)
	s.logLevel = widget.NewSelect([]string{settings.LogDebug, settings.LogInfo, settings.LogWarn, settings.LogError}, nil)
	s.logLevel.SetSelected(cfg.Log.Level)
	s.logFormat = widget.NewSelect([]string{settings.LogText, settings.LogJSON}, nil)
	s.logFormat.SetSelected(cfg.Log.Format)
	s.mode = widget.NewRadioGroup([]string{settings.NotifyPopup, settings.NotifyNotification, settings.NotifyOff}, nil)
	s.mode.Required = true
	s.mode.Horizontal = true
	s.mode.SetSelected(cfg.Notifications.Mode)
	s.dnd = widget.NewCheck("Do not disturb (desktop notifications instead of the popup)", nil)
	s.dnd.SetChecked(cfg.Notifications.DND)
	s.autostart = widget.NewCheck("Start Ringside when I log in", nil)
	if u.opt.Autostart == nil {
		s.autostart.Disable()
	} else if on, err := u.opt.Autostart.Enabled(); err == nil {
		s.autostart.SetChecked(on)
		s.autostartWas = on
	}

	general := widget.NewForm(
		hinted("region", s.region, "phone region for numbers without a country code, e.g. RO"),
		hinted("crm", s.crm, "connector that names callers and receives call logs; empty: contacts files only"),
		hinted("dialer", s.dialer, "connector for click-to-dial; empty: the first that can dial"),
		hinted("contacts", s.contacts, "CSV or vCard files, one per line"),
		hinted("lookup.timeout", s.lookupTimeout, "how long the popup waits for the CRM: 100ms to 30s"),
		hinted("lookup.cache_ttl", s.cacheTTL, "how long an answer is reused: 0s to 24h"),
		hinted("calls.max_duration", s.maxDuration, "a call with no end event is closed after this: 1m to 48h"),
		hinted("outbox.workers", s.workers, "deliveries in parallel: 1 to 16"),
		hinted("outbox.max_backoff", s.maxBackoff, "longest wait between delivery attempts: 1s to 24h"),
		hinted("log.level", s.logLevel, ""),
		hinted("log.format", s.logFormat, ""),
		hinted("data.dir", s.dataDir, "journal and connector files"),
	)
	popups := widget.NewForm(
		hinted("notifications.mode", s.mode, "popup: Ringside's caller window; notification: a desktop notification; off: nothing"),
		hinted("notifications.dnd", s.dnd, "the tray switches this for the session"),
		hinted("autostart", s.autostart, ""),
	)

	webhookTab := s.webhookForm(cfg.Webhook)

	s.connList = container.NewVBox()
	acc := widget.NewAccordion()
	for _, name := range names {
		s.addEditor(acc, cfg.Connectors[name], false)
	}
	s.connList.Add(acc)
	s.newName = widget.NewEntry()
	s.newName.SetPlaceHolder("name, e.g. office")
	s.newType = widget.NewSelect(u.core.ConnectorTypes(), nil)
	s.newType.PlaceHolder = "type"
	s.add = widget.NewButtonWithIcon("Add connector", theme.ContentAddIcon(), func() { s.onAddConnector(acc) })
	connectorsTab := container.NewBorder(nil,
		container.NewVBox(widget.NewSeparator(), container.NewGridWithColumns(3, s.newName, s.newType, s.add)),
		nil, nil, container.NewVScroll(s.connList))

	tabs := container.NewAppTabs(
		container.NewTabItem("General", container.NewVScroll(general)),
		container.NewTabItem("Popups", popups),
		container.NewTabItem("Connectors", connectorsTab),
		container.NewTabItem("Webhook", container.NewVScroll(webhookTab)),
	)
	s.problems = widget.NewLabel("")
	s.problems.Wrapping = fyne.TextWrapWord
	s.save = widget.NewButtonWithIcon("Save", theme.DocumentSaveIcon(), s.onSave)
	s.save.Importance = widget.HighImportance
	bottom := container.NewVBox(s.problems, container.NewHBox(s.save, widget.NewButton("Close", s.w.Close)))
	s.w.SetContent(container.NewBorder(nil, bottom, nil, nil, tabs))
	s.w.Resize(fyne.NewSize(760, 620))
	s.w.SetOnClosed(func() { u.settings = nil })
	return s
}

func (s *settingsWindow) webhookForm(w settings.WebhookConfig) fyne.CanvasObject {
	f := &s.hook
	entry := func(text string) *widget.Entry {
		e := widget.NewEntry()
		e.SetText(text)
		return e
	}
	lines := func(v []string) *widget.Entry {
		e := widget.NewMultiLineEntry()
		e.SetText(strings.Join(v, "\n"))
		e.SetMinRowsVisible(2)
		return e
	}
	f.enabled = widget.NewCheck("listen for vendors' callbacks and the browser's click-to-dial", nil)
	f.enabled.SetChecked(w.Enabled)
	f.listen = entry(w.Listen)
	f.publicURL = entry(w.PublicURL)
	f.hosts = lines(w.Hosts)
	f.origins = lines(w.Origins)
	f.maxBody = entry(w.MaxBody.String())
	f.rate = entry(strconv.FormatFloat(w.Rate, 'f', -1, 64))
	f.burst = entry(strconv.Itoa(w.Burst))
	f.dedupe = entry(w.Dedupe.String())
	f.token = widget.NewPasswordEntry()
	f.token.SetPlaceHolder("token (goes to the OS keyring only)")
	f.tokenMsg = widget.NewLabel("")
	f.tokenMsg.Wrapping = fyne.TextWrapWord
	f.storeToken = widget.NewButtonWithIcon("Store in keyring", theme.ConfirmIcon(), func() {
		s.storeSecret(settings.WebhookInstance+".token", f.token, f.tokenMsg)
	})
	return widget.NewForm(
		hinted("webhook.enabled", f.enabled, ""),
		hinted("webhook.listen", f.listen, "host:port; 127.0.0.1 keeps it to this computer"),
		hinted("webhook.public_url", f.publicURL, "where vendors reach it through a proxy or tunnel; empty: none"),
		hinted("webhook.hosts", f.hosts, "further Host names allowed, one per line"),
		hinted("webhook.origins", f.origins, "web origins of CRM pages allowed to call, one per line"),
		hinted("webhook.max_body", f.maxBody, "largest request body, e.g. 64KiB"),
		hinted("webhook.rate", f.rate, "requests per second per client"),
		hinted("webhook.burst", f.burst, "requests at once per client"),
		hinted("webhook.dedupe", f.dedupe, "the same dial within this is done once; 0s: off"),
		hinted("webhook.token", container.NewBorder(nil, nil, nil, f.storeToken, f.token), "kept in the OS keyring as webhook.token"),
		widget.NewFormItem("", f.tokenMsg),
	)
}

// webhook reads the Webhook tab into w.
func (f *webhookFields) read(w *settings.WebhookConfig) []error {
	var errs []error
	splitLines := func(s string) []string {
		var out []string
		for _, l := range strings.Split(s, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, l)
			}
		}
		return out
	}
	w.Enabled = f.enabled.Checked
	w.Listen = strings.TrimSpace(f.listen.Text)
	w.PublicURL = strings.TrimSpace(f.publicURL.Text)
	w.Hosts = splitLines(f.hosts.Text)
	w.Origins = splitLines(f.origins.Text)
	if b, err := settings.ParseByteSize(f.maxBody.Text); err != nil {
		errs = append(errs, fmt.Errorf("webhook.max_body: %w", err))
	} else {
		w.MaxBody = b
	}
	if r, err := strconv.ParseFloat(strings.TrimSpace(f.rate.Text), 64); err != nil {
		errs = append(errs, fmt.Errorf("webhook.rate: %q is not a number", f.rate.Text))
	} else {
		w.Rate = r
	}
	if b, err := strconv.Atoi(strings.TrimSpace(f.burst.Text)); err != nil {
		errs = append(errs, fmt.Errorf("webhook.burst: %q is not a whole number", f.burst.Text))
	} else {
		w.Burst = b
	}
	if err := w.Dedupe.UnmarshalText([]byte(f.dedupe.Text)); err != nil {
		errs = append(errs, fmt.Errorf("webhook.dedupe: %w", err))
	}
	return errs
}

func hinted(label string, w fyne.CanvasObject, hint string) *widget.FormItem {
	it := widget.NewFormItem(label, w)
	it.HintText = hint
	return it
}

// addEditor adds the editor of one connector section to acc.
func (s *settingsWindow) addEditor(acc *widget.Accordion, cc settings.ConnectorConfig, open bool) *connEditor {
	e := &connEditor{s: s, name: cc.Name}
	e.typ = widget.NewSelect(s.u.core.ConnectorTypes(), nil)
	e.typ.SetSelected(cc.Type)
	e.enabled = widget.NewCheck("enabled", nil)
	e.enabled.SetChecked(cc.Enabled)
	e.rowBox = container.NewVBox()
	values := cc.Values()
	for _, k := range slices.Sorted(maps.Keys(values)) {
		e.addRow(k, TOMLLiteral(values[k]))
	}
	addKey := widget.NewButtonWithIcon("Add key", theme.ContentAddIcon(), func() { e.addRow("", "") })
	e.secName = widget.NewSelectEntry(SecretNames())
	e.secName.SetPlaceHolder("secret name")
	e.secValue = widget.NewPasswordEntry()
	e.secValue.SetPlaceHolder("value (goes to the OS keyring only)")
	e.secMsg = widget.NewLabel("")
	e.secMsg.Wrapping = fyne.TextWrapWord
	e.store = widget.NewButtonWithIcon("Store in keyring", theme.ConfirmIcon(), e.onStoreSecret)
	e.testMsg = widget.NewLabel("")
	e.testMsg.Wrapping = fyne.TextWrapWord
	e.test = widget.NewButtonWithIcon("Test connection", theme.MediaPlayIcon(), e.onTest)
	e.register = widget.NewButtonWithIcon("Register with vendor", theme.UploadIcon(), e.onRegister)
	remove := widget.NewButtonWithIcon("Remove connector", theme.DeleteIcon(), func() {
		e.removed = true
		acc.Remove(e.item)
	})
	body := container.NewVBox(
		container.NewHBox(widget.NewLabel("type"), e.typ, e.enabled),
		widget.NewLabelWithStyle("Keys (values are TOML: \"text\", 10, true, [\"a\", \"b\"]; unquoted text is taken as text)", fyne.TextAlignLeading, fyne.TextStyle{Italic: true}),
		e.rowBox,
		addKey,
		widget.NewSeparator(),
		widget.NewLabelWithStyle("Secrets ("+cc.Name+".<name> in the OS keyring, never in the file)", fyne.TextAlignLeading, fyne.TextStyle{Italic: true}),
		container.NewGridWithColumns(3, e.secName, e.secValue, e.store),
		e.secMsg,
		widget.NewSeparator(),
		container.NewHBox(e.test, e.register, remove),
		e.testMsg,
	)
	e.item = widget.NewAccordionItem(cc.Name+" ("+cc.Type+")", body)
	e.item.Open = open
	acc.Append(e.item)
	s.connectors = append(s.connectors, e)
	return e
}

func (e *connEditor) addRow(key, value string) {
	r := &kvRow{key: widget.NewEntry(), value: widget.NewEntry()}
	r.key.SetText(key)
	r.key.SetPlaceHolder("key")
	r.value.SetText(value)
	r.value.SetPlaceHolder("value")
	del := widget.NewButtonWithIcon("", theme.DeleteIcon(), nil)
	r.box = container.NewBorder(nil, nil, nil, del, container.NewGridWithColumns(2, r.key, r.value))
	del.OnTapped = func() {
		e.rows = slices.DeleteFunc(e.rows, func(x *kvRow) bool { return x == r })
		e.rowBox.Remove(r.box)
	}
	e.rows = append(e.rows, r)
	e.rowBox.Add(r.box)
}

func (s *settingsWindow) onAddConnector(acc *widget.Accordion) {
	name := strings.TrimSpace(s.newName.Text)
	if name == "" || s.newType.Selected == "" {
		s.problems.SetText("To add a connector, give it a name and choose its type.")
		return
	}
	for _, e := range s.connectors {
		if !e.removed && e.name == name {
			s.problems.SetText(fmt.Sprintf("There is already a connector named %q.", name))
			return
		}
	}
	s.addEditor(acc, settings.NewConnectorConfig(name, s.newType.Selected, true, nil), true)
	s.newName.SetText("")
	s.problems.SetText(fmt.Sprintf("Added %q: fill in its keys (see its README), then Save.", name))
}

// onStoreSecret puts the typed secret in the keyring; it is never part of
// the settings file.
func (e *connEditor) onStoreSecret() {
	name := strings.TrimSpace(e.secName.Text)
	if name == "" {
		e.secMsg.SetText("Choose the secret's name and type its value.")
		return
	}
	e.s.storeSecret(e.name+"."+name, e.secValue, e.secMsg)
}

// storeSecret puts the value typed in entry in the keyring under key,
// clears the entry, and says how it went in msg.
func (s *settingsWindow) storeSecret(key string, entry *widget.Entry, msg *widget.Label) {
	if entry.Text == "" {
		msg.SetText("Type the value of " + key + " first.")
		return
	}
	if s.u.opt.Secrets == nil {
		msg.SetText("No secret store here: use `ringside secret set " + key + "` or the environment.")
		return
	}
	if err := s.u.opt.Secrets.Set(key, entry.Text); err != nil {
		msg.SetText("Not stored: " + err.Error())
		return
	}
	entry.SetText("")
	msg.SetText(fmt.Sprintf("Stored %s in the OS keyring. Save to restart Ringside with it.", key))
}

// onTest builds this connector from the settings as they are in the window
// (not yet saved) and runs its connection test.
func (e *connEditor) onTest() {
	cfg, err := e.s.config()
	if err != nil {
		e.testMsg.SetText("Fix the settings first: " + err.Error())
		return
	}
	e.testMsg.SetText("Testing…")
	var res string
	e.s.u.background(func(ctx context.Context) error {
		r := e.s.u.core.TestConnector(ctx, cfg, e.name)
		if r.Err != nil {
			return r.Err
		}
		res = fmt.Sprintf("Works: %s answered in %s.", e.name, r.Took.Round(time.Millisecond))
		return nil
	}, func(err error) {
		if err != nil {
			e.testMsg.SetText("Does not work: " + err.Error())
			return
		}
		e.testMsg.SetText(res)
	})
}

// onRegister registers this connector's integration with its vendor (for
// retailCRM, the telephony module with the codes, numbers and callback
// addresses) from the settings as they are in the window, and shows what
// the vendor did not recognise.
func (e *connEditor) onRegister() {
	cfg, err := e.s.config()
	if err != nil {
		e.testMsg.SetText("Fix the settings first: " + err.Error())
		return
	}
	e.testMsg.SetText("Registering…")
	var notes []string
	e.s.u.background(func(ctx context.Context) error {
		var err error
		notes, err = e.s.u.core.RegisterConnector(ctx, cfg, e.name)
		return err
	}, func(err error) {
		lines := notes
		if err != nil {
			lines = append([]string{"Not registered: " + err.Error()}, lines...)
		} else {
			lines = append([]string{"Registered with the vendor."}, lines...)
		}
		e.testMsg.SetText(strings.Join(lines, "\n"))
	})
}

// config is the window's settings as a Config, before validation. Values
// that do not even parse (a duration, a number) are reported here.
func (s *settingsWindow) config() (*settings.Config, error) {
	cfg := *s.base
	cfg.Region = strings.ToUpper(strings.TrimSpace(s.region.Text))
	cfg.CRM = strings.TrimSpace(s.crm.Text)
	cfg.Dialer = strings.TrimSpace(s.dialer.Text)
	cfg.Contacts = nil
	for _, line := range strings.Split(s.contacts.Text, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			cfg.Contacts = append(cfg.Contacts, line)
		}
	}
	var errs []error
	duration := func(key string, e *widget.Entry, into *settings.Duration) {
		if err := into.UnmarshalText([]byte(e.Text)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
	}
	duration("lookup.timeout", s.lookupTimeout, &cfg.Lookup.Timeout)
	duration("lookup.cache_ttl", s.cacheTTL, &cfg.Lookup.CacheTTL)
	duration("calls.max_duration", s.maxDuration, &cfg.Calls.MaxDuration)
	duration("outbox.max_backoff", s.maxBackoff, &cfg.Outbox.MaxBackoff)
	w, err := strconv.Atoi(strings.TrimSpace(s.workers.Text))
	if err != nil {
		errs = append(errs, fmt.Errorf("outbox.workers: %q is not a whole number", s.workers.Text))
	}
	cfg.Outbox.Workers = w
	cfg.Log.Level, cfg.Log.Format = s.logLevel.Selected, s.logFormat.Selected
	cfg.Data.Dir = cfg.ResolvePath(strings.TrimSpace(s.dataDir.Text))
	cfg.Notifications.Mode = s.mode.Selected
	cfg.Notifications.DND = s.dnd.Checked
	errs = append(errs, s.hook.read(&cfg.Webhook)...)
	cfg.Connectors = map[string]settings.ConnectorConfig{}
	for _, e := range s.connectors {
		if e.removed {
			continue
		}
		values := map[string]any{}
		for _, r := range e.rows {
			k := strings.TrimSpace(r.key.Text)
			if k == "" {
				continue
			}
			v, err := ParseTOMLValue(r.value.Text)
			if err != nil {
				errs = append(errs, fmt.Errorf("[connectors.%s] %s: %w", e.name, k, err))
				continue
			}
			values[k] = v
		}
		cfg.Connectors[e.name] = settings.NewConnectorConfig(e.name, e.typ.Selected, e.enabled.Checked, values)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// onSave validates, writes the file, sets autostart and restarts the core.
func (s *settingsWindow) onSave() {
	cfg, err := s.config()
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		s.problems.SetText("Not saved:\n" + err.Error())
		return
	}
	if err := settings.Save(cfg); err != nil {
		s.problems.SetText("Not saved: " + err.Error())
		return
	}
	var notes []string
	if a := s.u.opt.Autostart; a != nil && s.autostart.Checked != s.autostartWas {
		var err error
		if s.autostart.Checked {
			err = a.Enable()
		} else {
			err = a.Disable()
		}
		if err != nil {
			notes = append(notes, "Autostart not changed: "+err.Error())
		} else {
			s.autostartWas = s.autostart.Checked
		}
	}
	s.base = cfg
	s.u.dnd = cfg.Notifications.DND
	s.u.tray.render()
	s.problems.SetText(strings.Join(append(notes, "Saved to "+cfg.Path+"; restarting…"), "\n"))
	s.save.Disable()
	s.u.background(func(ctx context.Context) error {
		return s.u.core.Reload(ctx, cfg)
	}, func(err error) {
		s.save.Enable()
		msg := "Saved to " + cfg.Path + "; Ringside runs with the new settings."
		if err != nil {
			msg = "Saved to " + cfg.Path + ", but Ringside could not start with them: " + err.Error()
		}
		s.problems.SetText(strings.Join(append(notes, msg), "\n"))
		s.u.Refresh()
	})
}

// TOMLLiteral writes a connector value the way the settings file does:
// "text", 10, true, ["a", "b"], { key = "value" }.
func TOMLLiteral(v any) string {
	switch v := v.(type) {
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = TOMLLiteral(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []map[string]any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = TOMLLiteral(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := slices.Sorted(maps.Keys(v))
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = toml.Key{k}.String() + " = " + TOMLLiteral(v[k])
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	}
	b, err := toml.Marshal(map[string]any{"v": v})
	if err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(strings.TrimPrefix(string(b), "v = "))
}

// ParseTOMLValue reads a value typed in the settings window: any TOML value,
// or, when the text is not TOML, the text itself as a string.
func ParseTOMLValue(s string) (any, error) {
	s = strings.TrimSpace(s)
	var m map[string]any
	if _, err := toml.Decode("v = "+s, &m); err == nil {
		return m["v"], nil
	}
	if strings.ContainsAny(s, "\"[{\n") {
		var m map[string]any
		_, err := toml.Decode("v = "+s, &m)
		return nil, fmt.Errorf("%q is not a TOML value: %w", s, err)
	}
	return s, nil
}
