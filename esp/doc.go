// Package esp owns IPsec SAs, the per-packet ESP (RFC 4303) and AH
// (RFC 4302) transforms and the two packet paths: TUN -> ACL -> SA -> wire
// and wire -> SPI -> SA -> TUN. Per-packet code never allocates and never
// takes a global lock.
//
// # SAs and transforms
//
// An SA direction is built from a Params value (protocol, mode, SPIs,
// algorithm names as written in the configuration, keys, outer addresses,
// optional NAT-T ports, ESN, replay window, selector, lifetimes):
//
//	out, err := esp.NewOutbound(p) // sending half
//	in, err := esp.NewInbound(p)   // receiving half (Local/Remote as seen by the receiver)
//	defer out.Close()              // Close wipes the keys
//
// Encap protects the cleartext IP packet buf[off:off+n] in place. The caller
// leaves out.Headroom() bytes before it and out.Tailroom() after it
// (MaxHeadroom and MaxTailroom fit every SA). The result buf[start:end]
// always starts with a complete outer IPv4 (checksummed) or IPv6 header,
// then UDP (NAT-T), then AH and/or ESP:
//
//	start, end, err := out.Encap(buf, off, n)
//
// Decap takes a whole received packet (outer IP header included) and returns
// the cleartext packet in place: the inner packet in tunnel mode, the packet
// with its own header restored in transport mode:
//
//	proto, spi, ok := esp.ParseSPI(pkt) // find the SA; in.LookupKey() gives the same pair
//	off, n, err := in.Decap(buf, start, end)
//
// Errors are Error constants (ErrAuth, ErrReplay, ErrPadding, ErrPolicy,
// ...) that compare with == and index Stats.Drops; returning them does not
// allocate. Each SA counts its packets, bytes and drops (Stats), tracks soft
// and hard lifetimes by bytes, packets and sequence-number exhaustion
// (Expired), and applies time lifetimes when its owner calls CheckTime.
//
// Algorithms: AES-GCM-16 (128/256, RFC 4106), ChaCha20-Poly1305 (RFC 7634),
// AES-CBC (128/192/256, RFC 3602), 3DES-CBC, NULL (RFC 2410) with
// HMAC-SHA1-96, HMAC-SHA-256-128/384-192/512-256 (RFC 4868) or HMAC-MD5-96;
// AH with the same HMACs; ESP, AH, or AH+ESP bundles (outer IP | AH | ESP);
// tunnel (IPv4/IPv6 outer, either inner family) and transport mode; ESN;
// RFC 6479 anti-replay windows of 64..4096 packets.
//
// Limits: received ESP/AH packets must be reassembled first (Decap refuses
// fragments) and must follow the outer IPv6 header directly (no extension
// headers); transport mode refuses IPv4 fragments and IPv6 packets with
// hop-by-hop, routing or fragment headers. Transport mode over NAT-T
// recomputes the inner TCP/UDP checksum on receipt (RFC 3948 §3.1.2).
//
// Encap and Decap are safe for concurrent use. Their per-packet scratch
// (HMAC states, nonces) lives in per-SA slots, because buffers handed to
// crypto interfaces escape to the heap and stack scratch would allocate on
// every packet. An SA starts with one slot and adds more, up to one per
// CPU, only when its packets are processed in parallel.
package esp
