package conf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFingerprint(t *testing.T) {
	base := doc(tPolicy, tTS, tACL, tMap)
	fp := func(text string) string {
		t.Helper()
		return mustParse(t, "f.toml", text).CryptoMaps[0].Fingerprint()
	}
	ref := fp(base)
	if ref != fp(base) {
		t.Fatal("same configuration, different fingerprints")
	}
	if fp("# a comment\n"+base) != ref {
		t.Fatal("a comment changed the fingerprint")
	}
	// Another map changing must not touch this one.
	if fp(doc(base, with(tMap, "seq = 20", "seq"))) != ref {
		t.Fatal("an unrelated map changed the fingerprint")
	}
	changes := map[string]string{
		"psk":            doc(tPolicy, tTS, tACL, with(tMap, `psk = "other"`, "psk")),
		"acl rule":       doc(tPolicy, tTS, "[acl.a1]\nrules = [\"permit ip 10.1.0.0 0.0.0.255 10.3.0.0 0.0.0.255\"]", tMap),
		"transform set":  doc(tPolicy, "[transform_set.ts1]\nesp = \"aes256gcm16\"", tACL, tMap),
		"policy":         doc(with(tPolicy, "group = 19", "group"), tTS, tACL, tMap),
		"second policy":  doc(tPolicy, with(tPolicy, "priority = 20", "priority"), tTS, tACL, tMap),
		"pfs":            doc(tPolicy, tTS, tACL, with(tMap, "pfs = 14")),
		"lifetime":       doc(tPolicy, tTS, tACL, with(tMap, "lifetime = 7200")),
		"peer":           doc(tPolicy, tTS, tACL, with(tMap, `peer = "192.0.2.3"`, "peer")),
		"replay window":  doc(tPolicy, tTS, tACL, with(tMap, "replay_window = 128")),
		"dpd":            doc(tPolicy, tTS, tACL, with(tMap, "dpd_delay = 10")),
		"remote id":      doc(tPolicy, tTS, tACL, with(tMap, `remote_id = "fqdn:x.example"`)),
		"transform list": doc(tPolicy, tTS, "[transform_set.ts2]\nesp = \"aes256gcm16\"", tACL, with(tMap, `transform_set = ["ts1", "ts2"]`, "transform_set")),
		"name":           doc(tPolicy, tTS, tACL, with(tMap, `name = "n"`, "name")),
		"seq":            doc(tPolicy, tTS, tACL, with(tMap, "seq = 11", "seq")),
		"match":          doc(tPolicy, tTS, tACL, "[acl.a2]\nrules = [\"permit ip 10.1.0.0 0.0.0.255 10.2.0.0 0.0.0.255\"]", with(tMap, `match = "a2"`, "match")),
		"lifetime kb":    doc(tPolicy, tTS, tACL, with(tMap, "lifetime_kb = 4608000")),
		"exchange":       doc(tPolicy, tTS, tACL, with(tMap, `exchange = "aggressive"`)),
		"initiate":       doc(tPolicy, tTS, tACL, with(tMap, `initiate = "always"`)),
		"dpd timeout":    doc(tPolicy, tTS, tACL, with(tMap, "dpd_timeout = 60")),
		"nat_t":          doc(tPolicy, tTS, tACL, with(tMap, `nat_t = "off"`)),
		"esn":            doc(tPolicy, tTS, tACL, with(tMap, "esn = true")),
		"local id":       doc(tPolicy, tTS, tACL, with(tMap, `local_id = "fqdn:me.example"`)),
		"manual keying":  doc(tPolicy, tTS, tACL, with(tMap, tManual, "psk")),
		"xauth client":   doc(tPolicy, tTS, with(tMap, "xauth_user = \"u\"\nxauth_password = \"p\"", "match")),
	}
	for what, text := range changes {
		if fp(text) == ref {
			t.Errorf("changing the %s kept the fingerprint", what)
		}
	}

	// Keys held in the configuration itself or read from a file: a new
	// key is a change, wherever it comes from.
	manual := func(key string) string {
		return fp(doc(tPolicy, tTS, tACL, with(tMap, strings.Replace(tManual, "00112233", key, 1), "psk")))
	}
	if manual("00112233") == manual("00112234") {
		t.Error("a new manual key kept the fingerprint")
	}
	xauth := func(pw string) string {
		return fp(doc(tPolicy, tTS, with(tMap, "xauth_user = \"u\"\nxauth_password = \""+pw+"\"", "match")))
	}
	if xauth("p1") == xauth("p2") {
		t.Error("a new XAUTH password kept the fingerprint")
	}
	pskDir := t.TempDir()
	pskText := doc(tPolicy, tTS, tACL, with(tMap, `psk_file = "k.psk"`, "psk"))
	os.WriteFile(filepath.Join(pskDir, "k.psk"), []byte("first-key\n"), 0o600)
	pskFP := func() string {
		c, err := Parse(filepath.Join(pskDir, "t.toml"), []byte(pskText))
		if err != nil {
			t.Fatal(err)
		}
		return c.CryptoMaps[0].Fingerprint()
	}
	firstKey := pskFP()
	os.WriteFile(filepath.Join(pskDir, "k.psk"), []byte("second-key\n"), 0o600)
	if pskFP() == firstKey {
		t.Error("a new key in the psk_file kept the fingerprint")
	}

	// A renewed certificate (same path, new content) is a change too.
	dir := t.TempDir()
	for _, n := range []string{"c.pem", "k.pem", "ca.pem"} {
		os.WriteFile(filepath.Join(dir, n), []byte("one"), 0o600)
	}
	certText := doc(strings.Replace(tPolicy, "pre-share", "rsa-sig", 1), tTS, tACL,
		with(tMap, "cert = \"c.pem\"\nkey = \"k.pem\"\nca = \"ca.pem\"", "psk"))
	load := func() string {
		c, err := Parse(filepath.Join(dir, "t.toml"), []byte(certText))
		if err != nil {
			t.Fatal(err)
		}
		return c.CryptoMaps[0].Fingerprint()
	}
	before := load()
	os.WriteFile(filepath.Join(dir, "c.pem"), []byte("two"), 0o600)
	if load() == before {
		t.Error("a new certificate kept the fingerprint")
	}
}

func TestConfigEqual(t *testing.T) {
	text := doc(tPolicy, tTS, tACL, tMap)
	a := mustParse(t, "a.toml", text)
	b := mustParse(t, "b.toml", text)
	c := mustParse(t, "c.toml", doc("[global]\nmtu = 1300", tPolicy, tTS, tACL, tMap))
	if !a.Equal(b) || a.Equal(c) || a.Equal(nil) || !(*Config)(nil).Equal(nil) {
		t.Fatal("Equal is wrong")
	}
	// The running configuration's ACLs are compiled (the data plane and
	// IKE ask for List); the same file loaded again is still equal.
	for _, l := range a.ACLs {
		l.List()
	}
	if !a.Equal(b) || !b.Equal(a) {
		t.Fatal("a compiled ACL made the same file unequal")
	}
	rule := mustParse(t, "d.toml", doc(tPolicy, tTS, "[acl.a1]\nrules = [\"permit ip 10.1.0.0 0.0.0.255 10.3.0.0 0.0.0.255\"]", tMap))
	if a.Equal(rule) || rule.Equal(a) {
		t.Fatal("a changed ACL rule kept the configuration equal")
	}

	// What the settings name rather than hold: a new key in a psk_file
	// (a map's or the keyring's) or a new users file is a change.
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	fileText := doc(tPolicy, tTS, tACL, with(tMap, `psk_file = "k.psk"`, "psk"),
		"[[keyring]]\naddress = \"192.0.2.9\"\npsk_file = \"r.psk\"",
		with(tRAGateway(users), "seq = 20", "seq"))
	load := func() *Config {
		t.Helper()
		c, err := Parse(filepath.Join(dir, "t.toml"), []byte(fileText))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	first := map[string]string{"k.psk": "map-key-1\n", "r.psk": "ring-key-1\n", "users": "alice:" + testUserHash + "\n"}
	second := map[string]string{"k.psk": "map-key-2\n", "r.psk": "ring-key-2\n", "users": "bob:" + testUserHash + "\n"}
	for changed := range first {
		for name, content := range first {
			os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600)
		}
		before := load()
		if !before.Equal(load()) {
			t.Fatal("the same files loaded twice are not equal")
		}
		os.WriteFile(filepath.Join(dir, changed), []byte(second[changed]), 0o600)
		if before.Equal(load()) {
			t.Errorf("a new %s kept the configuration equal", changed)
		}
	}
}
