package esp

// WireLen returns the length of the packet Encap makes from an n-byte
// cleartext packet (outer IP header included). In transport mode it
// assumes an IPv4 header without options or an IPv6 header without
// extension headers.
func (sa *OutboundSA) WireLen(n int) int {
	hl, outerHL := 0, 20
	if sa.v6 {
		outerHL = 40
	}
	if sa.mode == Transport {
		hl = outerHL
	}
	total := n - hl + outerHL + sa.ahLen
	if sa.natt {
		total += 8
	}
	if sa.ciph != nil {
		t := n - hl + 2
		total += 8 + sa.ivLen + (sa.padAlign-t%sa.padAlign)%sa.padAlign + 2 + sa.icvLen
	}
	return total
}

// MaxInner returns the largest cleartext packet whose encapsulation fits in
// mtu bytes: the MTU to announce inside the tunnel, or to report in an
// ICMP "packet too big" / "fragmentation needed" message.
func (sa *OutboundSA) MaxInner(mtu int) int {
	// WireLen(n)-n is the overhead, which varies only with the padding:
	// start above the answer by the largest padding and step down.
	n := mtu - (sa.WireLen(40) - 40)
	if sa.ciph != nil {
		n += sa.padAlign
	}
	for n > 0 && sa.WireLen(n) > mtu {
		n--
	}
	return n
}
