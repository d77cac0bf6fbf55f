package acl

import (
	"encoding/binary"
	"net/netip"

	"tinyipsec/internal/header"
)

// Tuple is the part of a packet an ACL looks at.
type Tuple struct {
	Src, Dst netip.Addr
	Proto    uint8
	// SrcPort and DstPort are set for TCP, UDP and SCTP; zero otherwise.
	SrcPort, DstPort uint16
	// Fragment marks a non-first fragment: it carries no transport
	// header, so its ports are unknown (and zero here).
	Fragment bool
}

// a128 is an address as two machine words, so that a prefix test is two
// AND+compare pairs instead of a byte loop. IPv4 lives in the low 32 bits
// of lo.
type a128 struct{ hi, lo uint64 }

func (a a128) and(m a128) a128 { return a128{a.hi & m.hi, a.lo & m.lo} }

// pktKey is Tuple in the form the matcher compares. fam is 4 or 6.
type pktKey struct {
	src, dst a128
	fam      uint8
	proto    uint8
	frag     bool
	sport    uint16
	dport    uint16
}

// maxExtHeaders bounds the IPv6 extension header walk; real traffic has
// one or two, and a chain longer than this is an evasion attempt.
const maxExtHeaders = 8

// IPv6 extension headers that may precede the transport header.
const (
	ipv6HopByHop = 0
	ipv6Routing  = 43
	ipv6Fragment = 44
	ipv6DestOpts = 60
)

// ParsePacket extracts the ACL tuple from a raw IPv4 or IPv6 packet (as read
// from the TUN device or after ESP decapsulation). It reports false for
// packets that are truncated or malformed, including a first fragment too
// short to hold the ports: such packets must be dropped, not classified,
// or a tiny first fragment could dodge a port rule.
func ParsePacket(pkt []byte) (Tuple, bool) {
	var k pktKey
	if !parseKey(pkt, &k) {
		return Tuple{}, false
	}
	return k.tuple(), true
}

func (k *pktKey) tuple() Tuple {
	t := Tuple{Proto: k.proto, SrcPort: k.sport, DstPort: k.dport, Fragment: k.frag}
	if k.fam == 4 {
		t.Src = netip.AddrFrom4(v4Bytes(uint32(k.src.lo)))
		t.Dst = netip.AddrFrom4(v4Bytes(uint32(k.dst.lo)))
	} else {
		t.Src = netip.AddrFrom16(v6Bytes(k.src))
		t.Dst = netip.AddrFrom16(v6Bytes(k.dst))
	}
	return t
}

func parseKey(pkt []byte, k *pktKey) bool {
	if len(pkt) < 1 {
		return false
	}
	var l4 []byte
	switch header.Version(pkt) {
	case 4:
		if len(pkt) < header.IPv4MinLen {
			return false
		}
		ip := header.IPv4(pkt)
		ihl, total := ip.HeaderLen(), ip.TotalLen()
		if ihl < header.IPv4MinLen || total < ihl || total > len(pkt) {
			return false
		}
		k.fam = 4
		k.proto = ip.Protocol()
		k.src = a128{lo: uint64(binary.BigEndian.Uint32(ip.Src()))}
		k.dst = a128{lo: uint64(binary.BigEndian.Uint32(ip.Dst()))}
		k.frag = ip.FragOffset() != 0
		l4 = pkt[ihl:total]
	case 6:
		if len(pkt) < header.IPv6Len {
			return false
		}
		// Payload length 0 is a jumbogram (RFC 2675); take the buffer.
		if plen := header.IPv6(pkt).PayloadLen(); plen != 0 {
			if header.IPv6Len+plen > len(pkt) {
				return false
			}
			pkt = pkt[:header.IPv6Len+plen]
		}
		ip := header.IPv6(pkt)
		k.fam = 6
		k.src = addr128(ip.Src())
		k.dst = addr128(ip.Dst())
		nh, off, ok := walkIPv6(pkt, k)
		if !ok {
			return false
		}
		k.proto = nh
		l4 = pkt[off:]
	default:
		return false
	}
	k.sport, k.dport = 0, 0
	if !k.frag && hasPorts(k.proto) {
		// TCP, UDP and SCTP all start with source and destination port.
		if len(l4) < 4 {
			return false
		}
		u := header.UDP(l4)
		k.sport, k.dport = u.SrcPort(), u.DstPort()
	}
	return true
}

// walkIPv6 skips the extension headers that sit between the IPv6 header
// and the transport header and returns the upper-layer protocol and its
// offset. AH and ESP are upper layers for an ACL ("permit esp ..."), so the
// walk stops there. A non-first fragment sets k.frag and stops: what follows
// is the middle of a transport payload.
func walkIPv6(pkt []byte, k *pktKey) (nh uint8, off int, ok bool) {
	nh, off = header.IPv6(pkt).NextHeader(), header.IPv6Len
	k.frag = false
	for range maxExtHeaders {
		switch nh {
		case ipv6HopByHop, ipv6Routing, ipv6DestOpts:
			if len(pkt) < off+2 {
				return 0, 0, false
			}
			hlen := (int(pkt[off+1]) + 1) * 8
			if len(pkt) < off+hlen {
				return 0, 0, false
			}
			nh, off = pkt[off], off+hlen
		case ipv6Fragment:
			if len(pkt) < off+8 {
				return 0, 0, false
			}
			fragOff := binary.BigEndian.Uint16(pkt[off+2:off+4]) &^ 7
			nh, off = pkt[off], off+8
			if fragOff != 0 {
				k.frag = true
				return nh, off, true
			}
		default:
			return nh, off, true
		}
	}
	return 0, 0, false
}

// tupleKey converts a Tuple to the matcher's form. IPv4-mapped IPv6
// addresses stay IPv6, as they would in a packet.
func tupleKey(t *Tuple, k *pktKey) bool {
	if !t.Src.IsValid() || !t.Dst.IsValid() || t.Src.Is4() != t.Dst.Is4() {
		return false
	}
	var f uint8
	k.src, f = addrBits(t.Src)
	k.dst, _ = addrBits(t.Dst)
	k.fam = f
	k.proto = t.Proto
	k.frag = t.Fragment
	k.sport, k.dport = t.SrcPort, t.DstPort
	if k.frag || !hasPorts(k.proto) {
		k.sport, k.dport = 0, 0
	}
	return true
}

func addrBits(a netip.Addr) (a128, uint8) {
	if a.Is4() {
		b := a.As4()
		return a128{lo: uint64(binary.BigEndian.Uint32(b[:]))}, 4
	}
	b := a.As16()
	return addr128(b[:]), 6
}

// addr128 reads a 16-byte IPv6 address.
func addr128(b []byte) a128 {
	return a128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:16])}
}

// prefixMask returns the mask of a prefix of bits length in family fam.
func prefixMask(bits int, fam uint8) a128 {
	if fam == 4 {
		return a128{lo: (uint64(0xffffffff) << (32 - bits)) & 0xffffffff}
	}
	if bits <= 64 {
		return a128{hi: ^uint64(0) << (64 - bits)}
	}
	return a128{hi: ^uint64(0), lo: ^uint64(0) << (128 - bits)}
}

func v4Bytes(v uint32) [4]byte {
	return [4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

func v6Bytes(a a128) [16]byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], a.hi)
	binary.BigEndian.PutUint64(b[8:], a.lo)
	return b
}
