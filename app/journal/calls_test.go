package journal

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/connectors"
)

// stored is t as the journal gives it back: UTC, milliseconds.
func stored(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

func TestSaveGetRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	bucharest := time.FixedZone("EET", 2*60*60)
	// Times with nanoseconds, a zone and a monotonic reading.
	started := time.Now().In(bucharest)
	full := Call{
		Key:          "0192d3c4-full",
		State:        StateEnded,
		Direction:    connectors.DirectionOutbound,
		Phone:        connectors.Phone{Raw: "0721 123 456", E164: "+40721123456"},
		Result:       connectors.ResultNoAnswer,
		Queue:        true,
		Source:       "accolades-socket",
		Vendor:       "accolades",
		VendorCallID: "ac-991",
		Agent:        "agent-7",
		StartedAt:    started,
		AnsweredAt:   started.Add(3*time.Second + 123456789),
		EndedAt:      started.Add(95 * time.Second),
		UpdatedAt:    started.Add(96 * time.Second),
		Contact: connectors.Contact{
			ID:      "c-17",
			Name:    "Ștefan Ioniță",
			Company: "Țară Nouă SRL",
			Manager: "Maria",
			URL:     "https://crm.example/contacts/17",
			NewURL:  "https://crm.example/contacts/new?phone=%2B40721123456",
			Source:  "retailcrm",
			Extra:   map[string]string{"segment": "vip", "city": "Cluj-Napoca"},
		},
		Note:          "call back after 5 — \"urgent\"",
		Disposition:   "callback",
		Recording:     "https://pbx.example/rec/991.mp3",
		Revision:      3,
		Delivery:      DeliveryFailed, // ignored by Save
		DeliveryError: "ignored",
	}
	minimal := Call{Key: "min", State: StateRinging}

	tests := []struct {
		name string
		call Call
	}{
		{"every field", full},
		{"minimal", minimal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			save(t, s, Change{Call: tt.call})
			got, err := s.Get(ctx, tt.call.Key)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.call
			want.StartedAt = stored(want.StartedAt)
			want.AnsweredAt = stored(want.AnsweredAt)
			want.EndedAt = stored(want.EndedAt)
			want.UpdatedAt = stored(want.UpdatedAt)
			want.Delivery, want.DeliveryError = DeliveryNone, ""
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Get(%q)\n got %+v\nwant %+v", tt.call.Key, got, want)
			}
		})
	}

	if _, err := s.Get(ctx, "absent"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(absent): got %v, want ErrNotFound", err)
	}
}

func TestSaveRejects(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	good := ended("k", 0, "1", "")
	tests := []struct {
		name string
		ch   Change
		want string
	}{
		{"no key", Change{Call: Call{State: StateEnded}}, "no key"},
		{"state new", Change{Call: Call{Key: "k"}}, "state new"},
		{"bad state", Change{Call: Call{Key: "k", State: 42}}, "state(42)"},
		{"bad direction", Change{Call: Call{Key: "k", State: StateEnded, Direction: 9}}, "direction(9)"},
		{"bad event kind", Change{Call: good, Event: &connectors.Event{Kind: 99}}, "kind(99)"},
		{"ref without call id", Change{Call: good, Refs: []Ref{{Vendor: "pbx"}}}, "no call id"},
		{"item without sink", Change{Call: good, Enqueue: []Item{{Log: connectors.CallLog{Key: "l"}}}}, "no sink"},
		{"item without key", Change{Call: good, Enqueue: []Item{{Sink: "crm"}}}, "no key"},
		{"item of another call", Change{Call: good, Enqueue: []Item{{Sink: "crm", CallKey: "other", Log: connectors.CallLog{Key: "l"}}}}, "belongs to call other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Save(ctx, tt.ch)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Save: got %v, want an error saying %q", err, tt.want)
			}
		})
	}
	if calls, err := s.Search(ctx, Query{}); err != nil || len(calls) != 0 {
		t.Errorf("after rejected saves: %d calls, %v; want none", len(calls), err)
	}
}

func TestSaveUpsert(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	c := Call{
		Key:       "k",
		State:     StateRinging,
		Direction: connectors.DirectionInbound,
		Phone:     connectors.Phone{Raw: "0211234567", E164: "+40211234567"},
		StartedAt: base,
		Contact:   connectors.Contact{Name: "Old Name", Extra: map[string]string{"a": "1"}},
	}
	save(t, s, Change{Call: c})

	c.State = StateEnded
	c.Result = connectors.ResultAnswered
	c.AnsweredAt = base.Add(time.Second)
	c.EndedAt = base.Add(time.Minute)
	c.Contact = connectors.Contact{Name: "New Name"}
	c.Note = "done"
	c.Revision = 1
	save(t, s, Change{Call: c})

	got, err := s.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("after update\n got %+v\nwant %+v", got, c)
	}
	// The search columns follow the update.
	if calls, _ := s.Search(ctx, Query{Name: "old"}); len(calls) != 0 {
		t.Errorf("Search(old name) found %d calls, want 0", len(calls))
	}
	if calls, _ := s.Search(ctx, Query{Name: "new"}); len(calls) != 1 {
		t.Errorf("Search(new name) found %d calls, want 1", len(calls))
	}
	if calls, _ := s.Search(ctx, Query{}); len(calls) != 1 {
		t.Errorf("Search found %d calls, want 1", len(calls))
	}
}

func TestEvents(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	at := time.Date(2025, 3, 14, 11, 22, 33, 444555666, time.FixedZone("EET", 7200))
	events := []connectors.Event{
		{
			Kind:      connectors.KindRinging,
			Direction: connectors.DirectionInbound,
			Source:    "accolades-socket",
			Vendor:    "accolades",
			CallID:    "ac-1",
			Phone:     connectors.Phone{Raw: "0721123456", E164: "+40721123456"},
			Agent:     "a7",
			Queue:     true,
			Result:    connectors.ResultUnknown,
			At:        at,
			Received:  at.Add(150 * time.Millisecond),
			Extra:     map[string]string{"did": "0311001000", "campaign": "spring"},
		},
		{Kind: connectors.KindAnswered, At: at.Add(5 * time.Second)},
		{Kind: connectors.KindAgentStatus, Status: connectors.StatusBreak},
		{
			Kind:      connectors.KindEnded,
			Direction: connectors.DirectionInbound,
			Result:    connectors.ResultAnswered,
			Recording: "https://pbx.example/rec/1.mp3",
			At:        at.Add(time.Minute),
			Extra:     map[string]string{},
		},
	}
	c := ended("k", 0, "0721123456", "+40721123456")
	for i := range events {
		save(t, s, Change{Call: c, Event: &events[i]})
	}
	save(t, s, Change{Call: c}) // no event

	got, err := s.Events(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	want := make([]connectors.Event, len(events))
	for i, e := range events {
		e.At, e.Received = stored(e.At), stored(e.Received)
		if len(e.Extra) == 0 {
			e.Extra = nil
		}
		want[i] = e
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Events\n got %+v\nwant %+v", got, want)
	}

	if _, err := s.Events(ctx, "absent"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Events(absent): got %v, want ErrNotFound", err)
	}
	save(t, s, Change{Call: ended("quiet", 1, "1", "")})
	if got, err := s.Events(ctx, "quiet"); err != nil || len(got) != 0 {
		t.Errorf("Events(quiet) = %v, %v; want none", got, err)
	}
}

func TestRefs(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	save(t, s, Change{Call: ended("a", 0, "1", ""), Refs: []Ref{
		{Vendor: "accolades", CallID: "x1"},
		{Vendor: "accolades", CallID: "x1"}, // duplicate in one change
		{Vendor: "zadarma", CallID: "x1"},   // same id, other vendor
	}})
	save(t, s, Change{Call: ended("a", 0, "1", ""), Refs: []Ref{{Vendor: "accolades", CallID: "x1"}}}) // again
	save(t, s, Change{Call: ended("b", 1, "2", ""), Refs: []Ref{
		{Vendor: "accolades", CallID: "x1"}, // already a's: stays a's
		{Vendor: "accolades", CallID: "x2"},
	}})

	tests := []struct {
		vendor, callID string
		want           string // call key; "" for not found
	}{
		{"accolades", "x1", "a"},
		{"zadarma", "x1", "a"},
		{"accolades", "x2", "b"},
		{"zadarma", "x2", ""},
		{"", "x1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.vendor+"/"+tt.callID, func(t *testing.T) {
			c, err := s.FindByRef(ctx, tt.vendor, tt.callID)
			if tt.want == "" {
				if !errors.Is(err, ErrNotFound) {
					t.Errorf("FindByRef: got %v, want ErrNotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Key; got != tt.want {
				t.Errorf("FindByRef = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOpenCalls(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	calls := []Call{
		ended("done", 0, "1", ""),
		{Key: "ringing", State: StateRinging, StartedAt: base.Add(3 * time.Minute)},
		{Key: "dialing", State: StateDialing, StartedAt: base.Add(1 * time.Minute)},
		{Key: "talking", State: StateAnswered, StartedAt: base.Add(2 * time.Minute)},
		{Key: "talking2", State: StateAnswered, StartedAt: base.Add(2 * time.Minute)},
	}
	for _, c := range calls {
		save(t, s, Change{Call: c})
	}
	got, err := s.OpenCalls(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := keys(got), []string{"dialing", "talking", "talking2", "ringing"}; !reflect.DeepEqual(got, want) {
		t.Errorf("OpenCalls = %v, want %v", got, want)
	}
}

func keys(calls []Call) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.Key)
	}
	return out
}

// searchFixture saves calls with distinct numbers, contacts, times, results
// and delivery states.
func searchFixture(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	type fix struct {
		key       string
		min       int
		raw, e164 string
		name, co  string
		result    connectors.Result
		items     []ItemState // outbox items, in order
	}
	fixtures := []fix{
		{"c01", 0, "021 123 4567", "+40211234567", "Ștefan Popescu", "Acme SRL", connectors.ResultAnswered, nil},
		{"c02", 10, "0722 555 000", "+40722555000", "Ioana Ioniță", "Ioniță & Fiii", connectors.ResultMissed, []ItemState{ItemDelivered}},
		{"c03", 20, "105", "", "", "", connectors.ResultAnswered, []ItemState{ItemPending}},
		{"c04", 30, "+40 744 100 200", "+40744100200", "Andrei Stan", "", connectors.ResultMissed, []ItemState{ItemFailed, ItemDelivered}},
		{"c05", 30, "0744100201", "+40744100201", "", "Stanca Logistic", connectors.ResultBusy, []ItemState{ItemDelivered, ItemPending}},
		{"c06", 24 * 60, "0040 21 999 1234", "+40219991234", "Mihai Pop", "Popas SA", connectors.ResultMissed, []ItemState{ItemDelivered, ItemDelivered}},
	}
	for _, f := range fixtures {
		c := ended(f.key, f.min, f.raw, f.e164)
		c.Contact = connectors.Contact{Name: f.name, Company: f.co}
		c.Result = f.result
		var enqueue []Item
		for i := range f.items {
			enqueue = append(enqueue, logItem(fmt.Sprintf("sink%d", i), f.key, 1))
		}
		save(t, s, Change{Call: c, Enqueue: enqueue})
		items, err := s.Items(ctx, f.key)
		if err != nil {
			t.Fatal(err)
		}
		for i, st := range f.items {
			switch st {
			case ItemDelivered:
				err = s.MarkDelivered(ctx, []int64{items[i].ID}, base)
			case ItemFailed:
				err = s.MarkFailed(ctx, items[i].ID, "HTTP 422: phone invalid")
			case ItemPending:
				err = s.MarkRetry(ctx, items[i].ID, base.Add(time.Hour), "HTTP 503")
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestSearch(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	searchFixture(t, s)

	tests := []struct {
		name string
		q    Query
		want []string
	}{
		{"all, newest first, ties by key", Query{}, []string{"c06", "c05", "c04", "c03", "c02", "c01"}},
		{"digits in the middle", Query{Number: "1234"}, []string{"c06", "c01"}},
		{"digits typed with spaces and dashes", Query{Number: "12-34 5"}, []string{"c01"}},
		{"national form", Query{Number: "0722555"}, []string{"c02"}},
		{"international form", Query{Number: "+40722555000"}, []string{"c02"}},
		{"0040 prefix as dialled", Query{Number: "0040219"}, []string{"c06"}},
		{"extension", Query{Number: "105"}, []string{"c03"}},
		{"common prefix", Query{Number: "074410020"}, []string{"c05", "c04"}},
		{"no match", Query{Number: "987654"}, nil},
		{"two digits", Query{Number: "55"}, []string{"c02"}},
		{"one digit", Query{Number: "7"}, []string{"c05", "c04", "c02", "c01"}},
		{"no digits does not filter", Query{Number: "abc"}, []string{"c06", "c05", "c04", "c03", "c02", "c01"}},
		{"name, any case", Query{Name: "POPESCU"}, []string{"c01"}},
		{"name without diacritics", Query{Name: "stefan"}, []string{"c01"}},
		{"name with diacritics", Query{Name: "Ioniță"}, []string{"c02"}},
		{"company", Query{Name: "acme"}, []string{"c01"}},
		{"name or company", Query{Name: "stan"}, []string{"c05", "c04"}},
		{"in name or company", Query{Name: "pop"}, []string{"c06", "c01"}},
		{"name with percent", Query{Name: "%"}, nil},
		{"name with quotes", Query{Name: `"pop" OR x`}, nil},
		{"two letters", Query{Name: "ST"}, []string{"c05", "c04", "c01"}},
		{"name and number", Query{Name: "pop", Number: "999"}, []string{"c06"}},
		{"name and company apart", Query{Name: "popescu acme"}, nil},
		{"from", Query{From: base.Add(20 * time.Minute)}, []string{"c06", "c05", "c04", "c03"}},
		{"to is exclusive", Query{To: base.Add(20 * time.Minute)}, []string{"c02", "c01"}},
		{"one day", Query{From: base, To: base.Add(24 * time.Hour)}, []string{"c05", "c04", "c03", "c02", "c01"}},
		{"missed", Query{Missed: true}, []string{"c06", "c04", "c02"}},
		{"missed and number", Query{Missed: true, Number: "0744"}, []string{"c04"}},
		{"delivery none", Query{HasDelivery: true, Delivery: DeliveryNone}, []string{"c01"}},
		{"delivery pending", Query{HasDelivery: true, Delivery: DeliveryPending}, []string{"c05", "c03"}},
		{"delivery sent", Query{HasDelivery: true, Delivery: DeliverySent}, []string{"c06", "c02"}},
		{"delivery failed", Query{HasDelivery: true, Delivery: DeliveryFailed}, []string{"c04"}},
		{"limit", Query{Limit: 2}, []string{"c06", "c05"}},
		{"before", Query{Before: "c05", Limit: 2}, []string{"c04", "c03"}},
		{"before, filtered", Query{Before: "c05", Missed: true}, []string{"c04", "c02"}},
	}
	// Search looks a number or name up in the trigram index when few
	// calls match, and scans the history otherwise: both must agree.
	plans := []struct {
		name   string
		sparse int
	}{
		{"scan", 0},
		{"trigram", 1 << 30},
		{"default", sparseMatches},
	}
	for _, plan := range plans {
		s.sparse = plan.sparse
		for _, tt := range tests {
			t.Run(plan.name+"/"+tt.name, func(t *testing.T) {
				calls, err := s.Search(ctx, tt.q)
				if err != nil {
					t.Fatal(err)
				}
				if got := keys(calls); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("Search(%+v) = %v, want %v", tt.q, got, tt.want)
				}
			})
		}
	}
	s.sparse = sparseMatches

	if _, err := s.Search(ctx, Query{Before: "absent"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Search after an unknown cursor: got %v, want ErrNotFound", err)
	}
}

func TestSearchDelivery(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	searchFixture(t, s)
	tests := []struct {
		key      string
		delivery Delivery
		err      string
	}{
		{"c01", DeliveryNone, ""},
		{"c02", DeliverySent, ""},
		{"c03", DeliveryPending, "HTTP 503"},
		{"c04", DeliveryFailed, "HTTP 422: phone invalid"},
		{"c05", DeliveryPending, "HTTP 503"},
		{"c06", DeliverySent, ""},
	}
	calls, err := s.Search(ctx, Query{})
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]Call{}
	for _, c := range calls {
		byKey[c.Key] = c
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, err := s.Get(ctx, tt.key)
			if err != nil {
				t.Fatal(err)
			}
			if got.Delivery != tt.delivery || got.DeliveryError != tt.err {
				t.Errorf("Get: delivery %s %q, want %s %q", got.Delivery, got.DeliveryError, tt.delivery, tt.err)
			}
			if found := byKey[tt.key]; found.Delivery != tt.delivery || found.DeliveryError != tt.err {
				t.Errorf("Search: delivery %s %q, want %s %q", found.Delivery, found.DeliveryError, tt.delivery, tt.err)
			}
		})
	}
}

func TestSearchPages(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	// 25 calls, in pairs that start at the same millisecond.
	var want []string
	for i := 24; i >= 0; i-- {
		want = append(want, fmt.Sprintf("p%02d", i))
	}
	for i := range 25 {
		save(t, s, Change{Call: ended(fmt.Sprintf("p%02d", i), i/2, "0211234567", "+40211234567")})
	}
	var got []string
	var sizes []int
	q := Query{Limit: 10, Number: "4567"}
	for range 5 {
		page, err := s.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(page))
		if len(page) == 0 {
			break
		}
		got = append(got, keys(page)...)
		q.Before = page[len(page)-1].Key
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pages = %v, want %v", got, want)
	}
	if want := []int{10, 10, 5, 0}; !reflect.DeepEqual(sizes, want) {
		t.Errorf("page sizes = %v, want %v", sizes, want)
	}

	for _, tt := range []struct{ limit, want int }{{0, 25}, {-1, 25}, {5000, 25}} {
		calls, err := s.Search(ctx, Query{Limit: tt.limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(calls) != tt.want {
			t.Errorf("Search(Limit %d) found %d, want %d", tt.limit, len(calls), tt.want)
		}
	}
}

func TestSearchLimitCap(t *testing.T) {
	if testing.Short() {
		t.Skip("saves 1,100 calls")
	}
	ctx := context.Background()
	s := newStore(t)
	var chs []Change
	for i := range 1100 {
		chs = append(chs, Change{Call: ended(fmt.Sprintf("k%04d", i), i, "1", "")})
	}
	if err := s.saveAll(ctx, chs); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ limit, want int }{{0, 100}, {1000, 1000}, {5000, 1000}} {
		calls, err := s.Search(ctx, Query{Limit: tt.limit})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(calls); got != tt.want {
			t.Errorf("Search(Limit %d) found %d, want %d", tt.limit, got, tt.want)
		}
	}
}
