// Package secretfile writes files that hold keys: readable by their owner
// only, also when an older file with wider permissions is in the way.
package secretfile

import "os"

// Write writes data to path with mode 0600. An existing file is truncated
// and its mode narrowed before anything is written to it.
func Write(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
