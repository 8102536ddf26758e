//go:build !windows

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// maxSocketPath is the longest unix socket path every unix takes
// (sockaddr_un.sun_path is 104 bytes on macOS and the BSDs, 108 on Linux).
const maxSocketPath = 100

// socketDir is where the instance socket lives: $XDG_RUNTIME_DIR/ringside
// (per user, mode 0700, cleared at logout) when set, else the data
// directory, else — when that path is too long for a socket — a 0700
// directory of the user's in the temporary directory.
func socketDir(dataDir string) (string, error) {
	var candidates []string
	if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" && filepath.IsAbs(rt) {
		candidates = append(candidates, filepath.Join(rt, "ringside"))
	}
	candidates = append(candidates, dataDir, filepath.Join(os.TempDir(), fmt.Sprintf("ringside-%d", os.Getuid())))
	var errs []error
	for _, dir := range candidates {
		if len(dir)+len("/ringside-0123456789ab.sock") > maxSocketPath {
			continue
		}
		if err := privateDir(dir); err != nil {
			errs = append(errs, err)
			continue
		}
		return dir, nil
	}
	if len(errs) == 0 {
		return "", errors.New("no directory short enough for a unix socket")
	}
	return "", errors.Join(errs...)
}

// privateDir makes dir (mode 0700) or checks that it is a directory of
// ours that nobody else may enter.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	case ok && int(st.Uid) != os.Getuid():
		return fmt.Errorf("%s belongs to another user", dir)
	case fi.Mode().Perm()&0o077 != 0:
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("%s is open to other users and cannot be closed: %w", dir, err)
		}
	}
	return nil
}

// restrictSocket makes the socket usable by its owner only.
func restrictSocket(path string) error {
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	return nil
}
