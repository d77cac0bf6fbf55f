package conf

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// The secret values the mistyped lines carry; no piece of them may show.
const (
	leakWord = "Wq7zSecretXy91"
	leakHex  = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7"
)

// leaks reports whether text shows any piece of a secret.
func leaks(text string) bool {
	low := strings.ToLower(text)
	for _, p := range []string{"wq7z", "secretxy", "xy91", "5ec7e7", "1234567890"} {
		if strings.Contains(low, p) {
			return true
		}
	}
	return false
}

// tomlMistypings are the ways an admin gets a secret value wrong in TOML.
var tomlMistypings = []string{
	leakWord,                   // not quoted
	"0x" + leakHex,             // a hex key not quoted
	"12345678901234567890123",  // digits not quoted (out of range)
	"1234567890",               // digits not quoted (an integer)
	`"` + leakWord,             // unterminated
	`'` + leakWord,             // unterminated literal string
	`"` + leakWord + `" extra`, // text after the string
	`"` + leakWord + `"x`,
	"Wq7z Secret Xy91",           // spaces, not quoted
	`["` + leakWord + `"]`,       // an array
	`"""` + leakWord,             // unterminated multi-line string
	`"zz` + leakHex + `"`,        // not hex (manual keys)
	`"0x5ec7e7"`,                 // wrong length (manual keys)
	`"` + leakWord + `\q"`,       // invalid escape
	`{ v = "` + leakWord + `" }`, // an inline table
}

// secretDocs returns, for each secret key, a valid configuration with
// that key on a line of its own ("KEY = VALUE" to be replaced).
func secretDocs() map[string]string {
	manual := func(ts, keys string) string {
		return doc(tPolicy, ts, tACL, `[[crypto_map]]
name = "m"
seq = 10
peer = "192.0.2.2"
match = "a1"
transform_set = "ts1"
keying = "manual"
spi_in = 1000
spi_out = 1001
`+keys)
	}
	gcm := `[transform_set.ts1]
esp = "aes128gcm16"
`
	cbc := `[transform_set.ts1]
esp = "aes128"
esp_auth = "sha256"
`
	ah := `[transform_set.ts1]
ah = "sha256"
`
	k20 := `"` + strings.Repeat("ab", 20) + `"`
	k16 := `"` + strings.Repeat("ab", 16) + `"`
	k32 := `"` + strings.Repeat("ab", 32) + `"`
	set := func(keys map[string]string, secret string) string {
		var b strings.Builder
		for _, k := range []string{"esp_key_in", "esp_key_out", "esp_auth_key_in", "esp_auth_key_out", "ah_key_in", "ah_key_out"} {
			v, ok := keys[k]
			if !ok {
				continue
			}
			if k == secret {
				v = "VALUE"
			}
			fmt.Fprintf(&b, "%s = %s\n", k, v)
		}
		return b.String()
	}
	gcmKeys := map[string]string{"esp_key_in": k20, "esp_key_out": k20}
	cbcKeys := map[string]string{"esp_key_in": k16, "esp_key_out": k16, "esp_auth_key_in": k32, "esp_auth_key_out": k32}
	ahKeys := map[string]string{"ah_key_in": k32, "ah_key_out": k32}
	return map[string]string{
		"psk":              doc(tPolicy, tTS, tACL, with(tMap, "psk = VALUE", "psk")),
		"keyring psk":      doc(tPolicy, tTS, tACL, with(tMap, "", "psk"), "[[keyring]]\naddress = \"192.0.2.2\"\npsk = VALUE\n"),
		"xauth_password":   doc(tPolicy, tTS, tACL, strings.Replace(tRAClient, `xauth_password = "pw-that-must-not-leak"`, "xauth_password = VALUE", 1)),
		"esp_key_in":       manual(gcm, set(gcmKeys, "esp_key_in")),
		"esp_key_out":      manual(gcm, set(gcmKeys, "esp_key_out")),
		"esp_auth_key_in":  manual(cbc, set(cbcKeys, "esp_auth_key_in")),
		"esp_auth_key_out": manual(cbc, set(cbcKeys, "esp_auth_key_out")),
		"ah_key_in":        manual(ah, set(ahKeys, "ah_key_in")),
		"ah_key_out":       manual(ah, set(ahKeys, "ah_key_out")),
	}
}

// TestSecretNeverInErrors: every secret key, mistyped in every way, gives
// an error that names file, line and key, and shows no piece of the value.
func TestSecretNeverInErrors(t *testing.T) {
	for name, d := range secretDocs() {
		key := name[strings.LastIndex(name, " ")+1:]
		line := 0
		for i, l := range strings.Split(d, "\n") {
			if strings.HasSuffix(l, "= VALUE") {
				line = i + 1
			}
		}
		if line == 0 {
			t.Fatalf("%s: no VALUE line in\n%s", name, d)
		}
		if _, err := Parse("ok.toml", []byte(strings.Replace(d, "VALUE", `"`+strings.Repeat("ab", 20)+`"`, 1))); err != nil && !strings.Contains(name, "key") {
			t.Fatalf("%s: the base configuration does not parse: %v", name, err)
		}
		for _, v := range tomlMistypings {
			text := strings.Replace(d, "VALUE", v, 1)
			_, err := Parse("site.toml", []byte(text))
			if err == nil {
				continue // a valid (if odd) value, e.g. a pre-shared key that looks like hex
			}
			msg := err.Error()
			if leaks(msg) {
				t.Errorf("%s = %s: the error shows the secret:\n%s", name, v, msg)
			}
			if want := fmt.Sprintf("site.toml:%d: ", line); !strings.Contains(msg, want) || !strings.Contains(msg, key) {
				t.Errorf("%s = %s: the error does not name %s and key %s:\n%s", name, v, want, key, msg)
			}
		}
	}
}

// TestSecretNeverInUCIErrors: the same through the UCI syntax.
func TestSecretNeverInUCIErrors(t *testing.T) {
	base := `config isakmp_policy
	option priority '10'
	option encryption 'aes256'
	option hash 'sha256'
	option authentication 'pre-share'
	option group '14'

config transform_set 'ts1'
	option esp 'aes128gcm16'

config acl 'a1'
	list rule 'permit ip 10.1.0.0 0.0.0.255 10.2.0.0 0.0.0.255'

config crypto_map
	option name 'm'
	option seq '10'
	option peer '192.0.2.2'
	option match 'a1'
	option transform_set 'ts1'
	option psk VALUE
`
	line := strings.Count(base[:strings.Index(base, "VALUE")], "\n") + 1
	for _, v := range []string{`'` + leakWord, `"` + leakWord, "Wq7z Secret Xy91", `'Wq7z' 'SecretXy91'`, `'` + leakWord + `' extra`} {
		_, err := Parse("tinyipsec", []byte(strings.Replace(base, "VALUE", v, 1)))
		if err == nil {
			t.Errorf("option psk %s: accepted", v)
			continue
		}
		if leaks(err.Error()) {
			t.Errorf("option psk %s: the error shows the secret:\n%s", v, err)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("tinyipsec:%d: ", line)) || !strings.Contains(err.Error(), "psk") {
			t.Errorf("option psk %s: the error does not name line %d and the key:\n%s", v, line, err)
		}
	}
}

// The hand-written line matchers split every line as the regular
// expressions they replace did.
func TestSecretLineShapesMatchRegexp(t *testing.T) {
	tomlRE := regexp.MustCompile(`^\s*([A-Za-z0-9_-]+|"[^"]*"|'[^']*')\s*=\s*(.*)$`)
	uciRE := regexp.MustCompile(`^\s*(?:option|list)\s+(\S+)\s*(.*)$`)
	lines := []string{
		"", " ", "psk", "psk=", "psk = x", "  psk\t=\t\"a b\" # c", `"psk" = 'x'`, `'psk'='x'`,
		`"ps k" = 1`, `"psk = 1`, `'psk = 1`, "p-s_k9 = 2", "psk.x = 3", "= 4", "psk x = 5",
		"\fpsk\r=\r6\r", "option psk 'x'", "  list psk x y", "option\tpsk", "optionpsk x",
		"option", "option ", "list  'psk'  'a b'", "options psk x", "\toption psk\t\t'x' ",
		"config x 'y'", "option psk=x", "#option psk x", "psk = \xff\xfe",
	}
	for _, line := range lines {
		for _, c := range []struct {
			name  string
			re    *regexp.Regexp
			split func(string) (string, string, bool)
		}{{"toml", tomlRE, tomlAssign}, {"uci", uciRE, uciSecretLine}} {
			m := c.re.FindStringSubmatch(line)
			key, rest, ok := c.split(line)
			if ok != (m != nil) || ok && (key != m[1] || rest != strings.TrimLeft(m[2], " \t\n\f\r")) {
				t.Errorf("%s %q: got %q %q %v, regexp %q", c.name, line, key, rest, ok, m)
			}
		}
	}
}

func TestTrimSetIsStringsTrim(t *testing.T) {
	for _, s := range []string{"", `"`, `''`, `"psk"`, `'a"b'`, `"'x'"`, `ab`, `"a b" `, `""""`, "\"é\"", `'`} {
		for _, set := range []string{`"'`, `"`} {
			if got, want := trimSet(s, set), strings.Trim(s, set); got != want {
				t.Errorf("trimSet(%q, %q) = %q, strings.Trim gives %q", s, set, got, want)
			}
		}
	}
}
