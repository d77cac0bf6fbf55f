package conf

import (
	"fmt"
	"strings"
	"testing"
)

// No fmt verb may show a pre-shared or manual key.
func TestSecretsNeverPrinted(t *testing.T) {
	const psk = "SuperSecretPSK"
	c := mustParse(t, "t.toml", doc(tPolicy, tTS, tACL, with(tMap, `psk = "`+psk+`"`, "psk"),
		with(tMap, `keying = "manual"
seq = 20
spi_in = 1000
spi_out = 1001
esp_key_in = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7"
esp_key_out = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7"
`, "psk", "seq")))
	m := c.CryptoMaps[0]
	mk := c.CryptoMaps[1].Manual
	hexKey := "5ec7e7"
	for _, v := range []any{c, *c, m, *m, mk, *mk, m.PSK, mk.ESPKeyIn, c.CryptoMaps} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q"} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, psk) || strings.Contains(strings.ToLower(out), hexKey) ||
				strings.Contains(out, fmt.Sprintf("%x", psk)) || strings.Contains(out, "83 117 112") {
				t.Fatalf("%s of %T leaks a secret: %s", verb, v, out)
			}
		}
	}
	if s := fmt.Sprint(m.PSK); s != "[redacted]" {
		t.Fatalf("PSK prints as %q", s)
	}
	// The bytes themselves are intact for the code that needs them.
	if string(m.PSK) != psk || len(mk.ESPKeyIn) != 20 {
		t.Fatal("secret content changed")
	}
}
