// Package ui is Ringside's desktop UI, built with Fyne: the tray with the
// agent's status and the connections, the caller popup, the dial box, the
// settings and the call history.
//
// The UI is built from a passed-in fyne.App, so tests use
// fyne.io/fyne/v2/test, and it consumes the app core through the narrow
// interfaces below; it holds no vendor protocol. Widgets are only touched on
// Fyne's main goroutine: core updates arrive through Run, which hands each
// one over with fyne.Do, and work that may block (a status change, a dial, a
// journal search) runs on Run's workers and reports back the same way.
package ui

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"fyne.io/fyne/v2"

	"github.com/ringside/ringside/app"
	"github.com/ringside/ringside/app/journal"
	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/settings"
)

// StatusSetter changes the agent's status on every connector that takes it
// (app.App.SetStatus). An error names the connectors that refused.
type StatusSetter interface {
	SetStatus(ctx context.Context, s connectors.AgentStatus) error
}

// Dialer places a call through the configured dialer (app.App.Dial); with
// none it returns app.ErrNoDialer.
type Dialer interface {
	Dial(ctx context.Context, raw string) error
}

// Annotator saves the agent's note and disposition on a call, in the journal
// and with the call's log to the CRM (app.Engine.Annotate).
type Annotator interface {
	Annotate(ctx context.Context, callKey, note, disposition string) error
}

// History reads the journal and puts refused call logs back in the outbox.
type History interface {
	Search(ctx context.Context, q journal.Query) ([]journal.Call, error)
	// RetryDeliveries requeues the refused logs of one call, or of all calls
	// when callKey is "" (app.App.RetryDeliveries).
	RetryDeliveries(ctx context.Context, callKey string) (int, error)
	// Stats counts the outbox (journal.Store.Stats over every sink).
	Stats(ctx context.Context) (journal.Stats, error)
}

// Diagnostics tells how the core is doing, for the tray and its
// diagnostics window.
type Diagnostics interface {
	// States is every source's connection (app.Runner.States).
	States() []app.ConnState
	// Status is the agent's status as last reported (app.Engine.Status).
	Status(ctx context.Context) (connectors.AgentStatus, error)
	// Err says why the core is not running (a settings or keyring problem
	// found at start), or nil while it runs.
	Err() error
}

// Configurator is the settings window's side of the core.
type Configurator interface {
	// Config returns a copy of the settings the core runs with.
	Config() *settings.Config
	// Reload restarts the core with cfg, already saved to cfg.Path.
	Reload(ctx context.Context, cfg *settings.Config) error
	// TestConnector builds connector name of cfg, without running it, and
	// runs its connection test.
	TestConnector(ctx context.Context, cfg *settings.Config, name string) app.TestResult
	// RegisterConnector registers connector name of cfg with its vendor
	// (connectors.Registrar), returning what the vendor did not recognise.
	RegisterConnector(ctx context.Context, cfg *settings.Config, name string) (notes []string, err error)
	// ConnectorTypes lists the connector types this build knows.
	ConnectorTypes() []string
}

// Core is everything the UI asks of the app core. cmd/ringside implements it
// around *app.App, restarting the App when the settings change.
type Core interface {
	StatusSetter
	Dialer
	Annotator
	History
	Diagnostics
	Configurator
}

// Autostart turns start-at-login on and off (*settings.Autostart).
type Autostart interface {
	Enabled() (bool, error)
	Enable() error
	Disable() error
}

// Options are the UI's collaborators besides the core.
type Options struct {
	// Secrets receives secrets typed in the settings window; they never go
	// into the settings file.
	Secrets settings.SecretStore
	// Notifier shows calls as desktop notifications in "notification" mode
	// and during do not disturb; nil: none.
	Notifier app.Notifier
	// Autostart is the start-at-login entry; nil hides the toggle.
	Autostart Autostart
	// Placer puts the caller popup near the tray and keeps it from taking
	// focus; nil leaves the window where the window system puts it.
	Placer Placer
	// Quit stops the core and, once it has drained, the Fyne app. nil:
	// quit the Fyne app at once.
	Quit func()
	// SetTrayIcon and SetTrayMenu reach the system tray; nil when the
	// driver has none (tests read the menu from Tray()).
	SetTrayIcon func(fyne.Resource)
	SetTrayMenu func(*fyne.Menu)
	// SetTrayTooltip sets the tray icon's tooltip; may be nil.
	SetTrayTooltip func(string)
	// Version is shown in About.
	Version string
	// Linger is how long the popup of an ended call the agent did not touch
	// stays up (default 20s).
	Linger time.Duration
	// Prewarm makes the popup window when Run starts, so that the first
	// call of the session pops up as fast as the next ones.
	Prewarm bool
	// Inline runs background work on the calling goroutine, for tests.
	Inline bool
	Logger *slog.Logger
}

// Placer positions the caller popup window (in pixels of the screen) and
// keeps it on top without taking keyboard focus. The GLFW driver
// implements it in cmd/ringside/gui.
type Placer interface {
	// Place moves w, whose content is size big, to the bottom-right corner
	// of the primary screen's work area.
	Place(w fyne.Window, size fyne.Size)
}

// actionTimeout bounds one background action (a status change, a dial, a
// search, a connection test).
const actionTimeout = 20 * time.Second

// UI is the running desktop UI. Create it with New, then call Run.
type UI struct {
	fyne fyne.App
	core Core
	opt  Options
	log  *slog.Logger

	jobs chan func(context.Context)

	// Owned by Fyne's main goroutine.
	tray     *tray
	popups   *popups
	dial     *dialBox
	history  *historyWindow
	settings *settingsWindow
	diag     *diagWindow
	about    fyne.Window
	dnd      bool // do not disturb, as switched from the tray
	quitting bool
}

// New builds the UI and the tray; nothing blocks and no window opens.
func New(a fyne.App, core Core, opt Options) *UI {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Linger <= 0 {
		opt.Linger = 20 * time.Second
	}
	u := &UI{fyne: a, core: core, opt: opt, log: opt.Logger, jobs: make(chan func(context.Context), 64)}
	if cfg := core.Config(); cfg != nil {
		u.dnd = cfg.Notifications.DND
	}
	u.popups = newPopups(u)
	u.tray = newTray(u)
	return u
}

// Run consumes core updates until ctx is done or updates is closed, and
// runs the UI's background work meanwhile. It returns once every worker has.
func (u *UI) Run(ctx context.Context, updates <-chan app.Update) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { // exits when ctx is done
			for {
				select {
				case <-ctx.Done():
					return
				case job := <-u.jobs:
					job(ctx)
				}
			}
		})
	}
	fyne.Do(func() {
		if u.opt.Prewarm {
			u.popups.warm()
		}
		u.Refresh()
	})
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case upd, ok := <-updates:
			if !ok {
				cancel()
				wg.Wait()
				return
			}
			fyne.Do(func() { u.HandleUpdate(upd) })
		}
	}
}

// background runs work off the UI thread, bounded by actionTimeout, then
// done (if not nil) on the UI thread.
func (u *UI) background(work func(ctx context.Context) error, done func(error)) {
	if u.opt.Inline {
		ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
		err := work(ctx)
		cancel()
		if done != nil {
			done(err)
		}
		return
	}
	job := func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, actionTimeout)
		err := work(ctx)
		cancel()
		if done != nil {
			fyne.Do(func() { done(err) })
		}
	}
	select {
	case u.jobs <- job:
	default:
		if done != nil {
			done(errors.New("Ringside is busy; try again in a moment"))
		}
	}
}

// HandleUpdate applies one core update. Call it on Fyne's main goroutine.
func (u *UI) HandleUpdate(upd app.Update) {
	switch upd.Kind {
	case app.UpdateCall:
		u.onCall(upd)
	case app.UpdateStatus:
		u.tray.setStatus(upd.Status)
	case app.UpdateConnection:
		u.tray.setConn(upd.Conn)
		if u.diag != nil {
			u.diag.refresh()
		}
	case app.UpdateOutbox:
		u.tray.setOutbox(upd.Outbox)
		if u.history != nil {
			u.history.search()
		}
	}
}

// onCall shows a call the way the agent wants it: the popup, a desktop
// notification, or nothing.
func (u *UI) onCall(upd app.Update) {
	c := upd.Call
	mode := settings.NotifyPopup
	if cfg := u.core.Config(); cfg != nil {
		mode = cfg.Notifications.Mode
	}
	switch {
	case mode == settings.NotifyOff:
	case u.dnd || mode == settings.NotifyNotification:
		if upd.Phase == app.PhaseRaised || (upd.Phase == app.PhaseFilled && c.Contact.Known()) {
			u.notify(app.PopupTitle(c), app.PopupBody(c))
		}
	default:
		u.popups.update(upd)
	}
	if u.history != nil && upd.Phase == app.PhaseEnded {
		u.history.search()
	}
}

// notify sends a desktop notification off the UI thread.
func (u *UI) notify(title, body string) {
	if u.opt.Notifier == nil {
		return
	}
	u.background(func(ctx context.Context) error {
		return u.opt.Notifier.Notify(ctx, title, body)
	}, func(err error) {
		if err != nil {
			u.log.Warn("desktop notification failed", "error", err)
		}
	})
}

// Refresh reads the core's state again: after start and after the core was
// restarted with new settings.
func (u *UI) Refresh() {
	u.tray.setConns(u.core.States(), u.core.Err())
	var (
		stats  journal.Stats
		status connectors.AgentStatus
	)
	u.background(func(ctx context.Context) error {
		var err error
		if stats, err = u.core.Stats(ctx); err != nil {
			return err
		}
		status, _ = u.core.Status(ctx)
		return nil
	}, func(err error) {
		if err != nil {
			return // the core is not running; setConns said why
		}
		u.tray.setOutbox(stats)
		if status != connectors.StatusUnknown {
			u.tray.setStatus(status)
		}
	})
	if u.diag != nil {
		u.diag.refresh()
	}
}

// Quit stops Ringside: the core drains, then the app quits.
func (u *UI) Quit() {
	if u.quitting {
		return
	}
	u.quitting = true
	u.popups.closeAll()
	for _, w := range u.fyne.Driver().AllWindows() {
		w.Hide()
	}
	if u.opt.Quit != nil {
		u.opt.Quit()
		return
	}
	u.fyne.Quit()
}

// showWindow shows a window the agent asked for and gives it focus (the
// driver does not focus new windows by itself: see cmd/ringside/gui).
func showWindow(w fyne.Window) {
	w.Show()
	w.RequestFocus()
}
