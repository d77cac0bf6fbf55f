package esp

import (
	"net/netip"
	"testing"

	"tinyipsec/acl"
)

// TestACLSelector: the selectors IKE negotiates plug in directly, and the
// inbound check stays allocation-free.
func TestACLSelector(t *testing.T) {
	po, pi := pairParams(suite{ProtoESP, "aes128gcm16", "", ""}, Tunnel, false, false, false)
	// The receiver's view: local 10.2.0.0/24 behind it, remote 10.1.0.0/24 behind the sender.
	pi.Selector = acl.Selector{
		Local:  netip.MustParsePrefix("10.2.0.0/24"),
		Remote: netip.MustParsePrefix("10.1.0.0/24"),
	}
	pi.ReplayWindow = 0
	out, in := mustPair(t, po, pi)
	good := encapCopy(t, out, innerFor(po, false, 100)) // 10.1.0.5 -> 10.2.0.7
	if _, err := decapCopy(in, good); err != nil {
		t.Fatalf("matching packet: %v", err)
	}
	bad := innerFor(po, false, 100)
	copy(bad[12:16], []byte{10, 3, 0, 1})
	setIPv4Checksum(bad[:20])
	if _, err := decapCopy(in, encapCopy(t, out, bad)); err != ErrPolicy {
		t.Fatalf("foreign source: %v, want ErrPolicy", err)
	}
	if a := decapAllocs(t, in, good); a != 0 {
		t.Fatalf("Decap with an acl.Selector: %v allocs", a)
	}
}
