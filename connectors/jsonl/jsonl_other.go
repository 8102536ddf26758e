//go:build !unix

package jsonl

import (
	"errors"
	"io"
	"os"
)

// openFIFO fails: named pipes in the Unix sense do not exist here.
func openFIFO(path string) (io.ReadCloser, error) {
	return nil, errors.New(path + ": named pipes are not supported on this system; use a regular file or \"-\"")
}

// openStdin copies standard input into a pipe whose Close unblocks a
// pending Read. A blocked read of the console or of a Windows pipe cannot be
// interrupted, so the copying goroutine is the one exception to "Run leaves
// no goroutine behind": after Run returns it exits at the next input or at
// the end of standard input (what it read then is lost).
func openStdin() (io.ReadCloser, func(), error) {
	pr, pw := io.Pipe()
	go func() {
		_, err := io.Copy(pw, os.Stdin)
		pw.CloseWithError(err) // nil: the reader sees io.EOF
	}()
	return pr, func() {}, nil
}
