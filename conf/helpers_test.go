package conf

import (
	"errors"
	"strings"
	"testing"
)

// Building blocks of a small valid TOML configuration; tests replace or
// extend one block at a time.
const (
	tGlobal = `[global]
log_level = "info"
`
	tPolicy = `[[isakmp_policy]]
priority = 10
encryption = "aes256"
hash = "sha256"
authentication = "pre-share"
group = 14
`
	tTS = `[transform_set.ts1]
esp = "aes128gcm16"
`
	tACL = `[acl.a1]
rules = ["permit ip 10.1.0.0 0.0.0.255 10.2.0.0 0.0.0.255"]
`
	tMap = `[[crypto_map]]
name = "m"
seq = 10
peer = "192.0.2.2"
psk = "secret"
match = "a1"
transform_set = "ts1"
`
	// tManual is the keys that make tMap (without psk) a manually keyed
	// map with the AES-GCM transform set tTS.
	tManual = `keying = "manual"
spi_in = 1000
spi_out = 0x1001
esp_key_in = "00112233445566778899aabbccddeeff01020304"
esp_key_out = "0x00112233445566778899AABBCCDDEEFF01020304"
`
)

// with returns block without the keys in drop, plus extra lines.
func with(block, extra string, drop ...string) string {
	var out []string
	for _, line := range strings.Split(strings.TrimRight(block, "\n"), "\n") {
		k, _, _ := strings.Cut(line, "=")
		dropped := false
		for _, d := range drop {
			if strings.TrimSpace(k) == d {
				dropped = true
			}
		}
		if !dropped {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n") + "\n" + extra
}

// doc joins blocks with blank lines in the usual order.
func doc(blocks ...string) string {
	return strings.Join(blocks, "\n")
}

// mustErrors parses and returns the Errors, failing if there are none.
func mustErrors(t *testing.T, name, text string) Errors {
	t.Helper()
	c, err := Parse(name, []byte(text))
	if err == nil {
		t.Fatalf("no error; model %+v\ninput:\n%s", c, text)
	}
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %T is not Errors: %v", err, err)
	}
	if c != nil {
		t.Fatalf("got a Config together with errors")
	}
	return es
}

func mustParse(t *testing.T, name, text string) *Config {
	t.Helper()
	c, err := Parse(name, []byte(text))
	if err != nil {
		t.Fatalf("unexpected error:\n%v\ninput:\n%s", err, text)
	}
	return c
}

// findError reports whether es has an error for key whose message
// contains msg.
func findError(es Errors, key, msg string) bool {
	for _, e := range es {
		if e.Key == key && strings.Contains(e.Msg, msg) {
			return true
		}
	}
	return false
}
