package esp

import (
	"encoding/binary"
	"math"

	"tinyipsec/internal/header"
)

// Sequence numbers: without ESN the 32-bit counter must never wrap (RFC
// 4303 §3.3.3); the soft limit leaves room to rekey first.
const (
	seqSoft32 = math.MaxUint32 - 1<<24
	seqSoft64 = math.MaxUint64 - 1<<32
)

func (sa *OutboundSA) encap(buf []byte, off, n int) (int, int, error) {
	return sa.encapSeq(buf, off, n, 0)
}

// reserveSeq takes the next sequence number, for a packet encapsulated
// later with encapSeq: the outbound loop numbers a batch's packets in
// order before their encryption is spread over several cores.
func (sa *OutboundSA) reserveSeq() uint64 { return sa.seq.Add(1) }

// encapSeq is Encap with the sequence number seq (0: the next one).
func (sa *OutboundSA) encapSeq(buf []byte, off, n int, seq uint64) (int, int, error) {
	if sa.life.hard() {
		return 0, 0, sa.drop(ErrExpired)
	}
	if off < sa.headroom || n < 0 || off+n > len(buf) || len(buf)-(off+n) < sa.tailroom {
		return 0, 0, sa.drop(ErrNoRoom)
	}
	pkt := buf[off : off+n]
	if n < header.IPv4MinLen {
		return 0, 0, sa.drop(ErrTruncated)
	}

	// Inner packet: what ESP's next header says, how long a header stays
	// in front (transport mode), and the DSCP/ECN and DF bits to copy to
	// a tunnel header. Read before encryption overwrites them.
	var next, tos byte
	var df bool
	hl := 0
	switch header.Version(pkt) {
	case 4:
		ip := header.IPv4(pkt)
		next, tos, df = ipProtoIPv4, ip.TOS(), ip.DontFragment()
		if sa.mode == Transport {
			hl = ip.HeaderLen()
			if hl < header.IPv4MinLen || hl > n || ip.TotalLen() != n {
				return 0, 0, sa.drop(ErrTruncated)
			}
			if ip.IsFragment() || sa.v6 {
				return 0, 0, sa.drop(ErrProto) // transport mode applies to whole datagrams
			}
			next = ip.Protocol()
		}
	case 6:
		if n < header.IPv6Len {
			return 0, 0, sa.drop(ErrTruncated)
		}
		ip := header.IPv6(pkt)
		next, tos = ipProtoIPv6, ip.TrafficClass()
		if sa.mode == Transport {
			hl = header.IPv6Len
			next = ip.NextHeader()
			if !sa.v6 || next == 0 || next == 43 || next == 44 || ip.PayloadLen()+header.IPv6Len != n {
				// Hop-by-hop, routing and fragment headers would have
				// to stay in front of ESP/AH; not supported.
				return 0, 0, sa.drop(ErrProto)
			}
		}
	default:
		return 0, 0, sa.drop(ErrProto)
	}

	ps, pe := off+hl, off+n // payload to protect
	padLen, espLen := 0, 0
	if sa.ciph != nil {
		t := pe - ps + 2
		padLen = (sa.padAlign - t%sa.padAlign) % sa.padAlign
		espLen = header.ESPLen + sa.ivLen + padLen + 2 + sa.icvLen
	}
	outerHL := hl
	if sa.mode == Tunnel {
		outerHL = header.IPv4MinLen
		if sa.v6 {
			outerHL = header.IPv6Len
		}
	}
	udpLen := 0
	if sa.natt {
		udpLen = header.UDPLen
	}
	total := n - hl + outerHL + udpLen + sa.ahLen + espLen
	if (!sa.v6 && total > 65535) || (sa.v6 && total-header.IPv6Len > 65535) {
		return 0, 0, sa.drop(ErrTooBig)
	}

	if seq == 0 {
		seq = sa.seq.Add(1)
	}
	if !sa.esn && seq >= seqSoft32 || seq >= seqSoft64 {
		sa.life.mark(lifeSoft)
		if !sa.esn && seq > math.MaxUint32 || seq == math.MaxUint64 {
			sa.life.mark(lifeHard)
			return 0, 0, sa.drop(ErrExpired)
		}
	}

	front := outerHL + udpLen + sa.ahLen
	if sa.ciph != nil {
		front += header.ESPLen + sa.ivLen
	}
	start := ps - front
	if sa.mode == Transport {
		// Move the packet's own header to the front before the ESP/AH
		// headers are written over its old place.
		copy(buf[start:start+hl], buf[off:off+hl])
	}

	sl := sa.acquire()
	defer sl.mu.Unlock()
	if sa.life.hard() {
		// Closed (keys being wiped) or expired while we waited.
		return 0, 0, sa.drop(ErrExpired)
	}

	cur, end := ps, pe // protected region built so far, growing outwards
	if sa.ciph != nil {
		for i := 0; i < padLen; i++ {
			buf[pe+i] = byte(i + 1) // RFC 4303 §2.4: 1, 2, 3, ...
		}
		buf[pe+padLen] = byte(padLen)
		buf[pe+padLen+1] = next
		ctEnd := pe + padLen + 2
		h := ps - header.ESPLen - sa.ivLen
		header.ESP(buf[h:ps]).Set(sa.spi, seq)
		iv := buf[h+header.ESPLen : ps]
		switch {
		case sa.aead != nil:
			// The sequence number is a unique 8-byte explicit IV (RFC 4106 §3.1).
			if sa.ivs != nil && sa.ivs.fixed != nil {
				sa.ivs.fixed(seq, iv) // known-answer tests
			} else {
				binary.BigEndian.PutUint64(iv, seq)
			}
			copy(sl.nonce[:4], sa.salt[:])
			copy(sl.nonce[4:], iv)
			aad := buf[h : h+header.ESPLen]
			if sa.esn {
				aad = esnAAD(sl, sa.spi, seq)
			}
			sa.aead.Seal(buf[ps:ps], sl.nonce[:], buf[ps:ctEnd], aad)
		default:
			if sa.block != nil {
				sa.ivs.fill(seq, iv, sl.ivb[:])
				sl.cbc.(ivSetter).SetIV(iv)
				sl.cbc.CryptBlocks(buf[ps:ctEnd], buf[ps:ctEnd])
			}
			copy(buf[ctEnd:ctEnd+sa.icvLen], espMAC(sl, buf[h:ctEnd], sa.esn, seq))
		}
		cur, end = h, ctEnd+sa.icvLen
		next = ipProtoESP
	}
	if sa.natt {
		cur -= header.UDPLen
		// IPv4: no checksum (RFC 3948 §2.1); IPv6: filled in below.
		header.UDP(buf[cur:end]).Set(sa.lport, sa.rport, end-cur, 0)
		next = ipProtoUDP
	}
	ah := 0
	if sa.ahLen != 0 {
		cur -= sa.ahLen
		ah = cur
		spi := sa.spi
		if sa.proto == ProtoAHESP {
			spi = sa.ahSPI
		}
		header.AH(buf[ah:ah+sa.ahLen]).Set(next, spi, seq)
		next = ipProtoAH
	}

	h := buf[start:cur]
	if sa.v6 {
		ip := header.IPv6(h)
		if sa.mode == Tunnel {
			ip.SetVersionClass(tos)
			ip.SetHopLimit(64)
			copy(ip.Src(), sa.local[:])
			copy(ip.Dst(), sa.remote[:])
		}
		ip.SetPayloadLen(end - cur)
		ip.SetNextHeader(next)
	} else {
		ip := header.IPv4(h)
		if sa.mode == Tunnel {
			h[0] = 4<<4 | header.IPv4MinLen/4 // version, IHL: no options
			ip.SetTOS(tos)
			// Unique among the last 65536 packets, as fragment reassembly needs.
			ip.SetID(sa.ipIDBase + uint16(seq))
			var ff uint16
			if df {
				ff = header.IPv4DontFragment
			}
			ip.SetFlagsFrag(ff)
			ip.SetTTL(64)
			copy(ip.Src(), sa.local[:4])
			copy(ip.Dst(), sa.remote[:4])
		}
		ip.SetTotalLen(end - start)
		ip.SetProtocol(next)
	}
	if sa.ahLen != 0 {
		icv := ahICV(sl, buf, start, outerHL, ah, end, sa.esn, seq)
		copy(header.AH(buf[ah:end]).ICV(), icv[:sa.ahInteg.ICVLen])
	}
	if !sa.v6 {
		setIPv4Checksum(h)
	} else if sa.natt {
		// IPv6 forbids a zero UDP checksum here (RFC 8200 §8.1).
		header.UDP(buf[cur:end]).SetChecksum(udp6Checksum(h, buf[cur:end]))
	}
	sa.life.account(n)
	return start, end, nil
}

// esnAAD builds the AEAD additional data with extended sequence numbers:
// SPI, high 32 bits, low 32 bits (RFC 4106 §5, RFC 7634 §2.1).
func esnAAD(sl *slot, spi uint32, seq uint64) []byte {
	binary.BigEndian.PutUint32(sl.ivb[0:], spi)
	binary.BigEndian.PutUint64(sl.ivb[4:], seq)
	return sl.ivb[:12]
}

// espMAC computes the ESP HMAC over header, IV and ciphertext; with ESN the
// high 32 sequence bits follow for the computation only (RFC 4303 §2.2.1).
func espMAC(sl *slot, p []byte, esn bool, seq uint64) []byte {
	m := sl.mac
	m.reset()
	m.write(p)
	if esn {
		binary.BigEndian.PutUint32(sl.ivb[:4], uint32(seq>>32))
		m.write(sl.ivb[:4])
	}
	return m.sum()
}

// udp6Checksum computes the UDP checksum of u (header with a zero checksum
// field, and payload) under the IPv6 header h.
func udp6Checksum(h, u []byte) uint16 {
	sum := checksumAdd(0, header.IPv6(h).Addrs())
	sum += uint32(len(u)>>16) + uint32(len(u)&0xffff) + ipProtoUDP
	sum = checksumAdd(sum, u)
	c := checksumFold(sum)
	if c == 0 {
		c = 0xffff
	}
	return c
}

func (sa *OutboundSA) drop(e Error) error {
	sa.dropCounters()[e].Add(1)
	return e
}
