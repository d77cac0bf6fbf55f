package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"tinyipsec/conf"
)

// The control socket speaks one request per connection: the client writes
// a command line ("status" or "reload"), the daemon answers with JSON and
// closes. A Unix socket with mode 0600 keeps it to root, as the daemon
// holds keys.

type controlServer struct {
	ln  net.Listener
	log *slog.Logger
	d   *daemon
}

func listenControl(path string, d *daemon, log *slog.Logger) (*controlServer, error) {
	// A stale socket from a crashed daemon is removed, but only if nobody
	// answers on it: two daemons must not share one control socket.
	if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s: another tinyipsec is running", path)
	}
	os.Remove(path)
	old := umask(0o077)
	ln, err := net.Listen("unix", path)
	umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	os.Chmod(path, 0o600)
	s := &controlServer{ln: ln, log: log, d: d}
	go s.serve()
	return s, nil
}

func (s *controlServer) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Warn("control socket accept", "err", err)
			}
			return
		}
		go s.handle(c)
	}
}

func (s *controlServer) handle(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(io.LimitReader(c, 256)).ReadString('\n')
	if err != nil && line == "" {
		return
	}
	enc := json.NewEncoder(c)
	switch strings.TrimSpace(line) {
	case "status":
		enc.Encode(s.d.status())
	case "reload":
		if err := s.d.reload(); err != nil {
			enc.Encode(map[string]string{"result": "error", "error": err.Error()})
			return
		}
		enc.Encode(map[string]string{"result": "ok"})
	default:
		enc.Encode(map[string]string{"result": "error", "error": "unknown request"})
	}
}

func (s *controlServer) Close() {
	path := s.ln.Addr().String()
	s.ln.Close()
	os.Remove(path)
}

// controlRequest sends one request to the daemon and decodes its answer.
func controlRequest(path, req string, out any) error {
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return fmt.Errorf("cannot reach the daemon at %s (is tinyipsec running?): %w", path, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req+"\n"); err != nil {
		return err
	}
	return json.NewDecoder(io.LimitReader(c, 64<<20)).Decode(out)
}

func cmdStatus(args []string, stdout, stderr io.Writer) int {
	fs, path := newFlags("status", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	socket := fs.String("s", "", "control socket (default: from the configuration)")
	if !parseFlags(fs, args, stderr) {
		return exitUsage
	}
	sock := *socket
	if sock == "" {
		sock = controlSocketFor(*path)
	}
	var r statusReport
	if err := controlRequest(sock, "status", &r); err != nil {
		fmt.Fprintf(stderr, "tinyipsec status: %v\n", err)
		return exitFail
	}
	if *asJSON {
		writeStatusJSON(stdout, &r)
	} else {
		writeStatusText(stdout, &r)
	}
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
