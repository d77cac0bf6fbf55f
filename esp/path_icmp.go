package esp

import "encoding/binary"

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
	case len(pkt) >= 20 && pkt[0]>>4 == 4:
		return buildFragNeeded4(dst, pkt, mtu)
	case len(pkt) >= 40 && pkt[0]>>4 == 6:
		return buildPacketTooBig6(dst, pkt, mtu)
	}
	return 0
}

func buildFragNeeded4(dst, pkt []byte, mtu int) int {
	ihl := int(pkt[0]&0x0f) * 4
	if ihl < 20 || len(pkt) < ihl {
		return 0
	}
	if pkt[16] >= 224 || binary.BigEndian.Uint16(pkt[6:8])&0x1fff != 0 {
		return 0 // multicast/broadcast destination, or a non-first fragment
	}
	if pkt[9] == 1 && len(pkt) > ihl {
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
	h := dst[:20]
	h[0], h[1] = 0x45, 0xc0
	binary.BigEndian.PutUint16(h[2:], uint16(n))
	binary.BigEndian.PutUint32(h[4:], 0)
	h[8], h[9] = 64, 1
	h[10], h[11] = 0, 0
	copy(h[12:16], pkt[16:20])
	copy(h[16:20], pkt[12:16])
	binary.BigEndian.PutUint16(h[10:], ^onesSum(0, h))
	m := dst[20:n]
	m[0], m[1] = 3, 4
	m[2], m[3], m[4], m[5] = 0, 0, 0, 0
	binary.BigEndian.PutUint16(m[6:], uint16(mtu))
	copy(m[8:], pkt[:q])
	binary.BigEndian.PutUint16(m[2:], ^onesSum(0, m))
	return n
}

func buildPacketTooBig6(dst, pkt []byte, mtu int) int {
	if pkt[24] == 0xff {
		return 0 // multicast destination
	}
	if pkt[6] == 58 && len(pkt) > 40 && pkt[40] < 128 {
		return 0 // an ICMPv6 error
	}
	q := min(len(pkt), icmp6Max-48)
	n := 48 + q
	if len(dst) < n {
		return 0
	}
	h := dst[:40]
	binary.BigEndian.PutUint32(h[0:], 6<<28)
	binary.BigEndian.PutUint16(h[4:], uint16(8+q))
	h[6], h[7] = 58, 64
	copy(h[8:24], pkt[24:40])
	copy(h[24:40], pkt[8:24])
	m := dst[40:n]
	m[0], m[1], m[2], m[3] = 2, 0, 0, 0
	binary.BigEndian.PutUint32(m[4:], uint32(mtu))
	copy(m[8:], pkt[:q])
	// Pseudo-header: source, destination, upper-layer length, next header.
	sum := onesSum(0, h[8:40])
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
