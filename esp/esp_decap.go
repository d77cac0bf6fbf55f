package esp

import (
	"crypto/subtle"
	"encoding/binary"
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
	if (buf[start]>>4 == 6) != sa.v6 {
		return 0, 0, ErrProto
	}
	end = start + total // drop link-layer padding
	p := start + hl

	if next == ipProtoUDP {
		if !sa.natt {
			return 0, 0, ErrProto
		}
		if end-p < 8+8 {
			return 0, 0, ErrTruncated
		}
		if binary.BigEndian.Uint32(buf[p+8:]) == 0 {
			return 0, 0, ErrProto // non-ESP marker: an IKE message
		}
		p += 8
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
		if (int(buf[p+1])+2)*4 != sa.ahLen {
			return 0, 0, ErrProto
		}
		spi, w := sa.spi, sa.espReplay
		if sa.proto == ProtoAHESP {
			spi, w = sa.ahSPI, sa.ahReplay
		}
		if binary.BigEndian.Uint32(buf[p+4:]) != spi {
			return 0, 0, ErrSPI
		}
		seq, err := sa.seqCheck(w, binary.BigEndian.Uint32(buf[p+8:]))
		if err != nil {
			return 0, 0, err
		}
		icvLen := sa.ahInteg.ICVLen
		copy(sl.icv[:icvLen], buf[p+12:])
		clear(buf[p+12 : p+sa.ahLen])
		mac := ahICV(sl, buf, start, hl, p, end, sa.esn, seq)
		if subtle.ConstantTimeCompare(mac[:icvLen], sl.icv[:icvLen]) != 1 {
			return 0, 0, ErrAuth
		}
		if w != nil && !w.update(seq) {
			return 0, 0, ErrReplay
		}
		next = buf[p]
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
	ctStart := p + 8 + sa.ivLen
	if end-ctStart < 2+sa.icvLen {
		return 0, 0, ErrTruncated
	}
	if binary.BigEndian.Uint32(buf[p:]) != sa.spi {
		return 0, 0, ErrSPI
	}
	seq, err := sa.seqCheck(sa.espReplay, binary.BigEndian.Uint32(buf[p+4:]))
	if err != nil {
		return 0, 0, err
	}
	ctEnd := end - sa.icvLen
	if sa.aead != nil {
		copy(sl.nonce[:4], sa.salt[:])
		copy(sl.nonce[4:], buf[p+8:ctStart])
		aad := buf[p : p+8]
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
			sl.cbcDec.(ivSetter).SetIV(buf[p+8 : ctStart])
			sl.cbcDec.CryptBlocks(buf[ctStart:ctEnd], buf[ctStart:ctEnd])
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
			if len(in) < 20 || in[0]>>4 != 4 {
				return 0, 0, ErrTruncated
			}
			n = int(binary.BigEndian.Uint16(in[2:]))
		case ipProtoIPv6:
			if len(in) < 40 || in[0]>>4 != 6 {
				return 0, 0, ErrTruncated
			}
			n = 40 + int(binary.BigEndian.Uint16(in[4:]))
		default:
			return 0, 0, ErrProto
		}
		// The inner header's length may be shorter than the payload: the
		// rest is TFC padding (RFC 4303 §2.4), which we ignore.
		if n > len(in) || n < 20 {
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
			binary.BigEndian.PutUint16(h[4:], uint16(pe-ps))
			h[6] = next
		} else {
			binary.BigEndian.PutUint16(h[2:], uint16(pe-off))
			h[9] = next
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
	if h[0]>>4 == 6 {
		return h[1] >> 4 & 3
	}
	return h[1] & 3
}

// markCE carries a congestion mark from the outer header to an ECN-capable
// inner packet (RFC 6040 §4.2, normal mode). A not-ECN-capable inner packet
// is delivered unmarked rather than dropped as RFC 6040 would have it:
// losing the mark is harmless, losing the packet is not.
func markCE(in []byte) {
	if in[0]>>4 == 6 {
		if e := in[1] >> 4 & 3; e == 1 || e == 2 {
			in[1] |= ecnCE << 4
		}
		return
	}
	if e := in[1] & 3; e == 1 || e == 2 {
		in[1] |= ecnCE
		if hl := int(in[0]&0x0f) * 4; hl >= 20 && hl <= len(in) {
			setIPv4Checksum(in[:hl])
		}
	}
}
