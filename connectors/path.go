package connectors

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ResolvePath makes a path from a connector's settings absolute: "~/" is
// the home directory and a relative path is relative to dir (the settings
// file's directory, Deps.ConfigDir; the working directory when dir is "").
func ResolvePath(dir, p string) (string, error) {
	if p == "~" || strings.HasPrefix(p, "~/") || strings.HasPrefix(p, `~\`) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("expand ~: %w", err)
		}
		return filepath.Join(home, p[1:]), nil
	}
	if filepath.IsAbs(p) || dir == "" {
		return filepath.Clean(p), nil
	}
	return filepath.Join(dir, p), nil
}
