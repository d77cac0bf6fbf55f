package pkgtest

import (
	"archive/tar"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"tinyipsec/internal/apkv3"
)

// feedMake runs the OpenWrt feed Makefile (cross/openwrt/Makefile) against
// stand-ins of the buildroot's rules.mk, package.mk and golang-package.mk,
// which turn its recipes into targets the test can run.
func feedMake(t *testing.T, args ...string) string {
	t.Helper()
	_, err := exec.LookPath("make")
	need(t, err == nil, "make is not installed")
	root := repoRoot(t)
	topdir, err := filepath.Abs(filepath.Join("testdata", "topdir"))
	if err != nil {
		t.Fatal(err)
	}
	argv := append([]string{"-C", filepath.Join(root, "cross", "openwrt"), "--no-print-directory", "TOPDIR=" + topdir}, args...)
	out, err := exec.Command("make", argv...).CombinedOutput()
	if err != nil {
		t.Fatalf("make %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestFeedMakefileMetadata(t *testing.T) {
	info := map[string]string{}
	for _, line := range strings.Split(feedMake(t, "fake-info"), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			info[k] = v
		}
	}
	checks := []struct{ key, want string }{
		{"PKG_NAME", "tinyipsec"},
		{"GO_PKG", "tinyipsec"},
		{"GO_PKG_BUILD_PKG", "tinyipsec"},
		{"PKG_BUILD_DEPENDS", "golang/host"},
		{"PKG_LICENSE", "MIT"},
		{"PKG_LICENSE_FILES", "LICENSE"},
		{"CONFFILES", "/etc/config/tinyipsec /etc/tinyipsec/tinyipsec.toml"},
	}
	for _, c := range checks {
		if info[c.key] != c.want {
			t.Errorf("%s = %q, want %q", c.key, info[c.key], c.want)
		}
	}
	if d := info["DEPENDS"]; !strings.HasPrefix(d, "@(") || !strings.HasSuffix(d, " +kmod-tun") {
		t.Errorf("DEPENDS = %q, want $(GO_ARCH_DEPENDS) +kmod-tun", d)
	}
	if !strings.HasPrefix(info["GO_PKG_LDFLAGS_X"], "main.version=") {
		t.Errorf("GO_PKG_LDFLAGS_X = %q, want main.version=...", info["GO_PKG_LDFLAGS_X"])
	}
}

// The feed package installs exactly the files of `make ipk`, with the same
// modes, so both ways of packaging give the same router.
func TestFeedMakefileInstallMatchesIPK(t *testing.T) {
	tg := targets[len(targets)-1]
	dest := t.TempDir()
	feedMake(t, "fake-install", "DEST="+dest, "GO_BIN="+tg.binary(t),
		"PKG_BUILD_DIR="+repoRoot(t), "PKG_INSTALL_DIR="+t.TempDir())

	p := openIPK(t, tg.ipk(t))
	want := map[string]int64{}
	for _, e := range p.data {
		if e.hdr.Typeflag == tar.TypeReg {
			want[strings.TrimPrefix(e.hdr.Name, ".")] = e.hdr.Mode & 0o7777
		}
	}
	got := map[string]int64{}
	filepath.Walk(dest, func(path string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			got[strings.TrimPrefix(path, dest)] = int64(fi.Mode().Perm())
		}
		return err
	})
	for f, m := range want {
		if g, ok := got[f]; !ok {
			t.Errorf("feed package lacks %s", f)
		} else if g != m {
			t.Errorf("%s: feed mode %o, ipk mode %o", f, g, m)
		}
	}
	for f := range got {
		if _, ok := want[f]; !ok {
			t.Errorf("feed package installs %s, the ipk does not", f)
		}
	}
	if fi, err := os.Stat(filepath.Join(dest, "etc", "tinyipsec")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("/etc/tinyipsec must be 0700")
	}
}

// Build/Prepare copies the source without build output and VCS data.
func TestFeedMakefilePrepare(t *testing.T) {
	dir := t.TempDir()
	feedMake(t, "fake-prepare", "PKG_BUILD_DIR="+dir)
	for _, f := range []string{"go.mod", "main.go", "init/tinyipsec.init", "conf"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("prepared tree lacks %s", f)
		}
	}
	for _, f := range []string{"build", ".git"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("prepared tree has %s", f)
		}
	}
}

// The repository's LICENSE is the MIT text the package metadata names.
func TestLicenseFile(t *testing.T) {
	b := readFile(t, filepath.Join(repoRoot(t), "LICENSE"))
	s := string(b)
	for _, want := range []string{"MIT License", "Copyright (c) 2026 the tinyipsec authors", "Permission is hereby granted, free of charge"} {
		if !strings.Contains(s, want) {
			t.Errorf("LICENSE lacks %q", want)
		}
	}
}

// The feed Makefile builds for 24.10 (opkg) and 25.x (apk): the version
// it declares is one apk accepts, and nothing in it belongs to one
// package manager only.
func TestFeedMakefileBothPackageManagers(t *testing.T) {
	info := map[string]string{}
	for _, line := range strings.Split(feedMake(t, "fake-info"), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			info[k] = v
		}
	}
	if v := info["PKG_VERSION"] + "-r" + info["PKG_RELEASE"]; !apkv3.ValidVersion(v) {
		t.Errorf("apk version %q is not valid apk syntax", v)
	}
	b := readFile(t, filepath.Join(repoRoot(t), "cross", "openwrt", "Makefile"))
	for _, bad := range []string{"opkg ", "/usr/lib/opkg", "CONTROL/", "ipkg-build", "apk add", "/lib/apk/"} {
		for _, line := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "#") && strings.Contains(line, bad) {
				t.Errorf("feed Makefile uses %q outside a comment: %s", bad, line)
			}
		}
	}
}

// The SDK build compiles the same control-plane packages with the same
// switches (inlining off and the rest of CONTROL_GCFLAGS) and the same
// garbage collector as the repository's Makefile, so both builds have
// the same size.
func TestFeedMakefileNoInline(t *testing.T) {
	out, err := exec.Command("make", "-s", "--no-print-directory", "-C", repoRoot(t), "noinline").Output()
	if err != nil {
		t.Fatal(err)
	}
	flags, err := exec.Command("make", "-s", "--no-print-directory", "-C", repoRoot(t), "control-gcflags").Output()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, p := range strings.Fields(string(out)) {
		want = append(want, "-gcflags", p+"="+strings.TrimSpace(string(flags))+" ")
	}
	got := strings.Split(strings.TrimSuffix(feedMake(t, "fake-compile"), "\n"), "\n")
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("feed Build/Compile arguments:\n%q\nwant (from make noinline):\n%q", got, want)
	}

	// The garbage collector choice reaches go build's environment too.
	exp, err := exec.Command("make", "-s", "--no-print-directory", "-C", repoRoot(t), "goexperiment").Output()
	if err != nil {
		t.Fatal(err)
	}
	wantVar := "GOEXPERIMENT=" + strings.TrimSpace(string(exp))
	if strings.TrimSpace(string(exp)) == "" {
		t.Fatal("make goexperiment printed nothing")
	}
	for _, line := range strings.Split(feedMake(t, "fake-info"), "\n") {
		if v, ok := strings.CutPrefix(line, "GO_PKG_TARGET_VARS="); ok {
			if !slices.Contains(strings.Fields(v), wantVar) {
				t.Errorf("feed GO_PKG_TARGET_VARS = %q, want it to hold %s", v, wantVar)
			}
			return
		}
	}
	t.Error("feed Makefile printed no GO_PKG_TARGET_VARS")
}
