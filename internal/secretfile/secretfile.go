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
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	// fchmod on the descriptor, with File.Chmod's error, rather than
	// File.Chmod, whose poller path is linked for nothing else (flash).
	// Fd leaves a regular file as it is (only a pipe would be switched
	// to blocking writes, which work as well).
	if err := syscall.Fchmod(int(f.Fd()), 0o600); err != nil {
		f.Close()
		return &os.PathError{Op: "chmod", Path: path, Err: err}
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
