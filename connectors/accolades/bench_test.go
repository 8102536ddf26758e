package accolades

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ringside/ringside/connectors"
	"github.com/ringside/ringside/connectors/accolades/simulator"
	"github.com/ringside/ringside/connectors/connectortest"
)

// BenchmarkFrameToEvent measures an incomingCall from the moment the
// simulator is asked to send it to the moment Run emits its Event, over a
// real socket on 127.0.0.1.
func BenchmarkFrameToEvent(b *testing.B) {
	sim, url := newSim(b, simulator.Options{})
	c := newTestConnector(b, testDeps(b), conf(url))
	link := connectortest.NewLink()
	evs := make(chan connectors.Event, 1)
	link.Forward(evs)
	startRun(b, c, link)
	link.WaitInfo(b, "agent")
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if err := sim.Incoming(agentID, "0211234567", fmt.Sprintf("1608743891.%d", i), i%2 == 0); err != nil {
			b.Fatal(err)
		}
		<-evs
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Microsecond) }
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
}

// BenchmarkReconnect measures one reconnect: the server drops the
// connection, Run returns, and a new Run is signed in again (Up). There is
// no backoff sleep: that is the runner's.
func BenchmarkReconnect(b *testing.B) {
	sim, url := newSim(b, simulator.Options{})
	c := newTestConnector(b, testDeps(b), conf(url))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	run := func() (chan struct{}, chan error) {
		up := make(chan struct{})
		done := make(chan error, 1)
		link := &upLink{up: up}
		go func() { done <- c.Run(ctx, link) }() // exits when the connection ends
		return up, done
	}
	up, done := run()
	<-up
	b.ResetTimer()
	for range b.N {
		sim.Drop(agentID)
		if err := <-done; err == nil {
			b.Fatal("Run returned nil after a drop")
		}
		up, done = run()
		select {
		case <-up:
		case err := <-done:
			b.Fatalf("Run = %v", err)
		}
	}
	b.StopTimer()
	cancel()
	<-done
}

// upLink closes up on Up and ignores the rest.
type upLink struct{ up chan struct{} }

func (l *upLink) Up(string)              { close(l.up) }
func (l *upLink) Emit(connectors.Event)  {}
func (l *upLink) Info(key, value string) {}
