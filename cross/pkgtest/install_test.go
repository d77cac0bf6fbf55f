package pkgtest

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tinyipsec/cross/fakerouter"
)

// installIPK unpacks the package into the router the way opkg does: the
// data files with their modes, the maintainer scripts into the opkg info
// directory.
func installIPK(t *testing.T, r *fakerouter.Router, p *ipkg) {
	t.Helper()
	for _, e := range p.data {
		rel := strings.TrimPrefix(e.hdr.Name, "./")
		mode := os.FileMode(e.hdr.Mode & 0o7777)
		switch e.hdr.Typeflag {
		case tar.TypeDir:
			if rel == "" {
				continue
			}
			r.Mkdir(rel)
			if err := os.Chmod(filepath.Join(r.Root, rel), mode); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			r.WriteMode(rel, e.data, mode)
		default:
			t.Fatalf("%s: unexpected type %c", e.hdr.Name, e.hdr.Typeflag)
		}
	}
	for _, s := range []string{"postinst", "prerm"} {
		r.WriteMode("usr/lib/opkg/info/tinyipsec."+s, member(t, p.control, "./"+s).data, 0o755)
	}
}

// The x86_64 package installed on a fake router: postinst enables the
// service without starting it and reloads rpcd; the shipped configuration
// passes the real binary's check, so the init script starts it; the rpcd
// plugin answers; prerm stops and disables.
func TestIPKInstallOnRouter(t *testing.T) {
	tg := targets[len(targets)-1] // runs natively inside the chroot
	p := openIPK(t, tg.ipk(t))
	r := fakerouter.New(t)
	r.WriteMode("etc/init.d/rpcd", []byte("#!/bin/sh\necho \"$*\" >>/tmp/rpcd.log\n"), 0o755)
	installIPK(t, r, p)
	start, stop := readInitOrder(t)

	run := r.MustRun

	out := run(nil, "/usr/lib/opkg/info/tinyipsec.postinst", "configure")
	checkFirstInstall(t, r, "postinst", out, []string{"etc/rc.d/S" + start + "tinyipsec", "etc/rc.d/K" + stop + "tinyipsec"})

	// An upgrade restarts only a running daemon (procd knows none here).
	r.ResetLogs()
	run([]string{"PKG_UPGRADE=1"}, "/usr/lib/opkg/info/tinyipsec.postinst", "configure")
	calls := r.Calls()
	if len(fakerouter.Find(calls, "running")) != 1 || len(fakerouter.Find(calls, "open_instance")) != 0 {
		t.Errorf("upgrade of a stopped service:\n%s", fakerouter.Dump(calls))
	}

	// The shipped files are valid where they are installed.
	if got := run(nil, "/usr/sbin/tinyipsec", "check", "-c", "/etc/tinyipsec/tinyipsec.toml"); strings.TrimSpace(got) != "OK" {
		t.Errorf("check of the installed TOML: %q", got)
	}
	if got := run(nil, "/usr/sbin/tinyipsec", "check", "-c", "/etc/config/tinyipsec"); strings.TrimSpace(got) != "OK" {
		t.Errorf("check of the installed UCI file: %q", got)
	}
	r.ResetLogs()
	run(nil, "/etc/init.d/tinyipsec", "start")
	calls = r.Calls()
	cmd := fakerouter.Find(calls, "set_param", "command")
	if len(cmd) != 1 || len(cmd[0]) != 6 || cmd[0][2] != "/usr/sbin/tinyipsec" || cmd[0][3] != "run" || !r.Exists(strings.TrimPrefix(cmd[0][5], "/")) {
		t.Errorf("start registered:\n%s", fakerouter.Dump(calls))
	}

	if got := run(nil, "/usr/libexec/rpcd/tinyipsec", "list"); strings.TrimSpace(got) != `{"status":{},"reload":{}}` {
		t.Errorf("rpcd plugin list: %q", got)
	}

	r.ResetLogs()
	run(nil, "/usr/lib/opkg/info/tinyipsec.prerm", "remove")
	if len(fakerouter.Find(r.Calls(), "kill", "tinyipsec")) != 1 {
		t.Errorf("prerm did not stop the service:\n%s", fakerouter.Dump(r.Calls()))
	}
	if r.Exists("etc/rc.d/S" + start + "tinyipsec") {
		t.Errorf("prerm did not disable the service")
	}
}

// checkFirstInstall checks what a package's first-install script (named
// script in messages, out its output) did on router r: the init script's
// links exist, rpcd was reloaded once, the daemon was not started, and
// the output says how to start it.
func checkFirstInstall(t *testing.T, r *fakerouter.Router, script, out string, links []string) {
	t.Helper()
	for _, l := range links {
		if !r.Exists(l) {
			t.Errorf("%s did not enable: %s missing", script, l)
		}
	}
	if got := r.Read("tmp/rpcd.log"); got != "reload\n" {
		t.Errorf("rpcd calls %q, want one reload", got)
	}
	if calls := r.Calls(); len(fakerouter.Find(calls, "open_instance")) != 0 {
		t.Errorf("a first install must not start the daemon:\n%s", fakerouter.Dump(calls))
	}
	if !strings.Contains(out, "/etc/init.d/tinyipsec start") {
		t.Errorf("%s did not say how to start: %q", script, out)
	}
}
