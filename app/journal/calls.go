package journal

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ringside/ringside/connectors"
)

// Query limits.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// sparseMatches is the number of matches in the trigram index below which
// Search reads the matches and sorts them. With more, one call in
// calls/sparseMatches or more matches, and scanning the history newest first
// finds a page soon. See BenchmarkSearch100k.
const sparseMatches = 500

// ftsPhrase quotes s as an FTS5 phrase: with the trigram tokenizer, a
// substring match.
func ftsPhrase(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// callColumns selects a Call from calls c, its delivery state derived from
// its outbox items: any failed → failed, else any pending → pending, else
// any item → sent, else none. The error is the newest failed item's, else the
// newest pending item's that has one ("retrying: HTTP 503").
const callColumns = `c.key, c.state, c.direction, c.phone_raw, c.phone_e164, c.result,
	c.queue, c.source, c.vendor, c.vendor_call_id, c.agent,
	c.started_at, c.answered_at, c.ended_at, c.updated_at,
	c.contact_id, c.contact_name, c.contact_company, c.contact_manager,
	c.contact_url, c.contact_new_url, c.contact_source, c.contact_extra,
	c.note, c.disposition, c.recording, c.revision,
	(SELECT CASE WHEN count(*) = 0 THEN 'none'
	             WHEN sum(o.state = 'failed') > 0 THEN 'failed'
	             WHEN sum(o.state = 'pending') > 0 THEN 'pending'
	             ELSE 'sent' END
	   FROM outbox o WHERE o.call = c.id),
	(SELECT o.last_error FROM outbox o
	  WHERE o.call = c.id AND o.state <> 'delivered' AND o.last_error <> ''
	  ORDER BY o.state = 'failed' DESC, o.id DESC LIMIT 1)`

// deliveryFilter keeps the calls in one delivery state; the clauses mirror
// the derivation in callColumns. Pending and failed calls are few and found
// through the partial index outbox_undelivered (whose condition the query
// must repeat to use it); sent calls are most, found by scanning.
func deliveryFilter(d Delivery) (string, error) {
	switch d {
	case DeliveryNone:
		return `NOT EXISTS (SELECT 1 FROM outbox o WHERE o.call = c.id)`, nil
	case DeliveryPending:
		return `c.id IN (SELECT o.call FROM outbox o WHERE o.state <> 'delivered' AND o.state = 'pending')
		AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.call = c.id AND o.state = 'failed')`, nil
	case DeliverySent:
		return `EXISTS (SELECT 1 FROM outbox o WHERE o.call = c.id AND o.state = 'delivered')
		AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.call = c.id AND o.state IN ('pending', 'failed'))`, nil
	case DeliveryFailed:
		return `c.id IN (SELECT o.call FROM outbox o WHERE o.state <> 'delivered' AND o.state = 'failed')`, nil
	}
	return "", fmt.Errorf("unknown delivery state %s", d)
}

const upsertCall = `
INSERT INTO calls (key, state, direction, phone_raw, phone_e164, result,
	queue, source, vendor, vendor_call_id, agent,
	started_at, answered_at, ended_at, updated_at,
	contact_id, contact_name, contact_company, contact_manager,
	contact_url, contact_new_url, contact_source, contact_extra,
	note, disposition, recording, revision, digits, name_fold)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET
	state = excluded.state, direction = excluded.direction,
	phone_raw = excluded.phone_raw, phone_e164 = excluded.phone_e164,
	result = excluded.result, queue = excluded.queue, source = excluded.source,
	vendor = excluded.vendor, vendor_call_id = excluded.vendor_call_id,
	agent = excluded.agent, started_at = excluded.started_at,
	answered_at = excluded.answered_at, ended_at = excluded.ended_at,
	updated_at = excluded.updated_at, contact_id = excluded.contact_id,
	contact_name = excluded.contact_name, contact_company = excluded.contact_company,
	contact_manager = excluded.contact_manager, contact_url = excluded.contact_url,
	contact_new_url = excluded.contact_new_url, contact_source = excluded.contact_source,
	contact_extra = excluded.contact_extra, note = excluded.note,
	disposition = excluded.disposition, recording = excluded.recording,
	revision = excluded.revision, digits = excluded.digits, name_fold = excluded.name_fold
RETURNING id`

const insertEvent = `
INSERT INTO events (call, kind, direction, source, vendor, call_id, phone_raw,
	phone_e164, agent, queue, status, result, recording, at, received, extra)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

const insertRef = `INSERT INTO refs (vendor, call_id, call) VALUES (?, ?, ?)
ON CONFLICT (vendor, call_id) DO NOTHING`

// enqueueItem adds an item, or replaces the payload of the same log for the
// same sink while it is still pending; a delivered or failed one stays.
const enqueueItem = `
INSERT INTO outbox (sink, call, log_key, payload, state, attempts, next_at, created_at)
VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)
ON CONFLICT (sink, log_key) DO UPDATE SET payload = excluded.payload
WHERE outbox.state = 'pending'`

// Save writes ch in one transaction: it upserts ch.Call by Key (every column;
// Delivery and DeliveryError are ignored), appends ch.Event, records ch.Refs
// (a vendor id already tied to a call stays with that call) and enqueues
// ch.Enqueue for ch.Call. An item whose (Sink, Log.Key) is already queued
// replaces that item's payload while it is pending and is dropped once it
// was delivered or failed. On any error, the disk being full included,
// nothing of ch is written.
func (s *Store) Save(ctx context.Context, ch Change) error {
	if err := s.save(ctx, ch); err != nil {
		return fmt.Errorf("journal: save call %s: %w", ch.Call.Key, err)
	}
	return nil
}

func (s *Store) save(ctx context.Context, ch Change) error {
	enc, err := encodeChange(ch, time.Now())
	if err != nil {
		return err
	}
	return s.writeTx(ctx, func(tx *sql.Tx) error { return enc.apply(ctx, tx, &s.stmts) })
}

// encodedChange is a Change as statement arguments, encoded before the
// transaction so that a bad value fails without touching the database.
type encodedChange struct {
	ch    *Change
	call  []any
	event []any   // nil without an event
	items [][]any // enqueueItem arguments; the call's id is filled in by apply
}

func encodeChange(ch Change, now time.Time) (encodedChange, error) {
	enc := encodedChange{ch: &ch}
	var err error
	if enc.call, err = callArgs(ch.Call); err != nil {
		return encodedChange{}, err
	}
	if ch.Event != nil {
		if enc.event, err = eventArgsOf(*ch.Event); err != nil {
			return encodedChange{}, err
		}
	}
	for _, ref := range ch.Refs {
		if ref.CallID == "" {
			return encodedChange{}, fmt.Errorf("ref of vendor %q has no call id", ref.Vendor)
		}
	}
	for _, it := range ch.Enqueue {
		args, err := itemArgs(ch.Call.Key, it, now)
		if err != nil {
			return encodedChange{}, err
		}
		enc.items = append(enc.items, args)
	}
	return enc, nil
}

// apply writes the change in tx.
func (enc encodedChange) apply(ctx context.Context, tx *sql.Tx, st *writeStmts) error {
	ch := enc.ch
	var id int64
	if err := tx.StmtContext(ctx, st.upsertCall).QueryRowContext(ctx, enc.call...).Scan(&id); err != nil {
		return err
	}
	if enc.event != nil {
		if _, err := tx.StmtContext(ctx, st.insertEvent).ExecContext(ctx, append([]any{id}, enc.event...)...); err != nil {
			return fmt.Errorf("append %s event: %w", ch.Event.Kind, err)
		}
	}
	for _, ref := range ch.Refs {
		if _, err := tx.StmtContext(ctx, st.insertRef).ExecContext(ctx, ref.Vendor, ref.CallID, id); err != nil {
			return fmt.Errorf("add ref %s/%s: %w", ref.Vendor, ref.CallID, err)
		}
	}
	for i, args := range enc.items {
		args[1] = id // the call's id, known only after the upsert
		if _, err := tx.StmtContext(ctx, st.enqueueItem).ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("enqueue log %s for %s: %w", ch.Enqueue[i].Log.Key, ch.Enqueue[i].Sink, err)
		}
	}
	return nil
}

// writeStmts are Save's statements, prepared once on the writer
// connection: preparing the upsert costs as much as running it.
type writeStmts struct {
	upsertCall, insertEvent, insertRef, enqueueItem *sql.Stmt
}

func (st *writeStmts) prepare(ctx context.Context, w *sql.DB) error {
	for _, p := range []struct {
		into  **sql.Stmt
		query string
	}{
		{&st.upsertCall, upsertCall},
		{&st.insertEvent, insertEvent},
		{&st.insertRef, insertRef},
		{&st.enqueueItem, enqueueItem},
	} {
		stmt, err := w.PrepareContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("prepare statements: %w", err)
		}
		*p.into = stmt
	}
	return nil
}

func (st *writeStmts) close() error {
	var errs []error
	for _, stmt := range []*sql.Stmt{st.upsertCall, st.insertEvent, st.insertRef, st.enqueueItem} {
		if stmt != nil {
			errs = append(errs, stmt.Close())
		}
	}
	return errors.Join(errs...)
}

// callArgs are the upsertCall arguments for c.
func callArgs(c Call) ([]any, error) {
	if c.Key == "" {
		return nil, errors.New("call has no key")
	}
	if c.State == StateNew {
		return nil, errors.New("a call in state new is never stored")
	}
	state, err := enumText("call state", c.State)
	if err != nil {
		return nil, err
	}
	dir, err := enumText("direction", c.Direction)
	if err != nil {
		return nil, err
	}
	result, err := enumText("call result", c.Result)
	if err != nil {
		return nil, err
	}
	extra, err := jsonMap(c.Contact.Extra)
	if err != nil {
		return nil, fmt.Errorf("encode contact extra: %w", err)
	}
	return []any{
		c.Key, state, dir, c.Phone.Raw, c.Phone.E164, result,
		c.Queue, c.Source, c.Vendor, c.VendorCallID, c.Agent,
		msOrZero(c.StartedAt), msOrNull(c.AnsweredAt), msOrNull(c.EndedAt), msOrNull(c.UpdatedAt),
		c.Contact.ID, c.Contact.Name, c.Contact.Company, c.Contact.Manager,
		c.Contact.URL, c.Contact.NewURL, c.Contact.Source, extra,
		c.Note, c.Disposition, c.Recording, c.Revision,
		searchDigits(c.Phone.Raw, c.Phone.E164), searchName(c.Contact.Name, c.Contact.Company),
	}, nil
}

// eventArgsOf are the insertEvent arguments for e, after the call's id.
func eventArgsOf(e connectors.Event) ([]any, error) {
	kind, err := enumText("event kind", e.Kind)
	if err != nil {
		return nil, err
	}
	dir, err := enumText("event direction", e.Direction)
	if err != nil {
		return nil, err
	}
	status, err := enumText("agent status", e.Status)
	if err != nil {
		return nil, err
	}
	result, err := enumText("event result", e.Result)
	if err != nil {
		return nil, err
	}
	extra, err := jsonMap(e.Extra)
	if err != nil {
		return nil, fmt.Errorf("encode event extra: %w", err)
	}
	return []any{
		kind, dir, e.Source, e.Vendor, e.CallID, e.Phone.Raw, e.Phone.E164,
		e.Agent, e.Queue, status, result, e.Recording,
		msOrNull(e.At), msOrNull(e.Received), extra,
	}, nil
}

// itemArgs are the enqueueItem arguments for it; the second, the call's
// id, is filled in by Save.
func itemArgs(callKey string, it Item, now time.Time) ([]any, error) {
	if it.Sink == "" {
		return nil, fmt.Errorf("enqueue log %s: no sink", it.Log.Key)
	}
	if it.Log.Key == "" {
		return nil, fmt.Errorf("enqueue log for %s: the log has no key", it.Sink)
	}
	if it.CallKey != "" && it.CallKey != callKey {
		return nil, fmt.Errorf("enqueue log %s: it belongs to call %s", it.Log.Key, it.CallKey)
	}
	payload, err := json.Marshal(it.Log)
	if err != nil {
		return nil, fmt.Errorf("encode log %s: %w", it.Log.Key, err)
	}
	next := it.NextAt
	if next.IsZero() {
		next = now
	}
	return []any{it.Sink, nil, it.Log.Key, string(payload), next.UnixMilli(), now.UnixMilli()}, nil
}

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

// scanCall reads one row of callColumns.
func scanCall(row rowScanner) (Call, error) {
	var (
		c                            Call
		state, dir, result, delivery string
		started                      int64
		answered, ended, updated     sql.NullInt64
		contactExtra, deliveryErr    sql.NullString
	)
	err := row.Scan(&c.Key, &state, &dir, &c.Phone.Raw, &c.Phone.E164, &result,
		&c.Queue, &c.Source, &c.Vendor, &c.VendorCallID, &c.Agent,
		&started, &answered, &ended, &updated,
		&c.Contact.ID, &c.Contact.Name, &c.Contact.Company, &c.Contact.Manager,
		&c.Contact.URL, &c.Contact.NewURL, &c.Contact.Source, &contactExtra,
		&c.Note, &c.Disposition, &c.Recording, &c.Revision,
		&delivery, &deliveryErr)
	if err != nil {
		return Call{}, err
	}
	if err := parseText(state, &c.State); err != nil {
		return Call{}, fmt.Errorf("read call %s: %w", c.Key, err)
	}
	if err := parseText(dir, &c.Direction); err != nil {
		return Call{}, fmt.Errorf("read call %s: %w", c.Key, err)
	}
	if err := parseText(result, &c.Result); err != nil {
		return Call{}, fmt.Errorf("read call %s: %w", c.Key, err)
	}
	if err := parseText(delivery, &c.Delivery); err != nil {
		return Call{}, fmt.Errorf("read call %s: %w", c.Key, err)
	}
	if c.Contact.Extra, err = readMap(contactExtra); err != nil {
		return Call{}, fmt.Errorf("read call %s: contact %w", c.Key, err)
	}
	c.StartedAt = fromMS(sql.NullInt64{Int64: started, Valid: true})
	c.AnsweredAt = fromMS(answered)
	c.EndedAt = fromMS(ended)
	c.UpdatedAt = fromMS(updated)
	c.DeliveryError = deliveryErr.String
	return c, nil
}

// queryCalls runs a query of callColumns.
func (s *Store) queryCalls(ctx context.Context, query string, args ...any) ([]Call, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var calls []Call
	for rows.Next() {
		c, err := scanCall(rows)
		if err != nil {
			return nil, err
		}
		calls = append(calls, c)
	}
	return calls, rows.Err()
}

// Get returns the call with key, or an error wrapping ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (Call, error) {
	c, err := scanCall(s.r.QueryRowContext(ctx, `SELECT `+callColumns+` FROM calls c WHERE c.key = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return Call{}, fmt.Errorf("journal: get call %s: %w", key, err)
	}
	return c, nil
}

// findRefQuery is FindByRef's statement, prepared once at Open.
const findRefQuery = `SELECT ` + callColumns + ` FROM refs r JOIN calls c ON c.id = r.call
	WHERE r.vendor = ? AND r.call_id = ?`

// FindByRef returns the call a vendor's call id belongs to, or an error
// wrapping ErrNotFound.
func (s *Store) FindByRef(ctx context.Context, vendor, callID string) (Call, error) {
	c, err := scanCall(s.findRef.QueryRowContext(ctx, vendor, callID))
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return Call{}, fmt.Errorf("journal: find call by %s id %s: %w", vendor, callID, err)
	}
	return c, nil
}

// OpenCalls returns the calls that have not ended, oldest first: after a
// restart, the engine decides what became of them.
func (s *Store) OpenCalls(ctx context.Context) ([]Call, error) {
	calls, err := s.queryCalls(ctx, `SELECT `+callColumns+` FROM calls c
		WHERE c.state <> 'ended' ORDER BY c.started_at, c.key`)
	if err != nil {
		return nil, fmt.Errorf("journal: list open calls: %w", err)
	}
	return calls, nil
}

// Events returns the events of the call with key in the order they were
// saved, or an error wrapping ErrNotFound when there is no such call. Times
// come back in UTC at millisecond precision; an empty Extra comes back nil.
func (s *Store) Events(ctx context.Context, key string) ([]connectors.Event, error) {
	events, err := s.events(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("journal: list events of call %s: %w", key, err)
	}
	return events, nil
}

func (s *Store) events(ctx context.Context, key string) ([]connectors.Event, error) {
	var id int64
	err := s.r.QueryRowContext(ctx, `SELECT id FROM calls WHERE key = ?`, key).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT kind, direction, source, vendor, call_id,
		phone_raw, phone_e164, agent, queue, status, result, recording, at, received, extra
		FROM events WHERE call = ? ORDER BY id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var events []connectors.Event
	for rows.Next() {
		var (
			e                         connectors.Event
			kind, dir, status, result string
			at, received              sql.NullInt64
			extra                     sql.NullString
		)
		if err := rows.Scan(&kind, &dir, &e.Source, &e.Vendor, &e.CallID,
			&e.Phone.Raw, &e.Phone.E164, &e.Agent, &e.Queue, &status, &result,
			&e.Recording, &at, &received, &extra); err != nil {
			return nil, err
		}
		if err := parseText(kind, &e.Kind); err != nil {
			return nil, err
		}
		if err := parseText(dir, &e.Direction); err != nil {
			return nil, err
		}
		if err := parseText(status, &e.Status); err != nil {
			return nil, err
		}
		if err := parseText(result, &e.Result); err != nil {
			return nil, err
		}
		if e.Extra, err = readMap(extra); err != nil {
			return nil, err
		}
		e.At = fromMS(at)
		e.Received = fromMS(received)
		events = append(events, e)
	}
	return events, rows.Err()
}

// Search returns the calls q selects, newest first (by start, then key), at
// most q.Limit of them (default 100, at most 1000). To page, pass the Key of
// the last call returned as the next query's Before.
//
// q.Number matches its digits anywhere in the raw or E.164 digits of the
// number ("1234" finds +40211234567); a Number without digits does not
// filter. q.Name matches a substring of the contact's name or company,
// ignoring case and diacritics ("stefan" finds "Ștefan").
func (s *Store) Search(ctx context.Context, q Query) ([]Call, error) {
	calls, err := s.search(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("journal: search calls: %w", err)
	}
	return calls, nil
}

func (s *Store) search(ctx context.Context, q Query) ([]Call, error) {
	var (
		where []string
		args  []any
		match []string // trigram index query
	)
	if d := digitsOf(q.Number); d != "" {
		where = append(where, `instr(c.digits, ?) > 0`)
		args = append(args, d)
		if len(d) >= 3 {
			match = append(match, `digits : `+ftsPhrase(d))
		}
	}
	if n := fold(strings.TrimSpace(q.Name)); n != "" {
		where = append(where, `instr(c.name_fold, ?) > 0`)
		args = append(args, n)
		if utf8.RuneCountInString(n) >= 3 {
			match = append(match, `name_fold : `+ftsPhrase(n))
		}
	}
	from := `calls c`
	if len(match) > 0 {
		// Few matches: find them in the trigram index, then sort them.
		// Many: scan the history newest first, which soon finds a page.
		m := strings.Join(match, " AND ")
		var n int
		err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM
			(SELECT 1 FROM calls_search WHERE calls_search MATCH ? LIMIT ?)`, m, s.sparse).Scan(&n)
		if err != nil {
			return nil, fmt.Errorf("count matches: %w", err)
		}
		if n < s.sparse {
			from = `calls_search f JOIN calls c ON c.id = f.rowid`
			where = append(where, `calls_search MATCH ?`)
			args = append(args, m)
		}
	}
	if !q.From.IsZero() {
		where = append(where, `c.started_at >= ?`)
		args = append(args, q.From.UnixMilli())
	}
	if !q.To.IsZero() {
		where = append(where, `c.started_at < ?`)
		args = append(args, q.To.UnixMilli())
	}
	if q.Missed {
		where = append(where, `c.result = 'missed'`)
	}
	if q.HasDelivery {
		f, err := deliveryFilter(q.Delivery)
		if err != nil {
			return nil, err
		}
		where = append(where, f)
	}
	if q.Before != "" {
		var started int64
		err := s.r.QueryRowContext(ctx, `SELECT started_at FROM calls WHERE key = ?`, q.Before).Scan(&started)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("page after call %s: %w", q.Before, ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("page after call %s: %w", q.Before, err)
		}
		where = append(where, `(c.started_at, c.key) < (?, ?)`)
		args = append(args, started, q.Before)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	limit = min(limit, maxLimit)

	// The page is chosen first and its columns read after: a sort keeps
	// whole result rows, and a call's delivery state costs two lookups.
	var b strings.Builder
	b.WriteString(`WITH page AS (SELECT c.id FROM ` + from)
	if len(where) > 0 {
		b.WriteString(` WHERE ` + strings.Join(where, ` AND `))
	}
	b.WriteString(` ORDER BY c.started_at DESC, c.key DESC LIMIT ?)
		SELECT ` + callColumns + ` FROM page JOIN calls c ON c.id = page.id
		ORDER BY c.started_at DESC, c.key DESC`)
	args = append(args, limit)
	return s.queryCalls(ctx, b.String(), args...)
}
