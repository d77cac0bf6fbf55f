package esp

import (
	"crypto/subtle"

	"tinyipsec/internal/header"
)

func (sa *InboundSA) decap(buf []byte, start, end int) (int, int, error) {
	if sa.life.hard() {
		return 0, 0, ErrExpired
	}
	if start < 0 || end > len(buf) || start > end {
		return 0, 0, ErrTruncated
	}
	hl, next, total, err := outerHeader(buf[start:end])
	if err != nil {
		return 0, 0, err
	}
	if (header.Version(buf[start:]) == 6) != sa.v6 {
		return 0, 0, ErrProto
	}
	end = start + total // drop link-layer padding
	p := start + hl

	if next == ipProtoUDP {
		if !sa.natt {
			return 0, 0, ErrProto
		}
		if end-p < header.UDPLen+header.ESPLen {
			return 0, 0, ErrTruncated
		}
		p += header.UDPLen
		if header.ESP(buf[p:]).SPI() == 0 {
			return 0, 0, ErrProto // non-ESP marker: an IKE message
		}
		next = ipProtoESP
	}

	sl := sa.acquire()
	defer sl.mu.Unlock()
	if sa.life.hard() {
		return 0, 0, ErrExpired // closed or expired while we waited
	}

	if sa.ahLen != 0 {
		if next != ipProtoAH {
			return 0, 0, ErrProto
		}
		if end-p < sa.ahLen {
			return 0, 0, ErrTruncated
		}
		ah := header.AH(buf[p:end])
		if ah.Len() != sa.ahLen {
			return 0, 0, ErrProto
		}
		spi, w := sa.spi, sa.espReplay
		if sa.proto == ProtoAHESP {
			spi, w = sa.ahSPI, sa.ahReplay
		}
		if ah.SPI() != spi {
			return 0, 0, ErrSPI
		}
		seq, err := sa.seqCheck(w, ah.Seq())
		if err != nil {
			return 0, 0, err
		}
		icvLen := sa.ahInteg.ICVLen
		field := ah.ICV()[:sa.ahLen-header.AHFixedLen]
		icv := sl.ah.icv[:icvLen]
		copy(icv, field)
		clear(field)
		mac := ahICV(sl, buf, start, hl, p, end, sa.esn, seq)
		if subtle.ConstantTimeCompare(mac[:icvLen], icv) != 1 {
			return 0, 0, ErrAuth
		}
		if w != nil && !w.update(seq) {
			return 0, 0, ErrReplay
		}
		next = ah.NextHeader()
		p += sa.ahLen
		if sa.ciph == nil {
			return sa.deliver(buf, start, hl, p, end, next)
		}
		if next != ipProtoESP {
			return 0, 0, ErrProto
		}
	}

	if next != ipProtoESP {
		return 0, 0, ErrProto
	}
	ctStart := p + header.ESPLen + sa.ivLen
	if end-ctStart < 2+sa.icvLen {
		return 0, 0, ErrTruncated
	}
	esp := header.ESP(buf[p:end])
	if esp.SPI() != sa.spi {
		return 0, 0, ErrSPI
	}
	seq, err := sa.seqCheck(sa.espReplay, esp.Seq())
	if err != nil {
		return 0, 0, err
	}
	ctEnd := end - sa.icvLen
	if sa.aead != nil {
		copy(sl.nonce[:4], sa.salt[:])
		copy(sl.nonce[4:], buf[p+header.ESPLen:ctStart])
		aad := buf[p : p+header.ESPLen]
		if sa.esn {
			aad = esnAAD(sl, sa.spi, seq)
		}
		if _, err := sa.aead.Open(buf[ctStart:ctStart], sl.nonce[:], buf[ctStart:end], aad); err != nil {
			return 0, 0, ErrAuth
		}
	} else {
		mac := espMAC(sl, buf[p:ctEnd], sa.esn, seq)
		if subtle.ConstantTimeCompare(mac[:sa.icvLen], buf[ctEnd:end]) != 1 {
			return 0, 0, ErrAuth
		}
		if sa.block != nil {
			if (ctEnd-ctStart)%sa.ivLen != 0 {
				return 0, 0, ErrPadding
			}
			sl.cbc.(ivSetter).SetIV(buf[p+header.ESPLen : ctStart])
			sl.cbc.CryptBlocks(buf[ctStart:ctEnd], buf[ctStart:ctEnd])
		}
	}
	if w := sa.espReplay; w != nil && !w.update(seq) {
		return 0, 0, ErrReplay
	}

	// Trailer: pad bytes 1, 2, 3, ..., pad length, next header.
	padLen := int(buf[ctEnd-2])
	next = buf[ctEnd-1]
	pe := ctEnd - 2 - padLen
	if pe < ctStart {
		return 0, 0, ErrPadding
	}
	for i := 0; i < padLen; i++ {
		if buf[pe+i] != byte(i+1) {
			return 0, 0, ErrPadding
		}
	}
	return sa.deliver(buf, start, hl, ctStart, pe, next)
}

// seqCheck infers the full sequence number and checks it against the
// replay window before the ICV is verified.
func (sa *InboundSA) seqCheck(w *replayWindow, low uint32) (uint64, error) {
	if w == nil {
		return uint64(low), nil
	}
	seq := uint64(low)
	if sa.esn {
		seq = w.infer(low)
	}
	if !w.check(seq) {
		return 0, ErrReplay
	}
	return seq, nil
}

// deliver turns the verified payload buf[ps:pe] with protocol next into the
// cleartext packet: the inner packet itself in tunnel mode, or the received
// IP header (at buf[start:start+hl]) moved in front of the payload in
// transport mode. Then it applies the SA's traffic selector.
func (sa *InboundSA) deliver(buf []byte, start, hl, ps, pe int, next byte) (int, int, error) {
	if next == ipProtoNoNext {
		return 0, 0, ErrDummy
	}
	off, n := ps, pe-ps
	if sa.mode == Tunnel {
		in := buf[ps:pe]
		switch next {
		case ipProtoIPv4:
			if len(in) < header.IPv4MinLen || header.Version(in) != 4 {
				return 0, 0, ErrTruncated
			}
			n = header.IPv4(in).TotalLen()
		case ipProtoIPv6:
			if len(in) < header.IPv6Len || header.Version(in) != 6 {
				return 0, 0, ErrTruncated
			}
			n = header.IPv6Len + header.IPv6(in).PayloadLen()
		default:
			return 0, 0, ErrProto
		}
		// The inner header's length may be shorter than the payload: the
		// rest is TFC padding (RFC 4303 §2.4), which we ignore.
		if n > len(in) || n < header.IPv4MinLen {
			return 0, 0, ErrTruncated
		}
		if outerECN(buf[start:]) == ecnCE {
			markCE(in[:n])
		}
	} else {
		off = ps - hl
		copy(buf[off:ps], buf[start:start+hl])
		h := buf[off:ps]
		if sa.v6 {
			if pe-ps > 65535 {
				return 0, 0, ErrTruncated
			}
			h := header.IPv6(h)
			h.SetPayloadLen(pe - ps)
			h.SetNextHeader(next)
		} else {
			h := header.IPv4(h)
			h.SetTotalLen(pe - off)
			h.SetProtocol(next)
			setIPv4Checksum(h)
		}
		n = pe - off
		if sa.natt {
			// A NAT rewrote the addresses the TCP/UDP checksum was computed
			// over; recompute it (RFC 3948 §3.1.2, which allows that instead
			// of an incremental fix with the NAT-OA addresses).
			fixL4Checksum(buf[off:pe], hl, next)
		}
	}
	if sa.selector != nil && !sa.selector.MatchesPacket(buf[off:off+n], true) {
		return 0, 0, ErrPolicy
	}
	sa.life.account(n)
	return off, n, nil
}

const ecnCE = 3

func outerECN(h []byte) byte {
	if header.Version(h) == 6 {
		return header.IPv6(h).TrafficClass() & 3
	}
	return header.IPv4(h).TOS() & 3
}

// markCE carries a congestion mark from the outer header to an ECN-capable
// inner packet (RFC 6040 §4.2, normal mode). A not-ECN-capable inner packet
// is delivered unmarked rather than dropped as RFC 6040 would have it:
// losing the mark is harmless, losing the packet is not.
func markCE(in []byte) {
	if header.Version(in) == 6 {
		// The traffic class straddles bytes 0 and 1: ECN is bits 4-5 of
		// byte 1.
		if e := header.IPv6(in).TrafficClass() & 3; e == 1 || e == 2 {
			in[1] |= ecnCE << 4
		}
		return
	}
	h := header.IPv4(in)
	if e := h.TOS() & 3; e == 1 || e == 2 {
		h.SetTOS(h.TOS() | ecnCE)
		if hl := h.HeaderLen(); hl >= header.IPv4MinLen && hl <= len(in) {
			setIPv4Checksum(in[:hl])
		}
	}
}
