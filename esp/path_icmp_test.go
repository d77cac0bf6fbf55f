package esp

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func TestPacketTooBig6(t *testing.T) {
	pkt := make([]byte, 1400)
	pkt[0] = 0x60
	binary.BigEndian.PutUint16(pkt[4:], 1360)
	pkt[6], pkt[7] = 17, 64
	copy(pkt[8:24], []byte{0x20, 0x01, 0x0d, 0xb8, 1, 15: 1})
	copy(pkt[24:40], []byte{0x20, 0x01, 0x0d, 0xb8, 2, 15: 1})
	dst := make([]byte, icmpMaxLen)
	n := buildTooBig(dst, pkt, 1300)
	if n != 1280 {
		t.Fatalf("length %d, want 1280 (the IPv6 minimum MTU)", n)
	}
	m := dst[:n]
	if m[6] != 58 || m[40] != 2 || binary.BigEndian.Uint32(m[44:]) != 1300 {
		t.Fatalf("header % x", m[:48])
	}
	if !bytes.Equal(m[8:24], pkt[24:40]) || !bytes.Equal(m[24:40], pkt[8:24]) || !bytes.Equal(m[48:], pkt[:n-48]) {
		t.Fatal("addresses or quote wrong")
	}
	// The checksum over pseudo-header and message must verify.
	sum := onesSum(0, m[8:40])
	sum = onesAdd(sum, uint32(n-40))
	sum = onesAdd(sum, 58)
	if onesSum(sum, m[40:]) != 0xffff {
		t.Fatal("bad ICMPv6 checksum")
	}
	// Never answer ICMP errors or multicast.
	pkt[6], pkt[40] = 58, 1
	if buildTooBig(dst, pkt, 1300) != 0 {
		t.Fatal("answered an ICMPv6 error")
	}
	pkt[6], pkt[24] = 17, 0xff
	if buildTooBig(dst, pkt, 1300) != 0 {
		t.Fatal("answered a multicast packet")
	}
}
