//go:build unix

package jsonl

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/ringside/ringside/connectors/connectortest"
)

func mkfifo(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeFIFO opens the pipe as a writer, writes s and closes it.
func writeFIFO(t *testing.T, path, s string) {
	t.Helper()
	w, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, s); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestFIFOSuccessiveWriters(t *testing.T) {
	path := mkfifo(t)
	s := newTestSource(t, testDeps(t, "", nil, nil), "path = \""+path+"\"")
	link := connectortest.NewLink()
	stop := run(t, s, link)
	link.WaitUp(t) // no writer yet: the open did not wait for one
	if got := link.Ups()[0]; got != "reading "+path {
		t.Errorf("Up(%q)", got)
	}

	writeFIFO(t, path, ringing("w1", "0211234567")+"not json\n")
	link.WaitEvents(t, 1)
	writeFIFO(t, path, ringing("w2", "0211234567")) // a new writer after the first closed
	evs := link.WaitEvents(t, 2)
	if got := callIDs(evs); got != "w1,w2" {
		t.Errorf("events %s, want w1,w2", got)
	}
	stop()
	if len(link.Ups()) != 1 {
		t.Errorf("Up called %d times, want once", len(link.Ups()))
	}
}

func TestFIFOCancelWithoutWriter(t *testing.T) {
	path := mkfifo(t)
	before := runtime.NumGoroutine()
	s := newTestSource(t, testDeps(t, "", nil, nil), "path = \""+path+"\"")
	link := connectortest.NewLink()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, link) }()
	link.WaitUp(t)
	time.Sleep(10 * time.Millisecond) // Run is blocked reading
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel = %v, want nil", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Run did not return promptly after cancel")
	}
	waitGoroutines(t, before)
}

func TestOpenStdin(t *testing.T) {
	// Whatever standard input is under go test, opening and closing it
	// works and leaves it as it was.
	rc, restore, err := openStdin()
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Close(); err != nil {
		t.Error(err)
	}
	restore()
}
