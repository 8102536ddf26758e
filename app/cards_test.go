package app

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/ringside/ringside/app/journal"
	"github.com/ringside/ringside/connectors"
)

type recordCards struct {
	mu  sync.Mutex
	got []string
}

func (r *recordCards) NotifyCall(_ context.Context, key string, ev connectors.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, key+":"+ev.Kind.String()+":"+ev.Result.String())
	return nil
}

func TestCallCards(t *testing.T) {
	rec := &recordCards{}
	updates := make(chan Update, 10)
	in := journal.Call{Key: "in", State: journal.StateRinging, Direction: connectors.DirectionInbound}
	out := journal.Call{Key: "out", State: journal.StateDialing, Direction: connectors.DirectionOutbound}
	inEnded := in
	inEnded.State, inEnded.Result = journal.StateEnded, connectors.ResultMissed
	outEnded := out
	outEnded.State, outEnded.Result = journal.StateEnded, connectors.ResultAnswered
	for _, u := range []Update{
		{Kind: UpdateCall, Phase: PhaseRaised, Call: in},
		{Kind: UpdateCall, Phase: PhaseFilled, Call: in},
		{Kind: UpdateCall, Phase: PhaseRaised, Call: out},
		{Kind: UpdateCall, Phase: PhaseChanged, Call: out},
		{Kind: UpdateStatus, Status: connectors.StatusBusy},
		{Kind: UpdateCall, Phase: PhaseEnded, Call: inEnded},
		{Kind: UpdateCall, Phase: PhaseEnded, Call: outEnded},
	} {
		updates <- u
	}
	close(updates)
	callCards{crm: rec, log: slog.New(slog.DiscardHandler)}.run(context.Background(), updates)
	want := []string{"in:ringing:unknown", "out:dialing:unknown", "in:missed:missed", "out:ended:answered"}
	if len(rec.got) != len(want) {
		t.Fatalf("cards = %q, want %q", rec.got, want)
	}
	for i := range want {
		if rec.got[i] != want[i] {
			t.Errorf("card %d = %q, want %q", i, rec.got[i], want[i])
		}
	}
}
