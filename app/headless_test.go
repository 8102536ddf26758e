package app

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/ringside/ringside/app/journal"
	"github.com/ringside/ringside/connectors"
)

type recordNotifier struct {
	shown []string
	err   error
}

func (r *recordNotifier) Notify(_ context.Context, title, body string) error {
	r.shown = append(r.shown, title+" | "+body)
	return r.err
}

func TestAnnouncer(t *testing.T) {
	n := &recordNotifier{}
	var logs bytes.Buffer
	a := NewAnnouncer(n, slog.New(slog.NewTextHandler(&logs, nil)))
	call := journal.Call{Key: "k", Direction: connectors.DirectionInbound, Queue: true, Source: "office",
		Phone: connectors.Phone{Raw: "0211234567", E164: "+40211234567"}}
	known := call
	known.Contact = connectors.Contact{Name: "Ion Popescu", Company: "Acme", Manager: "Ana"}
	updates := make(chan Update, 10)
	updates <- Update{Kind: UpdateCall, Phase: PhaseRaised, Call: call}
	updates <- Update{Kind: UpdateCall, Phase: PhaseFilled, Call: known}
	updates <- Update{Kind: UpdateCall, Phase: PhaseFilled, Call: call} // unknown: nothing new to say
	updates <- Update{Kind: UpdateConnection, Conn: ConnState{Name: "office", Status: LinkConnected}}
	updates <- Update{Kind: UpdateConnection, Conn: ConnState{Name: "office", Status: LinkConnected, Info: map[string]string{"version": "1.1.0"}}}
	close(updates)
	a.Run(context.Background(), updates)

	want := []string{
		"Incoming call (queue): +40 21 123 4567 | via office",
		"Incoming call (queue): Ion Popescu | +40 21 123 4567\nAcme\nManager: Ana\nvia office",
	}
	if strings.Join(n.shown, "\n--\n") != strings.Join(want, "\n--\n") {
		t.Errorf("notifications = %q\nwant %q", n.shown, want)
	}
	if got := strings.Count(logs.String(), "msg=connection"); got != 1 {
		t.Errorf("connection logged %d times, want once:\n%s", got, logs.String())
	}
	if strings.Contains(logs.String(), "1234567") {
		t.Errorf("a full number reached the log:\n%s", logs.String())
	}
}

func TestAnnouncerReportsNotificationFailureOnce(t *testing.T) {
	n := &recordNotifier{err: errors.New("no notification daemon")}
	var logs bytes.Buffer
	a := NewAnnouncer(n, slog.New(slog.NewTextHandler(&logs, nil)))
	updates := make(chan Update, 3)
	for range 3 {
		updates <- Update{Kind: UpdateCall, Phase: PhaseRaised, Call: journal.Call{Key: "k"}}
	}
	close(updates)
	a.Run(context.Background(), updates)
	if got := strings.Count(logs.String(), "desktop notification failed"); got != 1 {
		t.Errorf("failure logged %d times, want once", got)
	}
}
