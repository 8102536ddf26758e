package journal

import (
	"os"
	"testing"
	"time"
)

func TestScratchCompare(t *testing.T) {
	path := os.Getenv("SCRATCH_DB2")
	if path == "" {
		t.Skip()
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	exec := func(q string) {
		t0 := time.Now()
		if _, err := s.w.Exec(q); err != nil {
			t.Fatal(err)
		}
		t.Logf("%v: %.60s", time.Since(t0), q)
	}
	if os.Getenv("SETUP") != "" {
		exec(`CREATE VIRTUAL TABLE calls_fts USING fts5(digits, content='calls', content_rowid='id', tokenize='trigram')`)
		exec(`INSERT INTO calls_fts(rowid, digits) SELECT id, digits FROM calls`)
		exec(`CREATE INDEX calls_started2 ON calls (started_at, key)`)
	}
	time1 := func(name, q string, args ...any) {
		best := time.Hour
		n := 0
		for i := 0; i < 5; i++ {
			t0 := time.Now()
			rows, err := s.r.Query(q, args...)
			if err != nil {
				t.Fatal(err)
			}
			n = 0
			for rows.Next() {
				n++
			}
			rows.Close()
			best = min(best, time.Since(t0))
		}
		t.Logf("%-40s %4d rows best %v", name, n, best)
	}
	for _, num := range []string{"1234", "0722", "072", "722123456", "21", "987", "40"} {
		time1("A covering idx "+num, `SELECT c.key, c.note FROM calls c INDEXED BY calls_started WHERE instr(c.digits, ?) > 0 ORDER BY c.started_at DESC, c.key DESC LIMIT 100`, num)
		time1("C fts join "+num, `SELECT c.key, c.note FROM calls_fts f JOIN calls c ON c.id = f.rowid WHERE calls_fts MATCH ? ORDER BY c.started_at DESC, c.key DESC LIMIT 100`, `digits : "`+num+`"`)
		time1("count "+num, `SELECT rowid FROM calls_fts WHERE calls_fts MATCH ? LIMIT 2000`, `digits : "`+num+`"`)
	}
}
