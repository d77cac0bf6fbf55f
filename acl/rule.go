// Package acl compiles Cisco-style crypto ACLs into packet matchers and
// derives the IKE proxy IDs (traffic selectors) from them.
package acl

import "net/netip"

// PortRange is an inclusive range of TCP/UDP ports; the zero value is
// "any port" (0-65535 is stored as Lo=0, Hi=65535).
type PortRange struct{ Lo, Hi uint16 }

// Any reports whether the range covers every port.
func (r PortRange) Any() bool { return r.Lo == 0 && r.Hi == 65535 }

// Rule is one parsed ACL line, e.g.
// "permit udp host 10.1.0.5 10.2.0.0/24 range 5000 5100".
type Rule struct {
	Permit bool
	// Proto is the IP protocol number; 0 means "ip" (any protocol).
	Proto uint8
	// Src and Dst are the address prefixes; a zero-length prefix of the
	// right family, or Any*, means "any". Wildcard masks are converted to
	// prefixes; non-contiguous wildcards are rejected.
	Src, Dst       netip.Prefix
	SrcAny, DstAny bool
	// Ports apply to TCP and UDP only; Any() when not given.
	SrcPorts, DstPorts PortRange
	// Text is the line as written, for messages and status.
	Text string
}
