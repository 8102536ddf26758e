package webhook

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/connectors/connectortest"
)

// countSink accepts every callback.
type countSink struct{ n atomic.Int64 }

func (s *countSink) Handle(context.Context, string, connectors.Callback) error {
	s.n.Add(1)
	return nil
}

// BenchmarkCallbacks measures accepted callbacks over loopback HTTP: an
// Accolades-style call notification (a form POST with the token), through
// every check (rate, Host, route, token, body, form, Parse with its phone
// number parsing) to the sink. "clients1" sends one at a time: the latency
// of a callback; "clients4" sends from 4 keep-alive connections at once:
// the throughput. Reports callbacks per second and p50/p99 latency as one
// client sees it (client and listener share the machine's cores).
func BenchmarkCallbacks(b *testing.B) {
	for _, clients := range []int{1, 4} {
		b.Run(fmt.Sprintf("clients%d", clients), func(b *testing.B) { benchCallbacks(b, clients) })
	}
}

func benchCallbacks(b *testing.B, clients int) {
	pp := connectortest.Phones(b, "RO")
	sink := &countSink{}
	cfg := testConfig()
	cfg.Rate, cfg.Burst = 1e9, 1e9 // measure the listener, not the limit
	l := serveListener(b, cfg, Deps{Sink: sink, Phones: pp, Logger: slog.New(slog.DiscardHandler)})

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = clients
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	target := l.URL() + "/office/notify?token=" + testToken
	body := "apiName=callNotification&event=answer&callId=1608743891.1344&userId=321&userType=agent&direction=in&phoneNumber=0211234567"
	post := func() (time.Duration, error) {
		t0 := time.Now()
		resp, err := client.Post(target, connectors.MediaForm, strings.NewReader(body))
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("status %d", resp.StatusCode)
		}
		return time.Since(t0), nil
	}

	var (
		mu   sync.Mutex
		lat  = make([]time.Duration, 0, b.N)
		next atomic.Int64
		wg   sync.WaitGroup
	)
	b.ResetTimer()
	start := time.Now()
	for range clients {
		wg.Go(func() { // exits when b.N callbacks are sent
			local := make([]time.Duration, 0, b.N/clients+1)
			for next.Add(1) <= int64(b.N) {
				d, err := post()
				if err != nil {
					b.Error(err)
					return
				}
				local = append(local, d)
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if got := sink.n.Load(); got != int64(b.N) {
		b.Fatalf("sink got %d callbacks, want %d", got, b.N)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
}

// BenchmarkRefused measures how fast a flood of requests with a wrong token
// is turned away (401), so that a misconfigured vendor cannot starve the
// agent's machine.
func BenchmarkRefused(b *testing.B) {
	pp := connectortest.Phones(b, "RO")
	cfg := testConfig()
	cfg.Rate, cfg.Burst = 1e9, 1e9
	l := serveListener(b, cfg, Deps{Sink: &countSink{}, Phones: pp, Logger: slog.New(slog.DiscardHandler)})
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	target := fmt.Sprintf("%s/office/ivr?token=wrong&activecallkey=1", l.URL())
	b.ResetTimer()
	for range b.N {
		resp, err := client.Get(target)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
