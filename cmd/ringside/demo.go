package main

import (
	"context"
	"crypto/rand"
	"encoding/csv"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ringside/ringside/app"
	"github.com/ringside/ringside/app/notify"
	"github.com/ringside/ringside/connectors/accolades/simulator"
	"github.com/ringside/ringside/settings"
)

const demoAgent = "demo-agent"

// demo runs Ringside against the built-in Accolades simulator: a real
// server on loopback speaking the Accolades protocol, a contacts file that
// knows some of the callers, and a stream of calls — no account needed.
func (e *env) demo(ctx context.Context, args []string) error {
	fs := e.flags("demo")
	dataDir := fs.String("data", filepath.Join(settings.DefaultDataDir(), "demo"), "where the demo keeps its settings, contacts and journal")
	gap := fs.Duration("gap", 8*time.Second, "shortest pause between two calls")
	speed := fs.Float64("speed", 10, "ring and talk times are divided by this")
	headless := fs.Bool("headless", false, "no window: calls become desktop notifications and log lines")
	if err := parse(fs, args); err != nil {
		return err
	}
	ctx, stop := context.WithCancel(ctx) // Quit in the tray ends the whole demo
	defer stop()
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	slog.SetDefault(log)

	sim := simulator.New(simulator.Options{
		IDs: map[string]simulator.Agent{demoAgent: {
			Account: simulator.Entity{ID: "15", Data: `{"company":"Ringside Demo SRL"}`},
			Phone:   simulator.Entity{ID: "27", Data: "softphone"},
			Agent:   simulator.Entity{ID: "321", Data: `{"name":"Demo Agent"}`},
		}},
		TrailingComma: true, // as the vendor's documentation writes it
		Logger:        log.With("component", "simulator"),
	})
	simCtx, stopSim := context.WithCancel(ctx)
	defer stopSim()
	simURL, err := sim.Start(simCtx, "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo: start the Accolades simulator: %w", err)
	}
	defer sim.Wait()

	cfg, err := writeDemoFiles(*dataDir, simURL)
	if err != nil {
		return err
	}
	// The webhook listener's token, known to the simulator, which posts the
	// call notifications to the listener as Accolades would.
	secrets := settings.NewMemoryStore()
	token := rand.Text()
	if err := secrets.Set(app.WebhookTokenKey, token); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	a, err := app.New(app.Deps{Config: cfg, Registry: registry(), Secrets: secrets, Logger: log})
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.Webhook.Bind(); err != nil { // port 0: learn the port now
		return fmt.Errorf("demo: %w", err)
	}
	hook := a.Webhook.URL() + "/office/notify"

	fmt.Fprintf(e.stdout, "Ringside demo: simulator at %s, call notifications to %s, data in %s\nhistory: ringside history --config %s\n",
		simURL, hook, *dataDir, cfg.Path)

	updates, unsubscribe := a.Bus.Subscribe(256)
	var wg sync.WaitGroup
	wg.Go(func() { // exits when ctx is done
		sim.RunScenario(ctx, demoAgent, simulator.Scenario{MinGap: *gap, MaxGap: 2 * *gap, Speed: *speed}, hook+"?token="+url.QueryEscape(token))
	})
	// The desktop app with a display (it runs a until Quit), else headless.
	if ran, derr := e.demoDesktop(ctx, a, cfg, log, stop, *headless); ran {
		err = derr
	} else {
		wg.Go(func() { app.NewAnnouncer(notify.NewDesktop("Ringside", ""), log).Run(ctx, updates) }) // exits when ctx is done
		err = a.Run(ctx)
	}
	unsubscribe()
	stopSim()
	wg.Wait()
	return err
}

// writeDemoFiles writes the demo's contacts and settings and loads them.
func writeDemoFiles(dir, simURL string) (*settings.Config, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	contacts := filepath.Join(dir, "contacts.csv")
	f, err := os.Create(contacts)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	w := csv.NewWriter(f)
	w.Write([]string{"name", "company", "manager", "phone"})
	for _, c := range simulator.DemoContacts() {
		w.Write([]string{c.Name, c.Company, c.Manager, c.Number})
	}
	w.Flush()
	if err := errors.Join(w.Error(), f.Close()); err != nil {
		return nil, fmt.Errorf("demo: write %s: %w", contacts, err)
	}
	path := filepath.Join(dir, "config.toml")
	config := fmt.Sprintf(`# Written by "ringside demo" at every start.
region = "RO"
contacts = ["contacts.csv"]

[notifications]
mode = "notification"

[data]
dir = %q

# The simulator posts Accolades' call notifications to the webhook listener
# (POST /office/notify?token=…); port 0 takes a free port at every start.
[webhook]
listen = "127.0.0.1:0"

[connectors.office]
type = "accolades"
url = %q
id_crm = %q
`, dir, simURL, demoAgent)
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	return settings.Load(path)
}
