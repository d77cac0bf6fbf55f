// Package secretfile writes files that hold keys: readable by their owner
// only, also when an older file with wider permissions is in the way.
package secretfile

import (
	"os"
	"syscall"
)

// Write writes data to path with mode 0600. An existing file is truncated
// and its mode narrowed before anything is written to it.
func Write(path string, data []byte) error {
	// Opened with open(2) itself, with os.OpenFile's error, so that the
	// mode is narrowed on the descriptor before a File takes it:
	// File.Chmod and File.Fd would each link a poller path for this one
	// call (flash).
	fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_TRUNC|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	if err := syscall.Fchmod(fd, 0o600); err != nil {
		syscall.Close(fd)
		return &os.PathError{Op: "chmod", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
