package esp

import (
	"encoding/binary"

	"tinyipsec/internal/header"
)

// ICMP errors for packets too big for the tunnel. The error is written
// back into the TUN, from the packet's own destination to its sender: the
// kernel delivers it to the sending socket (or forwards it to a LAN host)
// and path MTU discovery lowers the MTU for that destination. Using the
// inner destination as the source keeps reverse-path filtering happy, since
// that address is routed into the TUN.

const (
	icmp4Quote = 548 - 28 // RFC 1812 §4.3.2.3: at most 576 bytes in all; 548 is safe
	icmp6Max   = 1280     // RFC 4443 §2.4 (c): never exceed the minimum IPv6 MTU
	icmpMaxLen = icmp6Max // scratch buffer size
)

// buildTooBig writes into dst an ICMP "fragmentation needed" (IPv4) or
// ICMPv6 "packet too big" for pkt, announcing mtu, and returns its length;
// 0 when no error may be sent (for an ICMP error, a multicast or malformed
// packet).
func buildTooBig(dst, pkt []byte, mtu int) int {
	switch {
	case len(pkt) >= header.IPv4MinLen && header.Version(pkt) == 4:
		return buildFragNeeded4(dst, pkt, mtu)
	case len(pkt) >= header.IPv6Len && header.Version(pkt) == 6:
		return buildPacketTooBig6(dst, pkt, mtu)
	}
	return 0
}

func buildFragNeeded4(dst, pkt []byte, mtu int) int {
	ip := header.IPv4(pkt)
	ihl := ip.HeaderLen()
	if ihl < header.IPv4MinLen || len(pkt) < ihl {
		return 0
	}
	if ip.Dst()[0] >= 224 || ip.FragOffset() != 0 {
		return 0 // multicast/broadcast destination, or a non-first fragment
	}
	if ip.Protocol() == header.ProtoICMP && len(pkt) > ihl {
		switch pkt[ihl] { // never answer an ICMP error with one
		case 3, 4, 5, 11, 12:
			return 0
		}
	}
	q := min(len(pkt), icmp4Quote)
	n := 28 + q
	if len(dst) < n {
		return 0
	}
	h := header.IPv4(dst[:header.IPv4MinLen])
	h[0] = 4<<4 | header.IPv4MinLen/4 // version, IHL: no options
	h.SetTOS(0xc0)                    // internetwork control, as routers send errors
	h.SetTotalLen(n)
	h.SetID(0)
	h.SetFlagsFrag(0)
	h.SetTTL(64)
	h.SetProtocol(header.ProtoICMP)
	h.SetChecksum(0)
	copy(h.Src(), ip.Dst())
	copy(h.Dst(), ip.Src())
	h.SetChecksum(^onesSum(0, h))
	m := dst[header.IPv4MinLen:n]
	m[0], m[1] = 3, 4
	m[2], m[3], m[4], m[5] = 0, 0, 0, 0
	binary.BigEndian.PutUint16(m[6:], uint16(mtu))
	copy(m[8:], pkt[:q])
	binary.BigEndian.PutUint16(m[2:], ^onesSum(0, m))
	return n
}

func buildPacketTooBig6(dst, pkt []byte, mtu int) int {
	ip := header.IPv6(pkt)
	if ip.Dst()[0] == 0xff {
		return 0 // multicast destination
	}
	if ip.NextHeader() == header.ProtoICMPv6 && len(pkt) > header.IPv6Len && pkt[header.IPv6Len] < 128 {
		return 0 // an ICMPv6 error (types below 128)
	}
	q := min(len(pkt), icmp6Max-48)
	n := 48 + q
	if len(dst) < n {
		return 0
	}
	h := header.IPv6(dst[:header.IPv6Len])
	h.SetVersionClass(0)
	h.SetPayloadLen(8 + q)
	h.SetNextHeader(header.ProtoICMPv6)
	h.SetHopLimit(64)
	copy(h.Src(), ip.Dst())
	copy(h.Dst(), ip.Src())
	m := dst[header.IPv6Len:n]
	m[0], m[1], m[2], m[3] = 2, 0, 0, 0
	binary.BigEndian.PutUint32(m[4:], uint32(mtu))
	copy(m[8:], pkt[:q])
	// Pseudo-header: source, destination, upper-layer length, next header.
	sum := onesSum(0, h.Addrs())
	sum = onesAdd(sum, uint32(len(m)))
	sum = onesAdd(sum, 58)
	binary.BigEndian.PutUint16(m[2:], ^onesSum(sum, m))
	return n
}

// onesSum adds b to the Internet checksum accumulator (RFC 1071) and
// returns the folded 16-bit sum.
func onesSum(acc uint16, b []byte) uint16 {
	s := uint32(acc)
	for len(b) >= 2 {
		s += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

func onesAdd(acc uint16, v uint32) uint16 {
	s := uint32(acc) + v>>16 + v&0xffff
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}
