// Package nstest gives tests private network namespaces joined by veth
// pairs, and background processes inside them, all removed when the test
// ends (also on failure). Tests that use it never touch the host's own
// network: every address they configure lives inside a namespace the test
// created.
package nstest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Require skips the test when it cannot run here: in -short mode (the
// qemu-user runs of unit tests), without root, or without one of the named
// tools. Under CI (the CI environment variable set) a missing root or tool
// is a failure instead, because CI installs everything the tests need.
func Require(t testing.TB, tools ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("network namespace test: skipped in -short mode")
	}
	if runtime.GOOS != "linux" {
		t.Skip("network namespaces need Linux")
	}
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("CI must provide: %s", strings.Join(missing, ", "))
	}
	t.Skipf("needs %s", strings.Join(missing, ", "))
}

// NS is a network namespace owned by one test.
type NS struct {
	Name string

	mu    sync.Mutex
	procs []*Proc
}

// New creates a namespace named "tis-<label>-<random>" with its loopback
// up. It is deleted, after every process started in it has been stopped,
// when the test ends.
func New(t testing.TB, label string) *NS {
	t.Helper()
	var r [3]byte
	rand.Read(r[:])
	name := fmt.Sprintf("tis-%s-%s", label, hex.EncodeToString(r[:]))
	if len(name) > 40 {
		name = name[:40]
	}
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	ns := &NS{Name: name}
	t.Cleanup(func() { ns.destroy(t) })
	ns.Run(t, "ip", "link", "set", "lo", "up")
	return ns
}

func (ns *NS) destroy(t testing.TB) {
	ns.mu.Lock()
	procs := ns.procs
	ns.procs = nil
	ns.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Stop()
		if t.Failed() {
			t.Logf("--- output of %s in %s ---\n%s", procs[i].name, ns.Name, procs[i].Output())
		}
	}
	// Anything else still running in the namespace (e.g. a daemon that
	// forked) is killed so the namespace can go away.
	if out, err := exec.Command("ip", "netns", "pids", ns.Name).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			var pid int
			if _, err := fmt.Sscan(f, &pid); err == nil && pid > 1 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	if out, err := exec.Command("ip", "netns", "del", ns.Name).CombinedOutput(); err != nil {
		t.Logf("ip netns del %s: %v: %s", ns.Name, err, out)
	}
}

// Command returns an *exec.Cmd that runs name inside the namespace.
func (ns *NS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Output runs a command inside the namespace and returns its standard
// output; the error includes standard error.
func (ns *NS) Output(name string, args ...string) (string, error) {
	cmd := ns.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s %s (in %s): %v: %s", name, strings.Join(args, " "), ns.Name, err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// Run is Output that fails the test on error.
func (ns *NS) Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := ns.Output(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Proc is a background process inside a namespace.
type Proc struct {
	name string
	cmd  *exec.Cmd
	out  *SyncBuffer
	done chan struct{}
	err  error
	once sync.Once
}

// Start runs a command in the background inside the namespace, with env
// added to the test's environment. Its combined output is kept and printed
// if the test fails; it is stopped when the test ends.
//
// The process gets SIGKILL when the OS thread that started it exits
// (Pdeathsig), so a crashed test leaves no daemon behind. Beware: a
// goroutine that called runtime.LockOSThread and returns without
// UnlockOSThread makes Go end its thread, which kills every process that
// thread started. Call Start from an unlocked goroutine.
func (ns *NS) Start(t testing.TB, logName string, env []string, name string, args ...string) *Proc {
	t.Helper()
	cmd := ns.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	buf := &SyncBuffer{}
	cmd.Stdout = buf
	cmd.Stderr = buf
	// Own process group, so Stop reaches children too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s in %s: %v", name, ns.Name, err)
	}
	p := &Proc{name: logName, cmd: cmd, out: buf, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	ns.mu.Lock()
	ns.procs = append(ns.procs, p)
	ns.mu.Unlock()
	return p
}

// Output is everything the process printed so far.
func (p *Proc) Output() string { return p.out.String() }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the process group.
func (p *Proc) Signal(sig syscall.Signal) {
	if p.cmd.Process != nil {
		syscall.Kill(-p.cmd.Process.Pid, sig)
	}
}

// Stop sends SIGTERM and waits; after 5 s it sends SIGKILL. It returns the
// process's exit error, if any.
func (p *Proc) Stop() error {
	p.once.Do(func() {
		p.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			p.Signal(syscall.SIGKILL)
			<-p.done
		}
	})
	return p.err
}

// Wait waits up to timeout for the process to exit by itself.
func (p *Proc) Wait(timeout time.Duration) (exited bool, err error) {
	select {
	case <-p.done:
		return true, p.err
	case <-time.After(timeout):
		return false, nil
	}
}

// Link joins two namespaces with a veth pair, sets the given addresses
// (CIDR notation; empty for none) and brings both ends up. It returns the
// interface names inside a and b.
func Link(t testing.TB, a, b *NS, aAddr, bAddr string) (aIf, bIf string) {
	t.Helper()
	var r [3]byte
	rand.Read(r[:])
	id := hex.EncodeToString(r[:])
	aIf, bIf = "va"+id, "vb"+id
	run := func(args ...string) {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	run("link", "add", aIf, "type", "veth", "peer", "name", bIf)
	run("link", "set", aIf, "netns", a.Name)
	run("link", "set", bIf, "netns", b.Name)
	for _, x := range []struct {
		ns   *NS
		ifn  string
		addr string
	}{{a, aIf, aAddr}, {b, bIf, bAddr}} {
		if x.addr != "" {
			args := []string{"addr", "add", x.addr, "dev", x.ifn}
			if strings.Contains(x.addr, ":") {
				args = append(args, "nodad")
			}
			x.ns.Run(t, "ip", args...)
		}
		x.ns.Run(t, "ip", "link", "set", x.ifn, "up")
	}
	return aIf, bIf
}

// WaitFor polls cond every 50 ms until it holds, failing the test with
// "what" after timeout. Tests wait for states, never for fixed times.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Binary builds the tinyipsec command (the module root) once per test
// process and returns the path of the executable.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := ModuleRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "tinyipsec-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "tinyipsec")
		cmd := exec.Command("go", "build", "-o", buildPath, ".")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// ModuleRoot finds the directory holding go.mod, walking up from the
// test's working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// SyncBuffer is a bytes.Buffer safe for several writers (a process's
// stdout and stderr, a logger shared by goroutines) while the test reads
// it. It keeps the first 8 MiB.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Bound what a chatty daemon can make the test hold.
	if s.b.Len() > 8<<20 {
		return len(p), nil
	}
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// PID is the process's id (the command itself: "ip netns exec" execs it).
func (p *Proc) PID() int {
	if p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}
