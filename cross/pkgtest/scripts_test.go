package pkgtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// readInitOrder returns START and STOP of the init script.
func readInitOrder(t *testing.T) (start, stop string) {
	t.Helper()
	b := readFile(t, filepath.Join(repoRoot(t), "init", "tinyipsec.init"))
	m1 := regexp.MustCompile(`(?m)^START=(\d+)$`).FindSubmatch(b)
	m2 := regexp.MustCompile(`(?m)^STOP=(\d+)$`).FindSubmatch(b)
	if m1 == nil || m2 == nil {
		t.Fatal("init script has no START=/STOP=")
	}
	return string(m1[1]), string(m2[1])
}

// runScript runs a maintainer script from the package under BusyBox ash,
// the shell opkg uses on the router.
func runScript(t *testing.T, script []byte, env ...string) []byte {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	need(t, err == nil, "busybox is not installed (apt-get install busybox)")
	f := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(f, script, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bb, "ash", f, "configure")
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("script failed: %v\n%s", err, out)
	}
	return out
}

// While a firmware image is assembled (IPKG_INSTROOT set) postinst only
// makes the boot links, with the init script's START/STOP; prerm does
// nothing.
func TestIPKScriptsImageBuild(t *testing.T) {
	tg := targets[len(targets)-1] // the scripts are the same for every arch
	p := openIPK(t, tg.ipk(t))
	start, stop := readInitOrder(t)

	inst := t.TempDir()
	runScript(t, member(t, p.control, "./postinst").data, "IPKG_INSTROOT="+inst)
	for _, l := range []string{"S" + start + "tinyipsec", "K" + stop + "tinyipsec"} {
		dst, err := os.Readlink(filepath.Join(inst, "etc", "rc.d", l))
		if err != nil || dst != "../init.d/tinyipsec" {
			t.Errorf("rc.d/%s -> %q (%v), want ../init.d/tinyipsec", l, dst, err)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(inst, "etc", "rc.d"))
	if len(ents) != 2 {
		t.Errorf("postinst made %d entries in rc.d, want 2", len(ents))
	}

	inst2 := t.TempDir()
	runScript(t, member(t, p.control, "./prerm").data, "IPKG_INSTROOT="+inst2)
	if ents, _ := os.ReadDir(inst2); len(ents) != 0 {
		t.Errorf("prerm touched the image root")
	}
	// IPKG_NO_SCRIPT=1 (opkg --noscripts style) must not touch anything.
	inst3 := t.TempDir()
	runScript(t, member(t, p.control, "./postinst").data, "IPKG_INSTROOT="+inst3, "IPKG_NO_SCRIPT=1")
	if ents, _ := os.ReadDir(inst3); len(ents) != 0 {
		t.Errorf("postinst ran despite IPKG_NO_SCRIPT=1")
	}
}

// The same inputs give the same bytes: owners, order, mtimes and gzip
// headers are all fixed.
func TestIPKReproducible(t *testing.T) {
	tg := targets[len(targets)-1]
	orig := readFile(t, tg.ipk(t))
	p := openIPK(t, tg.ipk(t))
	out := filepath.Join(t.TempDir(), "again.ipk")
	cmd := exec.Command(filepath.Join(repoRoot(t), "cross", "ipkg-build.sh"),
		"-a", tg.arch, "-v", p.fields["Version"], "-b", tg.binary(t), "-o", out)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+p.fields["SourceDateEpoch"])
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ipkg-build.sh: %v\n%s", err, b)
	}
	again := readFile(t, out)
	if !bytes.Equal(orig, again) {
		t.Errorf("rebuilding %s gave different bytes", tg.ipk(t))
	}
}
