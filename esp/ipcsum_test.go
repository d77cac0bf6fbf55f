package esp

import (
	"encoding/binary"
	"testing"
)

// TestIPv4Checksum compares the word-wise checksum with a plain RFC 1071
// 16-bit sum.
func TestIPv4Checksum(t *testing.T) {
	ref := func(b []byte) uint16 {
		var s uint32
		for i := 0; i+1 < len(b); i += 2 {
			s += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			s += uint32(b[len(b)-1]) << 8
		}
		for s > 0xffff {
			s = s>>16 + s&0xffff
		}
		return ^uint16(s)
	}
	b := make([]byte, 61)
	for i := range b {
		b[i] = byte(0xff - i*3)
	}
	for n := 0; n <= len(b); n++ {
		if got, want := ipv4Checksum(b[:n]), ref(b[:n]); got != want {
			t.Fatalf("len %d: %#x want %#x", n, got, want)
		}
	}
	ff := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	if got, want := ipv4Checksum(ff), ref(ff); got != want {
		t.Fatalf("all ones: %#x want %#x", got, want)
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
