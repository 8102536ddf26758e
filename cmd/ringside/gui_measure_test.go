//go:build !windows

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestGUIMeasure measures the desktop app as an agent runs it, under a real
// X server: its idle memory after a minute, and how long a ringing call
// takes to become a mapped popup window, from the moment the event is
// written to the app's event FIFO (a jsonl source) until xdotool sees the
// window. It also checks that the popup leaves the keyboard focus where
// it was. It needs DISPLAY, xdotool and RINGSIDE_GUI_MEASURE=1:
//
//	RINGSIDE_GUI_MEASURE=1 .ci/integration-env.sh go test -run TestGUIMeasure -v ./cmd/ringside
//
// RINGSIDE_GUI_MEASURE_IDLE (default 1m) and RINGSIDE_GUI_MEASURE_RINGS
// (default 20) shorten it.
func TestGUIMeasure(t *testing.T) {
	if os.Getenv("RINGSIDE_GUI_MEASURE") != "1" {
		t.Skip("set RINGSIDE_GUI_MEASURE=1 (with a display) to measure the desktop app")
	}
	if os.Getenv("DISPLAY") == "" {
		t.Skip("no DISPLAY")
	}
	if _, err := exec.LookPath("xdotool"); err != nil {
		t.Skip("xdotool not installed")
	}
	idle := time.Minute
	if d, err := time.ParseDuration(os.Getenv("RINGSIDE_GUI_MEASURE_IDLE")); err == nil {
		idle = d
	}
	rings := 20
	if n, err := strconv.Atoi(os.Getenv("RINGSIDE_GUI_MEASURE_RINGS")); err == nil && n > 0 {
		rings = n
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "events")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "config.toml")
	writeFile(t, config, fmt.Sprintf("region = \"RO\"\n[data]\ndir = %q\n[connectors.pbx]\ntype = \"jsonl\"\npath = %q\n",
		filepath.Join(dir, "data"), fifo))

	p := appProc{cmd: exec.Command(bin, "--config", config), log: &syncBuffer{}}
	p.cmd.Env = append(os.Environ(), "HOME="+dir, "RINGSIDE_POPUP_LINGER=1ms", "XDG_RUNTIME_DIR="+dir)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("app log:\n%s", p.log.String())
		}
	})
	events, err := os.OpenFile(fifo, os.O_WRONLY, 0) // blocks until the app reads it
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()

	time.Sleep(idle)
	rssIdle := rssKB(t, p.cmd.Process.Pid)
	t.Logf("idle RSS after %s (tray, popup window made and hidden): %d MB", idle, rssIdle/1024)

	const title = "^" + "Ringside call" + "$"
	visible := func() bool {
		out, _ := exec.Command("xdotool", "search", "--onlyvisible", "--name", title).Output()
		return strings.TrimSpace(string(out)) != ""
	}
	focus := func() string {
		out, _ := exec.Command("xdotool", "getwindowfocus").Output()
		return strings.TrimSpace(string(out))
	}
	var took []time.Duration
	for i := range rings {
		before := focus()
		id := fmt.Sprintf("m%d", i)
		start := time.Now()
		fmt.Fprintf(events, `{"kind":"ringing","direction":"in","call_id":%q,"phone":{"raw":"07212345%02d"}}`+"\n", id, i)
		for !visible() {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("ring %d: no popup after 10s", i)
			}
			time.Sleep(2 * time.Millisecond)
		}
		took = append(took, time.Since(start))
		if after := focus(); after != before {
			t.Errorf("ring %d: the popup took the keyboard focus (window %s, was %s)", i, after, before)
		}
		fmt.Fprintf(events, `{"kind":"missed","direction":"in","call_id":%q,"phone":{"raw":"07212345%02d"}}`+"\n", id, i)
		for visible() {
			if time.Since(start) > 20*time.Second {
				t.Fatalf("ring %d: popup still up 20s after the call ended", i)
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond)
	}
	rssAfter := rssKB(t, p.cmd.Process.Pid)
	first := took[0]
	warm := slices.Clone(took[1:])
	slices.Sort(warm)
	pct := func(q float64) time.Duration {
		if len(warm) == 0 {
			return first
		}
		return warm[min(len(warm)-1, int(q*float64(len(warm))))]
	}
	t.Logf("ring → popup mapped: first of the session %s; next %d: p50 %s, p99 %s, max %s",
		first.Round(time.Millisecond), len(warm), pct(0.5).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), pct(1).Round(time.Millisecond))
	t.Logf("RSS after %d popups: %d MB", rings, rssAfter/1024)

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("app did not stop cleanly: %v", err)
	}
}

// rssKB is a process's resident set, as ps shows it.
func rssKB(t *testing.T, pid int) int {
	t.Helper()
	out, err := exec.Command("ps", "-o", "rss=", "-p", strconv.Itoa(pid)).Output()
	if err != nil {
		t.Fatalf("ps: %v", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("ps said %q", out)
	}
	return n
}
