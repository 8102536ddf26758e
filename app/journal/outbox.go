package journal

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// defaultDue is how many items Due returns when asked for none.
const defaultDue = 100

// itemColumns selects an Item from outbox o joined to its calls c.
const itemColumns = `o.id, o.sink, c.key, o.payload, o.state, o.attempts,
	o.next_at, o.last_error, o.created_at, o.delivered_at`

func scanItem(row rowScanner) (Item, error) {
	var (
		it             Item
		payload, state string
		next, created  int64
		delivered      sql.NullInt64
	)
	if err := row.Scan(&it.ID, &it.Sink, &it.CallKey, &payload, &state, &it.Attempts,
		&next, &it.LastError, &created, &delivered); err != nil {
		return Item{}, err
	}
	if err := parseText(state, &it.State); err != nil {
		return Item{}, fmt.Errorf("read item %d: %w", it.ID, err)
	}
	if err := json.Unmarshal([]byte(payload), &it.Log); err != nil {
		return Item{}, fmt.Errorf("read item %d: decode log: %w", it.ID, err)
	}
	it.NextAt = time.UnixMilli(next).UTC()
	it.CreatedAt = time.UnixMilli(created).UTC()
	it.DeliveredAt = fromMS(delivered)
	return it, nil
}

func (s *Store) queryItems(ctx context.Context, query string, args ...any) ([]Item, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var items []Item
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return items, rows.Err()
}

// Due returns up to limit (default 100) pending items of sink whose NextAt
// is not after now, the longest waiting first, leaving out the ids in skip:
// the items another worker is delivering.
func (s *Store) Due(ctx context.Context, sink string, now time.Time, limit int, skip []int64) ([]Item, error) {
	if limit <= 0 {
		limit = defaultDue
	}
	items, err := s.queryItems(ctx, `SELECT `+itemColumns+` FROM outbox o JOIN calls c ON c.id = o.call
		WHERE o.sink = ? AND o.state = 'pending' AND o.next_at <= ?
		  AND o.id NOT IN (SELECT value FROM json_each(?))
		ORDER BY o.next_at, o.id LIMIT ?`, sink, now.UnixMilli(), idList(skip), limit)
	if err != nil {
		return nil, fmt.Errorf("journal: list due items of %s: %w", sink, err)
	}
	return items, nil
}

// idList spells ids as a JSON array, for json_each.
func idList(ids []int64) string {
	b := make([]byte, 0, 2+len(ids)*8)
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, ']'))
}

// NextDue returns the earliest NextAt of a pending item of sink; false when
// sink has nothing pending.
func (s *Store) NextDue(ctx context.Context, sink string) (time.Time, bool, error) {
	var next sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT min(next_at) FROM outbox WHERE sink = ? AND state = 'pending'`, sink).Scan(&next)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("journal: find next due item of %s: %w", sink, err)
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(next.Int64).UTC(), true, nil
}

// MarkDelivered records that the sink accepted the items ids at at: each
// counts one more attempt, becomes delivered and loses its last error,
// whatever state it was in (the sink's word is final). All or none are
// marked, in one transaction; an unknown id fails the lot with ErrNotFound.
func (s *Store) MarkDelivered(ctx context.Context, ids []int64, at time.Time) error {
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			res, err := tx.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1,
				state = 'delivered', delivered_at = ?, last_error = '', error_at = NULL
				WHERE id = ?`, at.UnixMilli(), id)
			if err != nil {
				return fmt.Errorf("item %d: %w", id, err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return fmt.Errorf("item %d: %w", id, err)
			} else if n == 0 {
				return fmt.Errorf("item %d: %w", id, ErrNotFound)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("journal: mark %d items delivered: %w", len(ids), err)
	}
	return nil
}

// MarkRetry records a failed attempt worth repeating: the item counts one
// more attempt, stays pending until next and keeps reason as its last error.
// Only a pending item can be retried.
func (s *Store) MarkRetry(ctx context.Context, id int64, next time.Time, reason string) error {
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		return updatePending(ctx, tx, id, `UPDATE outbox SET attempts = attempts + 1,
			next_at = ?, last_error = ?, error_at = ?
			WHERE id = ? AND state = 'pending'`, next.UnixMilli(), reason, time.Now().UnixMilli(), id)
	})
	if err != nil {
		return fmt.Errorf("journal: mark item %d for retry: %w", id, err)
	}
	return nil
}

// MarkFailed records that the sink refused the item for good: it counts one
// more attempt, becomes failed and keeps reason as its last error until
// RetryFailed. Only a pending item can fail.
func (s *Store) MarkFailed(ctx context.Context, id int64, reason string) error {
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		return updatePending(ctx, tx, id, `UPDATE outbox SET attempts = attempts + 1,
			state = 'failed', last_error = ?, error_at = ?
			WHERE id = ? AND state = 'pending'`, reason, time.Now().UnixMilli(), id)
	})
	if err != nil {
		return fmt.Errorf("journal: mark item %d failed: %w", id, err)
	}
	return nil
}

// updatePending runs an update of the pending item id and explains why
// nothing changed when nothing did.
func updatePending(ctx context.Context, tx *sql.Tx, id int64, query string, args ...any) error {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	var state string
	err = tx.QueryRowContext(ctx, `SELECT state FROM outbox WHERE id = ?`, id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("the item is %s, not pending", state)
}

// RetryFailed makes the failed and pending items of the call with callKey
// (of every call when callKey is "") due at now, and returns how many it
// touched. Their attempts and last errors stay. An unknown call is
// ErrNotFound.
func (s *Store) RetryFailed(ctx context.Context, callKey string, now time.Time) (int, error) {
	var n int64
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		query := `UPDATE outbox SET state = 'pending', next_at = ? WHERE state IN ('failed', 'pending')`
		args := []any{now.UnixMilli()}
		if callKey != "" {
			var id int64
			err := tx.QueryRowContext(ctx, `SELECT id FROM calls WHERE key = ?`, callKey).Scan(&id)
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			if err != nil {
				return err
			}
			query += ` AND call = ?`
			args = append(args, id)
		}
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		if callKey == "" {
			return 0, fmt.Errorf("journal: retry failed items: %w", err)
		}
		return 0, fmt.Errorf("journal: retry failed items of call %s: %w", callKey, err)
	}
	return int(n), nil
}

// Item returns the outbox item id, or an error wrapping ErrNotFound.
func (s *Store) Item(ctx context.Context, id int64) (Item, error) {
	it, err := scanItem(s.r.QueryRowContext(ctx, `SELECT `+itemColumns+` FROM outbox o JOIN calls c ON c.id = o.call
		WHERE o.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return Item{}, fmt.Errorf("journal: get item %d: %w", id, err)
	}
	return it, nil
}

// Items returns every outbox item of the call with callKey, by id; none for
// an unknown call.
func (s *Store) Items(ctx context.Context, callKey string) ([]Item, error) {
	items, err := s.queryItems(ctx, `SELECT `+itemColumns+` FROM calls c JOIN outbox o ON o.call = c.id
		WHERE c.key = ? ORDER BY o.id`, callKey)
	if err != nil {
		return nil, fmt.Errorf("journal: list items of call %s: %w", callKey, err)
	}
	return items, nil
}

// Stats counts the outbox items of sink by state (of every sink when sink
// is ""), with the last error of the item that most recently failed or was
// retried.
func (s *Store) Stats(ctx context.Context, sink string) (Stats, error) {
	st, err := s.stats(ctx, sink)
	if err != nil {
		if sink == "" {
			return Stats{}, fmt.Errorf("journal: outbox stats: %w", err)
		}
		return Stats{}, fmt.Errorf("journal: outbox stats of %s: %w", sink, err)
	}
	return st, nil
}

func (s *Store) stats(ctx context.Context, sink string) (Stats, error) {
	filter, args := "", []any(nil)
	if sink != "" {
		filter, args = ` AND sink = ?`, []any{sink}
	}
	var st Stats
	rows, err := s.r.QueryContext(ctx, `SELECT state, sum(n) FROM outbox_counts WHERE 1`+filter+` GROUP BY state`, args...)
	if err != nil {
		return Stats{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			state string
			n     int
		)
		if err := rows.Scan(&state, &n); err != nil {
			return Stats{}, err
		}
		var is ItemState
		if err := parseText(state, &is); err != nil {
			return Stats{}, err
		}
		switch is {
		case ItemPending:
			st.Pending = n
		case ItemDelivered:
			st.Delivered = n
		case ItemFailed:
			st.Failed = n
		}
	}
	if err := rows.Err(); err != nil {
		return Stats{}, err
	}
	// outbox_errors holds the undelivered items by error_at; the repeated
	// state condition lets the query use it.
	err = s.r.QueryRowContext(ctx, `SELECT last_error FROM outbox
		WHERE state <> 'delivered' AND last_error <> ''`+filter+`
		ORDER BY error_at DESC, id DESC LIMIT 1`, args...).Scan(&st.LastError)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Stats{}, err
	}
	return st, nil
}
