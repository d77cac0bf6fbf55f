// Package vnet handles the virtio-net header a TUN device opened with
// IFF_VNET_HDR puts in front of every packet, and the two jobs that header
// makes possible: cutting a TCP/UDP segmentation-offload super-packet the
// kernel hands out into wire-sized packets (Segmenter), and merging
// consecutive TCP segments (or, with USO, UDP datagrams) of one flow into
// one super-packet the kernel takes in a single write (Coalescer).
//
// With offloads the kernel's TCP stack builds one 64 KB packet where it
// would build 45, and one system call moves it through the TUN; the ESP
// transforms still see, and protect, one wire-sized packet at a time.
//
// Everything here works on caller-owned buffers and allocates nothing per
// packet.
package vnet

import (
	"encoding/binary"

	"tinyipsec/internal/header"
)

// HeaderLen is the size of struct virtio_net_hdr (without num_buffers),
// the TUN's default TUNSETVNETHDRSZ.
const HeaderLen = 10

// Header flags and GSO types (linux/virtio_net.h).
const (
	FlagNeedsCsum = 1

	GSONone   = 0
	GSOTCPv4  = 1
	GSOUDP    = 3 // UFO: IP fragmentation of a large UDP datagram
	GSOTCPv6  = 4
	GSOUDPL4  = 5 // USO: UDP segmentation
	GSOECNBit = 0x80
)

// Header is a decoded virtio_net_hdr. A TUN device without TUNSETVNETLE
// uses the host's byte order, so the fields are native-endian.
type Header struct {
	Flags      uint8
	GSOType    uint8
	HdrLen     uint16
	GSOSize    uint16
	CsumStart  uint16
	CsumOffset uint16
}

// Decode reads h from the first HeaderLen bytes of b.
func (h *Header) Decode(b []byte) {
	_ = b[HeaderLen-1]
	h.Flags = b[0]
	h.GSOType = b[1]
	h.HdrLen = binary.NativeEndian.Uint16(b[2:])
	h.GSOSize = binary.NativeEndian.Uint16(b[4:])
	h.CsumStart = binary.NativeEndian.Uint16(b[6:])
	h.CsumOffset = binary.NativeEndian.Uint16(b[8:])
}

// Encode writes h into the first HeaderLen bytes of b.
func (h *Header) Encode(b []byte) {
	_ = b[HeaderLen-1]
	b[0] = h.Flags
	b[1] = h.GSOType
	binary.NativeEndian.PutUint16(b[2:], h.HdrLen)
	binary.NativeEndian.PutUint16(b[4:], h.GSOSize)
	binary.NativeEndian.PutUint16(b[6:], h.CsumStart)
	binary.NativeEndian.PutUint16(b[8:], h.CsumOffset)
}

// Shorter names for the header fields used throughout.
const (
	protoTCP    = header.ProtoTCP
	protoUDP    = header.ProtoUDP
	tcpChecksum = header.TCPChecksumOff
	udpChecksum = header.UDPChecksumOff
)

// sum and fold are the one's-complement checksum arithmetic (RFC 1071).
func sum(acc uint64, b []byte) uint64 { return header.ChecksumAdd(acc, b) }
func fold(acc uint64) uint16          { return header.ChecksumFold(acc) }

// pseudoSum is the one's-complement sum of the TCP/UDP pseudo-header of
// the IP packet pkt for an upper-layer length l (RFC 793, RFC 8200 §8.1).
func pseudoSum(pkt []byte, proto byte, l int) uint64 {
	var acc uint64
	if header.Version(pkt) == 4 {
		acc = sum(0, header.IPv4(pkt).Addrs())
	} else {
		acc = sum(0, header.IPv6(pkt).Addrs())
	}
	return acc + uint64(proto) + uint64(l)
}

// setIPv4Checksum recomputes the header checksum of the IPv4 header h.
func setIPv4Checksum(h []byte) {
	ip := header.IPv4(h)
	ip.SetChecksum(0)
	ip.SetChecksum(^fold(sum(0, h)))
}

// CompleteChecksum finishes a checksum the kernel left partial
// (FlagNeedsCsum): the field at start+offset holds the pseudo-header sum,
// the rest is summed here and the complement stored. It reports false
// when the offsets do not fit pkt.
func CompleteChecksum(pkt []byte, start, offset int) bool {
	if start < 0 || offset < 0 || start+offset+2 > len(pkt) {
		return false
	}
	c := ^fold(sum(0, pkt[start:]))
	if c == 0 && offset == udpChecksum {
		c = 0xffff // a UDP checksum of zero means "none"
	}
	binary.BigEndian.PutUint16(pkt[start+offset:], c)
	return true
}
