package acl

import "net/netip"

// PortRange is an inclusive range of TCP/UDP/SCTP ports.
//
// "Any port" has two spellings: the canonical Lo=0, Hi=65535 that ParseRule
// produces, and the zero value, so that a Selector built from an IKE ID
// payload (where port 0 means "any", RFC 2407 4.6.2) or left unset is not
// accidentally "port 0 only". Port 0 itself is therefore not expressible,
// and ParseRule rejects ACL lines that would select only port 0.
type PortRange struct{ Lo, Hi uint16 }

// AnyPort is the canonical "any port" range.
var AnyPort = PortRange{0, 65535}

// Any reports whether the range covers every port.
func (r PortRange) Any() bool { return r.Lo == 0 && (r.Hi == 65535 || r.Hi == 0) }

// Contains reports whether port p is inside the range.
func (r PortRange) Contains(p uint16) bool {
	return r.Any() || (r.Lo <= p && p <= r.Hi)
}

// bounds returns the range with the zero value expanded to 0-65535, so
// comparisons never have to special-case it.
func (r PortRange) bounds() (lo, hi uint16) {
	if r.Any() {
		return 0, 65535
	}
	return r.Lo, r.Hi
}

// Rule is one parsed ACL line, e.g.
// "permit udp host 10.1.0.5 10.2.0.0/24 range 5000 5100".
type Rule struct {
	_      [0]func() // not comparable: no generated == function (flash)
	Permit bool
	// Proto is the IP protocol number; 0 means "ip" (any protocol).
	Proto uint8
	// Src and Dst are the address prefixes (always masked). SrcAny/DstAny
	// are set for the keyword "any", which matches both families; Src/Dst
	// are then the zero Prefix. "any4" and "any6" are not Any: they are
	// stored as 0.0.0.0/0 and ::/0 because they restrict the family.
	// Wildcard masks are converted to prefixes; non-contiguous wildcards are
	// rejected.
	Src, Dst       netip.Prefix
	SrcAny, DstAny bool
	// Ports apply to TCP, UDP and SCTP only; Any() when not given.
	SrcPorts, DstPorts PortRange
	// Text is the line as written (trimmed), for messages and status.
	Text string
}
