package journal

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/connectors"
)

// newStore opens a fresh journal in a temporary directory.
func newStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "ringside.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// base is the time fixtures start from.
var base = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)

// ended is a finished inbound call with key started at base+min minutes.
func ended(key string, min int, raw, e164 string) Call {
	at := base.Add(time.Duration(min) * time.Minute)
	return Call{
		Key:       key,
		State:     StateEnded,
		Direction: connectors.DirectionInbound,
		Phone:     connectors.Phone{Raw: raw, E164: e164},
		Result:    connectors.ResultAnswered,
		Source:    "pbx",
		StartedAt: at,
		EndedAt:   at.Add(time.Minute),
		UpdatedAt: at.Add(time.Minute),
		Revision:  1,
	}
}

// logItem is an outbox item for call key, sink and revision.
func logItem(sink, key string, rev int) Item {
	return Item{Sink: sink, Log: connectors.CallLog{
		Key:       fmt.Sprintf("%s-r%d", key, rev),
		CallKey:   key,
		Revision:  rev,
		Direction: connectors.DirectionInbound,
		Result:    connectors.ResultAnswered,
		StartedAt: base,
	}}
}

func save(t testing.TB, s *Store, ch Change) {
	t.Helper()
	if err := s.Save(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
}

func TestOpenCreatesDirectoryAndSchema(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "ringside.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Path(), path; got != want {
		t.Errorf("Path() = %q, want %q", got, want)
	}
	if err := s.Check(context.Background()); err != nil {
		t.Error(err)
	}
	pragmas := []struct {
		db   *sql.DB
		name string
		want string
	}{
		{s.w, "journal_mode", "wal"},
		{s.w, "synchronous", "1"}, // NORMAL
		{s.w, "busy_timeout", "5000"},
		{s.w, "foreign_keys", "1"},
		{s.w, "query_only", "0"},
		{s.r, "journal_mode", "wal"},
		{s.r, "busy_timeout", "5000"},
		{s.r, "query_only", "1"},
	}
	for _, p := range pragmas {
		var got string
		if err := p.db.QueryRow("PRAGMA " + p.name).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != p.want {
			t.Errorf("PRAGMA %s = %q, want %q", p.name, got, p.want)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fi.Mode().Perm(), fs.FileMode(0o700); got != want {
			t.Errorf("directory mode = %v, want %v", got, want)
		}
	}

	// Reopening keeps the data and does not migrate again.
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var version int
	if err := s.r.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if got, want := version, len(migrations()); got != want {
		t.Errorf("user_version = %d, want %d", got, want)
	}
}

func TestOpenLock(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ringside.db")
	first, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	save(t, first, Change{Call: ended("k1", 0, "0211234567", "+40211234567")})

	_, err = Open(path, Options{})
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("second Open: got %v, want ErrInUse", err)
	}
	if got, want := err.Error(), "journal "+path+" is in use by another Ringside"; got != want {
		t.Errorf("second Open error = %q, want %q", got, want)
	}

	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only Open while the writer is open: %v", err)
	}
	defer ro.Close()
	if _, err := ro.Get(ctx, "k1"); err != nil {
		t.Errorf("read-only Get: %v", err)
	}
	// The writer's later commits are visible to the reader.
	save(t, first, Change{Call: ended("k2", 1, "0722555000", "+40722555000")})
	if _, err := ro.Get(ctx, "k2"); err != nil {
		t.Errorf("read-only Get of a later save: %v", err)
	}

	writes := []struct {
		name string
		fn   func() error
	}{
		{"Save", func() error { return ro.Save(ctx, Change{Call: ended("k3", 2, "1", "")}) }},
		{"MarkDelivered", func() error { return ro.MarkDelivered(ctx, []int64{1}, base) }},
		{"MarkRetry", func() error { return ro.MarkRetry(ctx, 1, base, "x") }},
		{"MarkFailed", func() error { return ro.MarkFailed(ctx, 1, "x") }},
		{"RetryFailed", func() error { _, err := ro.RetryFailed(ctx, "", base); return err }},
	}
	for _, w := range writes {
		if err := w.fn(); !errors.Is(err, ErrReadOnly) {
			t.Errorf("read-only %s: got %v, want ErrReadOnly", w.name, err)
		}
	}

	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenReadOnlyAlone(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "ringside.db")

	if _, err := Open(path, Options{ReadOnly: true}); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("read-only Open of a missing file: got %v, want fs.ErrNotExist naming the path", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}

	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	save(t, s, Change{Call: ended("k1", 0, "0211234567", "+40211234567")})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// With no writer running (no -wal, no -shm), a reader still opens.
	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	got, err := ro.Search(ctx, Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Errorf("Search found %d calls, want 1", len(got))
	}
	if err := ro.Check(ctx); err != nil {
		t.Error(err)
	}
}

// The helper process for TestReadOnlyWhileAnotherProcessWrites: it writes
// calls to the journal named by the environment until its stdin closes.
func TestMain(m *testing.M) {
	if path := os.Getenv("RINGSIDE_JOURNAL_WRITER"); path != "" {
		os.Exit(writerProcess(path))
	}
	os.Exit(m.Run())
}

func writerProcess(path string) int {
	ctx := context.Background()
	s, err := Open(path, Options{})
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	defer s.Close()
	stop := make(chan struct{})
	go func() { // exits when stdin closes
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		close(stop)
	}()
	for i := 0; ; i++ {
		err := s.Save(ctx, Change{
			Call:    ended(fmt.Sprintf("w%06d", i), i, "0722555000", "+40722555000"),
			Event:   &connectors.Event{Kind: connectors.KindEnded, At: base},
			Enqueue: []Item{logItem("crm", fmt.Sprintf("w%06d", i), 1)},
		})
		if err != nil {
			fmt.Println("error:", err)
			return 1
		}
		if i == 0 {
			fmt.Println("ready")
		}
		select {
		case <-stop:
			return 0
		default:
		}
	}
}

func TestReadOnlyWhileAnotherProcessWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ringside.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "RINGSIDE_JOURNAL_WRITER="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "ready" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("writer process: %q %v", lines.Text(), lines.Err())
	}

	if _, err := Open(path, Options{}); !errors.Is(err, ErrInUse) {
		t.Errorf("Open while another process writes: got %v, want ErrInUse", err)
	}
	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for deadline := time.Now().Add(10 * time.Second); seen < 200 && time.Now().Before(deadline); {
		calls, err := ro.Search(ctx, Query{Number: "555", Limit: 1000})
		if err != nil {
			t.Fatalf("read-only Search while another process writes: %v", err)
		}
		if _, err := ro.Stats(ctx, "crm"); err != nil {
			t.Fatalf("read-only Stats while another process writes: %v", err)
		}
		if len(calls) < seen {
			t.Fatalf("read %d calls after %d", len(calls), seen)
		}
		seen = len(calls)
	}
	if seen < 200 {
		t.Errorf("saw only %d of the other process's calls", seen)
	}
	if err := ro.Close(); err != nil {
		t.Error(err)
	}
	stdin.Close()
	for lines.Scan() {
		t.Errorf("writer process: %s", lines.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("writer process: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T) string // returns the path to open
		want   string                    // in the error of Open, besides the path
		wantRO string                    // in the error of a read-only Open
	}{
		{
			name: "corrupt file",
			setup: func(t *testing.T) string {
				path := filepath.Join(t.TempDir(), "ringside.db")
				garbage := []byte(strings.Repeat("this is not a SQLite database\n", 200))
				if err := os.WriteFile(path, garbage, 0o600); err != nil {
					t.Fatal(err)
				}
				return path
			},
			want:   "corrupt or not a Ringside journal",
			wantRO: "corrupt or not a Ringside journal",
		},
		{
			name: "unwritable directory",
			setup: func(t *testing.T) string {
				if os.Geteuid() == 0 || runtime.GOOS == "windows" {
					// Permissions do not stop root; a file in the way of
					// the directory stops everyone.
					file := filepath.Join(t.TempDir(), "file")
					if err := os.WriteFile(file, nil, 0o600); err != nil {
						t.Fatal(err)
					}
					return filepath.Join(file, "sub", "ringside.db")
				}
				dir := filepath.Join(t.TempDir(), "ro")
				if err := os.Mkdir(dir, 0o500); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
				return filepath.Join(dir, "ringside.db")
			},
			want:   "journal: ",
			wantRO: "read-only: ",
		},
		{
			name: "directory where the file should be",
			setup: func(t *testing.T) string {
				path := filepath.Join(t.TempDir(), "ringside.db")
				if err := os.Mkdir(path, 0o700); err != nil {
					t.Fatal(err)
				}
				return path
			},
			want:   "cannot open the file",
			wantRO: "is a directory",
		},
		{
			name: "newer schema",
			setup: func(t *testing.T) string {
				path := filepath.Join(t.TempDir(), "ringside.db")
				db, err := sql.Open("sqlite", path)
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = 99; PRAGMA application_id = %d", applicationID)); err != nil {
					t.Fatal(err)
				}
				return path
			},
			want:   "schema version 99 is newer",
			wantRO: "schema version 99 is newer",
		},
		{
			name: "another program's database",
			setup: func(t *testing.T) string {
				path := filepath.Join(t.TempDir(), "ringside.db")
				db, err := sql.Open("sqlite", path)
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				if _, err := db.Exec("CREATE TABLE notes (x); PRAGMA user_version = 1"); err != nil {
					t.Fatal(err)
				}
				return path
			},
			want:   "another program's SQLite database",
			wantRO: "another program's SQLite database",
		},
		{
			name: "read-only file",
			setup: func(t *testing.T) string {
				if os.Geteuid() == 0 || runtime.GOOS == "windows" {
					t.Skip("root writes read-only files")
				}
				path := filepath.Join(t.TempDir(), "ringside.db")
				s, err := Open(path, Options{})
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, 0o400); err != nil {
					t.Fatal(err)
				}
				return path
			},
			want:   "read-only",
			wantRO: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.setup(t)
			for _, c := range []struct {
				opts Options
				want string
			}{{Options{}, tt.want}, {Options{ReadOnly: true}, tt.wantRO}} {
				s, err := Open(path, c.opts)
				if c.want == "" { // a read-only Open of a read-only file
					if err != nil {
						t.Errorf("Open(%+v): %v", c.opts, err)
					} else {
						s.Close()
					}
					continue
				}
				if err == nil {
					s.Close()
					t.Fatalf("Open(%+v) succeeded", c.opts)
				}
				if got := err.Error(); !strings.Contains(got, path) || !strings.Contains(got, c.want) {
					t.Errorf("Open(%+v) error = %q, want it to name %s and say %q", c.opts, got, path, c.want)
				}
				t.Logf("Open(%+v): %v", c.opts, err)
			}
		})
	}
}

func TestSaveDiskFull(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	old := ended("full", 0, "0211234567", "+40211234567")
	save(t, s, Change{
		Call:    old,
		Event:   &connectors.Event{Kind: connectors.KindRinging, At: base},
		Refs:    []Ref{{Vendor: "pbx", CallID: "a"}},
		Enqueue: []Item{logItem("crm", "full", 1)},
	})
	pages, err := s.PageCount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetMaxPageCount(ctx, pages); err != nil {
		t.Fatal(err)
	}

	// A change too big for the space left: an update of the call, a new
	// event, a new ref, a replaced and a new outbox item.
	big := old
	big.Note = strings.Repeat("a long note that will not fit ", 20000)
	big.Revision = 2
	replaced := logItem("crm", "full", 1)
	replaced.Log.Note = big.Note
	ch := Change{
		Call:    big,
		Event:   &connectors.Event{Kind: connectors.KindEnded, At: base, Extra: map[string]string{"x": big.Note}},
		Refs:    []Ref{{Vendor: "pbx", CallID: "b"}},
		Enqueue: []Item{replaced, logItem("crm", "full", 2)},
	}
	err = s.Save(ctx, ch)
	if err == nil {
		t.Fatal("Save on a full disk succeeded")
	}
	if !IsDiskFull(err) {
		t.Errorf("IsDiskFull(%v) = false", err)
	}
	if got, want := err.Error(), "journal: save call full: "; !strings.HasPrefix(got, want) || !strings.Contains(got, "full") {
		t.Errorf("error = %q, want it to start %q", got, want)
	}
	t.Logf("Save on a full disk: %v", err)

	// Nothing of the change was written.
	checkState := func(wantNote string, wantEvents, wantItems int, wantRefB bool) {
		t.Helper()
		got, err := s.Get(ctx, "full")
		if err != nil {
			t.Fatal(err)
		}
		if got.Note != wantNote {
			t.Errorf("note has %d bytes, want %d", len(got.Note), len(wantNote))
		}
		events, err := s.Events(ctx, "full")
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != wantEvents {
			t.Errorf("%d events, want %d", len(events), wantEvents)
		}
		items, err := s.Items(ctx, "full")
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != wantItems {
			t.Errorf("%d items, want %d", len(items), wantItems)
		}
		if len(items) > 0 && items[0].Log.Note != wantNote {
			t.Errorf("first item's note has %d bytes, want %d", len(items[0].Log.Note), len(wantNote))
		}
		_, err = s.FindByRef(ctx, "pbx", "b")
		if gotRef := err == nil; gotRef != wantRefB {
			t.Errorf("ref b found = %v (%v), want %v", gotRef, err, wantRefB)
		}
		if err := s.Check(ctx); err != nil {
			t.Error(err)
		}
	}
	checkState("", 1, 1, false)

	// Later writes that fit still work, and so does a retry with room.
	if err := s.MarkRetry(ctx, 1, base, "HTTP 503"); err != nil {
		t.Errorf("small write on a full disk: %v", err)
	}
	if _, err := s.SetMaxPageCount(ctx, 1<<30); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, ch); err != nil {
		t.Fatalf("Save after freeing space: %v", err)
	}
	checkState(big.Note, 2, 2, true)
}

func TestCheckFindsDamage(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		damage []string // raw SQL run on the writer
		want   string
	}{
		{"sound", nil, ""},
		{"outbox counts", []string{`UPDATE outbox_counts SET n = 7 WHERE state = 'pending'`}, "outbox of crm has 1 pending items, counted 7"},
		{"search index", []string{`DROP TRIGGER calls_search_update`, `UPDATE calls SET digits = '999'`}, "search index does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			save(t, s, Change{Call: ended("k", 0, "0211234567", "+40211234567"), Enqueue: []Item{logItem("crm", "k", 1)}})
			for _, q := range tt.damage {
				if _, err := s.w.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			err := s.Check(ctx)
			if tt.want == "" {
				if err != nil {
					t.Errorf("Check: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), s.Path()) {
				t.Errorf("Check: got %v, want an error naming the file and saying %q", err, tt.want)
			}
		})
	}
}
