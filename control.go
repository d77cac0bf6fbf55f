package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"tinyipsec/conf"
	"tinyipsec/internal/jsonenc"
	"tinyipsec/internal/logx"
	"tinyipsec/internal/status"
	"tinyipsec/internal/unixsock"
)

// The control socket speaks one request per connection: the client writes
// a command line, the daemon answers and closes. "status" answers the
// report as compact JSON, "status json" indented as `status --json` prints
// it, "status text" in the ASA layout, "status summary" only the counts of
// SAs (JSON); "reload" answers {"result": ...}.
// The daemon renders, so the client only copies the answer and needs no
// JSON decoder. A Unix socket with mode 0600 keeps it to root, as the
// daemon holds keys.

type controlServer struct {
	ln  *unixsock.Listener
	log *logx.Logger
	d   *daemon
}

func listenControl(path string, d *daemon, log *logx.Logger) (*controlServer, error) {
	// A stale socket from a crashed daemon is removed, but only if nobody
	// answers on it: two daemons must not share one control socket.
	if c, err := unixsock.Dial(path, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s: another tinyipsec is running", path)
	}
	syscall.Unlink(path) // not os.Remove: the call alone, linked for nothing else (flash)
	// The socket is born mode 0600: bind applies the umask itself (also
	// under a default ACL, which it then masks), so no chmod follows,
	// and no moment passes with a wider mode. syscall.Chmod would link
	// the fchmodat2 fallback for flags it never passes (flash).
	old := syscall.Umask(0o177)
	ln, err := unixsock.Listen(path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	s := &controlServer{ln: ln, log: log, d: d}
	// Served by a closure: `go s.serve()` would add a wrapper function
	// (flash).
	go func() {
		for {
			c, err := s.ln.Accept()
			if err != nil {
				if !errors.Is(err, unixsock.ErrClosed) {
					s.log.Warn("control socket accept", "err", err)
				}
				return
			}
			go s.handle(c)
		}
	}()
	return s, nil
}

func (s *controlServer) handle(c *os.File) {
	deadline := unixsock.Bound(c, 5*time.Second)
	// The request line: up to its newline, at most 256 bytes; what
	// follows is never read (one request per connection). A loop over
	// Read rather than bufio, which with io.Copy would link the splice,
	// sendfile and copy_file_range paths of *os.File for one short line
	// (flash). n is 0 only when the client sent nothing.
	line := make([]byte, 256)
	n := 0
	for n < len(line) {
		m, err := c.Read(line[n:])
		if i := bytes.IndexByte(line[n:n+m], '\n'); i >= 0 {
			n += i + 1
			break
		}
		n += m
		if err != nil {
			break
		}
	}
	if n == 0 {
		deadline.Stop(nil)
		c.Close()
		return
	}
	var out []byte
	var err error
	var b bytes.Buffer
	switch string(bytes.TrimSpace(line[:n])) {
	case "status":
		out, err = jsonLine(s.d.status())
	case "status json":
		err = status.WriteJSON(&b, s.d.status())
		out = b.Bytes()
	case "status summary":
		out, err = jsonLine(s.d.summary())
	case "status text":
		status.WriteText(&b, s.d.status())
		out = b.Bytes()
	case "keys wireshark":
		// Only on the admin's request, over the root-only socket.
		s.log.Warn("SA keys exported on request (tinyipsec keys --wireshark)")
		s.d.writeWiresharkKeys(&b)
		out = b.Bytes()
	case "reload":
		if rerr := s.d.reload(); rerr != nil {
			out = resultJSON("error", rerr.Error())
		} else {
			out = resultJSON("ok", "")
		}
	default:
		out = resultJSON("error", "unknown request")
	}
	if err != nil {
		s.log.Warn("control socket answer", "err", err)
		out = resultJSON("error", err.Error())
	}
	c.Write(out)
	clear(out) // the keys of "keys wireshark": wiped once sent
	deadline.Stop(nil)
	c.Close()
}

// resultJSON is the answer to a request that reports only success or an
// error.
func resultJSON(result, errText string) []byte {
	// A struct, not a map: no map built per answer, and its fields in
	// the order the map's keys sorted in.
	b, _ := jsonLine(&struct {
		Error  string `json:"error,omitempty"`
		Result string `json:"result"`
	}{errText, result})
	return b
}

// jsonLine is v as compact JSON and a newline.
func jsonLine(v any) ([]byte, error) {
	b, err := jsonenc.Marshal(v)
	return append(b, '\n'), err
}

func (s *controlServer) Close() {
	s.ln.Close()
	syscall.Unlink(s.ln.Path())
}

// controlRequest sends one request to the daemon and returns its answer:
// all it sends until it closes, at most 64 MB. The caller prints nothing
// of it on an error.
func controlRequest(path, req string) ([]byte, error) {
	c, err := unixsock.Dial(path, 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the daemon at %s (is tinyipsec running?): %w", path, err)
	}
	deadline := unixsock.Bound(c, 10*time.Second)
	var answer []byte
	_, err = c.WriteString(req + "\n")
	if err == nil {
		// A LimitedReader hides the file from ReadAll's fast paths, as
		// the configuration loader's does: plain Reads.
		answer, err = io.ReadAll(io.LimitReader(c, 64<<20))
		if err == nil && len(answer) == 0 {
			err = errors.New("the daemon closed the control connection without an answer")
		}
	}
	err = deadline.Stop(err)
	c.Close()
	return answer, err
}

func cmdStatus(args []string, stdout, stderr io.Writer) int {
	fs, path := newFlags("status", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	summary := fs.Bool("summary", false, "print only the number of IKE and IPsec SAs (JSON)")
	socket := fs.String("s", "", "control socket (default: from the configuration)")
	if !parseFlags(fs, args, stderr) {
		return exitUsage
	}
	sock := *socket
	if sock == "" {
		sock = controlSocketFor(*path)
	}
	req := "status text"
	if *asJSON {
		req = "status json"
	}
	if *summary {
		req = "status summary"
	}
	answer, err := controlRequest(sock, req)
	if err != nil {
		fmt.Fprintf(stderr, "tinyipsec status: %v\n", err)
		return exitFail
	}
	stdout.Write(answer)
	return exitOK
}

// controlSocketFor finds the control socket: from the configuration when
// it can be read, else the default. status must work even when the file
// on disk was edited into an invalid state after the daemon started.
func controlSocketFor(path string) string {
	if cfg, err := conf.Load(path); err == nil && cfg.Global.ControlSocket != "" {
		return cfg.Global.ControlSocket
	}
	return conf.DefaultControlSocket
}
