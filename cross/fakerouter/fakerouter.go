// Package fakerouter builds a throwaway chroot that looks enough like an
// OpenWrt router for shell-level tests: BusyBox as /bin/sh, and stand-ins
// for /etc/rc.common (procd calls are appended to /tmp/procd.log instead of
// going to ubus), /lib/functions.sh (the UCI subset init scripts use) and
// logger. Tests put the files under test and their own stubs in it and
// run commands inside with Run. Needs root (chroot) and busybox: it skips
// without them locally and fails under CI.
package fakerouter

import (
	"bufio"
	"bytes"
	_ "embed"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var (
	//go:embed rc.common
	rcCommon []byte
	//go:embed functions.sh
	functionsSh []byte
	//go:embed logger.stub
	loggerStub []byte
)

// Applets linked into /bin, as an OpenWrt image has them.
var applets = []string{"sh", "ash", "cat", "echo", "grep", "sed", "tr", "mkdir", "ln", "rm", "basename",
	"dirname", "printf", "test", "[", "true", "false", "ls", "kill", "sleep", "chmod"}

// Router is the chroot.
type Router struct {
	t    testing.TB
	Root string
}

// Need skips locally, or fails under CI (which installs everything and
// runs as root), when ok is false.
func Need(t testing.TB, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI must provide it: apt-get install busybox; run as root)", why)
	}
	t.Skip(why)
}

// New builds an empty router in a temporary directory.
func New(t testing.TB) *Router {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	Need(t, err == nil, "busybox is not installed")
	Need(t, os.Geteuid() == 0, "chroot needs root")

	r := &Router{t: t, Root: t.TempDir()}
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "lib", "etc/init.d", "etc/config",
		"tmp", "var/run", "dev"} {
		r.Mkdir(d)
	}
	r.CopyHost(bb, "bin/busybox", 0o755)
	r.copyLibs(bb)
	for _, a := range applets {
		if err := os.Symlink("busybox", filepath.Join(r.Root, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	r.WriteMode("etc/rc.common", rcCommon, 0o755)
	r.WriteMode("lib/functions.sh", functionsSh, 0o644)
	r.WriteMode("usr/bin/logger", loggerStub, 0o755)
	return r
}

// Mkdir creates a directory (and its parents) in the router.
func (r *Router) Mkdir(rel string) {
	r.t.Helper()
	if err := os.MkdirAll(filepath.Join(r.Root, rel), 0o755); err != nil {
		r.t.Fatal(err)
	}
}

// WriteMode writes a file with the given mode.
func (r *Router) WriteMode(rel string, data []byte, mode os.FileMode) {
	r.t.Helper()
	r.Mkdir(filepath.Dir(rel))
	p := filepath.Join(r.Root, rel)
	if err := os.WriteFile(p, data, mode); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // WriteFile keeps an existing file's mode
		r.t.Fatal(err)
	}
}

// Write writes a 0644 text file.
func (r *Router) Write(rel, content string) { r.t.Helper(); r.WriteMode(rel, []byte(content), 0o644) }

// Remove deletes a file.
func (r *Router) Remove(rel string) {
	r.t.Helper()
	if err := os.Remove(filepath.Join(r.Root, rel)); err != nil {
		r.t.Fatal(err)
	}
}

// Exists reports whether the path (or a dangling symlink) exists.
func (r *Router) Exists(rel string) bool {
	_, err := os.Lstat(filepath.Join(r.Root, rel))
	return err == nil
}

// Read returns a file's content, "" when it does not exist.
func (r *Router) Read(rel string) string {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(r.Root, rel))
	if err != nil && !os.IsNotExist(err) {
		r.t.Fatal(err)
	}
	return string(b)
}

// CopyHost copies a file of the host into the router.
func (r *Router) CopyHost(src, rel string, mode os.FileMode) {
	r.t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		r.t.Fatal(err)
	}
	r.WriteMode(rel, b, mode)
}

// copyLibs copies the shared libraries of a dynamically linked BusyBox
// (Debian's) to the same paths in the chroot; a static one needs none.
func (r *Router) copyLibs(bin string) {
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		return // "not a dynamic executable"
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		for _, f := range strings.Fields(sc.Text()) {
			if strings.HasPrefix(f, "/") {
				r.CopyHost(f, strings.TrimPrefix(f, "/"), 0o755)
			}
		}
	}
}

// Run executes argv inside the router with a router-like environment plus
// env, stdin as standard input; it returns stdout, stderr and the exit code.
func (r *Router) Run(env []string, stdin string, argv ...string) (stdout, stderr string, code int) {
	r.t.Helper()
	cmd := exec.Command("chroot", append([]string{r.Root}, argv...)...)
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/tmp"}, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatalf("%v: %v", argv, err)
	}
	return o.String(), e.String(), code
}

// MustRun is Run without input that fails the test unless argv exits 0;
// it returns stdout and stderr together.
func (r *Router) MustRun(env []string, argv ...string) string {
	r.t.Helper()
	out, errOut, code := r.Run(env, "", argv...)
	if code != 0 {
		r.t.Fatalf("%v: exit %d\n%s%s", argv, code, out, errOut)
	}
	return out + errOut
}

// Calls returns the recorded procd calls, each split into its arguments.
func (r *Router) Calls() [][]string {
	var out [][]string
	for _, line := range strings.Split(strings.TrimSpace(r.Read("tmp/procd.log")), "\n") {
		if line != "" {
			out = append(out, strings.Split(line, "|"))
		}
	}
	return out
}

// Find returns the calls whose first fields equal prefix.
func Find(calls [][]string, prefix ...string) [][]string {
	var out [][]string
next:
	for _, c := range calls {
		if len(c) < len(prefix) {
			continue
		}
		for i, p := range prefix {
			if c[i] != p {
				continue next
			}
		}
		out = append(out, c)
	}
	return out
}

// Dump formats calls one per line for failure messages.
func Dump(calls [][]string) string {
	var b strings.Builder
	for _, c := range calls {
		b.WriteString(strings.Join(c, " | "))
		b.WriteByte('\n')
	}
	return b.String()
}

// ResetLogs forgets recorded procd calls and the given stub logs.
func (r *Router) ResetLogs(extra ...string) {
	for _, f := range append([]string{"tmp/procd.log", "tmp/logger.log"}, extra...) {
		os.Remove(filepath.Join(r.Root, f))
	}
}
