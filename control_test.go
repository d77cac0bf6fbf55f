package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tinyipsec/internal/logx"
	"tinyipsec/internal/unixsock"
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
	const summary, unknown = `{"ike_sas":0,"ipsec_sas":0}` + "\n", `{"error":"unknown request","result":"error"}` + "\n"
	for req, want := range map[string]string{
		"status summary": summary,
		"frobnicate":     unknown,
	} {
		if out, err := controlRequest(path, req); err != nil || string(out) != want {
			t.Errorf("%s: %q, %v; want %q", req, out, err, want)
		}
	}

	// A request ends at its newline (what follows in the same read is
	// dropped), at the client's end of writing, or at 256 bytes (and is
	// then an unknown request); a client that sends nothing gets no
	// answer.
	for _, c := range []struct{ send, want string }{
		{"status summary\nignored", summary},
		{"status summary", summary}, // the client closes its side: no newline
		{strings.Repeat(" ", 256) + "status summary\n", unknown},
		{"\n", unknown},
		{"", ""},
	} {
		conn, err := unixsock.Dial(path, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		d := unixsock.Bound(conn, 10*time.Second)
		conn.WriteString(c.send)
		syscallShutdownWrite(t, conn)
		got, err := io.ReadAll(conn)
		if errors.Is(err, syscall.ECONNRESET) && len(c.send) > 256 {
			err = nil // closed with the rest of the request unread
		}
		if err = d.Stop(err); err != nil || string(got) != c.want {
			t.Errorf("sent %.20q: answer %q, %v; want %q", c.send, got, err, c.want)
		}
		conn.Close()
	}
}

// syscallShutdownWrite ends the client's side of the request, as a client
// that closes after writing does, without taking c out of the poller.
func syscallShutdownWrite(t *testing.T, c *os.File) {
	t.Helper()
	rc, err := c.SyscallConn()
	if err == nil {
		rc.Control(func(fd uintptr) { err = syscall.Shutdown(int(fd), syscall.SHUT_WR) })
	}
	if err != nil {
		t.Fatal(err)
	}
}
