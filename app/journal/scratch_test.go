package journal

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestScratchFixture(t *testing.T) {
	path := os.Getenv("SCRATCH_DB")
	if path == "" {
		t.Skip()
	}
	ctx := context.Background()
	os.Remove(path)
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Now()
	chs := romanianCalls(100_000, time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))
	t.Logf("gen %v", time.Since(t0))
	if err := s.saveAll(ctx, chs); err != nil {
		t.Fatal(err)
	}
	t.Logf("save %v", time.Since(t0))
	if err := deliverMost(ctx, s, 100_000); err != nil {
		t.Fatal(err)
	}
	t.Logf("deliver %v", time.Since(t0))
}

func TestScratchPlan(t *testing.T) {
	path := os.Getenv("SCRATCH_DB")
	q := os.Getenv("SCRATCH_Q")
	if path == "" || q == "" {
		t.Skip()
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.r.Query("EXPLAIN QUERY PLAN " + q)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a, b, c int
		var d string
		rows.Scan(&a, &b, &c, &d)
		t.Logf("%d %d %s", a, b, d)
	}
	for i := 0; i < 3; i++ {
		t0 := time.Now()
		rows, err := s.r.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			n++
		}
		t.Logf("%d rows in %v", n, time.Since(t0))
	}
}
