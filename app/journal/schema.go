package journal

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are the schema steps; PRAGMA user_version counts those applied.
// Append new steps, never edit a released one.
func migrations() []string {
	return []string{
		// 1: calls, their events and refs, and the outbox.
		`
CREATE TABLE calls (
	id              INTEGER PRIMARY KEY,
	key             TEXT    NOT NULL UNIQUE,
	state           TEXT    NOT NULL,
	direction       TEXT    NOT NULL,
	phone_raw       TEXT    NOT NULL DEFAULT '',
	phone_e164      TEXT    NOT NULL DEFAULT '',
	result          TEXT    NOT NULL,
	queue           INTEGER NOT NULL DEFAULT 0,
	source          TEXT    NOT NULL DEFAULT '',
	vendor          TEXT    NOT NULL DEFAULT '',
	vendor_call_id  TEXT    NOT NULL DEFAULT '',
	agent           TEXT    NOT NULL DEFAULT '',
	started_at      INTEGER NOT NULL DEFAULT 0, -- unix ms; 0 when unknown
	answered_at     INTEGER,
	ended_at        INTEGER,
	updated_at      INTEGER,
	contact_id      TEXT    NOT NULL DEFAULT '',
	contact_name    TEXT    NOT NULL DEFAULT '',
	contact_company TEXT    NOT NULL DEFAULT '',
	contact_manager TEXT    NOT NULL DEFAULT '',
	contact_url     TEXT    NOT NULL DEFAULT '',
	contact_new_url TEXT    NOT NULL DEFAULT '',
	contact_source  TEXT    NOT NULL DEFAULT '',
	contact_extra   TEXT,                       -- JSON object
	note            TEXT    NOT NULL DEFAULT '',
	disposition     TEXT    NOT NULL DEFAULT '',
	recording       TEXT    NOT NULL DEFAULT '',
	revision        INTEGER NOT NULL DEFAULT 0,
	-- Derived, for Search: the digits of phone_raw and phone_e164, and the
	-- contact's name and company folded to lower case without diacritics.
	digits          TEXT    NOT NULL DEFAULT '',
	name_fold       TEXT    NOT NULL DEFAULT ''
);
-- History order and date ranges. digits, name_fold and result ride along so
-- that a search scanning the history filters on the index and reads only
-- the rows it returns.
CREATE INDEX calls_started ON calls (started_at, key, digits, name_fold, result);
CREATE INDEX calls_open ON calls (started_at, key) WHERE state <> 'ended';

-- A trigram index over the search columns, kept by triggers: a number or a
-- name of three or more characters that few calls hold is looked up here
-- rather than by scanning the history (see Store.Search).
CREATE VIRTUAL TABLE calls_search USING fts5 (
	digits, name_fold, content = 'calls', content_rowid = 'id', tokenize = 'trigram'
);
CREATE TRIGGER calls_search_insert AFTER INSERT ON calls BEGIN
	INSERT INTO calls_search (rowid, digits, name_fold) VALUES (new.id, new.digits, new.name_fold);
END;
CREATE TRIGGER calls_search_update AFTER UPDATE OF digits, name_fold ON calls
WHEN old.digits IS NOT new.digits OR old.name_fold IS NOT new.name_fold BEGIN
	INSERT INTO calls_search (calls_search, rowid, digits, name_fold)
		VALUES ('delete', old.id, old.digits, old.name_fold);
	INSERT INTO calls_search (rowid, digits, name_fold) VALUES (new.id, new.digits, new.name_fold);
END;
CREATE TRIGGER calls_search_delete AFTER DELETE ON calls BEGIN
	INSERT INTO calls_search (calls_search, rowid, digits, name_fold)
		VALUES ('delete', old.id, old.digits, old.name_fold);
END;

CREATE TABLE refs (
	vendor  TEXT    NOT NULL,
	call_id TEXT    NOT NULL,
	call    INTEGER NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
	PRIMARY KEY (vendor, call_id)
) WITHOUT ROWID;
CREATE INDEX refs_call ON refs (call);

CREATE TABLE events (
	id         INTEGER PRIMARY KEY,
	call       INTEGER NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
	kind       TEXT    NOT NULL,
	direction  TEXT    NOT NULL,
	source     TEXT    NOT NULL DEFAULT '',
	vendor     TEXT    NOT NULL DEFAULT '',
	call_id    TEXT    NOT NULL DEFAULT '',
	phone_raw  TEXT    NOT NULL DEFAULT '',
	phone_e164 TEXT    NOT NULL DEFAULT '',
	agent      TEXT    NOT NULL DEFAULT '',
	queue      INTEGER NOT NULL DEFAULT 0,
	status     TEXT    NOT NULL,
	result     TEXT    NOT NULL,
	recording  TEXT    NOT NULL DEFAULT '',
	at         INTEGER,
	received   INTEGER,
	extra      TEXT                       -- JSON object
);
CREATE INDEX events_call ON events (call, id);

CREATE TABLE outbox (
	id           INTEGER PRIMARY KEY,
	sink         TEXT    NOT NULL,
	call         INTEGER NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
	log_key      TEXT    NOT NULL,
	payload      TEXT    NOT NULL,        -- connectors.CallLog as JSON
	state        TEXT    NOT NULL,        -- pending, delivered, failed
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_at      INTEGER NOT NULL,
	last_error   TEXT    NOT NULL DEFAULT '',
	error_at     INTEGER,                 -- when last_error was set
	created_at   INTEGER NOT NULL,
	delivered_at INTEGER,
	UNIQUE (sink, log_key)
);
CREATE INDEX outbox_due ON outbox (sink, state, next_at);
CREATE INDEX outbox_call ON outbox (call, state);
-- The few items not yet delivered: for the history's delivery filters, and
-- for the newest error.
CREATE INDEX outbox_undelivered ON outbox (state, call) WHERE state <> 'delivered';
CREATE INDEX outbox_errors ON outbox (error_at) WHERE state <> 'delivered';

-- Items per sink and state, kept by triggers, so that Stats does not count
-- a year of delivered items each time the tray asks.
CREATE TABLE outbox_counts (
	sink  TEXT    NOT NULL,
	state TEXT    NOT NULL,
	n     INTEGER NOT NULL,
	PRIMARY KEY (sink, state)
) WITHOUT ROWID;
CREATE TRIGGER outbox_count_insert AFTER INSERT ON outbox BEGIN
	INSERT INTO outbox_counts (sink, state, n) VALUES (new.sink, new.state, 1)
		ON CONFLICT (sink, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER outbox_count_update AFTER UPDATE OF sink, state ON outbox
WHEN old.sink IS NOT new.sink OR old.state IS NOT new.state BEGIN
	UPDATE outbox_counts SET n = n - 1 WHERE sink = old.sink AND state = old.state;
	INSERT INTO outbox_counts (sink, state, n) VALUES (new.sink, new.state, 1)
		ON CONFLICT (sink, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER outbox_count_delete AFTER DELETE ON outbox BEGIN
	UPDATE outbox_counts SET n = n - 1 WHERE sink = old.sink AND state = old.state;
END;
`,
	}
}

// applicationID marks the file as a Ringside journal ("RING"), for
// `file ringside.db` and against opening another program's database.
const applicationID = 0x52494e47

// migrate brings the schema up to date in one transaction, and refuses a
// file written by a newer Ringside or by another program. It always writes
// the header, so that a file the process may not write fails here rather
// than at the first Save.
func migrate(ctx context.Context, db *sql.DB) error {
	steps := migrations()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit

	var version, appID, tables int
	err = tx.QueryRowContext(ctx, `SELECT (SELECT user_version FROM pragma_user_version),
		(SELECT application_id FROM pragma_application_id),
		(SELECT count(*) FROM sqlite_schema)`).Scan(&version, &appID, &tables)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if appID != applicationID && (appID != 0 || tables > 0) {
		return fmt.Errorf("the file is another program's SQLite database, not a Ringside journal")
	}
	if version > len(steps) {
		return fmt.Errorf("schema version %d is newer than this Ringside knows (%d); update Ringside", version, len(steps))
	}
	for i := version; i < len(steps); i++ {
		if _, err := tx.ExecContext(ctx, steps[i]); err != nil {
			return fmt.Errorf("migrate schema to version %d: %w", i+1, err)
		}
	}
	// PRAGMA takes no parameters; the values are trusted integers.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(steps))); err != nil {
		return fmt.Errorf("set schema version %d: %w", len(steps), err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", applicationID)); err != nil {
		return fmt.Errorf("mark the file as a Ringside journal: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate schema to version %d: %w", len(steps), err)
	}
	return nil
}
