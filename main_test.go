package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tinyipsec/internal/testconf"
)

func cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = runCLI(args, &o, &e)
	return code, o.String(), e.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := cli(t, "version")
	if code != 0 || !strings.HasPrefix(out, "tinyipsec ") {
		t.Fatalf("version: code %d, out %q", code, out)
	}
}

func TestUsageErrorsAreOneLineAndExit2(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"check", "-x"},
		{"check", "-c", filepath.Join(t.TempDir(), "missing.toml")},
		{"run", "--bogus"},
		{"status", "extra-arg"},
	} {
		code, _, errOut := cli(t, args...)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want %d (stderr %q)", args, code, exitUsage, errOut)
		}
		if len(args) > 0 && strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("%q: want a one-line error, got %q", args, errOut)
		}
	}
}

func TestCheckExample(t *testing.T) {
	code, out, errOut := cli(t, "check", "-c", "init/tinyipsec.toml")
	if code != 0 || strings.TrimSpace(out) != "OK" {
		t.Fatalf("check example: code %d, out %q, err %q", code, out, errOut)
	}
}

// TestCheckReportsEveryError: three independent mistakes on three lines
// of a valid configuration are all reported, each with its line, and the
// exit code is 1.
func TestCheckReportsEveryError(t *testing.T) {
	good := testconf.IKE{LogLevel: "info", Peer: "192.0.2.2", PSK: "secret-key-1234", PFS: 14,
		ACL: "permit ip 10.1.0.0 0.0.0.255 10.2.0.0 0.0.0.255"}.TOML("")
	path := filepath.Join(t.TempDir(), "bad.toml")
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := cli(t, "check", "-c", path); code != 0 {
		t.Fatalf("the configuration before the mistakes: exit %d, %s", code, errOut)
	}
	cfg := good
	for _, edit := range [][2]string{
		{`encryption = "aes128"`, `encryption = "aes257"`},
		{`transform_set = ["TS"]`, `transform_set = ["ts-missing"]`},
		{"pfs = 14\n", "pfs = 14\ncolour = \"blue\"\n"},
	} {
		if !strings.Contains(cfg, edit[0]) {
			t.Fatalf("configuration lacks %q:\n%s", edit[0], good)
		}
		cfg = strings.Replace(cfg, edit[0], edit[1], 1)
	}
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := cli(t, "check", "-c", path)
	if code != exitFail {
		t.Fatalf("exit %d, want 1; out %q err %q", code, out, errOut)
	}
	for _, bad := range []string{"aes257", "ts-missing", "colour"} {
		want := fmt.Sprintf("bad.toml:%d:", lineOf(cfg, bad))
		if !strings.Contains(errOut, want) || !strings.Contains(errOut, bad) {
			t.Errorf("missing %q (the line with %s) in:\n%s", want, bad, errOut)
		}
	}
}

// lineOf is the number of the first line of text containing s.
func lineOf(text, s string) int {
	return strings.Count(text[:strings.Index(text, s)], "\n") + 1
}

func TestStatusWithoutDaemon(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	code, _, errOut := cli(t, "status", "-s", sock)
	if code != exitFail || !strings.Contains(errOut, "is tinyipsec running") {
		t.Fatalf("code %d, err %q", code, errOut)
	}
}

// errorLines drops every trailing newline, and only those.
func TestErrorLines(t *testing.T) {
	for in, want := range map[string]string{"": "", "a": "a", "a\nb\n\n": "a\nb", "\n a\n": "\n a"} {
		if got := errorLines(fmt.Errorf("%s", in)); got != want {
			t.Errorf("errorLines(%q) = %q, want %q", in, got, want)
		}
	}
}
