package journal

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// SetMaxPageCount caps the database at n pages on the writer connection, the
// only one that writes, so that a test can fill the "disk". SQLite never
// sets the cap below the current size; the cap in force is returned.
func (s *Store) SetMaxPageCount(ctx context.Context, n int) (int, error) {
	var got int
	if err := s.w.QueryRowContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", n)).Scan(&got); err != nil {
		return 0, fmt.Errorf("set max_page_count: %w", err)
	}
	return got, nil
}

// PageCount is the database's size in pages, as the writer sees it.
func (s *Store) PageCount(ctx context.Context) (int, error) {
	var n int
	if err := s.w.QueryRowContext(ctx, "PRAGMA page_count").Scan(&n); err != nil {
		return 0, fmt.Errorf("read page_count: %w", err)
	}
	return n, nil
}

// saveAll saves chs in one transaction, to build large fixtures quickly.
func (s *Store) saveAll(ctx context.Context, chs []Change) error {
	now := time.Now()
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		for _, ch := range chs {
			enc, err := encodeChange(ch, now)
			if err != nil {
				return fmt.Errorf("save call %s: %w", ch.Call.Key, err)
			}
			if err := enc.apply(ctx, tx, &s.stmts); err != nil {
				return fmt.Errorf("save call %s: %w", ch.Call.Key, err)
			}
		}
		return nil
	})
}
