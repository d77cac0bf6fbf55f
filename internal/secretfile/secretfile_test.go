package secretfile

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriteNarrowsMode: a world-readable file in the way is replaced by
// one only its owner can read, holding exactly the new data.
func TestWriteNarrowsMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(path, []byte("old and longer content"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("new")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %04o, want 0600", fi.Mode().Perm())
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Fatalf("content %q", b)
	}
}

// A file that cannot be opened is reported as os.OpenFile reports it.
func TestWriteNoDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "keys")
	_, want := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err := Write(path, nil); err == nil || want == nil || err.Error() != want.Error() {
		t.Fatalf("missing directory: %v, want %v", err, want)
	}
}
