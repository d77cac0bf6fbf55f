package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tinyipsec/internal/logx"
)

// TestControlSocket: the socket is root's only (mode 0600), a second
// daemon cannot take it over, and a request gets its one-line answer.
func TestControlSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.sock")
	log := logx.New(io.Discard, new(logx.LevelVar))
	s, err := listenControl(path, &daemon{}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("control socket mode %v, want a socket with mode 0600", fi.Mode())
	}
	if _, err := listenControl(path, &daemon{}, log); err == nil || !strings.Contains(err.Error(), "another tinyipsec is running") {
		t.Fatalf("second listener: %v", err)
	}
	for req, want := range map[string]string{
		"status summary": `{"ike_sas":0,"ipsec_sas":0}` + "\n",
		"frobnicate":     `{"error":"unknown request","result":"error"}` + "\n",
	} {
		var out strings.Builder
		if err := controlRequest(path, req, &out); err != nil || out.String() != want {
			t.Errorf("%s: %q, %v; want %q", req, out.String(), err, want)
		}
	}
}
