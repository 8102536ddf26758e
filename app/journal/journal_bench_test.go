package journal

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/ringside/ringside/connectors"
)

func BenchmarkSave(b *testing.B) {
	ctx := context.Background()
	s := newStore(b)
	start := time.Now()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		key := fmt.Sprintf("bench-%09d", i)
		c := ended(key, i, "0722 123 456", "+40722123456")
		c.StartedAt = start.Add(time.Duration(i) * time.Second)
		c.Contact = connectors.Contact{ID: "17", Name: "Ștefan Popescu", Company: "Acme SRL"}
		err := s.Save(ctx, Change{
			Call: c,
			Event: &connectors.Event{
				Kind:      connectors.KindEnded,
				Direction: connectors.DirectionInbound,
				Source:    "pbx",
				Vendor:    "accolades",
				CallID:    key,
				Phone:     c.Phone,
				Result:    connectors.ResultAnswered,
				At:        c.EndedAt,
				Received:  c.EndedAt,
			},
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// romanianCalls makes n calls over the year before end: Romanian mobile and
// landline numbers spelled the ways PBXs spell them, contacts with Romanian
// names for most, a fifth missed, and one CRM log each, mostly delivered.
func romanianCalls(n int, end time.Time) []Change {
	rng := rand.New(rand.NewPCG(1, 2))
	first := []string{"Andrei", "Mihai", "Ioana", "Elena", "Ștefan", "Ana-Maria", "Alexandru", "Cristina",
		"Gheorghe", "Vasile", "Maria", "Ion", "Florin", "Daniela", "Răzvan", "Bogdan", "Irina", "Adriana",
		"Cătălin", "Mădălina", "Radu", "Oana", "Tudor", "Bianca"}
	last := []string{"Popescu", "Ionescu", "Popa", "Pop", "Radu", "Dumitru", "Stan", "Stoica", "Gheorghe",
		"Matei", "Ciobanu", "Rusu", "Munteanu", "Moldovan", "Lazăr", "Ioniță", "Constantin", "Marin", "Tudor",
		"Florea", "Dinu", "Ene", "Bălan", "Sandu", "Nistor", "Țurcanu", "Șerban", "Dobre", "Barbu", "Nedelcu"}
	company := []string{"Transilvania Logistic", "Carpați Construct", "Dunărea Agro", "Mureș Impex",
		"Bucur Distribuție", "Oltenia Energie", "Delta Turism", "Banat Auto", "Moldova Mobila", "Crișana Med"}
	results := []connectors.Result{connectors.ResultAnswered, connectors.ResultAnswered, connectors.ResultAnswered,
		connectors.ResultMissed, connectors.ResultNoAnswer, connectors.ResultBusy}
	span := 365 * 24 * time.Hour

	chs := make([]Change, n)
	for i := range chs {
		var national string // without the leading 0
		switch rng.IntN(10) {
		case 0, 1, 2:
			national = fmt.Sprintf("21%07d", rng.IntN(10_000_000)) // Bucharest
		case 3:
			national = fmt.Sprintf("%d%d%06d", 2+rng.IntN(2), 30+rng.IntN(70), rng.IntN(1_000_000)) // county
		default:
			national = fmt.Sprintf("7%d%07d", 2+rng.IntN(7), rng.IntN(10_000_000)) // mobile
		}
		e164 := "+40" + national
		var raw string
		switch rng.IntN(4) {
		case 0:
			raw = "0" + national
		case 1:
			raw = e164
		case 2:
			raw = "0040" + national
		default:
			raw = fmt.Sprintf("0%s %s %s", national[:3], national[3:6], national[6:])
		}
		key := fmt.Sprintf("0192%012x", i)
		c := Call{
			Key:       key,
			State:     StateEnded,
			Direction: connectors.DirectionInbound,
			Phone:     connectors.Phone{Raw: raw, E164: e164},
			Result:    results[rng.IntN(len(results))],
			Source:    "accolades",
			Vendor:    "accolades",
			Agent:     fmt.Sprintf("agent-%d", rng.IntN(40)),
			StartedAt: end.Add(-span + time.Duration(i)*(span/time.Duration(n))),
			Revision:  1,
		}
		if c.Result == connectors.ResultNoAnswer || c.Result == connectors.ResultBusy {
			c.Direction = connectors.DirectionOutbound
		}
		c.EndedAt = c.StartedAt.Add(time.Duration(20+rng.IntN(600)) * time.Second)
		c.UpdatedAt = c.EndedAt
		if rng.IntN(10) < 6 {
			c.Contact = connectors.Contact{
				ID:   fmt.Sprint(rng.IntN(50_000)),
				Name: first[rng.IntN(len(first))] + " " + last[rng.IntN(len(last))],
			}
			if rng.IntN(3) == 0 {
				c.Contact.Company = company[rng.IntN(len(company))] + " SRL"
			}
		}
		chs[i] = Change{
			Call:    c,
			Event:   &connectors.Event{Kind: connectors.KindEnded, Phone: c.Phone, At: c.EndedAt, Received: c.EndedAt},
			Refs:    []Ref{{Vendor: "accolades", CallID: key}},
			Enqueue: []Item{{Sink: "crm", Log: connectors.CallLog{Key: key + "-1", CallKey: key, Revision: 1, Phone: c.Phone, StartedAt: c.StartedAt}}},
		}
	}
	return chs
}

// deliverMost marks most logs delivered, some failed, and leaves the newest
// pending, as a journal looks after a year.
func deliverMost(ctx context.Context, s *Store, n int) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET state = 'delivered', attempts = 1, delivered_at = next_at WHERE id <= ?`, n-50); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE outbox SET state = 'failed', attempts = 1, last_error = 'HTTP 422: invalid phone' WHERE id % 97 = 0`)
		return err
	})
}

func BenchmarkSearch100k(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	s, err := Open(filepath.Join(b.TempDir(), "ringside.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	end := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	chs := romanianCalls(n, end)
	t0 := time.Now()
	if err := s.saveAll(ctx, chs); err != nil {
		b.Fatal(err)
	}
	if err := deliverMost(ctx, s, n); err != nil {
		b.Fatal(err)
	}
	b.Logf("fixture: %d calls saved in %v", n, time.Since(t0))
	// A number the fixture holds once, typed as the agent would.
	rare := digitsOf(chs[n/3].Call.Phone.E164)[2:]
	mid, err := s.Search(ctx, Query{Limit: 1000, From: end.Add(-180 * 24 * time.Hour)})
	if err != nil {
		b.Fatal(err)
	}
	cursor := mid[len(mid)-1].Key

	queries := []struct {
		name string
		q    Query
	}{
		{"number", Query{Number: "1234"}},
		{"number-full", Query{Number: rare}},
		{"number-prefix", Query{Number: "0722"}},
		{"name", Query{Name: "popescu"}},
		{"name-rare", Query{Name: "nistor dobre"}},
		{"missed", Query{Missed: true}},
		{"recent-page", Query{}},
		{"older-page", Query{Before: cursor}},
		{"month", Query{From: end.Add(-60 * 24 * time.Hour), To: end.Add(-30 * 24 * time.Hour)}},
		{"delivery-failed", Query{HasDelivery: true, Delivery: DeliveryFailed}},
	}
	for _, bq := range queries {
		b.Run(bq.name, func(b *testing.B) {
			var found int
			for b.Loop() {
				calls, err := s.Search(ctx, bq.q)
				if err != nil {
					b.Fatal(err)
				}
				found = len(calls)
			}
			b.ReportMetric(float64(found), "calls")
		})
	}
}
