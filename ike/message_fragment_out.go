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
	// Checked like any datagram we parse; the fragments' headers are
	// copied from its bytes.
	var h Header
	if err := h.parse(b); err != nil {
		return nil, err
	}
	n := (len(b) + fragmentDataLen - 1) / fragmentDataLen
	if n > MaxFragments {
		return nil, ErrFragment
	}
	out := make([][]byte, n)
	for i := range out {
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
		f := make([]byte, HeaderLen+8+len(chunk))
		copy(f, b[:19]) // the cookies, and the exchange at 18
		f[16], f[17] = uint8(PayloadFragment), Version
		binary.BigEndian.PutUint32(f[24:], uint32(len(f)))
		binary.BigEndian.PutUint16(f[30:], uint16(8+len(chunk)))
		f[32], f[33], f[34], f[35] = byte(id>>8), byte(id), uint8(i+1), last
		copy(f[HeaderLen+8:], chunk)
		out[i] = f
	}
	return out, nil
}
