// Package gui starts Ringside's desktop UI (app/ui) on Fyne's GLFW driver:
// the only package that needs cgo and a display, kept apart so that the
// rest of cmd/ringside builds for every system without cgo.
//
// Run must be called on the main goroutine: GLFW's event loop lives there.
package gui

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/systray"
	"github.com/go-gl/glfw/v3.3/glfw"

	"github.com/ringside/ringside/app"
	"github.com/ringside/ringside/app/ui"
	"github.com/ringside/ringside/assets"
	"github.com/ringside/ringside/settings"
)

// AppID is Fyne's application id (FyneApp.toml).
const AppID = "io.github.ringside.ringside"

// Core is the app core as the desktop runs it (cmd/ringside's coreHost).
type Core interface {
	ui.Core
	// Run runs the core until ctx is done.
	Run(ctx context.Context) error
	// Updates is the core's update feed, across restarts.
	Updates() <-chan app.Update
	// OnStart sets a function called whenever the core (re)started or
	// failed to; call it before Run.
	OnStart(func())
}

// Controller reaches the running UI from other goroutines (requests from a
// second launch).
type Controller struct{ u *ui.UI }

// Dial places a call for a tel: link or `ringside dial`.
func (c Controller) Dial(number string) { fyne.Do(func() { c.u.DialNow(number) }) }

// Show shows the call history: a second plain launch of Ringside.
func (c Controller) Show() { fyne.Do(c.u.ShowHistory) }

// Params is what Run needs besides the core.
type Params struct {
	Secrets   settings.SecretStore
	Notifier  app.Notifier
	Autostart ui.Autostart
	Version   string
	Logger    *slog.Logger
	// Linger is how long an ended, untouched call stays in the popup; 0
	// is the UI's default.
	Linger time.Duration
	// Stop, if set, is called on Quit before the core is awaited: it
	// cancels whatever else the caller runs beside the core (the demo's
	// simulator).
	Stop func()
	// Ready is called once, on the main goroutine, when the UI runs.
	Ready func(Controller)
}

// Run shows the tray and runs core under it until the agent quits or ctx
// is done, then waits for the core to drain. It returns the core's error.
func Run(ctx context.Context, core Core, p Params) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a := fyneapp.NewWithID(AppID)
	icon := fyne.NewStaticResource("ringside.png", assets.Icon())
	a.SetIcon(icon)

	var (
		wg       sync.WaitGroup
		coreErr  error
		coreDone = make(chan struct{})
		quitOnce sync.Once
	)
	quit := func() { // on the main goroutine: drain the core, then close the UI
		quitOnce.Do(func() {
			if p.Stop != nil {
				p.Stop()
			}
			cancel()
			wg.Go(func() { // exits once the core has drained
				<-coreDone
				fyne.Do(a.Quit) // Quit is idempotent: fine after a SIGTERM
			})
		})
	}
	opt := ui.Options{
		Secrets:   p.Secrets,
		Notifier:  p.Notifier,
		Autostart: p.Autostart,
		Placer:    placer{},
		Prewarm:   true,
		Quit:      quit,
		Version:   p.Version,
		Linger:    p.Linger,
		Logger:    p.Logger,
	}
	if d, ok := a.(desktop.App); ok {
		opt.SetTrayIcon = d.SetSystemTrayIcon
		opt.SetTrayMenu = d.SetSystemTrayMenu
		opt.SetTrayTooltip = systray.SetTooltip
	}
	u := ui.New(a, core, opt)
	core.OnStart(func() { fyne.Do(u.Refresh) })

	a.Lifecycle().SetOnStarted(func() {
		// GLFW focuses every window it shows unless told otherwise; the
		// caller popup must not take the keyboard from the agent, so no
		// window is focused on show and the UI focuses the windows the
		// agent opens (ui.showWindow). Hints stay set for every later
		// window; Fyne sets none of its own for focus.
		glfw.WindowHint(glfw.FocusOnShow, glfw.False)
		wg.Go(func() { // exits when ctx is done
			coreErr = core.Run(ctx)
			close(coreDone)
		})
		wg.Go(func() { u.Run(ctx, core.Updates()) }) // exits when ctx is done
		if p.Ready != nil {
			p.Ready(Controller{u})
		}
	})
	a.Run() // until Quit, or SIGINT/SIGTERM, which Fyne catches itself
	if p.Stop != nil {
		p.Stop()
	}
	cancel()
	wg.Wait()
	return coreErr
}

// placer puts the caller popup in the bottom-right corner of the primary
// monitor's work area (where most trays are), above other windows.
type placer struct{}

// margin keeps the popup off the screen edge and the panel, in pixels.
const margin = 12

func (placer) Place(w fyne.Window, size fyne.Size) {
	// Fyne has no API to move a window. Its GLFW windows run f with their
	// GL context current, which is how GLFW's window handle is reached.
	rc, ok := w.(interface{ RunWithContext(func()) })
	if !ok {
		return
	}
	scale := w.Canvas().Scale()
	pad := float32(0)
	if w.Padded() {
		pad = 2 * theme.Padding()
	}
	width := int(math.Ceil(float64((size.Width + pad) * scale)))
	height := int(math.Ceil(float64((size.Height + pad) * scale)))
	rc.RunWithContext(func() {
		win := glfw.GetCurrentContext()
		mon := glfw.GetPrimaryMonitor()
		if win == nil || mon == nil {
			return
		}
		win.SetAttrib(glfw.Floating, glfw.True)
		x, y, mw, mh := mon.GetWorkarea()
		win.SetPos(x+mw-width-margin, y+mh-height-margin)
	})
}
