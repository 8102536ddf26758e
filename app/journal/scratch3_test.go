package journal

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestScratchSizes(t *testing.T) {
	path := os.Getenv("SCRATCH_DB3")
	if path == "" {
		t.Skip()
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.r.Query(`SELECT name, sum(pgsize)/1024 FROM dbstat GROUP BY name ORDER BY 2 DESC`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		var k int
		rows.Scan(&n, &k)
		t.Logf("%-30s %8d KiB", n, k)
	}
}

func TestScratchSearch(t *testing.T) {
	path := os.Getenv("SCRATCH_DB4")
	if path == "" {
		t.Skip()
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for _, q := range []Query{{Number: "1234"}, {Number: "722123456"}, {Number: "0722"}, {Number: "072"}, {Name: "popescu"}, {Name: "nistor dobre"}, {Missed: true}, {}, {HasDelivery: true, Delivery: DeliveryFailed}, {HasDelivery: true, Delivery: DeliveryPending}, {HasDelivery: true, Delivery: DeliverySent}, {HasDelivery: true, Delivery: DeliveryNone}} {
		best := time.Hour
		var n int
		for range 7 {
			t0 := time.Now()
			calls, err := s.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			n = len(calls)
			best = min(best, time.Since(t0))
		}
		t.Logf("%-60v %4d best %v", q, n, best)
	}
}
