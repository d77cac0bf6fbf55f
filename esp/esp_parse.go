package esp

import "tinyipsec/internal/header"

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
		if len(pkt) < p+header.UDPLen+header.ESPLen {
			return 0, 0, false
		}
		p += header.UDPLen
		next = ipProtoESP
		if header.ESP(pkt[p:]).SPI() == 0 {
			return 0, 0, false // non-ESP marker: IKE
		}
	}
	switch next {
	case ipProtoESP:
		if len(pkt) < p+header.ESPLen {
			return 0, 0, false
		}
		return ProtoESP, header.ESP(pkt[p:]).SPI(), true
	case ipProtoAH:
		if len(pkt) < p+header.AHFixedLen {
			return 0, 0, false
		}
		return ProtoAH, header.AH(pkt[p:]).SPI(), true
	}
	return 0, 0, false
}

const (
	ipProtoIPv4   = header.ProtoIPv4
	ipProtoUDP    = header.ProtoUDP
	ipProtoIPv6   = header.ProtoIPv6
	ipProtoESP    = header.ProtoESP
	ipProtoAH     = header.ProtoAH
	ipProtoNoNext = header.ProtoNoNext
)

// outerHeader parses the outer IP header of a received packet: hl is its
// length, next the protocol after it, and total the packet length the
// header claims (shorter than len(pkt) when the link padded the frame).
// Fragments are refused: they must be reassembled first.
func outerHeader(pkt []byte) (hl int, next byte, total int, err error) {
	if len(pkt) < header.IPv4MinLen {
		return 0, 0, 0, ErrTruncated
	}
	switch header.Version(pkt) {
	case 4:
		h := header.IPv4(pkt)
		hl, total = h.HeaderLen(), h.TotalLen()
		if hl < header.IPv4MinLen || total < hl || total > len(pkt) {
			return 0, 0, 0, ErrTruncated
		}
		if h.IsFragment() {
			return 0, 0, 0, ErrProto
		}
		return hl, h.Protocol(), total, nil
	case 6:
		if len(pkt) < header.IPv6Len {
			return 0, 0, 0, ErrTruncated
		}
		h := header.IPv6(pkt)
		total = header.IPv6Len + h.PayloadLen()
		if total > len(pkt) {
			return 0, 0, 0, ErrTruncated
		}
		return header.IPv6Len, h.NextHeader(), total, nil
	}
	return 0, 0, 0, ErrProto
}
