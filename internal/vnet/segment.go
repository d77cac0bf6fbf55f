package vnet

import (
	"encoding/binary"
	"errors"

	"tinyipsec/internal/header"
)

// Segmenter cuts one packet read from the TUN (virtio-net header decoded)
// into the packets the kernel would have put on a wire: for TCP (TSO) and
// UDP (USO) super-packets, segments of GSOSize payload bytes, each with
// its own IP and TCP/UDP header, lengths, IPv4 identification (counting
// up from the super-packet's, as the kernel's software GSO does), TCP
// sequence number and flags (FIN and PSH only on the last segment, CWR
// only on the first), and complete checksums. A packet without GSO only
// gets its partial checksum completed.
//
// Reset takes the packet; Next fills one caller buffer per call until it
// reports false. The packet's buffer must stay untouched meanwhile.
type Segmenter struct {
	pkt     []byte
	h       Header
	l4      int // offset of the TCP/UDP header
	hdrLen  int // IP + TCP/UDP header bytes copied into every segment
	payload int // offset of the next payload byte
	seq     uint32
	id      uint16
	first   bool
	done    bool
}

// Errors Reset reports for packets it cannot segment; the caller drops
// (and counts) them.
var (
	ErrMalformed   = errors.New("vnet: malformed offload packet")
	ErrUnsupported = errors.New("vnet: unsupported offload type")
)

// Reset prepares the segmentation of pkt (the packet after the header h).
func (s *Segmenter) Reset(pkt []byte, h Header) error {
	*s = Segmenter{pkt: pkt, h: h, first: true}
	if len(pkt) < header.IPv4MinLen {
		s.done = true
		return ErrMalformed
	}
	v := header.Version(pkt)
	switch {
	case v == 4:
		if header.IPv4(pkt).TotalLen() != len(pkt) {
			// The kernel's GSO packets carry their full length; a
			// mismatch means a header this code does not understand.
			if h.GSOType&^GSOECNBit != GSONone {
				s.done = true
				return ErrMalformed
			}
		}
	case v == 6:
		if len(pkt) < header.IPv6Len {
			s.done = true
			return ErrMalformed
		}
	default:
		s.done = true
		return ErrMalformed
	}
	switch h.GSOType &^ GSOECNBit {
	case GSONone:
		s.hdrLen = len(pkt)
		return nil
	case GSOTCPv4, GSOTCPv6:
		s.l4 = int(h.CsumStart)
		if s.l4 < header.IPv4MinLen || s.l4+header.TCPMinLen > len(pkt) {
			s.done = true
			return ErrMalformed
		}
		tcp := header.TCP(pkt[s.l4:])
		s.hdrLen = s.l4 + tcp.HeaderLen()
		s.seq = tcp.Seq()
	case GSOUDPL4:
		s.l4 = int(h.CsumStart)
		s.hdrLen = s.l4 + header.UDPLen
	default:
		s.done = true
		return ErrUnsupported
	}
	if s.hdrLen > len(pkt) || s.hdrLen <= s.l4 || h.GSOSize == 0 {
		s.done = true
		return ErrMalformed
	}
	if v == 4 {
		s.id = header.IPv4(pkt).ID()
	}
	s.payload = s.hdrLen
	return nil
}

// Next writes the next packet into dst and returns its length; ok is
// false when the packet is exhausted. A dst too small for the segment
// ends the segmentation (n is 0, ok false).
func (s *Segmenter) Next(dst []byte) (n int, ok bool) {
	if !s.Pending() {
		return 0, false
	}
	pkt := s.pkt
	if s.h.GSOType&^GSOECNBit == GSONone {
		s.done = true
		if len(dst) < len(pkt) {
			return 0, false
		}
		n = copy(dst, pkt)
		if s.h.Flags&FlagNeedsCsum != 0 && !CompleteChecksum(dst[:n], int(s.h.CsumStart), int(s.h.CsumOffset)) {
			return 0, false
		}
		return n, true
	}
	chunk := min(int(s.h.GSOSize), len(pkt)-s.payload)
	last := s.payload+chunk >= len(pkt)
	if chunk <= 0 && !s.first {
		s.done = true
		return 0, false
	}
	n = s.hdrLen + chunk
	if len(dst) < n {
		s.done = true
		return 0, false
	}
	copy(dst, pkt[:s.hdrLen])
	copy(dst[s.hdrLen:], pkt[s.payload:s.payload+chunk])
	seg := dst[:n]
	l4 := seg[s.l4:]
	if header.Version(seg) == 4 {
		ip := header.IPv4(seg)
		ip.SetTotalLen(n)
		ip.SetID(s.id)
		s.id++
		setIPv4Checksum(seg[:ip.HeaderLen()])
	} else {
		header.IPv6(seg).SetPayloadLen(n - header.IPv6Len)
	}
	var proto byte
	var at int
	if s.h.GSOType&^GSOECNBit == GSOUDPL4 {
		proto, at = protoUDP, udpChecksum
		header.UDP(l4).SetLength(len(l4))
	} else {
		proto, at = protoTCP, tcpChecksum
		tcp := header.TCP(l4)
		tcp.SetSeq(s.seq)
		s.seq += uint32(chunk)
		f := tcp.Flags()
		if !last {
			f &^= header.TCPFlagFIN | header.TCPFlagPSH
		}
		if !s.first {
			f &^= header.TCPFlagCWR
		}
		tcp.SetFlags(f)
	}
	l4[at], l4[at+1] = 0, 0
	c := ^fold(sum(pseudoSum(seg, proto, len(l4)), l4))
	if c == 0 && proto == protoUDP {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(l4[at:], c)
	s.first = false
	s.payload += chunk
	if last {
		s.done = true
	}
	return n, true
}

// Pending reports whether Next has more packets.
func (s *Segmenter) Pending() bool { return !s.done && s.pkt != nil }
