package retailcrm_test

// The benchmark drives the whole delivery path — the app's outbox workers,
// the SQLite journal, this connector, HTTP on loopback — so it lives in the
// external test package: the connector itself never imports app.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/time/rate"

	"github.com/ringside/ringside/app"
	"github.com/ringside/ringside/app/journal"
	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/connectors/retailcrm"
	"github.com/ringside/ringside/settings"
)

// BenchmarkUploadBacklog drains a backlog of 10,000 finished calls from a
// real journal through app.Delivery (2 workers) and LogCalls into a local
// retailCRM that allows 40 requests/s (a token bucket of 40/s with a burst
// of 10) and answers 429 with Retry-After: 1 above it. The ceiling is
// 40 × 50 = 2,000 calls/s. Reports calls/s, requests and 429s.
func BenchmarkUploadBacklog(b *testing.B) {
	const backlog = 10000
	for range b.N {
		b.StopTimer()
		var calls, requests, limited atomic.Int64
		limit := rate.NewLimiter(retailcrm.TelephonyRate, 10)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			if r.Method != http.MethodPost || r.URL.Path != "/api/v5/telephony/calls/upload" || r.Header.Get("X-API-KEY") != "bench-key" {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			if !limit.Allow() {
				limited.Add(1)
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				fmt.Fprint(w, `{"success":false,"errorMsg":"Too many requests"}`)
				return
			}
			var batch []json.RawMessage
			if err := json.Unmarshal([]byte(r.PostFormValue("calls")), &batch); err != nil || len(batch) > retailcrm.MaxBatch {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"success":false,"errorMsg":"bad calls"}`)
				return
			}
			calls.Add(int64(len(batch)))
			fmt.Fprintf(w, `{"success":true,"processedCallsCount":%d,"duplicateCalls":[]}`, len(batch))
		}))

		phones, _ := connectors.NewPhoneParser("RU")
		store := settings.NewMemoryStore()
		if err := store.Set("crm.api_key", "bench-key"); err != nil {
			b.Fatal(err)
		}
		sec := settings.NewConnectorConfig("crm", "retailcrm", true, map[string]any{"url": srv.URL, "user_id": int64(1)})
		crm, err := retailcrm.Type().New(sec, connectors.Deps{Name: "crm", Logger: slog.New(slog.DiscardHandler), Phones: phones,
			Clock: clockwork.NewRealClock(), Secrets: settings.InstanceSecrets{Store: store, Instance: "crm"}})
		if err != nil {
			b.Fatal(err)
		}
		j, err := journal.Open(filepath.Join(b.TempDir(), "j.db"), journal.Options{})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		now := time.Now()
		for i := range backlog {
			key := fmt.Sprintf("call-%05d", i)
			c := journal.Call{Key: key, State: journal.StateEnded, Direction: connectors.DirectionInbound, Revision: 1,
				Phone: phones.Parse(fmt.Sprintf("+7912%07d", i)), Result: connectors.ResultAnswered,
				StartedAt: now, AnsweredAt: now.Add(5 * time.Second), EndedAt: now.Add(95 * time.Second), UpdatedAt: now}
			log := connectors.CallLog{Key: key, CallKey: key, Revision: 1, Direction: c.Direction, Phone: c.Phone, Result: c.Result,
				StartedAt: c.StartedAt, AnsweredAt: c.AnsweredAt, EndedAt: c.EndedAt, Talk: 90 * time.Second, Waiting: 5 * time.Second}
			if err := j.Save(ctx, journal.Change{Call: c, Enqueue: []journal.Item{{Sink: "crm", CallKey: key, Log: log}}}); err != nil {
				b.Fatal(err)
			}
		}
		d := app.NewDelivery(app.DeliveryConfig{Sink: "crm", Workers: 2}, j, crm.(connectors.CallLogger),
			clockwork.NewRealClock(), slog.New(slog.DiscardHandler), app.NewBus())
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})

		b.StartTimer()
		start := time.Now()
		go func() { d.Run(runCtx); close(done) }() // exits when runCtx is cancelled
		for {
			st, err := j.Stats(ctx, "crm")
			if err != nil {
				b.Fatal(err)
			}
			if st.Failed > 0 {
				b.Fatalf("%d logs failed: %s", st.Failed, st.LastError)
			}
			if st.Delivered == backlog {
				break
			}
			time.Sleep(time.Millisecond)
		}
		elapsed := time.Since(start)
		b.StopTimer()

		cancel()
		<-done
		srv.Close()
		if err := j.Close(); err != nil {
			b.Fatal(err)
		}
		if got := calls.Load(); got != backlog {
			b.Fatalf("retailCRM got %d calls, want %d", got, backlog)
		}
		b.ReportMetric(float64(backlog)/elapsed.Seconds(), "calls/s")
		b.ReportMetric(float64(requests.Load()), "requests")
		b.ReportMetric(float64(limited.Load()), "429s")
		b.StartTimer()
	}
}
