package esp

import "encoding/binary"

// ParseSPI reads the protocol and SPI of a received packet (outer IPv4 or
// IPv6 header, optionally UDP-encapsulated ESP on any port) so the caller
// can find the SA. proto is ProtoESP or ProtoAH; ok is false for anything
// else, including IKE packets carrying the non-ESP marker and NAT-T
// keepalives. It never allocates.
func ParseSPI(pkt []byte) (proto Proto, spi uint32, ok bool) {
	p, next, _, err := outerHeader(pkt)
	if err != nil {
		return 0, 0, false
	}
	if next == ipProtoUDP {
		if len(pkt) < p+8+8 {
			return 0, 0, false
		}
		p += 8
		next = ipProtoESP
		if binary.BigEndian.Uint32(pkt[p:]) == 0 {
			return 0, 0, false // non-ESP marker: IKE
		}
	}
	switch next {
	case ipProtoESP:
		if len(pkt) < p+8 {
			return 0, 0, false
		}
		return ProtoESP, binary.BigEndian.Uint32(pkt[p:]), true
	case ipProtoAH:
		if len(pkt) < p+12 {
			return 0, 0, false
		}
		return ProtoAH, binary.BigEndian.Uint32(pkt[p+4:]), true
	}
	return 0, 0, false
}

const (
	ipProtoIPv4   = 4
	ipProtoUDP    = 17
	ipProtoIPv6   = 41
	ipProtoESP    = 50
	ipProtoAH     = 51
	ipProtoNoNext = 59
)

// outerHeader parses the outer IP header of a received packet: hl is its
// length, next the protocol after it, and total the packet length the
// header claims (shorter than len(pkt) when the link padded the frame).
// Fragments are refused: they must be reassembled first.
func outerHeader(pkt []byte) (hl int, next byte, total int, err error) {
	if len(pkt) < 20 {
		return 0, 0, 0, ErrTruncated
	}
	switch pkt[0] >> 4 {
	case 4:
		hl = int(pkt[0]&0x0f) * 4
		total = int(binary.BigEndian.Uint16(pkt[2:]))
		if hl < 20 || total < hl || total > len(pkt) {
			return 0, 0, 0, ErrTruncated
		}
		if binary.BigEndian.Uint16(pkt[6:])&0x3fff != 0 {
			return 0, 0, 0, ErrProto // MF set or non-zero offset
		}
		return hl, pkt[9], total, nil
	case 6:
		if len(pkt) < 40 {
			return 0, 0, 0, ErrTruncated
		}
		total = 40 + int(binary.BigEndian.Uint16(pkt[4:]))
		if total > len(pkt) {
			return 0, 0, 0, ErrTruncated
		}
		return 40, pkt[6], total, nil
	}
	return 0, 0, 0, ErrProto
}
