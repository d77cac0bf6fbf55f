package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportCiscoCLI: the command writes the TOML mode 0600, lists the
// lines it could not carry over by FILE:LINE without any key, and says
// whether the result passes check: the ASA sample hides one key as
// "*****", so it does not until the admin writes that key's psk_file.
func TestImportCiscoCLI(t *testing.T) {
	in := filepath.Join("internal", "ciscoimport", "testdata", "asa-hq.cfg")
	out := filepath.Join(t.TempDir(), "hq.toml")
	code, stdout, stderr := cli(t, "import-cisco", "-o", out, in)
	if code != exitFail || stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %s", code, stdout, stderr)
	}
	fi, err := os.Stat(out)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("output %v mode %v", err, fi)
	}
	data, _ := os.ReadFile(out)
	if !strings.Contains(string(data), `psk = "br1-Pre-Shared"`) {
		t.Errorf("key missing from the TOML:\n%s", data)
	}
	for _, want := range []string{in + ":128: ikev1 pre-shared-key <redacted>", in + ":62: crypto ipsec ikev2",
		`does not pass "tinyipsec check"`, `203.0.113.9.psk`} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	for _, secret := range []string{"br1-Pre-Shared", "dyn-wildcard-key", "ikev2-secret", "ra-group-key", "asa-community"} {
		if strings.Contains(stderr, secret) {
			t.Errorf("stderr shows the secret %q", secret)
		}
	}
	if code, _, _ := cli(t, "import-cisco"); code != exitUsage {
		t.Errorf("no file: exit %d", code)
	}
}
