package ike

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
		// Fragment ID, number, flags (1: the last), the data.
		last := byte(0)
		if i == n-1 {
			last = 1
		}
		f := append([]byte{byte(id >> 8), byte(id), uint8(i + 1), last}, chunk...)
		m := &Message{
			Header:   Header{CookieI: h.CookieI, CookieR: h.CookieR, Exchange: h.Exchange},
			Payloads: []Payload{&Opaque{PayloadFragment, f}},
		}
		fb, err := m.Marshal()
		if err != nil {
			return nil, err
		}
		out = append(out, fb)
	}
	return out, nil
}
