package esp

import (
	"encoding/binary"

	"tinyipsec/internal/header"
)

// ahICV computes the AH ICV over the IP header buf[ip:ip+hl] (with its
// mutable fields zeroed in a copy), then everything from the AH header,
// whose ICV field must already be zero, to end; with ESN the high 32
// sequence bits are appended for the computation only (RFC 4302 §2.5.1).
// It returns the untruncated MAC (in the slot's AH HMAC state).
func ahICV(sl *slot, buf []byte, ip, hl, ah, end int, esn bool, seq uint64) []byte {
	h := sl.ah.hdr[:hl]
	copy(h, buf[ip:ip+hl])
	zeroMutable(h)
	m := sl.ah.mac
	m.reset()
	m.write(h)
	m.write(buf[ah:end])
	if esn {
		binary.BigEndian.PutUint32(sl.ivb[:4], uint32(seq>>32))
		m.write(sl.ivb[:4])
	}
	return m.sum()
}

// zeroMutable clears the IP header fields that routers may change in
// transit and AH therefore cannot protect (RFC 4302 §3.3.3.1).
func zeroMutable(h []byte) {
	if header.Version(h) == 6 {
		// Traffic class and flow label (keep the version), hop limit.
		h6 := header.IPv6(h)
		h6.SetVersionClass(0)
		h6.SetHopLimit(0)
		return
	}
	h4 := header.IPv4(h)
	h4.SetTOS(0)
	h4.SetFlagsFrag(0)
	h4.SetTTL(0)
	h4.SetChecksum(0)
	// Options: all but a few security/alert options are mutable or
	// mutable-but-predictable; like common implementations we zero them all.
	for i := 20; i < len(h); {
		switch h[i] {
		case 0: // end of list
			return
		case 1: // no-op
			i++
			continue
		}
		if i+1 >= len(h) || h[i+1] < 2 || i+int(h[i+1]) > len(h) {
			clear(h[i:])
			return
		}
		l := int(h[i+1])
		switch h[i] {
		case 130, 133, 134, 148, 149: // security, extended security, commercial security, router alert, SDMDD
		default:
			clear(h[i : i+l])
		}
		i += l
	}
}
