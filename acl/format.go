package acl

import (
	"net/netip"
	"strconv"
	"strings"
)

// Canonical returns the rule in canonical form (CIDR prefixes, numeric
// ports), which ParseRule reads back to the same Rule, so that wildcard
// and prefix spellings of one rule look alike. Not a String method: the
// linker keeps every String method of a type reflection can reach
// (fmt.Stringer), and conf's tables make Rule such a type, so the
// method, its pointer wrapper and writeSide were in the daemon, which
// never formats a rule (flash).
func (r *Rule) Canonical() string {
	var b strings.Builder
	if r.Permit {
		b.WriteString("permit ")
	} else {
		b.WriteString("deny ")
	}
	b.WriteString(ProtoName(r.Proto))
	writeSide(&b, r.Src, r.SrcAny, r.SrcPorts)
	writeSide(&b, r.Dst, r.DstAny, r.DstPorts)
	return b.String()
}

// ProtoName returns the ACL keyword for an IP protocol number, or the
// number itself when there is no keyword; 0 is "ip" (any protocol).
// Not inlined: the Rule and Selector formats share one copy (flash).
//
//go:noinline
func ProtoName(p uint8) string {
	for _, k := range protoNames[:nProtoNames] {
		if k.num == uint16(p) {
			return k.name
		}
	}
	return strconv.Itoa(int(p))
}

func writeSide(b *strings.Builder, p netip.Prefix, isAny bool, ports PortRange) {
	b.WriteByte(' ')
	switch {
	case isAny || !p.IsValid():
		b.WriteString("any")
	case p.Bits() == p.Addr().BitLen():
		b.WriteString("host ")
		b.WriteString(p.Addr().String())
	default:
		b.WriteString(p.String())
	}
	if ports.Any() {
		return
	}
	switch {
	case ports.Lo == ports.Hi:
		b.WriteString(" eq ")
		b.WriteString(strconv.Itoa(int(ports.Lo)))
	case ports.Lo == 0:
		b.WriteString(" lt ")
		b.WriteString(strconv.Itoa(int(ports.Hi) + 1))
	case ports.Hi == 65535:
		b.WriteString(" gt ")
		b.WriteString(strconv.Itoa(int(ports.Lo) - 1))
	default:
		b.WriteString(" range ")
		b.WriteString(strconv.Itoa(int(ports.Lo)))
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(int(ports.Hi)))
	}
}
