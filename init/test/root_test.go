// Package inittest runs the procd init script and the rpcd plugin under
// BusyBox ash — the shell of every OpenWrt image — inside a throwaway
// chroot that looks like a router (see cross/fakerouter): procd calls are
// recorded, and /usr/sbin/tinyipsec and /sbin/uci are stand-ins that
// record what the scripts asked for.
package inittest

import (
	"path/filepath"
	"testing"

	"tinyipsec/cross/fakerouter"
)

// repoFile is a path in the repository (tests run in init/test).
func repoFile(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// router is a fake router with the files under test installed.
type router struct {
	*fakerouter.Router
	t *testing.T
}

func newRouter(t *testing.T) *router {
	t.Helper()
	r := &router{Router: fakerouter.New(t), t: t}
	r.CopyHost(repoFile(t, "init/test/testdata/tinyipsec.stub"), "usr/sbin/tinyipsec", 0o755)
	r.CopyHost(repoFile(t, "init/test/testdata/uci.stub"), "sbin/uci", 0o755)
	r.CopyHost(repoFile(t, "init/tinyipsec.init"), "etc/init.d/tinyipsec", 0o755)
	r.CopyHost(repoFile(t, "init/rpcd/tinyipsec"), "usr/libexec/rpcd/tinyipsec", 0o755)
	r.Write("etc/tinyipsec/tinyipsec.toml", "# stand-in\n")
	return r
}

func (r *router) write(rel, content string) { r.t.Helper(); r.Write(rel, content) }
func (r *router) read(rel string) string    { r.t.Helper(); return r.Read(rel) }
func (r *router) remove(rel string)         { r.t.Helper(); r.Remove(rel) }
func (r *router) exists(rel string) bool    { return r.Exists(rel) }
func (r *router) calls() [][]string         { return r.Calls() }
func (r *router) resetLogs()                { r.ResetLogs("tmp/tinyipsec.log") }

func (r *router) run(env []string, stdin string, argv ...string) (string, string, int) {
	r.t.Helper()
	return r.Run(env, stdin, argv...)
}

func find(calls [][]string, prefix ...string) [][]string { return fakerouter.Find(calls, prefix...) }
func dump(calls [][]string) string                       { return fakerouter.Dump(calls) }
