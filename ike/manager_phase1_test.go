package ike

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tinyipsec/conf"
	"tinyipsec/internal/testconf"
)

// The certificate, key and CA are read once, by conf when it loads the
// configuration, and parsed once per crypto map: a phase 1 started after
// the files are gone still has them, and every phase 1 of the map uses
// the same parsed credentials.
func TestCredentialsReadOnce(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"left.crt", "left.key", "ca.crt"} {
		b, err := os.ReadFile(filepath.Join(vectorDir("mm-rsa-sig"), n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	text := tisConn{Peer: "192.0.2.2", Local: "192.0.2.1",
		Policy: strings.Replace(testconf.DefaultPolicy, "pre-share", "rsa-sig", 1),
		ACL:    "permit ip 10.1.0.0 0.0.0.255 10.2.0.0 0.0.0.255",
		Cert:   filepath.Join(dir, "left.crt"), Key: filepath.Join(dir, "left.key"), CA: filepath.Join(dir, "ca.crt"),
	}.TOML("")
	cfg, err := conf.Parse(filepath.Join(dir, "t.toml"), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"left.crt", "left.key", "ca.crt"} {
		os.Remove(filepath.Join(dir, n))
	}
	m, err := NewManager(Config{Conf: cfg, Transport: &memTransport{&memNet{peers: map[netip.Addr]*Manager{}}}, DataPlane: &memPlane{}})
	if err != nil {
		t.Fatal(err)
	}
	ms := m.maps[0]
	var first *Credentials
	for i := range 2 {
		sa := &ikeSA{ms: ms, initiator: true, local: netip.MustParseAddrPort("192.0.2.1:500"), remote: netip.MustParseAddrPort("192.0.2.2:500")}
		c, err := m.phase1ConfigFor(sa, false)
		if err != nil {
			t.Fatalf("phase 1 %d: %v", i, err)
		}
		if c.Creds == nil || (first != nil && c.Creds != first) {
			t.Fatalf("phase 1 %d: credentials %p, want the first phase 1's %p", i, c.Creds, first)
		}
		first = c.Creds
	}
}
