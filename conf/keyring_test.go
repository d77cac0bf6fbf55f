package conf

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tDynMap is tMap for any peer, keyed by the keyring.
var tDynMap = with(tMap, `peer = "dynamic"`, "peer", "psk")

func TestKeyringValid(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "s3.psk"), []byte("key-three\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := mustParse(t, filepath.Join(dir, "t.toml"), doc(tPolicy, tTS, tACL, tDynMap, `
[[keyring]]
address = "198.51.100.0/24"
psk = "net-key"

[[keyring]]
address = "198.51.100.7"
psk = "host-key"

[[keyring]]
identity = "fqdn:Spoke3.Example"
psk_file = "s3.psk"

[[keyring]]
address = "2001:db8::/32"
psk = "v6-key"
`))
	if len(c.Keyring) != 4 || c.CryptoMaps[0].PSK != nil {
		t.Fatalf("keyring %v, map psk %v", c.Keyring, c.CryptoMaps[0].PSK)
	}
	fqdn := Identity{Type: "fqdn", Value: "spoke3.example"}
	other := Identity{Type: "fqdn", Value: "spoke4.example"}
	for _, tc := range []struct {
		addr string
		id   *Identity
		want string
	}{
		{"198.51.100.7", nil, "host-key"},       // most specific wins over the /24
		{"198.51.100.8", nil, "net-key"},        // the /24
		{"::ffff:198.51.100.8", nil, "net-key"}, // mapped address from a dual-stack socket
		{"198.51.100.7", &fqdn, "key-three"},    // Aggressive Mode: identity first
		{"198.51.100.7", &other, "host-key"},    // unknown identity: by address
		{"2001:db8::5", nil, "v6-key"},
		{"203.0.113.1", nil, ""},
	} {
		e := c.KeyringFor(netip.MustParseAddr(tc.addr), tc.id)
		got := ""
		if e != nil {
			got = string(e.PSK)
		}
		if got != tc.want {
			t.Errorf("KeyringFor(%s, %v) = %q, want %q", tc.addr, tc.id, got, tc.want)
		}
	}
	// The keys never print.
	if s := fmt.Sprintf("%v %+v %s %#v", c.Keyring, c.Keyring[0], &c.Keyring[1], c.Keyring); strings.Contains(s, "key") {
		t.Errorf("a key prints: %s", s)
	}
	if c.Keyring[2].Match() != "identity fqdn:spoke3.example" || c.Keyring[0].Match() != "address 198.51.100.0/24" {
		t.Errorf("Match: %s, %s", c.Keyring[2].Match(), c.Keyring[0].Match())
	}
}

func TestKeyringErrors(t *testing.T) {
	dir := t.TempDir()
	world := filepath.Join(dir, "world.psk")
	if err := os.WriteFile(world, []byte("k"), 0o644); err != nil {
		t.Fatal(err)
	}
	certPolicy := strings.Replace(tPolicy, "pre-share", "rsa-sig", 1)
	for _, tc := range []struct{ name, text, key, msg string }{
		{"no keyring, no psk", doc(tPolicy, tTS, tACL, tDynMap), "crypto_map[0]", "or add [[keyring]] entries"},
		{"both", doc(tPolicy, tTS, tACL, tDynMap, "[[keyring]]\naddress = \"10.0.0.1\"\nidentity = \"fqdn:a\"\npsk = \"k\""), "keyring[0].identity", "not both"},
		{"neither", doc(tPolicy, tTS, tACL, tDynMap, "[[keyring]]\npsk = \"k\""), "keyring[0].address", "missing"},
		{"bad address", doc(tPolicy, tTS, tACL, tDynMap, "[[keyring]]\naddress = \"10.0.0.1/33\"\npsk = \"k\""), "keyring[0].address", "not an address or prefix"},
		{"host bits", doc(tPolicy, tTS, tACL, tDynMap, "[[keyring]]\naddress = \"10.0.0.1/24\"\npsk = \"k\""), "keyring[0].address", "not an address or prefix"},
		{"dn", doc(tPolicy, tTS, tACL, tDynMap, "[[keyring]]\nidentity = \"dn:CN=x\"\npsk = \"k\""), "keyring[0].identity", "certificate"},
		{"no key", doc(tPolicy, tTS, tACL, tDynMap, "[[keyring]]\naddress = \"10.0.0.1\""), "keyring[0].psk", "missing"},
		{"empty key", doc(tPolicy, tTS, tACL, tDynMap, "[[keyring]]\naddress = \"10.0.0.1\"\npsk = \"\""), "keyring[0].psk", "must not be empty"},
		{"world-readable", doc(tPolicy, tTS, tACL, tDynMap, "[[keyring]]\naddress = \"10.0.0.1\"\npsk_file = \""+world+"\""), "keyring[0].psk_file", "readable by every user"},
		{"duplicate", doc(tPolicy, tTS, tACL, tDynMap, "[[keyring]]\naddress = \"10.0.0.0/8\"\npsk = \"a\"\n[[keyring]]\naddress = \"10.0.0.0/8\"\npsk = \"b\""), "keyring[1].address", "already has a key in keyring[0]"},
		{"unknown key", doc(tPolicy, tTS, tACL, tDynMap, "[[keyring]]\naddress = \"10.0.0.1\"\npsk = \"k\"\nmask = 1"), "keyring[0].mask", "unknown key"},
		{"no pre-share policy", doc(certPolicy, tTS, tACL, with(tMap, "cert = \"c\"\nkey = \"k\"\nca = \"a\"", "psk"), "[[keyring]]\naddress = \"10.0.0.1\"\npsk = \"k\""), "keyring", "no isakmp_policy uses"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(filepath.Join(dir, "t.toml"), []byte(tc.text))
			if err == nil {
				t.Fatal("accepted")
			}
			found := false
			for _, e := range err.(Errors) {
				if e.Key == tc.key && strings.Contains(e.Msg, tc.msg) {
					found = true
				}
				if strings.Contains(e.Error(), "psk = ") {
					t.Errorf("error quotes a key: %v", e)
				}
			}
			if !found {
				t.Errorf("want %s: %s, got:\n%v", tc.key, tc.msg, err)
			}
		})
	}
}
