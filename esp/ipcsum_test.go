package esp

import (
	"encoding/binary"
	"encoding/hex"
	"testing"
)

// TestIPv4Checksum: a header whose checksum is known (the arithmetic
// itself is checked against RFC 1071's reference sum in internal/header)
// gets that checksum, and a header with its checksum in place sums to
// zero.
func TestIPv4Checksum(t *testing.T) {
	h, _ := hex.DecodeString("450000730000400040110000c0a80001c0a800c7")
	if got := ipv4Checksum(h); got != 0xb861 {
		t.Fatalf("checksum %#04x, want 0xb861", got)
	}
	setIPv4Checksum(h)
	if h[10] != 0xb8 || h[11] != 0x61 || ipv4Checksum(h) != 0 {
		t.Fatalf("setIPv4Checksum wrote %x", h[10:12])
	}
}

// TestTransportNATChecksum: in transport mode over NAT-T the receiver sees
// NATed addresses; the delivered TCP/UDP checksum must be valid for them.
func TestTransportNATChecksum(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		po, pi := pairParams(suite{ProtoESP, "aes128gcm16", "", ""}, Transport, v6, false, true)
		out, in := mustPair(t, po, pi)
		pkt := innerFor(po, v6, 100)
		hl := 20
		if v6 {
			hl = 40
		}
		pkt[hl+6] = 0xff           // not "no checksum"
		fixL4Checksum(pkt, hl, 17) // a valid checksum from the sender's view
		wire := encapCopy(t, out, pkt)
		// A NAT on the way rewrites the source address.
		if v6 {
			wire[8+15] ^= 0x55
		} else {
			wire[15] ^= 0x55
			setIPv4Checksum(wire[:20])
		}
		got, err := decapCopy(in, wire)
		if err != nil {
			t.Fatal(err)
		}
		want := append([]byte(nil), got...)
		fixL4Checksum(want, hl, 17)
		if got[hl+6] == 0 && got[hl+7] == 0 {
			t.Fatal("checksum left empty")
		}
		if string(got) != string(want) {
			t.Fatalf("v6=%v: UDP checksum not valid after NAT: % x vs % x", v6, got[hl+6:hl+8], want[hl+6:hl+8])
		}
		if binary.BigEndian.Uint16(got[hl+6:]) == binary.BigEndian.Uint16(pkt[hl+6:]) {
			t.Fatalf("v6=%v: checksum unchanged although the address changed", v6)
		}
	}
}
