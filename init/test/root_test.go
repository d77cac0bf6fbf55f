// Package inittest runs the procd init script and the rpcd plugin under
// BusyBox ash — the shell of every OpenWrt image — inside a throwaway
// chroot that looks like a router: /etc/rc.common, /lib/functions.sh,
// /usr/sbin/tinyipsec and /sbin/uci are stand-ins that record what the
// scripts asked for.
package inittest

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// need skips (locally) or fails (CI) when the test cannot run here.
func need(t *testing.T, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI installs it: apt-get install busybox; tests run as root)", why)
	}
	t.Skip(why)
}

// repoFile is a path in the repository (tests run in init/test).
func repoFile(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// router is a chroot with BusyBox as /bin/sh and the stand-ins installed.
type router struct {
	t    *testing.T
	root string
}

func newRouter(t *testing.T) *router {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	need(t, err == nil, "busybox is not installed")
	need(t, os.Geteuid() == 0, "chroot needs root")

	r := &router{t: t, root: t.TempDir()}
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "lib", "etc/init.d", "etc/config",
		"etc/tinyipsec", "usr/libexec/rpcd", "tmp", "var/run", "dev"} {
		r.mkdir(d)
	}
	r.copyHost(bb, "bin/busybox", 0o755)
	r.copyLibs(bb)
	// Only the applets a router's scripts may use, as symlinks like on OpenWrt.
	for _, a := range []string{"sh", "ash", "cat", "echo", "grep", "sed", "tr", "mkdir", "ln", "rm", "basename",
		"printf", "test", "[", "true", "false", "ls", "kill", "sleep"} {
		if err := os.Symlink("busybox", filepath.Join(r.root, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	r.copyRepo("init/test/testdata/rc.common", "etc/rc.common", 0o755)
	r.copyRepo("init/test/testdata/functions.sh", "lib/functions.sh", 0o644)
	r.copyRepo("init/test/testdata/tinyipsec.stub", "usr/sbin/tinyipsec", 0o755)
	r.copyRepo("init/test/testdata/uci.stub", "sbin/uci", 0o755)
	r.copyRepo("init/test/testdata/logger.stub", "usr/bin/logger", 0o755)
	r.copyRepo("init/tinyipsec.init", "etc/init.d/tinyipsec", 0o755)
	r.copyRepo("init/rpcd/tinyipsec", "usr/libexec/rpcd/tinyipsec", 0o755)
	r.write("etc/tinyipsec/tinyipsec.toml", "# stand-in\n")
	return r
}

func (r *router) mkdir(rel string) {
	if err := os.MkdirAll(filepath.Join(r.root, rel), 0o755); err != nil {
		r.t.Fatal(err)
	}
}

func (r *router) write(rel, content string) {
	r.t.Helper()
	r.mkdir(filepath.Dir(rel))
	if err := os.WriteFile(filepath.Join(r.root, rel), []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *router) remove(rel string) {
	if err := os.Remove(filepath.Join(r.root, rel)); err != nil {
		r.t.Fatal(err)
	}
}

func (r *router) exists(rel string) bool {
	_, err := os.Lstat(filepath.Join(r.root, rel))
	return err == nil
}

func (r *router) read(rel string) string {
	b, err := os.ReadFile(filepath.Join(r.root, rel))
	if err != nil && !os.IsNotExist(err) {
		r.t.Fatal(err)
	}
	return string(b)
}

func (r *router) copyHost(src, rel string, mode os.FileMode) {
	r.t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		r.t.Fatal(err)
	}
	dst := filepath.Join(r.root, rel)
	r.mkdir(filepath.Dir(rel))
	if err := os.WriteFile(dst, b, mode); err != nil {
		r.t.Fatal(err)
	}
}

func (r *router) copyRepo(src, rel string, mode os.FileMode) {
	r.t.Helper()
	r.copyHost(repoFile(r.t, src), rel, mode)
}

// copyLibs copies the shared libraries of a dynamically linked BusyBox
// (Debian's) to the same paths in the chroot; a static one needs none.
func (r *router) copyLibs(bin string) {
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		return // "not a dynamic executable"
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		for _, f := range strings.Fields(sc.Text()) {
			if strings.HasPrefix(f, "/") {
				r.copyHost(f, strings.TrimPrefix(f, "/"), 0o755)
			}
		}
	}
}

// run executes argv inside the chroot with a router-like environment plus
// extra variables; it returns stdout, stderr and the exit code.
func (r *router) run(extraEnv []string, stdin string, argv ...string) (string, string, int) {
	r.t.Helper()
	cmd := exec.Command("chroot", append([]string{r.root}, argv...)...)
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/tmp"}, extraEnv...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatalf("%v: %v", argv, err)
	}
	return stdout.String(), stderr.String(), code
}

// calls returns the recorded procd calls, each split into its arguments.
func (r *router) calls() [][]string {
	var out [][]string
	for _, line := range strings.Split(strings.TrimSpace(r.read("tmp/procd.log")), "\n") {
		if line != "" {
			out = append(out, strings.Split(line, "|"))
		}
	}
	return out
}

// find returns the recorded calls whose first fields equal prefix.
func find(calls [][]string, prefix ...string) [][]string {
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

func (r *router) resetLogs() {
	for _, f := range []string{"tmp/procd.log", "tmp/tinyipsec.log", "tmp/logger.log"} {
		os.Remove(filepath.Join(r.root, f))
	}
}
