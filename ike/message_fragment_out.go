package ike

import "encoding/binary"

// fragmentDataLen is how much of the original datagram one fragment
// carries: with the ISAKMP header (28), the fragment payload header (8),
// the non-ESP marker (4), UDP (8) and IPv4 (20) a fragment is an IP
// packet of at most 1280 bytes, the size strongSwan uses too.
const fragmentDataLen = 1280 - 20 - 8 - 4 - HeaderLen - 8

// FragmentDatagram splits an ISAKMP datagram into IKEv1 fragment messages
// (payload 132; the Cisco/strongSwan scheme) carrying fragment ID id. A
// datagram that fits is returned unchanged.
func FragmentDatagram(b []byte, id uint16) ([][]byte, error) {
	if len(b) <= fragmentDataLen+HeaderLen+8 {
		return [][]byte{b}, nil
	}
	var h Header // filled in place: ParseHeader returns a copy
	if err := h.parse(b); err != nil {
		return nil, err
	}
	n := (len(b) + fragmentDataLen - 1) / fragmentDataLen
	if n > MaxFragments {
		return nil, ErrFragment
	}
	out := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		chunk := b[i*fragmentDataLen : min(len(b), (i+1)*fragmentDataLen)]
		// The header of the original (its cookies and exchange) with
		// the fragment payload next and message ID 0, written at its
		// offsets (RFC 2408 section 3.1); then the fragment payload:
		// the generic header, fragment ID, number, flags (1: the last)
		// and the data.
		last := byte(0)
		if i == n-1 {
			last = 1
		}
		f := make([]byte, HeaderLen+8, HeaderLen+8+len(chunk))
		copy(f, h.CookieI[:])
		copy(f[8:], h.CookieR[:])
		f[16], f[17], f[18] = uint8(PayloadFragment), Version, uint8(h.Exchange)
		binary.BigEndian.PutUint32(f[24:], uint32(HeaderLen+8+len(chunk)))
		binary.BigEndian.PutUint16(f[30:], uint16(8+len(chunk)))
		f[32], f[33], f[34], f[35] = byte(id>>8), byte(id), uint8(i+1), last
		out = append(out, append(f, chunk...))
	}
	return out, nil
}
