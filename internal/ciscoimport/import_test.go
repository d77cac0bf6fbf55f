package ciscoimport

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"tinyipsec/conf"
)

// convertFile converts a sample, writes a psk_file for every key the sample
// hides (as the admin would), and loads the result with conf, the parser
// and validator behind "tinyipsec check".
func convertFile(t *testing.T, name string) (*Result, *conf.Config) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	res, err := Convert(src, Options{PSKDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`psk_file = "([^"]+)"`).FindAllSubmatch(res.TOML, -1) {
		if err := os.WriteFile(string(m[1]), []byte("clear-key-from-admin\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "out.toml")
	if err := os.WriteFile(out, res.TOML, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.Load(out)
	if err != nil {
		t.Fatalf("converted %s does not pass check:\n%v\n%s", name, err, res.TOML)
	}
	return res, cfg
}

type wantMap struct {
	id, peer, match, psk string
	ts                   []string
	pfs                  int
	lifetime             int // seconds
	exchange             string
}

func checkMaps(t *testing.T, cfg *conf.Config, want []wantMap) {
	t.Helper()
	got := map[string]*conf.CryptoMap{}
	for _, m := range cfg.CryptoMaps {
		got[m.ID()] = m
	}
	if len(got) != len(want) {
		ids := []string{}
		for id := range got {
			ids = append(ids, id)
		}
		t.Errorf("crypto maps %v, want %d", ids, len(want))
	}
	for _, w := range want {
		m := got[w.id]
		if m == nil {
			t.Errorf("crypto map %s missing", w.id)
			continue
		}
		if m.Peer != w.peer || m.Match != w.match || strings.Join(m.TransformSet, ",") != strings.Join(w.ts, ",") ||
			int(m.PFS) != w.pfs || int(m.Lifetime.Seconds()) != w.lifetime || string(m.Exchange) != w.exchange {
			t.Errorf("%s: peer %s match %s ts %v pfs %d lifetime %v exchange %s; want %+v",
				w.id, m.Peer, m.Match, m.TransformSet, m.PFS, m.Lifetime, m.Exchange, w)
		}
		if w.psk != "" && string(m.PSK) != w.psk {
			t.Errorf("%s: wrong pre-shared key", w.id)
		}
	}
}

// checkNotes wants a note on each listed line whose reason contains the
// text, and no note that shows a secret of the sample.
func checkNotes(t *testing.T, res *Result, want map[int]string, secrets []string) {
	t.Helper()
	for ln, text := range want {
		found := false
		for _, n := range res.Notes {
			if n.Line == ln && strings.Contains(n.Reason, text) {
				found = true
			}
		}
		if !found {
			t.Errorf("no note on line %d containing %q", ln, text)
		}
	}
	for _, n := range res.Notes {
		for _, s := range secrets {
			if strings.Contains(n.String(), s) {
				t.Errorf("note shows a secret: %s", n)
			}
		}
	}
}

func findMap(cfg *conf.Config, id string) *conf.CryptoMap {
	for _, m := range cfg.CryptoMaps {
		if m.ID() == id {
			return m
		}
	}
	return &conf.CryptoMap{}
}

func rules(cfg *conf.Config, name string) []string {
	var out []string
	for _, r := range cfg.ACLNamed(name).Rules {
		out = append(out, r.Text)
	}
	return out
}

func TestImportIOS(t *testing.T) {
	res, cfg := convertFile(t, "ios-branch.cfg")
	if res.Platform != "IOS" {
		t.Errorf("platform %s", res.Platform)
	}
	checkMaps(t, cfg, []wantMap{
		{id: "OUTSIDE-MAP/10", peer: "192.0.2.1", match: "VPN-TO-HQ", psk: "hq-s3cret-key", ts: []string{"TS-GCM", "TS-AES"}, pfs: 14, lifetime: 3600, exchange: "main"},
		{id: "OUTSIDE-MAP/20", peer: "198.51.100.10", match: "101", psk: "partner-key-7", ts: []string{"TS-LEGACY"}, pfs: 1, lifetime: 7200, exchange: "main"},
		{id: "OUTSIDE-MAP/30", peer: "203.0.113.70", match: "SPOKE-NETS", psk: "spokes-net-key", ts: []string{"TS-COMP"}, lifetime: 7200, exchange: "main"},
		{id: "OUTSIDE-MAP/50", peer: "198.51.100.77", match: "103", psk: "clear-key-from-admin", ts: []string{"TS-AES"}, lifetime: 7200, exchange: "main"},
		{id: "DYN/10", peer: "dynamic", match: "DYN-ACL", psk: "road-warrior-wild", ts: []string{"TS-AES"}, pfs: 19, lifetime: 7200, exchange: "main"},
	})
	if len(cfg.Policies) != 3 || cfg.Policies[1].Hash != "sha1" || cfg.Policies[1].Encryption != "aes128" || cfg.Policies[0].Lifetime.Seconds() != 28800 {
		t.Errorf("policies %+v", cfg.Policies)
	}
	if !cfg.Global.AllowWeak {
		t.Error("md5/group 2 policy and PFS group 1 need allow_weak")
	}
	if ts := cfg.TransformSetNamed("TS-HOSTS"); ts == nil || ts.Mode != "transport" || ts.AH != "sha1" || ts.ESP != "aes128" {
		t.Errorf("TS-HOSTS %+v", ts)
	}
	if got := strings.Join(rules(cfg, "VPN-TO-HQ"), "|"); got != "deny tcp host 10.1.0.5 any eq 22|permit ip 10.1.0.0/24 10.0.0.0/16|permit udp 10.1.0.0/24 host 10.0.1.53 eq domain" {
		t.Errorf("VPN-TO-HQ rules %s", got)
	}
	m := findMap(cfg, "OUTSIDE-MAP/10")
	if m.DPDDelay.Seconds() != 10 || m.DPDTimeout.Seconds() != 25 || m.LifetimeKB != 4608000 {
		t.Errorf("keepalive / kilobytes: %v %v %d", m.DPDDelay, m.DPDTimeout, m.LifetimeKB)
	}
	// The key by host name serves the dynamic map's Aggressive Mode peers.
	if len(cfg.Keyring) != 1 || cfg.Keyring[0].Identity.String() != "fqdn:spoke9.example.net" || string(cfg.Keyring[0].PSK) != "spoke-fqdn-key" {
		t.Errorf("keyring %v", cfg.Keyring)
	}
	if cfg.ACLNamed("NAT-EXEMPT") != nil {
		t.Error("an ACL no crypto map uses was carried over")
	}
	checkNotes(t, res, map[int]string{
		7:   "not IPsec",
		17:  "not IPsec",
		26:  "global keys",
		39:  "weak md5, group 2",
		46:  "rsa-encr is not supported",
		50:  "stored encrypted",
		63:  "comp-lzs",
		64:  "esp-seal is not supported",
		68:  "no tinyipsec equivalent",
		79:  "reverse route",
		83:  "backup peers",
		84:  "TS-SEAL was not carried over",
		85:  "weak PFS group1",
		91:  "manual keying",
		93:  "no tinyipsec equivalent",
		102: "NO-SUCH-ACL is missing",
		109: "crypto map binding",
		130: "contiguous wildcard",
		122: "not used by a crypto map",
	}, []string{"hq-s3cret-key", "partner-key-7", "Wd]ZPYAHVgEbEEHdHMeRaJZ_OOAAB", "spokes-net-key", "road-warrior-wild",
		"spoke-fqdn-key", "n0t-public", "T4cacsK3y", "0822455D0A16", "0123456789abcdef", "00112233445566778899", "$1$"})
}

func TestImportASA(t *testing.T) {
	res, cfg := convertFile(t, "asa-hq.cfg")
	if res.Platform != "ASA" {
		t.Errorf("platform %s", res.Platform)
	}
	checkMaps(t, cfg, []wantMap{
		{id: "OUTSIDE_MAP/10", peer: "198.51.100.2", match: "BR1-CRYPTO", psk: "br1-Pre-Shared", ts: []string{"AES256-SHA"}, pfs: 14, lifetime: 28800, exchange: "main"},
		{id: "OUTSIDE_MAP/20", peer: "198.51.100.3", match: "BR2-CRYPTO", psk: `br2"quoted\key`, ts: []string{"AES128-SHA"}, lifetime: 3600, exchange: "aggressive"},
		{id: "OUTSIDE_MAP/30", peer: "203.0.113.9", match: "PARTNER-CRYPTO", psk: "clear-key-from-admin", ts: []string{"3DES-MD5"}, lifetime: 3600, exchange: "main"},
		{id: "DYN-MAP/10", peer: "dynamic", match: "DYN-CRYPTO", psk: "dyn-wildcard-key", ts: []string{"AES256-SHA", "AES128-SHA"}, pfs: 14, lifetime: 3600, exchange: "main"},
	})
	if got := strings.Join(rules(cfg, "BR1-CRYPTO"), "|"); got != "permit ip 10.50.0.0/16 10.1.0.0/24|permit ip 10.0.0.0/16 10.1.0.0/24" &&
		got != "permit ip 10.0.0.0/16 10.1.0.0/24|permit ip 10.50.0.0/16 10.1.0.0/24" {
		t.Errorf("BR1-CRYPTO (object-group expansion) %s", got)
	}
	if got := strings.Join(rules(cfg, "PARTNER-CRYPTO"), "|"); got != "permit ip 10.0.0.0/16 host 172.16.30.5|permit ip 10.0.0.0/16 172.16.31.0/24" {
		t.Errorf("PARTNER-CRYPTO %s", got)
	}
	if ts := cfg.TransformSetNamed("HOST-TRANSPORT"); ts == nil || ts.Mode != "transport" || ts.ESP != "aes192" {
		t.Errorf("HOST-TRANSPORT %+v", ts)
	}
	if len(cfg.Policies) != 2 || cfg.Policies[0].Encryption != "aes256" || cfg.Policies[1].Group != 5 {
		t.Errorf("policies %+v", cfg.Policies)
	}
	if m := cfg.CryptoMaps[0]; m.ID() == "DYN-MAP/10" {
		t.Log("order", m.ID())
	}
	for _, m := range cfg.CryptoMaps {
		if m.ID() == "OUTSIDE_MAP/10" && (m.DPDDelay.Seconds() != 15 || m.DPDTimeout.Seconds() != 30) {
			t.Errorf("tunnel-group keepalive: %v %v", m.DPDDelay, m.DPDTimeout)
		}
	}
	checkNotes(t, res, map[int]string{
		10:  "not IPsec",
		29:  "not used by a crypto ACL",
		31:  "NAT",
		43:  "not used by a crypto map",
		47:  "range is not a prefix",
		49:  "service object groups",
		59:  "weak esp-md5-hmac",
		62:  "IKEv2",
		94:  "weak group 5",
		101: "not supported",
		125: "IKEv2",
		128: "hidden as *****",
		131: "LAN-to-LAN",
		133: "LAN-to-LAN",
	}, []string{"br1-Pre-Shared", `br2"quoted`, "ikev2-secret", "dyn-wildcard-key", "ra-group-key", "oBtmQPa8bEC0N0ti",
		"asa-community", "8Ry2YjIyt7RRXU24"})
}

// TestImportEmpty: a file with nothing of IPsec gives notes and a
// configuration that check refuses for lack of crypto maps, no panic.
func TestImportEdgeCases(t *testing.T) {
	for _, src := range []string{
		"",
		"hostname x\n",
		" indented first line\ncrypto map\ncrypto map M\ncrypto map M x\ncrypto map M 99999 ipsec-isakmp\n",
		"crypto isakmp key\ncrypto isakmp key 6\ncrypto isakmp key k address\ncrypto isakmp key k address 1.2.3.4 255.0.255.0\n",
		"access-list\naccess-list A extended\naccess-list A extended permit\naccess-list A extended permit ip object-group G any\n",
		"object-group network G\n group-object G\naccess-list A extended permit ip object-group G any\ncrypto map M 1 match address A\n",
		"crypto ipsec transform-set T\ncrypto ipsec transform-set T mode transport\ncrypto ipsec ikev1 transform-set T esp-gcm 192\n",
	} {
		res, err := Convert([]byte(src), Options{})
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		if _, err := conf.Parse("x.toml", res.TOML); err == nil && !strings.Contains(src, "crypto map M 1") {
			t.Errorf("%q: converted to a configuration without crypto maps that passes check:\n%s", src, res.TOML)
		}
	}
	if _, err := Convert([]byte("a\x00b"), Options{}); err == nil {
		t.Error("binary input accepted")
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"crypto isakmp key 6 SECRET address 1.2.3.4":                        "crypto isakmp key 6 <redacted> address 1.2.3.4",
		"crypto isakmp key SECRET address 1.2.3.4":                          "crypto isakmp key <redacted> address 1.2.3.4",
		"username a password 0 SECRET":                                      "username a password 0 <redacted>",
		"ikev1 pre-shared-key SECRET":                                       "ikev1 pre-shared-key <redacted>",
		"snmp-server community SECRET RO":                                   "snmp-server community <redacted> RO",
		"key 7":                                                             "key <redacted>",
		"ntp authentication-key 1 md5 SECRET 7":                             "ntp authentication-key 1 <redacted>",
		"crypto isakmp key 6 SECRET address 1.2.3.4 255.255.255.0 no-xauth": "crypto isakmp key 6 <redacted> address 1.2.3.4 255.255.255.0 no-xauth",
		"pre-shared-key address 10.0.0.0 255.0.0.0 key 0 SECRET":            "pre-shared-key address 10.0.0.0 255.0.0.0 key 0 <redacted>",
	} {
		if got := redact(strings.Fields(in)); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

var updateGolden = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// TestGolden pins the whole output byte for byte: the TOML and every
// note, for each sample in testdata (NAME.cfg against NAME.golden), so
// that a rewrite of the converter cannot change a word of what an admin
// reads. go test -run TestGolden -update rewrites the files after an
// intended change; review their diff.
func TestGolden(t *testing.T) {
	samples, err := filepath.Glob(filepath.Join("testdata", "*.cfg"))
	if err != nil || len(samples) == 0 {
		t.Fatal("no samples", err)
	}
	for _, in := range samples {
		src, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Convert(src, Options{})
		if err != nil {
			t.Fatal(in, err)
		}
		var got strings.Builder
		got.WriteString("platform " + res.Platform + "\n")
		for _, n := range res.Notes {
			got.WriteString(n.String() + "\n")
		}
		got.WriteString("----\n")
		got.Write(res.TOML)
		golden := strings.TrimSuffix(in, ".cfg") + ".golden"
		if *updateGolden {
			if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != string(want) {
			t.Errorf("%s: output differs from %s:\n%s", in, golden, got.String())
		}
	}
}

// TestTunnelGroupKeyCase: an ASA reads its commands without regard to
// case, and so does the importer: "IKEV1 PRE-SHARED-KEY 0 k" is the key
// k, not the key "PRE-SHARED-KEY".
func TestTunnelGroupKeyCase(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "asa-edge.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	const lower = " ikev1 pre-shared-key 0 ten-key\n"
	if !strings.Contains(string(src), lower) {
		t.Fatal("asa-edge.cfg no longer has the line this test changes")
	}
	upper := strings.Replace(string(src), lower, " IKEV1 PRE-SHARED-KEY 0 ten-key\n", 1)
	want, err := Convert(src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Convert([]byte(upper), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if string(got.TOML) != string(want.TOML) || !strings.Contains(string(want.TOML), "ten-key") {
		t.Errorf("upper case:\n%s\nlower case:\n%s", got.TOML, want.TOML)
	}
}
