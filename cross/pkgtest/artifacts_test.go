// Package pkgtest checks what `make cross`, `make ipk` and `make apk` produce: the
// static binaries for each OpenWrt architecture (run under qemu-user) and
// the .ipk and apk v3 packages (layout, metadata, modes and owners,
// maintainer scripts).
package pkgtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// target is one OpenWrt package architecture and how to check its binary.
type target struct {
	arch    string // OpenWrt package architecture, the build/ subdirectory
	goarch  string
	goenv   map[string]string // build settings that must be recorded in the binary
	qemu    string            // qemu-user binary; "" runs natively
	machine string            // debug/elf machine name
	big     bool              // big-endian
	bits    int
}

var targets = []target{
	{arch: "mips_24kc", goarch: "mips", goenv: map[string]string{"GOMIPS": "softfloat"}, qemu: "qemu-mips-static", machine: "EM_MIPS", big: true, bits: 32},
	{arch: "mipsel_24kc", goarch: "mipsle", goenv: map[string]string{"GOMIPS": "softfloat"}, qemu: "qemu-mipsel-static", machine: "EM_MIPS", bits: 32},
	{arch: "arm_cortex-a7_neon-vfpv4", goarch: "arm", goenv: map[string]string{"GOARM": "7"}, qemu: "qemu-arm-static", machine: "EM_ARM", bits: 32},
	{arch: "aarch64_cortex-a53", goarch: "arm64", qemu: "qemu-aarch64-static", machine: "EM_AARCH64", bits: 64},
	{arch: "x86_64", goarch: "amd64", machine: "EM_X86_64", bits: 64},
}

// forEachTarget runs f as a subtest per target, named by its package
// architecture.
func forEachTarget(t *testing.T, f func(t *testing.T, tg target)) {
	for _, tg := range targets {
		t.Run(tg.arch, func(t *testing.T) { f(t, tg) })
	}
}

// readFile returns the file's bytes; a file that cannot be read ends the
// test.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// need skips locally, or fails under CI, when a prerequisite is missing.
func need(t *testing.T, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
}

func repoRoot(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  string
	ipkVer    string
	apkVer    string
	binVer    string
)

// artifacts returns the build directory holding <arch>/tinyipsec and
// ipk/*.ipk, and the package version (binaryVersion has the version the
// binaries were linked with). `make test` builds them first and
// passes TINYIPSEC_BUILD_DIR; a bare `go test` runs `make ipk apk` (incremental)
// so the test never depends on someone having built by hand.
func artifacts(t *testing.T) (dir, version string) {
	t.Helper()
	buildOnce.Do(func() {
		buildDir = os.Getenv("TINYIPSEC_BUILD_DIR")
		ipkVer = os.Getenv("TINYIPSEC_IPK_VERSION")
		apkVer = os.Getenv("TINYIPSEC_APK_VERSION")
		binVer = os.Getenv("TINYIPSEC_VERSION")
		if buildDir != "" && ipkVer != "" && apkVer != "" && binVer != "" {
			return
		}
		root := repoRoot(t)
		if _, err := exec.LookPath("make"); err != nil {
			buildErr = "make is not installed"
			return
		}
		out, err := exec.Command("make", "-C", root, "--no-print-directory", "ipk", "apk").CombinedOutput()
		if err != nil {
			buildErr = "make ipk apk: " + err.Error() + "\n" + string(out)
			return
		}
		v, err := exec.Command("make", "-C", root, "--no-print-directory", "-s", "version").Output()
		if err != nil {
			buildErr = "make version: " + err.Error()
			return
		}
		// "make version" prints "VERSION IPKVERSION APKVERSION".
		f := strings.Fields(string(v))
		if len(f) != 3 {
			buildErr = "make version printed " + string(v)
			return
		}
		buildDir, binVer, ipkVer, apkVer = filepath.Join(root, "build"), f[0], f[1], f[2]
	})
	if buildErr != "" {
		t.Fatal(buildErr)
	}
	return buildDir, ipkVer
}

func (tg target) binary(t *testing.T) string {
	dir, _ := artifacts(t)
	return filepath.Join(dir, tg.arch, "tinyipsec")
}

func (tg target) ipk(t *testing.T) string {
	dir, v := artifacts(t)
	return filepath.Join(dir, "ipk", "tinyipsec_"+v+"_"+tg.arch+".ipk")
}

func (tg target) apk(t *testing.T) string {
	dir, _ := artifacts(t)
	return filepath.Join(dir, "apk", "tinyipsec-"+apkVer+"_"+tg.arch+".apk")
}

func binaryVersion(t *testing.T) string {
	artifacts(t)
	return binVer
}
