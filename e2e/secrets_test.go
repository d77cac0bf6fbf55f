package e2e

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"tinyipsec/internal/nstest"
)

// TestReloadNeverShowsSecrets: a running daemon is asked to reload a
// configuration where a secret value is mistyped (every secret key, every
// usual mistake). The reload is refused, the old configuration stays, and
// neither the control socket's answer nor the daemon's log shows any
// piece of the value, while the log names the file, line and key.
func TestReloadNeverShowsSecrets(t *testing.T) {
	bin := DaemonBinary(t, "socat")
	a, b := Topology(t, "sec", false)
	WriteConfig(t, Case{Name: "sec", ESP: "aes128", ESPAuth: "sha256", AH: "sha256"}, a, b, true)
	good, err := os.ReadFile(a.Config)
	if err != nil {
		t.Fatal(err)
	}
	proc := a.NS.Start(t, "tinyipsec-a", nil, bin, "run", "-c", a.Config)
	WaitTUN(t, a)

	const secret = "Wq7zSecretXy91"
	mistypings := []string{secret, "0x5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7", "12345678901234567890123",
		`"` + secret, `"` + secret + `" extra`, `"""` + secret, "Wq7z Secret Xy91"}
	pieces := []string{"Wq7z", "SecretXy", "5ec7e7", "1234567890"}
	leak := func(s string) string {
		for _, p := range pieces {
			if strings.Contains(s, p) {
				return p
			}
		}
		return ""
	}
	type edit struct {
		key  string
		make func(v string) string // the configuration with the mistyped line
	}
	var edits []edit
	for _, k := range []string{"esp_key_in", "esp_key_out", "esp_auth_key_in", "esp_auth_key_out", "ah_key_in", "ah_key_out"} {
		re := regexp.MustCompile(`(?m)^` + k + ` = .*$`)
		edits = append(edits, edit{k, func(v string) string { return re.ReplaceAllString(string(good), k+" = "+v) }})
	}
	edits = append(edits,
		edit{"psk", func(v string) string {
			return string(good) + "\n[[keyring]]\naddress = \"192.0.2.9\"\npsk = " + v + "\n"
		}},
		edit{"xauth_password", func(v string) string {
			return strings.Replace(string(good), "transform_set = [\"TS\"]\n", "transform_set = [\"TS\"]\nxauth_password = "+v+"\n", 1)
		}})
	reloads := 0
	for _, e := range edits {
		for _, v := range mistypings {
			if err := os.WriteFile(a.Config, []byte(e.make(v)), 0o600); err != nil {
				t.Fatal(err)
			}
			out, _ := a.NS.Output("sh", "-c", "echo reload | socat -t 5 - UNIX-CONNECT:"+a.Control)
			reloads++
			if strings.Contains(out, `"result":"ok"`) {
				t.Errorf("%s = %s: reload accepted: %s", e.key, v, out)
			}
			if p := leak(out); p != "" {
				t.Errorf("%s = %s: the control socket's answer shows %q: %s", e.key, v, p, out)
			}
		}
	}
	// Every refusal is logged; the log shows no secret either.
	nstest.WaitFor(t, 10*time.Second, "the refused reloads in the log", func() bool {
		return strings.Count(proc.Output(), "tinyipsec.toml:") >= reloads
	})
	if p := leak(proc.Output()); p != "" {
		t.Errorf("the daemon's log shows %q:\n%s", p, proc.Output())
	}
	for _, e := range edits {
		if !regexp.MustCompile(`tinyipsec\.toml:\d+: [a-z_.\[\]0-9]*` + e.key + `: `).MatchString(proc.Output()) {
			t.Errorf("the log does not name file, line and key %s:\n%s", e.key, proc.Output())
		}
	}
	// The daemon kept running on its configuration and takes a good one.
	if err := os.WriteFile(a.Config, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := a.NS.Output("sh", "-c", "echo reload | socat -t 5 - UNIX-CONNECT:"+a.Control); err != nil || !strings.Contains(out, `"result":"ok"`) {
		t.Fatalf("reload of the good configuration: %v %s", err, out)
	}
}
