package conf

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReadSmallFile: each way a credential file can be wrong gives its
// message, and a FIFO is refused without being opened (which would block).
func TestReadSmallFile(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok")
	big := filepath.Join(dir, "big")
	world := filepath.Join(dir, "world")
	fifo := filepath.Join(dir, "fifo")
	for name, c := range map[string]struct {
		data string
		mode os.FileMode
	}{ok: {"key\n", 0o600}, big: {"0123456789", 0o600}, world: {"key", 0o644}} {
		if err := os.WriteFile(name, []byte(c.data), c.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(name, c.mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path   string
		secret bool
		want   string // "" for success
	}{
		{ok, true, ""},
		{big, false, "is larger than 8 bytes"},
		{world, true, "is readable by every user (mode 0644)"},
		{world, false, ""},
		{dir, false, "is not a regular file"},
		{fifo, true, "is not a regular file"},
		{filepath.Join(dir, "none"), true, "cannot read: \"" + filepath.Join(dir, "none") + "\": no such file or directory"},
	} {
		data, err := readSmallFile(c.path, 8, c.secret)
		switch {
		case c.want == "" && (err != nil || len(data) == 0):
			t.Errorf("%s: %q, %v", c.path, data, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || data != nil):
			t.Errorf("%s: %q, %v; want %q", c.path, data, err, c.want)
		}
	}
}
