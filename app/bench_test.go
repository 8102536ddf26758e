package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/ringside/ringside/app/journal"
	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/connectors/accolades"
	"github.com/ringside/ringside/connectors/accolades/simulator"
	"github.com/ringside/ringside/connectors/httpcrm"
	"github.com/ringside/ringside/settings"
)

// BenchmarkEventToPopup measures a ring event entering the engine to its
// popup update leaving it, on an engine that journals every event (the
// ring and the end of each call). Reports p50/p99 of that latency; ns/op
// also counts the call's journal writes.
func BenchmarkEventToPopup(b *testing.B) {
	store, err := journal.Open(filepath.Join(b.TempDir(), "j.db"), journal.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	phones, _ := connectors.NewPhoneParser("RO")
	bus := NewBus()
	updates, unsub := bus.Subscribe(1 << 16)
	defer unsub()
	e := NewEngine(EngineConfig{Sink: "crm"}, store, nil, bus, clockwork.NewRealClock(), slog.New(slog.DiscardHandler), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()

	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		id := fmt.Sprintf("1700000000.%d", i)
		p := phones.Parse(fmt.Sprintf("07%08d", i))
		start := time.Now()
		e.Emit(nil, connectors.Event{Kind: connectors.KindRinging, Vendor: "accolades", CallID: id, Phone: p, Source: "office", Received: start})
		for u := range updates {
			if u.Kind == UpdateCall && u.Phase == PhaseRaised {
				break
			}
		}
		lat = append(lat, time.Since(start))
		e.Emit(nil, connectors.Event{Kind: connectors.KindEnded, Vendor: "accolades", CallID: id, Phone: p, Source: "office", Received: time.Now()})
		// Let the engine finish this call's writes: calls do not arrive
		// every millisecond, and the popup of the next one should not be
		// measured queueing behind them.
		b.StopTimer()
		if _, err := e.Status(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	cancel()
	<-done
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkOutboxThroughput drains a backlog of call logs into a local HTTP
// CRM through the httpcrm connector: real journal, real HTTP on loopback.
func BenchmarkOutboxThroughput(b *testing.B) {
	for _, tc := range []struct {
		name    string
		batch   int
		workers int
	}{{"batch1-workers4", 1, 4}, {"batch50-workers2", 50, 2}} {
		b.Run(tc.name, func(b *testing.B) {
			var got atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.batch > 1 {
					got.Add(int64(countArray(r)))
				} else {
					got.Add(1)
				}
				w.WriteHeader(http.StatusCreated)
			}))
			defer srv.Close()
			sec := settings.NewConnectorConfig("crm", "httpcrm", true, map[string]any{"url": srv.URL, "batch_size": int64(tc.batch)})
			phones, _ := connectors.NewPhoneParser("RO")
			crm, err := httpcrm.Type().New(sec, connectors.Deps{Name: "crm", Logger: slog.New(slog.DiscardHandler), Phones: phones,
				Clock: clockwork.NewRealClock(), Secrets: settings.InstanceSecrets{Store: settings.NewMemoryStore(), Instance: "crm"}})
			if err != nil {
				b.Fatal(err)
			}
			store, err := journal.Open(filepath.Join(b.TempDir(), "j.db"), journal.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			now := time.Now()
			for i := range b.N {
				key := fmt.Sprintf("call-%07d", i)
				c := journal.Call{Key: key, State: journal.StateEnded, Direction: connectors.DirectionInbound,
					Phone: phones.Parse(fmt.Sprintf("07%08d", i)), Result: connectors.ResultAnswered, StartedAt: now, EndedAt: now, UpdatedAt: now, Revision: 1}
				if err := store.Save(context.Background(), journal.Change{Call: c, Enqueue: []journal.Item{{Sink: "crm", CallKey: key, Log: callLog(c, 1)}}}); err != nil {
					b.Fatal(err)
				}
			}
			d := NewDelivery(DeliveryConfig{Sink: "crm", Workers: tc.workers}, store, crm.(connectors.CallLogger), clockwork.NewRealClock(), slog.New(slog.DiscardHandler), NewBus())
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			b.ResetTimer()
			start := time.Now()
			go func() { d.Run(ctx); close(done) }()
			for {
				st, err := store.Stats(context.Background(), "crm")
				if err != nil {
					b.Fatal(err)
				}
				if st.Delivered == b.N {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			cancel()
			<-done
			if got.Load() < int64(b.N) {
				b.Fatalf("CRM got %d logs, want %d", got.Load(), b.N)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
		})
	}
}

func countArray(r *http.Request) int {
	var logs []connectors.CallLog
	if err := jsonDecode(r, &logs); err != nil {
		return 0
	}
	return len(logs)
}

func jsonDecode(r *http.Request, v any) error { return json.NewDecoder(r.Body).Decode(v) }

// BenchmarkFrameToPopup measures the whole live path: the Accolades
// simulator writes an incomingCall frame on a real loopback WebSocket, the
// accolades connector decodes it, the runner stamps it, the engine raises
// the popup. Reports p50/p99 from the server's write to the popup update.
func BenchmarkFrameToPopup(b *testing.B) {
	sim := simulator.New(simulator.Options{IDs: map[string]simulator.Agent{"agent": {}}})
	ctx, cancel := context.WithCancel(context.Background())
	simURL, err := sim.Start(ctx, "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	phones, _ := connectors.NewPhoneParser("RO")
	discard := slog.New(slog.DiscardHandler)
	conn, err := accolades.New(accolades.Config{URL: simURL, IDCrm: "agent"}, connectors.Deps{Name: "office", Logger: discard, Phones: phones, Clock: clockwork.NewRealClock()})
	if err != nil {
		b.Fatal(err)
	}
	store, err := journal.Open(filepath.Join(b.TempDir(), "j.db"), journal.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	bus := NewBus()
	updates, unsub := bus.Subscribe(1 << 12)
	defer unsub()
	e := NewEngine(EngineConfig{}, store, nil, bus, clockwork.NewRealClock(), discard, nil)
	r := NewRunner(clockwork.NewRealClock(), discard, bus, DefaultBackoff(), e.Emit)
	r.Add("office", conn)
	var wg sync.WaitGroup
	wg.Go(func() { e.Run(ctx) })
	wg.Go(func() { r.Run(ctx) })
	if err := sim.WaitConnected(ctx, "agent"); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if err := sim.Incoming("agent", fmt.Sprintf("07%08d", i), fmt.Sprintf("1700000000.%d", i), i%3 == 0); err != nil {
			b.Fatal(err)
		}
		for u := range updates {
			if u.Kind == UpdateCall && u.Phase == PhaseRaised {
				break
			}
		}
		lat = append(lat, time.Since(start))
		b.StopTimer()
		if _, err := e.Status(ctx); err != nil { // let the journal write finish
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	cancel()
	wg.Wait()
	sim.Wait()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
