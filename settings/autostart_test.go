//go:build !windows && !darwin

package settings

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAutostart writes a real XDG autostart entry. go-autostart reads HOME
// and XDG_CONFIG_HOME once, in init, so the test re-runs itself in a child
// process whose HOME is a temporary directory.
func TestAutostart(t *testing.T) {
	if os.Getenv("RINGSIDE_TEST_CHILD") != "autostart" {
		home := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestAutostart$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(),
			"RINGSIDE_TEST_CHILD=autostart",
			"HOME="+home,
			"XDG_CONFIG_HOME="+filepath.Join(home, "config"))
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestAutostart") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}

	file := filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "autostart", "ringside-test.desktop")
	a := NewAutostart("ringside-test", "Ringside", []string{"/opt/Ring Side/ringside", "--minimized"})

	assertEnabled := func(want bool) {
		t.Helper()
		got, err := a.Enabled()
		if err != nil || got != want {
			t.Fatalf("Enabled = %v, %v; want %v", got, err, want)
		}
	}
	assertEnabled(false)
	if err := a.Disable(); err != nil {
		t.Errorf("Disable when not enabled: %v", err)
	}
	for range 2 { // enabling twice rewrites the same entry
		if err := a.Enable(); err != nil {
			t.Fatalf("Enable: %v", err)
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("entry not written: %v", err)
	}
	for _, want := range []string{"[Desktop Entry]\n", "Name=Ringside\n", `Exec="/opt/Ring Side/ringside" "--minimized"` + "\n"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("%s:\n%s\nwant it to contain %q", file, data, want)
		}
	}
	assertEnabled(true)
	if err := a.Disable(); err != nil {
		t.Fatalf("Disable: %v", err)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("entry still there after Disable: %v", err)
	}
	assertEnabled(false)

	if err := NewAutostart("../evil", "x", []string{"/bin/true"}).Enable(); err == nil {
		t.Error("Enable with a path in the name succeeded")
	}
	if err := NewAutostart("x", "x", nil).Enable(); err == nil {
		t.Error("Enable without a program succeeded")
	}
}
