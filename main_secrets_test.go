package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestSecretsNotInCheckOrRun: a mistyped secret value (pre-shared key,
// keyring key, manual keys) makes `check` and `run` fail with an error
// that names the file, line and key, and never shows the value.
func TestSecretsNotInCheckOrRun(t *testing.T) {
	example, err := os.ReadFile("init/tinyipsec.toml")
	if err != nil {
		t.Fatal(err)
	}
	// The example's manual crypto map, uncommented.
	base := string(example)
	manualStart := strings.Index(base, "# [[crypto_map]]\n# name = \"CMAP\"\n# seq = 20")
	if manualStart < 0 {
		t.Fatal("the example lost its manual crypto map")
	}
	base = base[:manualStart] + strings.ReplaceAll(base[manualStart:], "\n# ", "\n")[2:]
	base += "\n[[keyring]]\naddress = \"198.51.100.0/24\"\npsk = \"keyring-key-0001\"\n"
	dir := t.TempDir()
	write := func(text string) string {
		p := filepath.Join(dir, "site.toml")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if code, out, errOut := cli(t, "check", "-c", write(base)); code != 0 {
		t.Fatalf("the base configuration does not check: %s %s", out, errOut)
	}
	lines := map[string]*regexp.Regexp{
		"psk":         regexp.MustCompile(`(?m)^psk = "change-me[^"]*"$`),
		"keyring psk": regexp.MustCompile(`(?m)^psk = "keyring-key-0001"$`),
		"esp_key_in":  regexp.MustCompile(`(?m)^esp_key_in = .*$`),
		"esp_key_out": regexp.MustCompile(`(?m)^esp_key_out = .*$`),
	}
	for name, re := range lines {
		key := name[strings.LastIndex(name, " ")+1:]
		for _, v := range []string{"Wq7zSecretXy91", "0x5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7", "12345678901234567890123",
			`"Wq7zSecretXy91`, `"Wq7zSecretXy91" extra`, `"""Wq7zSecretXy91`, `"zz5ec7e75ec7e7"`} {
			text := re.ReplaceAllString(base, key+" = "+v)
			loc := re.FindStringIndex(base)
			line := strings.Count(base[:loc[0]], "\n") + 1
			path := write(text)
			if code, _, _ := cli(t, "check", "-c", path); code == 0 {
				// A valid (if odd) value, such as a pre-shared key that
				// looks like hex: "run" would start the daemon.
				if !(strings.HasPrefix(v, `"zz`) && strings.HasSuffix(name, "psk")) {
					t.Errorf("%s = %s accepted", name, v)
				}
				continue
			}
			for _, cmd := range []string{"check", "run"} {
				code, out, errOut := cli(t, cmd, "-c", path)
				all := out + errOut
				if code == 0 {
					t.Fatalf("%s: %s = %s accepted", cmd, name, v)
				}
				for _, p := range []string{"Wq7z", "SecretXy", "5ec7e7", "1234567890"} {
					if strings.Contains(all, p) {
						t.Errorf("%s: %s = %s: the output shows the secret:\n%s", cmd, name, v, all)
					}
				}
				if !strings.Contains(all, "site.toml:"+strconv.Itoa(line)+":") || !strings.Contains(all, key) {
					t.Errorf("%s: %s = %s: no file:line %d and key in:\n%s", cmd, name, v, line, all)
				}
			}
		}
	}
}
