package unixsock

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// listenTemp listens on a socket in the test's own directory, closed
// when the test ends.
func listenTemp(t *testing.T) (string, *Listener) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return path, l
}

func TestRoundTrip(t *testing.T) {
	path, l := listenTemp(t)
	done := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		if err != nil {
			done <- err
			return
		}
		_, err = c.Write([]byte(strings.ToUpper(string(buf[:n]))))
		done <- err
	}()
	c, err := Dial(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "status\n"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "STATUS\n" {
		t.Fatalf("got %q, %v", got, err)
	}
}

// Close must wake a blocked Accept: the daemon's shutdown depends on it.
func TestCloseUnblocksAccept(t *testing.T) {
	l, err := Listen(filepath.Join(t.TempDir(), "c.sock"))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond) // let Accept block; the test passes either way
	l.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Accept after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept still blocked after Close")
	}
}

// A bound on an accepted connection cuts off a client that never sends
// its request, and the cut-off read reports a timeout; a bound stopped in
// time leaves the connection and the outcome alone.
func TestBound(t *testing.T) {
	path, l := listenTemp(t)
	c, err := Dial(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d := Bound(s, 50*time.Millisecond)
	_, err = s.Read(make([]byte, 1))
	err = d.Stop(err)
	if !errors.Is(err, os.ErrDeadlineExceeded) || !strings.HasSuffix(err.Error(), ": i/o timeout") {
		t.Fatalf("read with nothing sent: %v, want deadline exceeded", err)
	}

	c2, err := Dial(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	s2, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	c2.WriteString("x")
	d = Bound(s2, time.Minute)
	n, err := s2.Read(make([]byte, 1))
	if err = d.Stop(err); n != 1 || err != nil {
		t.Fatalf("read within the bound: %d, %v", n, err)
	}
	if d.timer.Stop() {
		t.Fatal("the bound's timer still runs after Stop")
	}
	if _, err := s2.Write([]byte("y")); err != nil {
		t.Fatalf("connection closed by a stopped bound: %v", err)
	}
}

func TestDialErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Dial(filepath.Join(dir, "missing.sock"), time.Second); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("missing socket: %v", err)
	}
	// A socket file nobody listens on any more: connection refused.
	path := filepath.Join(dir, "stale.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, err := Dial(path, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("stale socket: %v", err)
	}
	if _, err := Listen(strings.Repeat("x", 200)); err == nil {
		t.Error("over-long path accepted")
	}
}
