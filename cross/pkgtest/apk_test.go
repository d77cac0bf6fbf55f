package pkgtest

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"tinyipsec/cross/fakerouter"
	"tinyipsec/internal/apkv3"
)

// openAPK reads a package with the format's rules (apkv3.Parse checks the
// magic, schema, blocks, every value's bounds, sorted arrays, each file's
// SHA-256 and the unique id) and returns the files by absolute path.
func openAPK(t *testing.T, path string) (*apkv3.Parsed, map[string]apkv3.ParsedFile, map[string]apkv3.ParsedDir) {
	t.Helper()
	b := readFile(t, path)
	p, err := apkv3.Parse(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	files := map[string]apkv3.ParsedFile{}
	dirs := map[string]apkv3.ParsedDir{}
	for _, d := range p.Dirs {
		dirs["/"+d.Name] = d
		for _, f := range d.Files {
			files[strings.TrimSuffix("/"+d.Name, "/")+"/"+f.Name] = f
		}
	}
	return p, files, dirs
}

// The apk for OpenWrt 25.x carries what the .ipk for 24.10 carries: the
// same files with the same modes and bytes, the same dependencies and
// metadata, the conffiles as OpenWrt declares them for apk, and the
// maintainer scripts.
func TestAPKStructure(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		path := tg.apk(t)
		raw := readFile(t, path)
		if string(raw[:4]) != "ADBd" {
			t.Errorf("magic %q, want ADBd (deflate-compressed ADB, as apk mkpkg writes)", raw[:4])
		}
		p, files, dirs := openAPK(t, path)
		ipk := openIPK(t, tg.ipk(t))

		if !apkv3.ValidVersion(p.Version) || !strings.HasSuffix(filepath.Base(path), "-"+p.Version+"_"+tg.arch+".apk") {
			t.Errorf("version %q (file %s)", p.Version, filepath.Base(path))
		}
		want := map[string]string{"name": "tinyipsec", "arch": tg.arch, "license": "MIT", "origin": ipk.fields["Source"], "maintainer": ipk.fields["Maintainer"]}
		got := map[string]string{"name": p.Name, "arch": p.Arch, "license": p.License, "origin": p.Origin, "maintainer": p.Maintainer}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("info %v, want %v", got, want)
		}
		if d := strings.Join(strings.Fields(ipk.fields["Description"]), " "); p.Description != d {
			t.Errorf("description %q, want the .ipk's %q", p.Description, d)
		}
		if !reflect.DeepEqual(p.Depends, []string{"kmod-tun", "libc"}) {
			t.Errorf("depends %q, want the .ipk's libc, kmod-tun", p.Depends)
		}
		if p.BuildTime == 0 || ipk.fields["SourceDateEpoch"] != "" && ipk.fields["SourceDateEpoch"] != itoa(p.BuildTime) {
			t.Errorf("build-time %d, .ipk SourceDateEpoch %s", p.BuildTime, ipk.fields["SourceDateEpoch"])
		}

		// Every file and directory of the .ipk, same mode, same bytes.
		for _, e := range ipk.data {
			name := strings.TrimSuffix(strings.TrimPrefix(e.hdr.Name, "."), "/")
			if e.hdr.Typeflag == '5' {
				if name == "" {
					name = "/"
				}
				d, ok := dirs[name]
				if !ok || int64(d.Mode) != e.hdr.Mode&0o7777 || d.User != "root" || d.Group != "root" {
					t.Errorf("dir %s: %+v, want mode %o root:root", name, d, e.hdr.Mode&0o7777)
				}
				continue
			}
			f, ok := files[name]
			if !ok {
				t.Errorf("apk lacks %s", name)
				continue
			}
			if int64(f.Mode) != e.hdr.Mode&0o7777 || f.User != "root" || f.Group != "root" || string(f.Data) != string(e.data) {
				t.Errorf("%s: mode %o %s:%s, %d bytes; ipk mode %o, %d bytes", name, f.Mode, f.User, f.Group, len(f.Data), e.hdr.Mode&0o7777, len(e.data))
			}
			if sum := sha256.Sum256(e.data); hex.EncodeToString(f.Hash) != hex.EncodeToString(sum[:]) {
				t.Errorf("%s: hash differs from the .ipk file's SHA-256", name)
			}
		}
		// Beyond the .ipk's files only OpenWrt's apk metadata.
		meta := "/lib/apk/packages/tinyipsec."
		for name := range files {
			if strings.HasPrefix(name, meta) {
				continue
			}
			found := false
			for _, e := range ipk.data {
				found = found || strings.TrimPrefix(e.hdr.Name, ".") == name
			}
			if !found {
				t.Errorf("apk ships %s, the .ipk does not", name)
			}
		}
		conffiles := string(member(t, ipk.control, "./conffiles").data)
		if got := string(files[meta+"conffiles"].Data); got != conffiles {
			t.Errorf("conffiles %q, .ipk %q", got, conffiles)
		}
		var static []string
		for _, c := range strings.Fields(conffiles) {
			sum := sha256.Sum256(files[c].Data)
			static = append(static, c+" "+hex.EncodeToString(sum[:]))
		}
		if got := string(files[meta+"conffiles_static"].Data); got != strings.Join(static, "\n")+"\n" {
			t.Errorf("conffiles_static %q, want %q", got, static)
		}
		var list []string
		for name := range files {
			if !strings.HasPrefix(name, meta) {
				list = append(list, name)
			}
		}
		if got := strings.Fields(string(files[meta+"list"].Data)); !reflect.DeepEqual(sorted(got), sorted(list)) || !isSorted(got) {
			t.Errorf("list %q, want the sorted payload %q", got, sorted(list))
		}

		// Scripts: the .ipk's postinst and prerm; post-upgrade is
		// postinst with PKG_UPGRADE=1, as OpenWrt's own packages do it.
		postinst := string(member(t, ipk.control, "./postinst").data)
		wantScripts := map[string]string{
			"post-install":  postinst,
			"post-upgrade":  "#!/bin/sh\nexport PKG_UPGRADE=1\n" + strings.TrimPrefix(postinst, "#!/bin/sh\n"),
			"pre-deinstall": string(member(t, ipk.control, "./prerm").data),
		}
		if !reflect.DeepEqual(p.Scripts, wantScripts) {
			t.Errorf("scripts differ from the .ipk's: %q", keys(p.Scripts))
		}
	})
}

func itoa(n uint64) string {
	b := []byte{}
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}

func sorted(s []string) []string {
	c := append([]string(nil), s...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return c
}

func isSorted(s []string) bool { return reflect.DeepEqual(s, sorted(s)) }

func keys(m map[string]string) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	return sorted(k)
}

// installAPK unpacks the package into the router as apk does: directories
// and files with their modes, the scripts where the test can run them.
func installAPK(t *testing.T, r *fakerouter.Router, p *apkv3.Parsed) {
	t.Helper()
	for _, d := range p.Dirs {
		if d.Name != "" {
			r.Mkdir(d.Name)
			if err := os.Chmod(filepath.Join(r.Root, d.Name), os.FileMode(d.Mode)); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range d.Files {
			r.WriteMode(filepath.Join(d.Name, f.Name), f.Data, os.FileMode(f.Mode))
		}
	}
	for name, s := range p.Scripts {
		r.WriteMode("lib/apk/exec/tinyipsec."+name, []byte(s), 0o755)
	}
}

// The x86_64 apk installed on a fake router: post-install enables the
// service without starting it and reloads rpcd; post-upgrade restarts only
// a running daemon; the init script starts the real binary with the
// shipped configuration; pre-deinstall stops and disables. During an image
// build (IPKG_INSTROOT set, or apk running the script chrooted into the
// image, where /proc/1/root is not our root) only the boot links are made.
func TestAPKInstallOnRouter(t *testing.T) {
	tg := targets[len(targets)-1]
	p, _, _ := openAPK(t, tg.apk(t))
	r := fakerouter.New(t)
	r.WriteMode("etc/init.d/rpcd", []byte("#!/bin/sh\necho \"$*\" >>/tmp/rpcd.log\n"), 0o755)
	installAPK(t, r, p)
	start, stop := readInitOrder(t)
	links := []string{"etc/rc.d/S" + start + "tinyipsec", "etc/rc.d/K" + stop + "tinyipsec"}
	run := r.MustRun

	out := run(nil, "/lib/apk/exec/tinyipsec.post-install")
	checkFirstInstall(t, r, "post-install", out, links)
	r.ResetLogs()
	run(nil, "/lib/apk/exec/tinyipsec.post-upgrade")
	if calls := r.Calls(); len(fakerouter.Find(calls, "running")) != 1 || len(fakerouter.Find(calls, "open_instance")) != 0 {
		t.Errorf("upgrade of a stopped service:\n%s", fakerouter.Dump(calls))
	}
	if got := run(nil, "/usr/sbin/tinyipsec", "check", "-c", "/etc/tinyipsec/tinyipsec.toml"); strings.TrimSpace(got) != "OK" {
		t.Errorf("check of the installed TOML: %q", got)
	}
	r.ResetLogs()
	run(nil, "/etc/init.d/tinyipsec", "start")
	if cmd := fakerouter.Find(r.Calls(), "set_param", "command"); len(cmd) != 1 {
		t.Errorf("start registered:\n%s", fakerouter.Dump(r.Calls()))
	}
	r.ResetLogs()
	run(nil, "/lib/apk/exec/tinyipsec.pre-deinstall")
	if len(fakerouter.Find(r.Calls(), "kill", "tinyipsec")) != 1 {
		t.Errorf("pre-deinstall did not stop the service:\n%s", fakerouter.Dump(r.Calls()))
	}
	for _, l := range links {
		if r.Exists(l) {
			t.Errorf("pre-deinstall did not disable: %s still there", l)
		}
	}

	// Image build, as opkg and OpenWrt's build signal it (IPKG_INSTROOT,
	// scripts run on the build host).
	inst := t.TempDir()
	runScript(t, []byte(p.Scripts["post-install"]), "IPKG_INSTROOT="+inst)
	for _, l := range links {
		if dst, err := os.Readlink(filepath.Join(inst, l)); err != nil || dst != "../init.d/tinyipsec" {
			t.Errorf("image build: %s -> %q (%v)", l, dst, err)
		}
	}
	if out := runScript(t, []byte(p.Scripts["pre-deinstall"]), "IPKG_INSTROOT="+inst); len(out) != 0 {
		t.Errorf("image build: pre-deinstall printed %q", out)
	}
	r.ResetLogs("tmp/rpcd.log")

	// Image build by apk --root without IPKG_INSTROOT: the script runs
	// chrooted into the image and PID 1's root is elsewhere. The fake
	// router has no /proc; a symlink stands in for /proc/1/root.
	r.Mkdir("proc/1")
	r.Mkdir("elsewhere")
	if err := os.Symlink("/elsewhere", filepath.Join(r.Root, "proc/1/root")); err != nil {
		t.Fatal(err)
	}
	run(nil, "/lib/apk/exec/tinyipsec.post-install")
	for _, l := range links {
		if !r.Exists(l) {
			t.Errorf("chrooted image build: %s missing", l)
		}
	}
	run(nil, "/lib/apk/exec/tinyipsec.pre-deinstall")
	if len(r.Calls()) != 0 || r.Read("tmp/rpcd.log") != "" {
		t.Errorf("chrooted image build ran target commands:\n%s", fakerouter.Dump(r.Calls()))
	}
	for _, l := range links {
		if !r.Exists(l) {
			t.Errorf("chrooted image build: pre-deinstall removed %s", l)
		}
	}
	// /proc/1/root that is our root: a live router again.
	os.Remove(filepath.Join(r.Root, "proc/1/root"))
	os.Symlink("/", filepath.Join(r.Root, "proc/1/root"))
	run(nil, "/lib/apk/exec/tinyipsec.pre-deinstall")
	if len(fakerouter.Find(r.Calls(), "kill", "tinyipsec")) != 1 {
		t.Errorf("live router with /proc: pre-deinstall did not stop:\n%s", fakerouter.Dump(r.Calls()))
	}
}
