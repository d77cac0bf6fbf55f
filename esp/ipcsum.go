package esp

import (
	"encoding/binary"

	"tinyipsec/internal/header"
)

// ipv4Checksum computes the RFC 791 header checksum of h (whose checksum
// field must be zero or is skipped by the caller).
func ipv4Checksum(h []byte) uint16 {
	return ^header.ChecksumFold(header.ChecksumAdd(0, h))
}

// setIPv4Checksum recomputes the header checksum of the IPv4 header h.
func setIPv4Checksum(h []byte) {
	ip := header.IPv4(h)
	ip.SetChecksum(0)
	ip.SetChecksum(ipv4Checksum(h))
}

// checksumAdd adds b to a one's-complement running sum (not folded).
func checksumAdd(sum uint32, b []byte) uint32 {
	n := len(b) &^ 1
	for i := 0; i < n; i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)&1 != 0 {
		sum += uint32(b[n]) << 8
	}
	return sum
}

func checksumFold(sum uint32) uint16 {
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// fixL4Checksum recomputes the TCP or UDP checksum of the IP packet pkt
// (header length hl, upper protocol proto) over its current addresses. An
// IPv4 UDP checksum of zero means "none" and stays so.
func fixL4Checksum(pkt []byte, hl int, proto byte) {
	seg := pkt[hl:]
	var at int
	switch {
	case proto == header.ProtoTCP && len(seg) >= header.TCPMinLen:
		at = header.TCPChecksumOff
	case proto == ipProtoUDP && len(seg) >= header.UDPLen:
		at = header.UDPChecksumOff
		if header.Version(pkt) == 4 && seg[at] == 0 && seg[at+1] == 0 {
			return
		}
	default:
		return
	}
	var sum uint32
	if header.Version(pkt) == 4 {
		sum = checksumAdd(0, header.IPv4(pkt).Addrs())
	} else {
		sum = checksumAdd(0, header.IPv6(pkt).Addrs())
		sum += uint32(len(seg) >> 16)
	}
	sum += uint32(len(seg)&0xffff) + uint32(proto)
	seg[at], seg[at+1] = 0, 0
	c := checksumFold(checksumAdd(sum, seg))
	if c == 0 && proto == ipProtoUDP {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(seg[at:], c)
}
