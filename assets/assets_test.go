package assets

import (
	"bytes"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestPNGs(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		size int
	}{
		{"Icon()", Icon(), 256},
		{"Tray(connected)", Tray(TrayConnected), 64},
		{"Tray(reconnecting)", Tray(TrayReconnecting), 64},
		{"Tray(failed)", Tray(TrayFailed), 64},
		{"Tray(offline)", Tray(TrayOffline), 64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := png.Decode(bytes.NewReader(tt.data))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if got := img.Bounds().Size(); got.X != tt.size || got.Y != tt.size {
				t.Errorf("size = %v, want %dx%d", got, tt.size, tt.size)
			}
			// The corners are transparent (a round icon) and the centre is not.
			if _, _, _, a := img.At(0, 0).RGBA(); a != 0 {
				t.Errorf("corner alpha = %d, want 0", a)
			}
			if _, _, _, a := img.At(tt.size/2, tt.size/2).RGBA(); a != 0xffff {
				t.Errorf("centre alpha = %d, want opaque", a)
			}
		})
	}
}

func TestTrayStatesDiffer(t *testing.T) {
	states := []string{TrayConnected, TrayReconnecting, TrayFailed, TrayOffline}
	for i, a := range states {
		for _, b := range states[i+1:] {
			if bytes.Equal(Tray(a), Tray(b)) {
				t.Errorf("Tray(%q) and Tray(%q) are the same image", a, b)
			}
		}
	}
}

func TestTrayUnknownStateIsOffline(t *testing.T) {
	for _, state := range []string{"", "Connected", "bogus"} {
		if !bytes.Equal(Tray(state), Tray(TrayOffline)) {
			t.Errorf("Tray(%q) is not the offline icon", state)
		}
	}
}

func TestReturnsCopies(t *testing.T) {
	b := Icon()
	b[0] ^= 0xff
	if bytes.Equal(b, Icon()) {
		t.Error("changing the slice Icon returned changed the embedded icon")
	}
}

func TestDesktopEntry(t *testing.T) {
	entry := string(DesktopEntry())
	for _, line := range []string{
		"[Desktop Entry]",
		"Type=Application",
		"Name=Ringside",
		"Exec=@BIN@ %u",
		"Icon=ringside",
		"Terminal=false",
		"Categories=Office;Telephony;",
		"MimeType=x-scheme-handler/tel;x-scheme-handler/callto;",
		"StartupNotify=false",
	} {
		if !strings.Contains(entry, "\n"+line+"\n") && !strings.HasPrefix(entry, line+"\n") {
			t.Errorf("desktop entry has no line %q", line)
		}
	}

	validate, err := exec.LookPath("desktop-file-validate")
	if err != nil {
		t.Skip("desktop-file-validate not installed (Debian package desktop-file-utils)")
	}
	path := filepath.Join(t.TempDir(), "ringside.desktop")
	installed := strings.ReplaceAll(entry, "@BIN@", "/home/agent/.local/bin/ringside")
	if err := os.WriteFile(path, []byte(installed), 0o644); err != nil {
		t.Fatal(err)
	}
	// Errors and warnings fail; hints are advice (it suggests adding Network
	// next to Telephony).
	out, err := exec.Command(validate, path).CombinedOutput()
	if err != nil || strings.Contains(string(out), "error:") || strings.Contains(string(out), "warning:") {
		t.Errorf("desktop-file-validate: %v\n%s", err, out)
	}
}

func TestTrayMarked(t *testing.T) {
	seen := map[string]string{}
	for _, state := range []string{TrayConnected, TrayReconnecting, TrayFailed, TrayOffline} {
		for _, mark := range []string{MarkNone, MarkBusy, MarkAway, MarkDND} {
			data := TrayMarked(state, mark)
			img, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("TrayMarked(%s, %s): %v", state, mark, err)
			}
			if got := img.Bounds().Size(); got.X != 64 || got.Y != 64 {
				t.Errorf("TrayMarked(%s, %s) is %v", state, mark, got)
			}
			if other, dup := seen[string(data)]; dup {
				t.Errorf("TrayMarked(%s, %s) is the same image as %s", state, mark, other)
			}
			seen[string(data)] = state + "/" + mark
		}
		if !bytes.Equal(TrayMarked(state, MarkNone), Tray(state)) || !bytes.Equal(TrayMarked(state, "bogus"), Tray(state)) {
			t.Errorf("TrayMarked(%s) without a mark is not Tray(%s)", state, state)
		}
	}
}
