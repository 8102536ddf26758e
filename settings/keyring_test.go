package settings

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestKeyringIntegration talks to the real OS keyring. Run it with
// RINGSIDE_INTEGRATION=1 inside a session that has an unlocked Secret
// Service, e.g. gnome-keyring under dbus-run-session (see RECIPES.md).
func TestKeyringIntegration(t *testing.T) {
	if os.Getenv("RINGSIDE_INTEGRATION") != "1" {
		t.Skip("set RINGSIDE_INTEGRATION=1 to use the real OS keyring")
	}
	kr := NewKeyring()
	key := fmt.Sprintf("itest%d.password", time.Now().UnixNano())
	t.Cleanup(func() { _ = kr.Delete(key) })

	if _, err := kr.Get(key); !errors.Is(err, ErrSecretNotFound) {
		t.Fatalf("Get before Set: %v, want ErrSecretNotFound", err)
	}
	for _, v := range []string{"first value", "second: ünïcode & spaces"} {
		if err := kr.Set(key, v); err != nil {
			t.Fatalf("Set: %v", err)
		}
		got, err := kr.Get(key)
		if err != nil || got != v {
			t.Fatalf("Get = %q, %v; want %q", got, err, v)
		}
	}
	// The chain the app uses finds it too, ahead of the environment.
	chain := NewChain(kr, NewEnvStore(envOf(map[string]string{EnvName(key): "from env"})))
	if got, err := chain.Get(key); err != nil || got != "second: ünïcode & spaces" {
		t.Errorf("chain Get = %q, %v; want the keyring value", got, err)
	}
	if err := kr.Delete(key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := kr.Get(key); !errors.Is(err, ErrSecretNotFound) {
		t.Errorf("Get after Delete: %v, want ErrSecretNotFound", err)
	}
	if err := kr.Delete(key); err != nil {
		t.Errorf("Delete of a missing key: %v", err)
	}
	if got, err := chain.Get(key); err != nil || got != "from env" {
		t.Errorf("chain Get after Delete = %q, %v; want the env value", got, err)
	}
}

// TestKeyringUnavailable checks that an unreachable session bus is reported
// as ErrKeyringUnavailable and that a chain still falls back to the
// environment. go-keyring shares one session bus connection per process,
// so the test runs in a child process that never had a working one.
func TestKeyringUnavailable(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the Secret Service over D-Bus is the Linux keyring")
	}
	if os.Getenv("RINGSIDE_TEST_CHILD") != "keyring-unavailable" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKeyringUnavailable$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "RINGSIDE_TEST_CHILD=keyring-unavailable")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestKeyringUnavailable") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}

	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
	kr := NewKeyring()
	start := time.Now()
	_, err := kr.Get("office.password")
	if !errors.Is(err, ErrKeyringUnavailable) || errors.Is(err, ErrSecretNotFound) {
		t.Fatalf("Get = %v, want ErrKeyringUnavailable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Get took %v to fail, want it fast", d)
	}
	if msg := err.Error(); !strings.Contains(msg, "/nonexistent") || !strings.Contains(msg, "RINGSIDE_SECRET_OFFICE_PASSWORD") {
		t.Errorf("Get error %q should give the cause and the variable to set", msg)
	}
	if err := kr.Set("office.password", "hunter2"); !errors.Is(err, ErrKeyringUnavailable) || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Set = %v, want ErrKeyringUnavailable without the value", err)
	}

	chain := NewChain(kr, NewEnvStore(envOf(map[string]string{"RINGSIDE_SECRET_OFFICE_PASSWORD": "from env"})))
	if got, err := chain.Get("office.password"); err != nil || got != "from env" {
		t.Errorf("chain Get = %q, %v; want the env value", got, err)
	}
	_, err = chain.Get("office.token")
	if !errors.Is(err, ErrSecretNotFound) || !errors.Is(err, ErrKeyringUnavailable) {
		t.Errorf("chain Get of a missing key = %v, want ErrSecretNotFound and ErrKeyringUnavailable", err)
	}
}

// TestKeyringWithoutSessionBus checks that with no session bus at all the
// keyring is reported unavailable at once, instead of godbus starting a
// private bus with dbus-launch that outlives the process.
func TestKeyringWithoutSessionBus(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the Secret Service over D-Bus is the Linux keyring")
	}
	if _, err := os.Stat(fmt.Sprintf("/run/user/%d/bus", os.Getuid())); err == nil {
		t.Skip("this machine has a systemd user bus")
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	_, err := NewKeyring().Get("office.password")
	if !errors.Is(err, ErrKeyringUnavailable) || !strings.Contains(err.Error(), "no D-Bus session bus") {
		t.Errorf("Get = %v, want ErrKeyringUnavailable saying there is no session bus", err)
	}
}
