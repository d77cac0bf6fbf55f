// Package unixsock is the control socket's transport: a listening and a
// connecting Unix stream socket made with plain system calls and driven by
// the runtime's poller through os.File (Close wakes a blocked Read, Write
// or Accept as on a net.Conn), and a time bound for one exchange.
//
// It exists for flash size: net.Listen("unix") and net.Dial link the
// whole of package net's dialer and DNS resolver (about 0.3 MB of a MIPS
// router binary), although a Unix socket path needs no name resolution.
package unixsock

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// Listener accepts connections on a Unix stream socket.
type Listener struct {
	_    [0]func() // not comparable: no generated == function (flash)
	f    *os.File
	path string
}

// ErrClosed is returned by Accept after Close.
var ErrClosed = errors.New("unixsock: listener closed")

// socket checks path and opens a Unix stream socket to bind or connect
// to it, the steps Listen and Dial share.
func socket(path string) (int, *syscall.SockaddrUnix, error) {
	// sun_path is 108 bytes on Linux, including the terminating NUL.
	if path == "" || len(path) >= 108 {
		return -1, nil, &os.PathError{Op: "socket", Path: path, Err: syscall.ENAMETOOLONG}
	}
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC|syscall.SOCK_NONBLOCK, 0)
	if err != nil {
		return -1, nil, os.NewSyscallError("socket", err)
	}
	return fd, &syscall.SockaddrUnix{Name: path}, nil
}

// Listen binds a Unix stream socket at path and listens on it. The file
// is created with the process umask; the caller sets its mode.
func Listen(path string) (*Listener, error) {
	fd, sa, err := socket(path)
	if err != nil {
		return nil, err
	}
	if err := syscall.Bind(fd, sa); err != nil {
		syscall.Close(fd)
		return nil, &os.PathError{Op: "bind", Path: path, Err: err}
	}
	if err := syscall.Listen(fd, 16); err != nil {
		syscall.Close(fd)
		return nil, os.NewSyscallError("listen", err)
	}
	return &Listener{f: os.NewFile(uintptr(fd), path), path: path}, nil
}

// Path is the socket's file name.
func (l *Listener) Path() string { return l.path }

// Accept waits for the next connection. The connection is non-blocking
// under the poller, so Bound can cut off a slow client.
func (l *Listener) Accept() (*os.File, error) {
	rc, err := l.f.SyscallConn()
	if err != nil {
		return nil, ErrClosed
	}
	nfd := -1
	var aerr error
	err = rc.Read(func(fd uintptr) bool {
		nfd, _, aerr = syscall.Accept4(int(fd), syscall.SOCK_CLOEXEC|syscall.SOCK_NONBLOCK)
		return aerr != syscall.EAGAIN
	})
	if err != nil {
		return nil, ErrClosed
	}
	if aerr != nil {
		return nil, os.NewSyscallError("accept", aerr)
	}
	return os.NewFile(uintptr(nfd), l.path), nil
}

// Close stops listening; a blocked Accept returns ErrClosed. The socket
// file stays: the caller removes it.
func (l *Listener) Close() error { return l.f.Close() }

// Dial connects to the Unix stream socket at path, waiting at most
// timeout for a listener whose backlog is full.
func Dial(path string, timeout time.Duration) (*os.File, error) {
	deadline := time.Now().Add(timeout)
	for {
		fd, sa, err := socket(path)
		if err != nil {
			return nil, err
		}
		err = syscall.Connect(fd, sa)
		if err == nil {
			return os.NewFile(uintptr(fd), path), nil
		}
		syscall.Close(fd)
		// A full backlog answers EAGAIN on a non-blocking Unix socket:
		// try again until the deadline; anything else is final.
		if err != syscall.EAGAIN || time.Now().After(deadline) {
			return nil, &os.PathError{Op: "connect", Path: path, Err: err}
		}
		<-time.After(10 * time.Millisecond) // not time.Sleep, linked for nothing else (flash)
	}
}

// A Deadline ends an exchange that takes too long by closing its
// connection, which wakes a Read or Write blocked in the poller. It does
// what SetDeadline on the whole exchange would, without the poller's
// deadline machinery (about 5 KB of the runtime and internal/poll that
// nothing else in the daemon uses; flash).
type Deadline struct{ timer *time.Timer }

// Bound closes f once d has passed, unless Stop comes first.
func Bound(f *os.File, d time.Duration) Deadline {
	return Deadline{time.AfterFunc(d, func() { f.Close() })}
}

// Stop ends the bound and returns err, the exchange's outcome: when the
// bound closed the connection, the error of the Read or Write it cut off
// says "i/o timeout" (os.ErrDeadlineExceeded), as with SetDeadline, rather
// than that the file was closed.
func (d Deadline) Stop(err error) error {
	if !d.timer.Stop() {
		if pe, ok := err.(*os.PathError); ok {
			pe.Err = os.ErrDeadlineExceeded
		}
	}
	return err
}
