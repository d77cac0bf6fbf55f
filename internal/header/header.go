// Package header names the fields of the packet headers the data plane
// reads and writes: IPv4, IPv6, UDP, TCP, ESP and AH. Each header type is
// a byte slice viewed as that header; its accessors read or write one
// field at a named offset.
//
// It lives under internal/ and not in esp because four packages parse
// packets: esp (the transforms, fragmentation, ICMP errors, NAT-T
// rebuild), acl (a packet's selector fields), tun (the UDP wire, bypass
// sockets) and internal/vnet (TCP/UDP segmentation and coalescing); esp
// cannot be imported by the others without dragging the engine along,
// and this package imports nothing of the project.
//
// The accessors are small enough for the compiler to inline: a call costs
// what the binary.BigEndian expression it replaces cost, with the same
// bounds checks. The caller checks lengths first (IPv4MinLen, IPv6Len,
// ...); an accessor on a short slice panics like the index it stands for.
package header

import "encoding/binary"

// IP protocol numbers (IANA "Assigned Internet Protocol Numbers").
const (
	ProtoICMP   = 1
	ProtoIPv4   = 4 // IP in IP: a tunnel-mode ESP/AH payload
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoIPv6   = 41
	ProtoESP    = 50
	ProtoAH     = 51
	ProtoICMPv6 = 58
	ProtoNoNext = 59 // IPv6 "no next header": an ESP dummy packet (RFC 4303 §2.6)
)

// Version is the IP version in the first byte of an IP packet.
func Version(pkt []byte) byte { return pkt[0] >> 4 }

// IPv4 is an IPv4 header (RFC 791) and what follows it.
type IPv4 []byte

// IPv4 field offsets and sizes.
const (
	IPv4MinLen      = 20
	IPv4MaxLen      = 60
	ipv4VersIHL     = 0
	ipv4TOS         = 1
	ipv4TotalLen    = 2
	ipv4ID          = 4
	ipv4FlagsFrag   = 6
	ipv4TTL         = 8
	ipv4Protocol    = 9
	ipv4Checksum    = 10
	IPv4ChecksumOff = ipv4Checksum
	IPv4SrcOff      = 12
	IPv4DstOff      = 16
	IPv4AddrLen     = 4

	// Flags and fragment offset (the 16 bits at offset 6).
	IPv4DontFragment  = 0x4000
	IPv4MoreFragments = 0x2000
	IPv4FragOffMask   = 0x1fff // in units of 8 bytes
)

// HeaderLen is the header length from the IHL field, options included.
func (h IPv4) HeaderLen() int { return int(h[ipv4VersIHL]&0x0f) * 4 }

// TOS is the DSCP and ECN byte.
func (h IPv4) TOS() byte { return h[ipv4TOS] }

// SetTOS sets the DSCP and ECN byte.
func (h IPv4) SetTOS(v byte) { h[ipv4TOS] = v }

// TotalLen is the packet length the header claims.
func (h IPv4) TotalLen() int { return int(binary.BigEndian.Uint16(h[ipv4TotalLen:])) }

// SetTotalLen sets the packet length.
func (h IPv4) SetTotalLen(n int) { binary.BigEndian.PutUint16(h[ipv4TotalLen:], uint16(n)) }

// ID is the identification field.
func (h IPv4) ID() uint16 { return binary.BigEndian.Uint16(h[ipv4ID:]) }

// SetID sets the identification field.
func (h IPv4) SetID(v uint16) { binary.BigEndian.PutUint16(h[ipv4ID:], v) }

// FlagsFrag is the flags and fragment offset field as a whole.
func (h IPv4) FlagsFrag() uint16 { return binary.BigEndian.Uint16(h[ipv4FlagsFrag:]) }

// SetFlagsFrag sets the flags and fragment offset field.
func (h IPv4) SetFlagsFrag(v uint16) { binary.BigEndian.PutUint16(h[ipv4FlagsFrag:], v) }

// DontFragment reports the DF flag.
func (h IPv4) DontFragment() bool { return h[ipv4FlagsFrag]&(IPv4DontFragment>>8) != 0 }

// IsFragment reports a fragment of a larger datagram: MF set or a
// non-zero offset.
func (h IPv4) IsFragment() bool { return h.FlagsFrag()&(IPv4MoreFragments|IPv4FragOffMask) != 0 }

// FragOffset is the fragment offset in 8-byte units (0 for the first
// fragment and for whole datagrams).
func (h IPv4) FragOffset() uint16 { return h.FlagsFrag() & IPv4FragOffMask }

// TTL is the time to live.
func (h IPv4) TTL() byte { return h[ipv4TTL] }

// SetTTL sets the time to live.
func (h IPv4) SetTTL(v byte) { h[ipv4TTL] = v }

// Protocol is the protocol of the payload.
func (h IPv4) Protocol() byte { return h[ipv4Protocol] }

// SetProtocol sets the protocol of the payload.
func (h IPv4) SetProtocol(p byte) { h[ipv4Protocol] = p }

// SetChecksum stores a header checksum.
func (h IPv4) SetChecksum(c uint16) { binary.BigEndian.PutUint16(h[ipv4Checksum:], c) }

// Src is the source address (a view into the header).
func (h IPv4) Src() []byte { return h[IPv4SrcOff : IPv4SrcOff+IPv4AddrLen] }

// Dst is the destination address (a view into the header).
func (h IPv4) Dst() []byte { return h[IPv4DstOff : IPv4DstOff+IPv4AddrLen] }

// Addrs is source and destination together, as the TCP/UDP
// pseudo-header sums them.
func (h IPv4) Addrs() []byte { return h[IPv4SrcOff : IPv4DstOff+IPv4AddrLen] }

// IPv6 is an IPv6 fixed header (RFC 8200) and what follows it.
type IPv6 []byte

// IPv6 field offsets and sizes.
const (
	IPv6Len        = 40
	ipv6PayloadLen = 4
	IPv6FlowEnd    = 4 // version, traffic class and flow label: bytes 0-3
	ipv6NextHeader = 6
	ipv6HopLimit   = 7
	IPv6SrcOff     = 8
	IPv6DstOff     = 24
	IPv6AddrLen    = 16
)

// SetVersionClass writes the first word: version 6, the traffic class,
// and a zero flow label.
func (h IPv6) SetVersionClass(tc byte) { binary.BigEndian.PutUint32(h, 6<<28|uint32(tc)<<20) }

// TrafficClass is the DSCP and ECN byte, which straddles the first two
// bytes.
func (h IPv6) TrafficClass() byte { return h[0]<<4 | h[1]>>4 }

// PayloadLen is the length of what follows the fixed header.
func (h IPv6) PayloadLen() int { return int(binary.BigEndian.Uint16(h[ipv6PayloadLen:])) }

// SetPayloadLen sets the payload length.
func (h IPv6) SetPayloadLen(n int) { binary.BigEndian.PutUint16(h[ipv6PayloadLen:], uint16(n)) }

// NextHeader is the protocol (or extension header) after the fixed
// header.
func (h IPv6) NextHeader() byte { return h[ipv6NextHeader] }

// SetNextHeader sets the next header.
func (h IPv6) SetNextHeader(p byte) { h[ipv6NextHeader] = p }

// HopLimit is the hop limit.
func (h IPv6) HopLimit() byte { return h[ipv6HopLimit] }

// SetHopLimit sets the hop limit.
func (h IPv6) SetHopLimit(v byte) { h[ipv6HopLimit] = v }

// Src is the source address (a view into the header).
func (h IPv6) Src() []byte { return h[IPv6SrcOff : IPv6SrcOff+IPv6AddrLen] }

// Dst is the destination address (a view into the header).
func (h IPv6) Dst() []byte { return h[IPv6DstOff : IPv6DstOff+IPv6AddrLen] }

// Addrs is source and destination together, as the TCP/UDP
// pseudo-header sums them.
func (h IPv6) Addrs() []byte { return h[IPv6SrcOff : IPv6DstOff+IPv6AddrLen] }

// UDP is a UDP header (RFC 768) and its payload.
type UDP []byte

// UDP field offsets and size.
const (
	UDPLen         = 8
	udpSrcPort     = 0
	udpDstPort     = 2
	UDPLengthOff   = 4
	UDPChecksumOff = 6
)

// SrcPort is the source port.
func (u UDP) SrcPort() uint16 { return binary.BigEndian.Uint16(u[udpSrcPort:]) }

// DstPort is the destination port.
func (u UDP) DstPort() uint16 { return binary.BigEndian.Uint16(u[udpDstPort:]) }

// Length is the length of header and payload the header claims.
func (u UDP) Length() int { return int(binary.BigEndian.Uint16(u[UDPLengthOff:])) }

// SetLength sets the length field.
func (u UDP) SetLength(n int) { binary.BigEndian.PutUint16(u[UDPLengthOff:], uint16(n)) }

// Ports is source and destination port together (the first four bytes
// of a TCP header too), to compare flows.
func (u UDP) Ports() []byte { return u[udpSrcPort : udpDstPort+2] }

// SetChecksum stores the checksum (0 in IPv4: none).
func (u UDP) SetChecksum(c uint16) { binary.BigEndian.PutUint16(u[UDPChecksumOff:], c) }

// Set writes the whole header: ports, length, checksum.
func (u UDP) Set(src, dst uint16, length int, csum uint16) {
	_ = u[UDPLen-1]
	binary.BigEndian.PutUint16(u[udpSrcPort:], src)
	binary.BigEndian.PutUint16(u[udpDstPort:], dst)
	binary.BigEndian.PutUint16(u[UDPLengthOff:], uint16(length))
	binary.BigEndian.PutUint16(u[UDPChecksumOff:], csum)
}

// TCP is a TCP header (RFC 9293) and its payload.
type TCP []byte

// TCP field offsets, size and flags.
const (
	TCPMinLen      = 20
	tcpSeq         = 4
	tcpAck         = 8
	tcpDataOff     = 12
	tcpFlags       = 13
	TCPChecksumOff = 16

	TCPFlagFIN = 0x01
	TCPFlagSYN = 0x02
	TCPFlagRST = 0x04
	TCPFlagPSH = 0x08
	TCPFlagACK = 0x10
	TCPFlagURG = 0x20
	TCPFlagECE = 0x40
	TCPFlagCWR = 0x80
)

// Seq is the sequence number.
func (t TCP) Seq() uint32 { return binary.BigEndian.Uint32(t[tcpSeq:]) }

// SetSeq sets the sequence number.
func (t TCP) SetSeq(v uint32) { binary.BigEndian.PutUint32(t[tcpSeq:], v) }

// Ack is the acknowledgment number.
func (t TCP) Ack() uint32 { return binary.BigEndian.Uint32(t[tcpAck:]) }

// HeaderLen is the header length from the data offset, options included.
func (t TCP) HeaderLen() int { return int(t[tcpDataOff]>>4) * 4 }

// Flags is the flag byte (FIN to CWR).
func (t TCP) Flags() byte { return t[tcpFlags] }

// SetFlags sets the flag byte.
func (t TCP) SetFlags(f byte) { t[tcpFlags] = f }

// SetChecksum stores the checksum.
func (t TCP) SetChecksum(c uint16) { binary.BigEndian.PutUint16(t[TCPChecksumOff:], c) }

// ESP is an ESP header (RFC 4303): SPI and sequence number; the IV and
// the encrypted payload follow.
type ESP []byte

// ESP field offsets and size.
const (
	ESPLen = 8
	espSPI = 0
	espSeq = 4
)

// SPI is the security parameter index (0 is reserved: on port 4500 it
// is the non-ESP marker of an IKE message, RFC 3948 §2.2).
func (e ESP) SPI() uint32 { return binary.BigEndian.Uint32(e[espSPI:]) }

// Seq is the low 32 bits of the sequence number.
func (e ESP) Seq() uint32 { return binary.BigEndian.Uint32(e[espSeq:]) }

// Set writes SPI and the low 32 bits of seq.
func (e ESP) Set(spi uint32, seq uint64) {
	_ = e[ESPLen-1]
	binary.BigEndian.PutUint32(e[espSPI:], spi)
	binary.BigEndian.PutUint32(e[espSeq:], uint32(seq))
}

// AH is an AH header (RFC 4302): next header, length, SPI, sequence
// number, then the ICV (padded to 32 bits for IPv4, 64 for IPv6).
type AH []byte

// AH field offsets and size.
const (
	AHFixedLen   = 12 // without the ICV
	ahNextHeader = 0
	ahPayloadLen = 1
	ahSPI        = 4
	ahSeq        = 8
	AHICVOff     = AHFixedLen
)

// NextHeader is the protocol after the AH header.
func (a AH) NextHeader() byte { return a[ahNextHeader] }

// Len is the header length, ICV included, from the payload length field
// (32-bit words minus 2).
func (a AH) Len() int { return (int(a[ahPayloadLen]) + 2) * 4 }

// SPI is the security parameter index.
func (a AH) SPI() uint32 { return binary.BigEndian.Uint32(a[ahSPI:]) }

// Seq is the low 32 bits of the sequence number.
func (a AH) Seq() uint32 { return binary.BigEndian.Uint32(a[ahSeq:]) }

// ICV is the integrity check value field with its padding.
func (a AH) ICV() []byte { return a[AHICVOff:] }

// Set writes the header for a length of len(a) with a zeroed ICV field,
// ready for the ICV computation.
func (a AH) Set(next byte, spi uint32, seq uint64) {
	_ = a[AHFixedLen-1]
	a[ahNextHeader] = next
	a[ahPayloadLen] = byte(len(a)/4 - 2)
	a[2], a[3] = 0, 0 // reserved
	binary.BigEndian.PutUint32(a[ahSPI:], spi)
	binary.BigEndian.PutUint32(a[ahSeq:], uint32(seq))
	clear(a[AHICVOff:])
}

// ChecksumAdd adds b to acc, a one's-complement running sum (RFC 1071)
// of 16-bit big-endian words, 64 bits at a time: the carries collect in
// the upper bits, and ChecksumFold reduces the sum to 16 bits. An odd
// byte at the end counts as the high byte of a word.
func ChecksumAdd(acc uint64, b []byte) uint64 {
	for len(b) >= 8 {
		v := binary.BigEndian.Uint64(b)
		acc += v >> 32
		acc += v & 0xffffffff
		b = b[8:]
	}
	if len(b) >= 4 {
		acc += uint64(binary.BigEndian.Uint32(b))
		b = b[4:]
	}
	if len(b) >= 2 {
		acc += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint64(b[0]) << 8
	}
	return acc
}

// ChecksumFold reduces a ChecksumAdd sum to 16 bits (not complemented:
// a checksum field holds its complement).
func ChecksumFold(acc uint64) uint16 {
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return uint16(acc)
}
