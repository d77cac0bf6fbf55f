package status

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/text.golden")

// TestWriteTextGolden pins the whole text layout, byte for byte: every
// row, the padding (in characters, so a user name with non-ASCII letters
// keeps the columns), the optional lines of each SA and the trailers.
func TestWriteTextGolden(t *testing.T) {
	var out bytes.Buffer
	WriteText(&out, &Report{Version: "1.2.3", Config: "/etc/tinyipsec/tinyipsec.toml", UptimeS: 3*86400 + 7*3600 + 5*60 + 9})
	WriteText(&out, &Report{
		Version: "dev", Config: "/etc/config/tinyipsec", UptimeS: 59,
		IKESAs: []IKESA{
			{Peer: "192.0.2.2", Local: "192.0.2.1", CryptoMap: "vpn/10", Role: "initiator", Type: "L2L", State: "MM_ACTIVE",
				Exchange: "main", Encryption: "aes256", Hash: "sha256", Group: 14, Auth: "preshared", LifetimeLeftS: 86012, NATT: true,
				RemoteID: "dn:C=CH, O=Example Corporation, CN=gw.example", RemotePort: 500},
			{Peer: "198.51.100.7", Role: "responder", Type: "RA", State: "MM_ACTIVE", Rekey: true, Encryption: "aes128", Hash: "sha1",
				Group: 2, Auth: "preshared", LifetimeLeftS: 5, Exchange: "aggressive", RemoteAccess: "active", User: "zoë-müller",
				Assigned: "10.9.0.10", DNS: []string{"10.1.0.53", "10.1.0.54"}, Split: []string{"10.1.0.0/16", "10.2.0.0/16"},
				RemoteID: "fqdn:spöke.example", RemotePort: 4500},
			{Peer: "203.0.113.9", Role: "responder", Type: "RA", State: "MM_WAIT_MSG5", RemoteAccess: "configuring", User: "bob",
				Assigned: "10.9.0.11", Hint: "no proposal chosen: check the isakmp_policy"},
			{Peer: "203.0.113.10", Role: "initiator", Type: "L2L", State: "MM_SA_SETUP", RemoteAccess: "waiting-for-xauth"},
		},
		IPsecSAs: []IPsecSA{
			{Peer: "192.0.2.2", Local: "192.0.2.1", CryptoMap: "vpn/10", LocalSelector: "10.1.0.0/24", RemoteSelector: "10.2.0.0/24",
				Protocol: "esp", Mode: "tunnel", SPIIn: "0xc0ffee01", SPIOut: "0x0badf00d", Encryption: "aes256gcm16", Keying: "isakmp",
				LifetimeLeftS: 3500, LifetimeLeftKB: 4000, PktsIn: 12, PktsOut: 1 << 40, BytesIn: 1200, BytesOut: 18446744073709551615,
				Drops: map[string]uint64{"replay": 3, "auth": 1, "bad-padding": 1 << 33}},
			{Peer: "192.0.2.3", LocalSelector: "10.1.0.1/32", RemoteSelector: "10.3.0.0/16", Protocol: "ah+esp", Mode: "transport",
				SPIIn: "0x00001000", SPIOut: "0x00001001", Encryption: "aes128", Integrity: "sha256", LifetimeLeftS: -1, WithoutIKESA: true},
			{Peer: "192.0.2.4", Protocol: "ah", Mode: "tunnel", Integrity: "sha1", Keying: "manual", LifetimeLeftS: 0},
		},
		Drops:       map[string]uint64{"no-sa": 7, "queue-full": 2},
		Bypassed:    42,
		KernelDrops: map[string]uint64{"tun_tx": 9},
		IKEDrops:    map[string]uint64{"malformed": 1, "replay": 4},
		IKEHalfOpen: 3,
	})
	golden := filepath.Join("testdata", "text.golden")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("text status differs from %s:\n%s", golden, out.Bytes())
	}
}
