package conf

import (
	"fmt"
	"io"
	"os"
)

const (
	maxPSKFile = 64 << 10
	maxPEMFile = 1 << 20
)

// credentialKeys name a certificate's three files, in the order they
// are read. A static array: a []string literal in each loop was built
// on the stack word by word (flash).
var credentialKeys = [...]string{"cert", "key", "ca"}

// secretOrFile reads a secret given either inline (key) or in a file
// (key_file): one of the two, never both, never empty; the file must not be
// readable by every user. missing is the error when neither is set; "" makes
// the secret optional. It returns the secret and the file's path ("" when
// inline).
func (b *builder) secretOrFile(t *table, key, missing string) (Secret, string) {
	fileKey := key + "_file"
	val, valOK := t.str(key, "")
	file, fileOK := t.str(fileKey, "")
	switch {
	case !valOK || !fileOK:
		// wrong type, reported
	case t.has(key) && t.has(fileKey):
		t.fail(fileKey, "set "+key+" or "+fileKey+", not both")
	case t.has(key) && val == "":
		t.fail(key, "must not be empty")
	case t.has(key):
		return Secret(val), ""
	case t.has(fileKey) && file == "":
		t.fail(fileKey, "must not be empty")
	case t.has(fileKey):
		path := b.path(file)
		s, err := readPSKFile(path)
		if err != nil {
			t.fail(fileKey, err.Error())
		}
		return s, path
	case missing != "":
		t.fail(key, "missing: "+missing)
	}
	return nil, ""
}

// readPSKFile reads a pre-shared key file. It must not be readable by
// every user of the router; one trailing newline (as editors add) is
// dropped. The key itself never appears in an error.
func readPSKFile(path string) (Secret, error) {
	data, err := readSmallFile(path, maxPSKFile, true)
	if err != nil {
		return nil, err
	}
	if n := len(data); n > 0 && data[n-1] == '\n' {
		data = data[:n-1]
	}
	if n := len(data); n > 0 && data[n-1] == '\r' {
		data = data[:n-1]
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%q is empty", path)
	}
	return Secret(data), nil
}

// readSmallFile reads a regular file of at most limit bytes; a secret
// one must not be readable by every user.
func readSmallFile(path string, limit int64, secret bool) ([]byte, error) {
	// Stat first: opening a FIFO or a device could block or never end.
	// Each message is made at one place, the checks in this order: stat
	// or open failed, readable by all, not a regular file (before or
	// after opening: it may have been replaced), read failed, too large
	// (flash).
	fi, err := os.Stat(path)
	var f *os.File
	switch {
	case err != nil:
	case secret && fi.Mode().Perm()&0o004 != 0:
		return nil, fmt.Errorf("%q is readable by every user (mode %04o); run chmod o-r on it", path, fi.Mode().Perm())
	case fi.Mode().IsRegular():
		f, err = os.Open(path)
	}
	if err != nil {
		// "open /x: no such file or directory" kept short, still naming
		// the file.
		if pe, ok := err.(*os.PathError); ok {
			return nil, fmt.Errorf("cannot read: %q: %v", pe.Path, pe.Err)
		}
		return nil, fmt.Errorf("cannot read: %v", err)
	}
	var data []byte
	if f != nil {
		// Closed by hand rather than deferred: a defer is a wrapper
		// function of its own (flash).
		if fi, err = f.Stat(); err == nil && fi.Mode().IsRegular() {
			data, err = io.ReadAll(io.LimitReader(f, limit+1))
		}
		f.Close()
	}
	switch {
	case err != nil:
		return nil, fmt.Errorf("cannot read %q: %v", path, err)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%q is not a regular file", path)
	case int64(len(data)) > limit:
		return nil, fmt.Errorf("%q is larger than %d bytes", path, limit)
	}
	return data, nil
}
