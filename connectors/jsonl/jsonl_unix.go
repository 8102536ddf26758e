//go:build unix

package jsonl

import (
	"io"
	"os"
	"syscall"
)

// openFIFO opens a named pipe for reading and writing. Holding a write end
// ourselves means the open does not wait for a writer, and a writer closing
// is not an end of file: the next writer's lines simply follow. The
// descriptor is non-blocking, so the file is pollable and Close unblocks a
// pending Read.
func openFIFO(path string) (io.ReadCloser, error) {
	fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// openStdin returns a non-blocking duplicate of standard input, so that
// Close unblocks a pending Read of a pipe or terminal. restore puts standard
// input back into blocking mode (the mode is shared with the duplicate); call
// it once reading has stopped.
func openStdin() (io.ReadCloser, func(), error) {
	syscall.ForkLock.RLock()
	fd, err := syscall.Dup(0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, nil, os.NewSyscallError("dup", err)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		_ = syscall.Close(fd)
		return nil, nil, os.NewSyscallError("setnonblock", err)
	}
	restore := func() { _ = syscall.SetNonblock(0, false) }
	return os.NewFile(uintptr(fd), "stdin"), restore, nil
}
