package esp

import (
	"encoding/binary"
	"math"
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
	if n < 20 {
		return 0, 0, sa.drop(ErrTruncated)
	}

	// Inner packet: what ESP's next header says, how long a header stays
	// in front (transport mode), and the DSCP/ECN and DF bits to copy to
	// a tunnel header. Read before encryption overwrites them.
	var next, tos byte
	var df bool
	hl := 0
	switch pkt[0] >> 4 {
	case 4:
		next, tos, df = ipProtoIPv4, pkt[1], pkt[6]&0x40 != 0
		if sa.mode == Transport {
			hl = int(pkt[0]&0x0f) * 4
			if hl < 20 || hl > n || int(binary.BigEndian.Uint16(pkt[2:])) != n {
				return 0, 0, sa.drop(ErrTruncated)
			}
			if binary.BigEndian.Uint16(pkt[6:])&0x3fff != 0 || sa.v6 {
				return 0, 0, sa.drop(ErrProto) // transport mode applies to whole datagrams
			}
			next = pkt[9]
		}
	case 6:
		if n < 40 {
			return 0, 0, sa.drop(ErrTruncated)
		}
		next, tos = ipProtoIPv6, pkt[0]<<4|pkt[1]>>4
		if sa.mode == Transport {
			hl = 40
			next = pkt[6]
			if !sa.v6 || next == 0 || next == 43 || next == 44 || int(binary.BigEndian.Uint16(pkt[4:]))+40 != n {
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
		espLen = 8 + sa.ivLen + padLen + 2 + sa.icvLen
	}
	outerHL := hl
	if sa.mode == Tunnel {
		outerHL = 20
		if sa.v6 {
			outerHL = 40
		}
	}
	udpLen := 0
	if sa.natt {
		udpLen = 8
	}
	total := n - hl + outerHL + udpLen + sa.ahLen + espLen
	if (!sa.v6 && total > 65535) || (sa.v6 && total-40 > 65535) {
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
		front += 8 + sa.ivLen
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
		h := ps - 8 - sa.ivLen
		binary.BigEndian.PutUint32(buf[h:], sa.spi)
		binary.BigEndian.PutUint32(buf[h+4:], uint32(seq))
		iv := buf[h+8 : ps]
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
			aad := buf[h : h+8]
			if sa.esn {
				aad = esnAAD(sl, sa.spi, seq)
			}
			sa.aead.Seal(buf[ps:ps], sl.nonce[:], buf[ps:ctEnd], aad)
		default:
			if sa.block != nil {
				sa.ivs.fill(seq, iv, sl.ivb[:])
				sl.cbcEnc.(ivSetter).SetIV(iv)
				sl.cbcEnc.CryptBlocks(buf[ps:ctEnd], buf[ps:ctEnd])
			}
			copy(buf[ctEnd:ctEnd+sa.icvLen], espMAC(sl, buf[h:ctEnd], sa.esn, seq))
		}
		cur, end = h, ctEnd+sa.icvLen
		next = ipProtoESP
	}
	if sa.natt {
		cur -= 8
		binary.BigEndian.PutUint16(buf[cur:], sa.lport)
		binary.BigEndian.PutUint16(buf[cur+2:], sa.rport)
		binary.BigEndian.PutUint16(buf[cur+4:], uint16(end-cur))
		buf[cur+6], buf[cur+7] = 0, 0 // IPv4: no checksum (RFC 3948 §2.1)
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
		writeAHHeader(buf[ah:ah+sa.ahLen], next, spi, seq)
		next = ipProtoAH
	}

	h := buf[start:cur]
	if sa.v6 {
		if sa.mode == Tunnel {
			binary.BigEndian.PutUint32(h, 6<<28|uint32(tos)<<20)
			h[7] = 64
			copy(h[8:24], sa.local[:])
			copy(h[24:40], sa.remote[:])
		}
		binary.BigEndian.PutUint16(h[4:], uint16(end-cur))
		h[6] = next
	} else {
		if sa.mode == Tunnel {
			h[0], h[1] = 0x45, tos
			// Unique among the last 65536 packets, as fragment reassembly needs.
			binary.BigEndian.PutUint16(h[4:], sa.ipIDBase+uint16(seq))
			h[6], h[7] = 0, 0
			if df {
				h[6] = 0x40
			}
			h[8] = 64
			copy(h[12:16], sa.local[:4])
			copy(h[16:20], sa.remote[:4])
		}
		binary.BigEndian.PutUint16(h[2:], uint16(end-start))
		h[9] = next
	}
	if sa.ahLen != 0 {
		icv := ahICV(sl, buf, start, outerHL, ah, end, sa.esn, seq)
		copy(buf[ah+12:], icv[:sa.ahInteg.ICVLen])
	}
	if !sa.v6 {
		setIPv4Checksum(h)
	} else if sa.natt {
		// IPv6 forbids a zero UDP checksum here (RFC 8200 §8.1).
		u := buf[cur : cur+8]
		binary.BigEndian.PutUint16(u[6:], udp6Checksum(h, buf[cur:end]))
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
	return m.sum(sl.sum[:])
}

// udp6Checksum computes the UDP checksum of u (header with a zero checksum
// field, and payload) under the IPv6 header h.
func udp6Checksum(h, u []byte) uint16 {
	sum := checksumAdd(0, h[8:40])
	sum += uint32(len(u)>>16) + uint32(len(u)&0xffff) + ipProtoUDP
	sum = checksumAdd(sum, u)
	c := checksumFold(sum)
	if c == 0 {
		c = 0xffff
	}
	return c
}

func (sa *OutboundSA) drop(e Error) error {
	sa.drops[e].Add(1)
	return e
}
