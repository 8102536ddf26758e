package settings

import (
	"bytes"
	"testing"
)

// FuzzLoad feeds arbitrary bytes as a settings file. Load must not panic,
// and a file it accepts must save and load back to the same thing.
func FuzzLoad(f *testing.F) {
	f.Add(Example())
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse("/fuzz/config.toml", data)
		if err != nil {
			return
		}
		for _, cc := range c.Connectors {
			var anything map[string]any
			_ = cc.Decode(&anything)
			var nothing struct{}
			_ = cc.Decode(&nothing)
		}
		saved, err := c.encode()
		if err != nil {
			t.Fatalf("encode of a loaded config: %v", err)
		}
		c2, err := parse(c.Path, saved)
		if err != nil {
			t.Fatalf("saved config does not load: %v\n%s", err, saved)
		}
		again, err := c2.encode()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(saved, again) {
			t.Fatalf("save is not stable:\n%s\n---\n%s", saved, again)
		}
	})
}
