package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestSingleInstance: the first claim listens; a second finds it running
// and hands its request over; after the first closes, a new claim works,
// even over the socket file a killed process would leave.
func TestSingleInstance(t *testing.T) {
	runtimeDir := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", runtimeDir)
	data := filepath.Join(t.TempDir(), "data")
	log := slog.New(slog.DiscardHandler)

	first, sock, err := claimInstance(data, log)
	if err != nil {
		t.Fatal(err)
	}
	var got []instanceRequest
	first.Serve(func(_ context.Context, req instanceRequest) (string, error) {
		got = append(got, req)
		if req.Number == "0" {
			return "", errors.New("no connector can dial")
		}
		return "dialing " + req.Number, nil
	})
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(sock)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("socket mode = %v, want 0600", fi.Mode().Perm())
		}
	}

	// A launch that sees another runtime directory still finds it.
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	second, addr, err := claimInstance(data, log)
	if !errors.Is(err, errRunning) || second != nil {
		t.Fatalf("second claim = %v, %v; want errRunning", second, err)
	}
	msg, err := sendToInstance(context.Background(), addr, instanceRequest{Action: actionDial, Number: "+40721234567"})
	if err != nil || msg != "dialing +40721234567" {
		t.Errorf("reply = %q, %v", msg, err)
	}
	if _, err := sendToInstance(context.Background(), addr, instanceRequest{Action: actionDial, Number: "0"}); err == nil || err.Error() != "no connector can dial" {
		t.Errorf("failed request reported as %v", err)
	}
	if _, err := sendToInstance(context.Background(), addr, instanceRequest{Action: "rm -rf"}); err == nil {
		t.Error("unknown request accepted")
	}
	first.Close()
	if len(got) != 2 {
		t.Errorf("handled %d requests, want 2", len(got))
	}

	// A stale socket file (the owner was killed) does not block the next.
	t.Setenv("XDG_RUNTIME_DIR", runtimeDir)
	if err := os.WriteFile(sock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	third, _, err := claimInstance(data, log)
	if err != nil {
		t.Fatalf("claim after close: %v", err)
	}
	third.Close()

	// Another data directory is another instance.
	other, _, err := claimInstance(filepath.Join(t.TempDir(), "other"), log)
	if err != nil {
		t.Fatal(err)
	}
	other.Close()
}
