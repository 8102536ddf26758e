package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/connectors/webhook"
	"github.com/ringside/ringside/settings"
)

// WebhookTokenKey is the keyring entry of the webhook listener's token.
const WebhookTokenKey = settings.WebhookInstance + ".token"

// newWebhook builds the listener from [webhook] and mounts the routes of
// every connector that takes callbacks. It binds nothing.
func (a *App) newWebhook(secrets settings.SecretStore) error {
	wc := a.cfg.Webhook
	token, err := webhookToken(secrets, a.log)
	if err != nil {
		return err
	}
	cfg := webhook.DefaultConfig()
	cfg.Listen = wc.Listen
	cfg.Hosts = wc.Hosts
	cfg.Origins = wc.Origins
	cfg.PublicURL = wc.PublicURL
	cfg.Token = token
	cfg.MaxBody = int64(wc.MaxBody)
	cfg.Rate, cfg.Burst = wc.Rate, wc.Burst
	cfg.Dedupe = wc.Dedupe.Duration
	l, err := webhook.New(cfg, webhook.Deps{
		Sink:   webhookSink{a},
		Phones: a.Phones,
		Logger: a.log.With("component", "webhook"),
		Clock:  a.clock,
		OnState: func(s webhook.State) {
			a.Bus.Publish(Update{Kind: UpdateListener, At: a.clock.Now(), Listener: s})
		},
	})
	if err != nil {
		return fmt.Errorf("%s: [webhook]: %w", a.cfg.Path, err)
	}
	var errs []error
	for _, in := range a.instances {
		if r, ok := in.Value.(connectors.Router); ok {
			if err := l.Mount(in.Name, r.Routes()); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if !webhook.IsLoopback(wc.Listen) {
		a.log.Warn("the webhook listener is reachable from the network; a reverse proxy or tunnel with TLS in front of 127.0.0.1 is safer (README, \"Webhook listener\")", "listen", wc.Listen)
	}
	a.Webhook = l
	return nil
}

// webhookToken returns the listener's token from the secret store, making
// and storing one the first time. Without a store that keeps it (no
// keyring), the token made lives for this run only, with a warning.
func webhookToken(store settings.SecretStore, log *slog.Logger) (string, error) {
	if store != nil {
		tok, err := store.Get(WebhookTokenKey)
		switch {
		case err == nil && len(tok) < webhook.MinTokenLength:
			return "", fmt.Errorf("webhook: the token %s is shorter than %d characters: set a longer one with \"ringside secret set %s\", or delete it and Ringside makes one",
				WebhookTokenKey, webhook.MinTokenLength, WebhookTokenKey)
		case err == nil:
			return tok, nil
		case !errors.Is(err, settings.ErrSecretNotFound):
			return "", fmt.Errorf("webhook: token: %w", err)
		}
	}
	tok := rand.Text()
	var err error
	if store == nil {
		err = errors.New("no secret store")
	} else {
		err = store.Set(WebhookTokenKey, tok)
	}
	if err != nil {
		log.Warn("webhook: the listener's token cannot be kept; using a new one for this run only, so vendors given the token are refused after a restart (set "+
			settings.EnvName(WebhookTokenKey)+" to keep one)", "error", err)
		return tok, nil
	}
	log.Info("webhook: made the listener's token and stored it in the OS keyring", "secret", WebhookTokenKey)
	return tok, nil
}

// CallbackBase is where vendors reach an instance's routes: the public URL
// of [webhook], or the listen address on this computer, followed by
// "/<instance>". With port 0 (tests) the port is only known once bound.
func CallbackBase(cfg *settings.Config, instance string) string {
	base := strings.TrimRight(cfg.Webhook.PublicURL, "/")
	if base == "" {
		host, port, err := net.SplitHostPort(cfg.Webhook.Listen)
		if ip := net.ParseIP(host); err == nil && ip != nil && ip.IsUnspecified() {
			host = "127.0.0.1"
		}
		base = "http://" + net.JoinHostPort(host, port)
	}
	return base + "/" + instance
}

// WebhookState is the listener's state for the tray's diagnostics and
// doctor; Status is webhook.StatusOff when [webhook] is disabled.
func (a *App) WebhookState() webhook.State {
	if a.Webhook == nil {
		return webhook.State{Status: webhook.StatusOff, Addr: a.cfg.Webhook.Listen, Loopback: webhook.IsLoopback(a.cfg.Webhook.Listen)}
	}
	return a.Webhook.State()
}

// webhookSink carries out what the listener's routes yield.
type webhookSink struct{ a *App }

// Handle hands events to the engine as from's, then sets the status, then
// dials, stopping at the first failure.
func (s webhookSink) Handle(ctx context.Context, from string, cb connectors.Callback) error {
	a := s.a
	now := a.clock.Now()
	for _, ev := range cb.Events {
		ev.Source, ev.Received = from, now
		a.Engine.Emit(ctx.Done(), ev)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%w: %w", webhook.ErrUnavailable, err)
		}
	}
	if cb.Status != connectors.StatusUnknown {
		if err := a.setStatus(ctx, cb.Status, from); err != nil {
			return err
		}
	}
	if !cb.Dial.IsZero() {
		number := cb.Dial.E164
		if number == "" {
			number = cb.Dial.Raw
		}
		if err := a.Dial(ctx, number); err != nil {
			return err
		}
	}
	return nil
}
