package header

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"testing"
)

// TestIPv4UDPESP writes an IPv4 + UDP + ESP header with the setters and
// compares the bytes with a packet written out by hand from RFC 791, 768
// and 4303, then reads every field back.
func TestIPv4UDPESP(t *testing.T) {
	want, _ := hex.DecodeString("" +
		"45b8002c1234400040110000c0000201c6336402" + // IPv4: TOS 0xb8, len 44, ID 0x1234, DF, TTL 64, UDP
		"11941194001800ff" + // UDP 4500 -> 4500, length 24, checksum 0x00ff
		"0000abcd00000007" + // ESP SPI 0xabcd, seq 7
		"0102030405060708")
	b := make([]byte, len(want))
	ip := IPv4(b)
	b[0] = 0x45
	ip.SetTOS(0xb8)
	ip.SetTotalLen(44)
	ip.SetID(0x1234)
	ip.SetFlagsFrag(IPv4DontFragment)
	ip.SetTTL(64)
	ip.SetProtocol(ProtoUDP)
	copy(ip.Src(), []byte{192, 0, 2, 1})
	copy(ip.Dst(), []byte{198, 51, 100, 2})
	UDP(b[20:]).Set(4500, 4500, 24, 0x00ff)
	ESP(b[28:]).Set(0xabcd, 1<<32|7)
	copy(b[36:], want[36:])
	if !bytes.Equal(b, want) {
		t.Fatalf("got  %x\nwant %x", b, want)
	}
	if Version(b) != 4 || ip.HeaderLen() != 20 || ip.TOS() != 0xb8 || ip.TotalLen() != 44 || ip.ID() != 0x1234 ||
		!ip.DontFragment() || ip.IsFragment() || ip.TTL() != 64 || ip.Protocol() != ProtoUDP ||
		!bytes.Equal(ip.Addrs(), want[12:20]) {
		t.Errorf("IPv4 fields read back wrong from %x", b[:20])
	}
	u := UDP(b[20:])
	if u.SrcPort() != 4500 || u.DstPort() != 4500 || u.Length() != 24 || !bytes.Equal(u.Ports(), want[20:24]) {
		t.Errorf("UDP fields read back wrong from %x", b[20:28])
	}
	if e := ESP(b[28:]); e.SPI() != 0xabcd || e.Seq() != 7 {
		t.Errorf("ESP fields read back wrong from %x", b[28:36])
	}
	ip.SetFlagsFrag(IPv4MoreFragments | 3)
	if !ip.IsFragment() || ip.FragOffset() != 3 || ip.DontFragment() {
		t.Errorf("fragment fields wrong in %x", b[6:8])
	}
}

// TestIPv6TCPAH does the same for IPv6, TCP and AH.
func TestIPv6TCPAH(t *testing.T) {
	b := make([]byte, 40+24)
	ip := IPv6(b)
	ip.SetVersionClass(0xb8)
	ip.SetPayloadLen(24)
	ip.SetNextHeader(ProtoAH)
	ip.SetHopLimit(64)
	ip.Src()[15], ip.Dst()[15] = 1, 2
	want, _ := hex.DecodeString("6b800000" + "0018" + "33" + "40")
	if !bytes.Equal(b[:8], want) || b[23] != 1 || b[39] != 2 {
		t.Fatalf("IPv6 header %x", b[:40])
	}
	if ip.TrafficClass() != 0xb8 || ip.PayloadLen() != 24 || ip.NextHeader() != ProtoAH || ip.HopLimit() != 64 {
		t.Errorf("IPv6 fields read back wrong")
	}
	a := AH(b[40:])
	a.Set(ProtoTCP, 0x01020304, 9)
	want, _ = hex.DecodeString("0604000001020304000000090000000000000000000000000000000000000000")
	if !bytes.Equal(b[40:], want[:24]) {
		t.Fatalf("AH header %x, want %x", b[40:], want[:24])
	}
	if a.NextHeader() != ProtoTCP || a.Len() != 24 || a.SPI() != 0x01020304 || a.Seq() != 9 || len(a.ICV()) != 12 {
		t.Errorf("AH fields read back wrong")
	}

	seg := make([]byte, 20)
	tcp := TCP(seg)
	seg[12] = 5 << 4
	tcp.SetSeq(0xfffff000)
	tcp.SetFlags(TCPFlagACK | TCPFlagPSH)
	tcp.SetChecksum(0xbeef)
	want, _ = hex.DecodeString("00000000fffff0000000000050180000beef0000")
	if !bytes.Equal(seg, want) || tcp.HeaderLen() != 20 || tcp.Seq() != 0xfffff000 || tcp.Ack() != 0 {
		t.Errorf("TCP header %x, want %x", seg, want)
	}
}

// TestChecksum compares ChecksumAdd and ChecksumFold with the textbook
// sum of 16-bit words (RFC 1071 section 4.1) on every length and offset
// of random data, including odd lengths and sums that carry.
func TestChecksum(t *testing.T) {
	ref := func(b []byte) uint16 {
		var s uint32
		for i := 0; i+1 < len(b); i += 2 {
			s += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			s += uint32(b[len(b)-1]) << 8
		}
		for s>>16 != 0 {
			s = s&0xffff + s>>16
		}
		return uint16(s)
	}
	b := make([]byte, 300)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	for off := 0; off < 8; off++ {
		for n := 0; off+n <= len(b); n++ {
			if got, want := ChecksumFold(ChecksumAdd(0, b[off:off+n])), ref(b[off:off+n]); got != want {
				t.Fatalf("offset %d length %d: %#04x, want %#04x", off, n, got, want)
			}
		}
	}
	ff := bytes.Repeat([]byte{0xff}, 1<<16)
	if got := ChecksumFold(ChecksumAdd(0, ff)); got != 0xffff {
		t.Fatalf("all ones: %#04x", got)
	}
}
