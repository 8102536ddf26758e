package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/ringside/ringside/app/journal"
	"github.com/ringside/ringside/connectors"
)

// TestDemoEndToEnd runs `ringside demo` as a user would: the binary, the
// simulator on a real socket, call notifications over real HTTP, contacts
// from the demo's CSV, the journal — and reads the result with
// `ringside history`.
func TestDemoEndToEnd(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "demo")
	p := appProc{cmd: exec.Command(bin, "demo", "--data", data, "--gap", "100ms", "--speed", "200"), log: &syncBuffer{}}
	p.cmd.Env = append(os.Environ(), "HOME="+dir)
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
			t.Logf("demo log:\n%s", p.log.String())
		}
	})
	config := filepath.Join(data, "config.toml")
	waitHistory(t, bin, config, func(cs []journal.Call) bool {
		var ended, known, unknown, out, answered int
		for _, c := range cs {
			if c.State != journal.StateEnded {
				continue
			}
			ended++
			if c.Contact.Known() {
				known++
			} else {
				unknown++
			}
			if c.Direction == connectors.DirectionOutbound {
				out++
			}
			if c.Result == connectors.ResultAnswered && c.VendorCallID != "" {
				answered++
			}
		}
		return ended >= 6 && known >= 1 && unknown >= 1 && out >= 1 && answered >= 1
	})
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("demo did not stop cleanly: %v", err)
	}
}
