// Package journal keeps Ringside's call journal and its durable outbox in one
// SQLite file in WAL mode.
//
// The journal holds every call the app has seen (the history window reads it,
// the engine reloads unfinished calls from it after a restart), the events
// each call was built from, the vendor ids that point at a call, and the
// outbox: one item per call log and CRM sink, kept until the sink accepts it
// or refuses it for good. A call, its event, its refs and its outbox items are
// written by one Save, in one transaction, so a crash or a full disk never
// leaves a call without the log that has to be delivered for it.
//
// One process writes a journal at a time: Open takes an exclusive lock file
// next to the database. A second Ringside gets an error that wraps ErrInUse;
// `ringside history` opens with Options.ReadOnly, which takes no lock and
// reads alongside the running app (WAL lets readers and the writer overlap).
//
// Timestamps are stored as INTEGER unix milliseconds (UTC) and read back as
// UTC times at millisecond precision; enums are stored as their text, so the
// file stays readable with the sqlite3 shell.
package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/gofrs/flock"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Errors a caller may test for with errors.Is.
var (
	// ErrNotFound is returned when a call or outbox item does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInUse is wrapped by Open when another process holds the journal.
	ErrInUse = errors.New("in use by another Ringside")
	// ErrReadOnly is wrapped by every write to a Store opened ReadOnly.
	ErrReadOnly = errors.New("journal opened read-only")
)

// busyTimeoutMS is how long a statement waits for a lock held by another
// connection before failing with SQLITE_BUSY.
const busyTimeoutMS = 5000

// maxReaders caps the read connections: each holds its own page cache.
const maxReaders = 4

// Options change how Open opens a journal.
type Options struct {
	// ReadOnly opens without the writer lock, for `ringside history` while
	// the app runs; every write fails with ErrReadOnly. The file must exist.
	ReadOnly bool
}

// Store is an open journal. Its methods are safe for concurrent use.
//
// Writes go through one connection (SQLite has one writer; database/sql
// queues writers for it) and begin IMMEDIATE, so a write transaction never
// fails half-way on a lock upgrade. Reads use a small pool of query-only
// connections and never wait for the writer.
type Store struct {
	path string
	w    *sql.DB // nil when read-only
	r    *sql.DB
	lock *flock.Flock // nil when read-only

	stmts   writeStmts // Save's statements on w
	findRef *sql.Stmt  // FindByRef on r: on the engine's hot path
	sparse  int        // see sparseMatches; a field so tests can force either plan

	closeOnce sync.Once
	closeErr  error
}

// Open opens the journal at path, creating the file, its directory (0700)
// and the schema when they are missing, and migrating an older schema.
//
// Unless opts.ReadOnly is set, Open takes the lock file path+".lock"; when
// another process holds it, the error wraps ErrInUse. Every error names path.
func Open(path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("journal: open: no path given")
	}
	if opts.ReadOnly {
		return openReadOnly(path)
	}

	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("journal: create directory for %s: %w", path, err)
	}
	lock := flock.New(path + ".lock")
	locked, err := lock.TryLock()
	if errors.Is(err, fs.ErrPermission) {
		return nil, fmt.Errorf("journal: open %s: the directory is not writable: %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("journal: lock %s: %w", path, err)
	}
	if !locked {
		return nil, fmt.Errorf("journal %s is %w", path, ErrInUse)
	}
	s := &Store{path: path, lock: lock, sparse: sparseMatches}
	if err := s.openWritable(); err != nil {
		// The open error is the one worth reporting.
		_ = s.closeDBs()
		_ = lock.Unlock()
		return nil, err
	}
	return s, nil
}

func (s *Store) openWritable() error {
	w, err := sql.Open("sqlite", dsn(s.path, writerConn))
	if err != nil {
		return fmt.Errorf("journal: open %s: %w", s.path, err)
	}
	// One connection: SQLite has a single writer, and per-connection
	// settings (the test hook's max_page_count) then hold for every write.
	w.SetMaxOpenConns(1)
	s.w = w
	ctx := context.Background()
	if err := w.PingContext(ctx); err != nil {
		return openError(s.path, err)
	}
	if err := migrate(ctx, w); err != nil {
		return openError(s.path, err)
	}
	if err := s.stmts.prepare(ctx, w); err != nil {
		return openError(s.path, err)
	}

	r, err := sql.Open("sqlite", dsn(s.path, readerConn))
	if err != nil {
		return fmt.Errorf("journal: open %s: %w", s.path, err)
	}
	r.SetMaxOpenConns(maxReaders)
	s.r = r
	if err := r.PingContext(ctx); err != nil {
		return openError(s.path, err)
	}
	return s.prepareReads(ctx)
}

// prepareReads prepares the reads that run for every event.
func (s *Store) prepareReads(ctx context.Context) error {
	stmt, err := s.r.PrepareContext(ctx, findRefQuery)
	if err != nil {
		return openError(s.path, err)
	}
	s.findRef = stmt
	return nil
}

func openReadOnly(path string) (*Store, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("journal: open %s read-only: %w", path, err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("journal: open %s read-only: it is a directory", path)
	}
	r, err := sql.Open("sqlite", dsn(path, readOnlyConn))
	if err != nil {
		return nil, fmt.Errorf("journal: open %s read-only: %w", path, err)
	}
	r.SetMaxOpenConns(maxReaders)
	s := &Store{path: path, r: r, sparse: sparseMatches}
	ctx := context.Background()
	var version, appID int
	err = r.QueryRowContext(ctx, `SELECT (SELECT user_version FROM pragma_user_version),
		(SELECT application_id FROM pragma_application_id)`).Scan(&version, &appID)
	if err != nil {
		_ = s.closeDBs()
		return nil, openError(path, err)
	}
	if appID != applicationID && version > 0 {
		_ = s.closeDBs()
		return nil, fmt.Errorf("journal: open %s read-only: the file is another program's SQLite database, not a Ringside journal", path)
	}
	if want := len(migrations()); version != want {
		_ = s.closeDBs()
		if version > want {
			return nil, fmt.Errorf("journal: open %s read-only: schema version %d is newer than this Ringside knows (%d); update Ringside", path, version, want)
		}
		return nil, fmt.Errorf("journal: open %s read-only: schema version %d is older than this Ringside's (%d); start Ringside once to upgrade it", path, version, want)
	}
	if err := s.prepareReads(ctx); err != nil {
		s.closeDBs()
		return nil, err
	}
	return s, nil
}

// connRole is what a connection is for; dsn sets it up accordingly.
type connRole int

const (
	writerConn   connRole = iota // the Store's one writer: switches the file to WAL
	readerConn                   // a query-only reader beside the writer
	readOnlyConn                 // a reader of a Store opened ReadOnly: mode=ro
)

// dsn is the driver's data source name for path: a file: URI, so that
// SQLite's own parameters (mode=ro) apply and Windows paths survive.
func dsn(path string, role connRole) string {
	p, err := filepath.Abs(path)
	if err != nil {
		p = path
	}
	p = filepath.ToSlash(p)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // C:/Users/… → file:///C:/Users/…
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "foreign_keys(ON)")
	switch role {
	case writerConn:
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Set("_txlock", "immediate")
	case readOnlyConn:
		q.Set("mode", "ro")
		q.Add("_pragma", "query_only(1)")
	case readerConn:
		q.Add("_pragma", "query_only(1)")
	}
	u := url.URL{Scheme: "file", Path: p, RawQuery: q.Encode()}
	return u.String()
}

// openError explains the SQLite errors Open meets in words a user can act on.
func openError(path string, err error) error {
	switch sqliteCode(err) {
	case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
		return fmt.Errorf("journal: open %s: the file is corrupt or not a Ringside journal (move it aside to start a new one): %w", path, err)
	case sqlite3.SQLITE_CANTOPEN:
		return fmt.Errorf("journal: open %s: cannot open the file (check that it and its directory exist and are writable): %w", path, err)
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM:
		return fmt.Errorf("journal: open %s: the file or its directory is read-only: %w", path, err)
	case sqlite3.SQLITE_FULL:
		return fmt.Errorf("journal: open %s: the disk is full: %w", path, err)
	case sqlite3.SQLITE_BUSY:
		return fmt.Errorf("journal: open %s: the file is locked by another program: %w", path, err)
	}
	return fmt.Errorf("journal: open %s: %w", path, err)
}

// sqliteCode is the primary SQLite result code of err, or 0.
func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code() & 0xff
	}
	return 0
}

// IsDiskFull reports whether err, from any Store method, means the disk (or
// the database's size limit) is full. The write was rolled back.
func IsDiskFull(err error) bool { return sqliteCode(err) == sqlite3.SQLITE_FULL }

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database and releases the lock. It is safe to call more
// than once; later calls return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		err := s.closeDBs()
		if s.lock != nil {
			if uerr := s.lock.Unlock(); uerr != nil && err == nil {
				err = uerr
			}
		}
		if err != nil {
			s.closeErr = fmt.Errorf("journal: close %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// closeDBs closes the readers, then the writer, which checkpoints the WAL
// into the database when it is the last connection.
func (s *Store) closeDBs() error {
	errs := []error{s.stmts.close()}
	if s.findRef != nil {
		errs = append(errs, s.findRef.Close())
	}
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	return errors.Join(errs...)
}

// writer is the write pool, or ErrReadOnly.
func (s *Store) writer() (*sql.DB, error) {
	if s.w == nil {
		return nil, ErrReadOnly
	}
	return s.w, nil
}

// writeTx runs fn in a write transaction and commits it when fn succeeds.
func (s *Store) writeTx(ctx context.Context, fn func(*sql.Tx) error) error {
	w, err := s.writer()
	if err != nil {
		return err
	}
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// Check runs SQLite's quick_check and checks the journal's derived data
// (the outbox counts and, unless read-only, the search index), for
// `ringside doctor`. A nil error means the file is sound.
func (s *Store) Check(ctx context.Context) error {
	problems, err := s.check(ctx)
	if err != nil {
		return fmt.Errorf("journal: check %s: %w", s.path, err)
	}
	if len(problems) > 0 {
		const show = 5
		more := ""
		if len(problems) > show {
			more = fmt.Sprintf(" (and %d more)", len(problems)-show)
			problems = problems[:show]
		}
		return fmt.Errorf("journal: check %s: the file is damaged: %s%s", s.path, strings.Join(problems, "; "), more)
	}
	return nil
}

func (s *Store) check(ctx context.Context) ([]string, error) {
	var problems []string
	rows, err := s.r.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, err
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return problems, nil // the rest reads a damaged file
	}

	rows, err = s.r.QueryContext(ctx, `SELECT coalesce(a.sink, b.sink), coalesce(a.state, b.state), coalesce(a.n, 0), coalesce(b.n, 0)
		FROM (SELECT sink, state, count(*) AS n FROM outbox GROUP BY sink, state) a
		FULL JOIN outbox_counts b ON a.sink = b.sink AND a.state = b.state
		WHERE coalesce(a.n, 0) <> coalesce(b.n, 0)`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			sink, state string
			have, count int
		)
		if err := rows.Scan(&sink, &state, &have, &count); err != nil {
			return nil, err
		}
		problems = append(problems, fmt.Sprintf("outbox of %s has %d %s items, counted %d", sink, have, state, count))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}

	if s.w != nil {
		// An FTS5 check is written as an INSERT, which query-only
		// connections refuse; it writes nothing.
		_, err := s.w.ExecContext(ctx, `INSERT INTO calls_search (calls_search, rank) VALUES ('integrity-check', 1)`)
		if sqliteCode(err) == sqlite3.SQLITE_CORRUPT {
			problems = append(problems, "the search index does not match the calls: "+err.Error())
		} else if err != nil {
			return nil, err
		}
	}
	return problems, nil
}
