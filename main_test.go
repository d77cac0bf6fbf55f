package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
// are all reported, each with its line, and the exit code is 1.
func TestCheckReportsEveryError(t *testing.T) {
	cfg := `[global]
log_level = "info"

[[isakmp_policy]]
priority = 10
encryption = "aes257"
hash = "sha256"
authentication = "pre-share"
group = 14

[transform_set.ts1]
esp = "aes128gcm16"

[acl.vpn]
rules = ["permit ip 10.1.0.0 0.0.0.255 10.2.0.0 0.0.0.255"]

[[crypto_map]]
name = "cm"
seq = 10
peer = "192.0.2.2"
psk = "secret-key-1234"
match = "vpn"
transform_set = ["ts-missing"]
pfs = 14
colour = "blue"
`
	path := filepath.Join(t.TempDir(), "bad.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := cli(t, "check", "-c", path)
	if code != exitFail {
		t.Fatalf("exit %d, want 1; out %q err %q", code, out, errOut)
	}
	for _, want := range []string{
		"bad.toml:6:",  // encryption = "aes257"
		"bad.toml:23:", // transform_set = ["ts-missing"]
		"bad.toml:25:", // colour = "blue"
		"aes257", "ts-missing", "colour",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("missing %q in:\n%s", want, errOut)
		}
	}
}

func TestStatusWithoutDaemon(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	code, _, errOut := cli(t, "status", "-s", sock)
	if code != exitFail || !strings.Contains(errOut, "is tinyipsec running") {
		t.Fatalf("code %d, err %q", code, errOut)
	}
}
