package main

import (
	"os"
)

// socketDir is the data directory, under %LOCALAPPDATA%: only the user
// (and administrators) may enter it, which is what keeps the socket
// private on Windows, where a socket file's mode means nothing.
func socketDir(dataDir string) (string, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", err
	}
	return dataDir, nil
}

// restrictSocket does nothing on Windows: the directory's ACL applies.
func restrictSocket(string) error { return nil }
