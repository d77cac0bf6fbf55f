package esp

import "encoding/binary"

// AH (RFC 4302) header: next header, payload length in 32-bit words minus
// 2, reserved, SPI, sequence number, ICV (plus padding to 32 bits for IPv4,
// 64 bits for IPv6).

// writeAHHeader fills the AH header at h (len h == sa.ahLen) with a zeroed
// ICV field, ready for the ICV computation.
func writeAHHeader(h []byte, next byte, spi uint32, seq uint64) {
	h[0] = next
	h[1] = byte(len(h)/4 - 2)
	h[2], h[3] = 0, 0
	binary.BigEndian.PutUint32(h[4:], spi)
	binary.BigEndian.PutUint32(h[8:], uint32(seq))
	clear(h[12:])
}

// ahICV computes the AH ICV over the IP header buf[ip:ip+hl] (with its
// mutable fields zeroed in a copy), then everything from the AH header,
// whose ICV field must already be zero, to end; with ESN the high 32
// sequence bits are appended for the computation only (RFC 4302 §2.5.1).
// It returns the untruncated MAC in sl.sum.
func ahICV(sl *slot, buf []byte, ip, hl, ah, end int, esn bool, seq uint64) []byte {
	h := sl.hdr[:hl]
	copy(h, buf[ip:ip+hl])
	zeroMutable(h)
	m := sl.ahMAC
	m.reset()
	m.write(h)
	m.write(buf[ah:end])
	if esn {
		binary.BigEndian.PutUint32(sl.ivb[:4], uint32(seq>>32))
		m.write(sl.ivb[:4])
	}
	return m.sum(sl.sum[:])
}

// zeroMutable clears the IP header fields that routers may change in
// transit and AH therefore cannot protect (RFC 4302 §3.3.3.1).
func zeroMutable(h []byte) {
	if h[0]>>4 == 6 {
		// Traffic class and flow label (keep the version), hop limit.
		h[0] &= 0xf0
		h[1], h[2], h[3] = 0, 0, 0
		h[7] = 0
		return
	}
	h[1] = 0          // TOS
	h[6], h[7] = 0, 0 // flags, fragment offset
	h[8] = 0          // TTL
	h[10], h[11] = 0, 0
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
