package pkgtest

import (
	"debug/buildinfo"
	"debug/elf"
	"encoding/binary"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Each binary is a static, stripped ELF for its target, built the way the
// Makefile promises (recorded in the Go build info).
func TestCrossBinaries(t *testing.T) {
	forEachTarget(t, func(t *testing.T, tg target) {
		path := tg.binary(t)
		f, err := elf.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if f.Machine.String() != tg.machine {
			t.Errorf("machine %v, want %s", f.Machine, tg.machine)
		}
		wantOrder := binary.ByteOrder(binary.LittleEndian)
		if tg.big {
			wantOrder = binary.BigEndian
		}
		if f.ByteOrder != wantOrder {
			t.Errorf("byte order %v", f.ByteOrder)
		}
		if (tg.bits == 32) != (f.Class == elf.ELFCLASS32) {
			t.Errorf("class %v, want %d-bit", f.Class, tg.bits)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("dynamically linked (%v): must be static", p.Type)
			}
		}
		// -s drops the symbol table, -w the DWARF data.
		for _, sec := range f.Sections {
			if sec.Name == ".symtab" || strings.HasPrefix(sec.Name, ".debug") || strings.HasPrefix(sec.Name, ".zdebug") {
				t.Errorf("not stripped: has %s", sec.Name)
			}
		}

		bi, err := buildinfo.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		set := map[string]string{}
		for _, s := range bi.Settings {
			set[s.Key] = s.Value
		}
		want := map[string]string{"GOOS": "linux", "GOARCH": tg.goarch, "CGO_ENABLED": "0", "-trimpath": "true"}
		for k, v := range tg.goenv {
			want[k] = v
		}
		for k, v := range want {
			if set[k] != v {
				t.Errorf("build setting %s = %q, want %q", k, set[k], v)
			}
		}
		// Go does not record -ldflags with -trimpath; the version the
		// binary prints (TestCrossBinariesRun) shows that -X took effect.
	})
}

// Every cross-built binary runs on its architecture (qemu-user) and agrees
// with the shipped example configuration.
func TestCrossBinariesRun(t *testing.T) {
	example := filepath.Join(repoRoot(t), "init", "tinyipsec.toml")
	forEachTarget(t, func(t *testing.T, tg target) {
		run := func(args ...string) (string, error) {
			argv := append([]string{tg.binary(t)}, args...)
			if tg.qemu != "" {
				q, err := exec.LookPath(tg.qemu)
				need(t, err == nil, tg.qemu+" is not installed (apt-get install qemu-user-static)")
				argv = append([]string{q}, argv...)
			}
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.WaitDelay = time.Second
			out, err := cmd.CombinedOutput()
			return string(out), err
		}
		out, err := run("version")
		if err != nil || !strings.Contains(out, binaryVersion(t)) {
			t.Errorf("tinyipsec version: %v\n%s", err, out)
		}
		out, err = run("check", "-c", example)
		if err != nil || strings.TrimSpace(out) != "OK" {
			t.Errorf("tinyipsec check -c init/tinyipsec.toml: %v\n%s", err, out)
		}
	})
}
