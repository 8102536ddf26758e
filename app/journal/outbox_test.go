package journal

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/connectors"
)

func ids(items []Item) []int64 {
	var out []int64
	for _, it := range items {
		out = append(out, it.ID)
	}
	return out
}

func TestEnqueue(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	before := time.Now().Add(-time.Second)
	c := ended("k", 0, "0211234567", "+40211234567")
	first := logItem("crm", "k", 1)
	first.Log.Note = "first"
	later := logItem("crm", "k", 2)
	later.NextAt = base.Add(time.Hour)
	save(t, s, Change{Call: c, Enqueue: []Item{first, later, logItem("erp", "k", 1)}})

	items, err := s.Items(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 3 {
		t.Fatalf("%d items, want 3", len(items))
	}
	got := items[0]
	if got.State != ItemPending || got.Attempts != 0 || got.CallKey != "k" || got.Sink != "crm" || got.LastError != "" {
		t.Errorf("new item = %+v", got)
	}
	if got.NextAt.Before(stored(before)) || got.NextAt.After(time.Now()) || !got.CreatedAt.Equal(got.NextAt) {
		t.Errorf("new item: next_at %v, created_at %v; want both now", got.NextAt, got.CreatedAt)
	}
	if !got.DeliveredAt.IsZero() {
		t.Errorf("new item delivered at %v", got.DeliveredAt)
	}
	wantLog := first.Log
	wantLog.StartedAt = stored(wantLog.StartedAt)
	if !reflect.DeepEqual(got.Log, wantLog) {
		t.Errorf("log\n got %+v\nwant %+v", got.Log, wantLog)
	}
	if got, want := items[1].NextAt, base.Add(time.Hour); !got.Equal(want) {
		t.Errorf("item with NextAt: next_at %v, want %v", got, want)
	}
	one, err := s.Item(ctx, items[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(one, items[1]) {
		t.Errorf("Item(%d)\n got %+v\nwant %+v", items[1].ID, one, items[1])
	}
	if _, err := s.Item(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("Item(999): got %v, want ErrNotFound", err)
	}
	if got, err := s.Items(ctx, "absent"); err != nil || len(got) != 0 {
		t.Errorf("Items(absent) = %v, %v; want none", got, err)
	}

	// The same log for the same sink replaces the payload while pending...
	if err := s.MarkRetry(ctx, items[0].ID, base, "HTTP 503"); err != nil {
		t.Fatal(err)
	}
	second := logItem("crm", "k", 1)
	second.Log.Note = "second"
	second.NextAt = base.Add(24 * time.Hour) // not applied to an existing item
	save(t, s, Change{Call: c, Enqueue: []Item{second}})
	got, err = s.Item(ctx, items[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Log.Note != "second" || got.Attempts != 1 || got.LastError != "HTTP 503" || !got.NextAt.Equal(base) {
		t.Errorf("replaced item = %+v; want the new note, the old attempts, error and next_at", got)
	}

	// ...and not once delivered or failed.
	if err := s.MarkDelivered(ctx, []int64{items[0].ID}, base); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkFailed(ctx, items[2].ID, "HTTP 400"); err != nil {
		t.Fatal(err)
	}
	third := logItem("crm", "k", 1)
	third.Log.Note = "third"
	erp := logItem("erp", "k", 1)
	erp.Log.Note = "third"
	save(t, s, Change{Call: c, Enqueue: []Item{third, erp}})
	after, err := s.Items(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 3 {
		t.Fatalf("%d items after re-enqueueing, want 3", len(after))
	}
	if got := after[0]; got.Log.Note != "second" || got.State != ItemDelivered {
		t.Errorf("delivered item after re-enqueue: note %q, state %s; want second, delivered", got.Log.Note, got.State)
	}
	if got := after[2]; got.Log.Note != "" || got.State != ItemFailed {
		t.Errorf("failed item after re-enqueue: note %q, state %s; want empty, failed", got.Log.Note, got.State)
	}
}

func TestDue(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	c := ended("k", 0, "1", "")
	var enqueue []Item
	// next_at: i1 +3m, i2 +1m, i3 +1m, i4 +10m, i5 +0 (other sink), i6 +2m
	for _, e := range []struct {
		sink string
		rev  int
		next time.Duration
	}{
		{"crm", 1, 3 * time.Minute},
		{"crm", 2, time.Minute},
		{"crm", 3, time.Minute},
		{"crm", 4, 10 * time.Minute},
		{"erp", 1, 0},
		{"crm", 5, 2 * time.Minute},
	} {
		it := logItem(e.sink, "k", e.rev)
		it.NextAt = base.Add(e.next)
		enqueue = append(enqueue, it)
	}
	save(t, s, Change{Call: c, Enqueue: enqueue})
	now := base.Add(5 * time.Minute)

	tests := []struct {
		name  string
		sink  string
		now   time.Time
		limit int
		skip  []int64
		want  []int64
	}{
		{"due, oldest first, then by id", "crm", now, 10, nil, []int64{2, 3, 6, 1}},
		{"limit", "crm", now, 2, nil, []int64{2, 3}},
		{"default limit", "crm", now, 0, nil, []int64{2, 3, 6, 1}},
		{"skip", "crm", now, 2, []int64{2, 6}, []int64{3, 1}},
		{"next_at equal to now is due", "crm", base.Add(time.Minute), 10, nil, []int64{2, 3}},
		{"nothing due yet", "crm", base, 10, nil, nil},
		{"other sink", "erp", now, 10, nil, []int64{5}},
		{"unknown sink", "none", now, 10, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, err := s.Due(ctx, tt.sink, tt.now, tt.limit, tt.skip)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(items); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Due = %v, want %v", got, tt.want)
			}
		})
	}

	next, ok, err := s.NextDue(ctx, "crm")
	if err != nil || !ok || !next.Equal(base.Add(time.Minute)) {
		t.Errorf("NextDue(crm) = %v, %v, %v; want %v", next, ok, err, base.Add(time.Minute))
	}
	// Delivered and failed items are not due.
	if err := s.MarkDelivered(ctx, []int64{2, 3}, now); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkFailed(ctx, 6, "HTTP 422"); err != nil {
		t.Fatal(err)
	}
	if items, err := s.Due(ctx, "crm", now, 10, nil); err != nil || !reflect.DeepEqual(ids(items), []int64{1}) {
		t.Errorf("Due after marking = %v, %v; want [1]", ids(items), err)
	}
	next, ok, err = s.NextDue(ctx, "crm")
	if err != nil || !ok || !next.Equal(base.Add(3*time.Minute)) {
		t.Errorf("NextDue(crm) = %v, %v, %v; want %v", next, ok, err, base.Add(3*time.Minute))
	}
	if _, ok, err := s.NextDue(ctx, "none"); err != nil || ok {
		t.Errorf("NextDue(none) = %v, %v; want false", ok, err)
	}
}

func TestMark(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	save(t, s, Change{Call: ended("k", 0, "1", ""), Enqueue: []Item{
		logItem("crm", "k", 1), logItem("crm", "k", 2), logItem("crm", "k", 3),
	}})
	at := base.Add(time.Hour)

	// Retry twice, then deliver.
	if err := s.MarkRetry(ctx, 1, at, "dial tcp: connection refused"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkRetry(ctx, 1, at.Add(time.Minute), "HTTP 503"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Item(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != ItemPending || got.Attempts != 2 || !got.NextAt.Equal(at.Add(time.Minute)) || got.LastError != "HTTP 503" {
		t.Errorf("after two retries: %+v", got)
	}
	if err := s.MarkDelivered(ctx, []int64{1, 2}, at); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Item(ctx, 1)
	if got.State != ItemDelivered || got.Attempts != 3 || !got.DeliveredAt.Equal(at) || got.LastError != "" {
		t.Errorf("after delivery: %+v", got)
	}
	got, _ = s.Item(ctx, 2)
	if got.State != ItemDelivered || got.Attempts != 1 || !got.DeliveredAt.Equal(at) {
		t.Errorf("after delivery: %+v", got)
	}

	if err := s.MarkFailed(ctx, 3, "HTTP 422: phone is invalid"); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Item(ctx, 3)
	if got.State != ItemFailed || got.Attempts != 1 || got.LastError != "HTTP 422: phone is invalid" {
		t.Errorf("after failure: %+v", got)
	}

	errs := []struct {
		name string
		err  error
		want string
	}{
		{"retry unknown", s.MarkRetry(ctx, 99, at, "x"), "not found"},
		{"fail unknown", s.MarkFailed(ctx, 99, "x"), "not found"},
		{"retry delivered", s.MarkRetry(ctx, 1, at, "x"), "is delivered, not pending"},
		{"fail failed", s.MarkFailed(ctx, 3, "x"), "is failed, not pending"},
		{"deliver unknown", s.MarkDelivered(ctx, []int64{3, 99}, at), "item 99: not found"},
	}
	for _, e := range errs {
		if e.err == nil || !strings.Contains(e.err.Error(), e.want) {
			t.Errorf("%s: got %v, want an error saying %q", e.name, e.err, e.want)
		}
	}
	// The failed MarkDelivered changed nothing.
	if got, _ := s.Item(ctx, 3); got.State != ItemFailed {
		t.Errorf("item 3 after a failed MarkDelivered: %s, want failed", got.State)
	}
	if err := s.MarkDelivered(ctx, nil, at); err != nil {
		t.Errorf("MarkDelivered(nil): %v", err)
	}
}

func TestRetryFailedAndStats(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	save(t, s, Change{Call: ended("a", 0, "1", ""), Enqueue: []Item{logItem("crm", "a", 1), logItem("erp", "a", 1)}})
	save(t, s, Change{Call: ended("b", 1, "2", ""), Enqueue: []Item{logItem("crm", "b", 1), logItem("crm", "b", 2)}})
	// 1 a/crm failed, 2 a/erp retried, 3 b/crm failed, 4 b/crm delivered.
	steps := []error{
		s.MarkFailed(ctx, 1, "HTTP 422: a"),
		s.MarkRetry(ctx, 2, base.Add(time.Hour), "HTTP 503: a"),
		s.MarkFailed(ctx, 3, "HTTP 400: b"),
		s.MarkDelivered(ctx, []int64{4}, base),
	}
	if err := errors.Join(steps...); err != nil {
		t.Fatal(err)
	}

	stats := []struct {
		sink string
		want Stats
	}{
		{"", Stats{Pending: 1, Failed: 2, Delivered: 1, LastError: "HTTP 400: b"}},
		{"crm", Stats{Failed: 2, Delivered: 1, LastError: "HTTP 400: b"}},
		{"erp", Stats{Pending: 1, LastError: "HTTP 503: a"}},
		{"none", Stats{}},
	}
	for _, tt := range stats {
		got, err := s.Stats(ctx, tt.sink)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("Stats(%q) = %+v, want %+v", tt.sink, got, tt.want)
		}
	}

	now := base.Add(2 * time.Hour)
	n, err := s.RetryFailed(ctx, "a", now)
	if err != nil || n != 2 {
		t.Fatalf("RetryFailed(a) = %d, %v; want 2", n, err)
	}
	for _, id := range []int64{1, 2} {
		got, _ := s.Item(ctx, id)
		if got.State != ItemPending || !got.NextAt.Equal(now) || got.Attempts != 1 || got.LastError == "" {
			t.Errorf("item %d after RetryFailed: %+v; want pending at now, with its attempts and error", id, got)
		}
	}
	if got, _ := s.Item(ctx, 3); got.State != ItemFailed {
		t.Errorf("item 3 of another call after RetryFailed(a): %s", got.State)
	}
	if a, _ := s.Get(ctx, "a"); a.Delivery != DeliveryPending || a.DeliveryError == "" {
		t.Errorf("call a after RetryFailed: %s %q; want pending with the last error", a.Delivery, a.DeliveryError)
	}
	if _, err := s.RetryFailed(ctx, "absent", now); !errors.Is(err, ErrNotFound) {
		t.Errorf("RetryFailed(absent): got %v, want ErrNotFound", err)
	}
	n, err = s.RetryFailed(ctx, "", now)
	if err != nil || n != 3 {
		t.Fatalf("RetryFailed(all) = %d, %v; want 3", n, err)
	}
	if got, _ := s.Stats(ctx, ""); got.Pending != 3 || got.Failed != 0 || got.Delivered != 1 {
		t.Errorf("Stats after RetryFailed(all) = %+v", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	const writers, perWriter = 4, 25
	errc := make(chan error, 2*writers)
	for w := range writers {
		go func() { // exits after perWriter saves
			for i := range perWriter {
				key := string(rune('a'+w)) + string(rune('a'+i))
				err := s.Save(ctx, Change{
					Call:    ended(key, i, "0722555000", "+40722555000"),
					Event:   &connectors.Event{Kind: connectors.KindEnded},
					Enqueue: []Item{logItem("crm", key, 1)},
				})
				if err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
		go func() { // exits after perWriter reads
			for range perWriter {
				if _, err := s.Search(ctx, Query{Number: "555"}); err != nil {
					errc <- err
					return
				}
				items, err := s.Due(ctx, "crm", time.Now(), 5, nil)
				if err != nil {
					errc <- err
					return
				}
				// Another goroutine may deliver the same items: delivered
				// is delivered, so that is no error.
				if err := s.MarkDelivered(ctx, ids(items), time.Now()); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	for range 2 * writers {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
	st, err := s.Stats(ctx, "crm")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st.Pending+st.Delivered, writers*perWriter; got != want {
		t.Errorf("pending+delivered = %d, want %d", got, want)
	}
}
