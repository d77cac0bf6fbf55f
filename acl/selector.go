package acl

import (
	"net/netip"
	"strconv"
	"strings"
)

// Selector is an IKEv1 Quick Mode proxy ID pair (RFC 2409 5.5, IDci/IDcr):
// the traffic one IPsec SA carries, seen from this router. Local is the
// side behind us and Remote the side behind the peer; because crypto ACLs
// are written for outbound traffic, Local comes from an ACL line's source
// and Remote from its destination.
//
// Proto 0 is any protocol. Ports are meaningful for TCP, UDP and SCTP only;
// a zero or 0-65535 PortRange is any port, as port 0 is in an ID payload.
type Selector struct {
	Local, Remote           netip.Prefix
	Proto                   uint8
	LocalPorts, RemotePorts PortRange
}

// Mirror returns the selector as the peer sees it: its local side is our
// remote side. An initiator sends IDci = Local, IDcr = Remote; a responder
// mirrors what it received to get its own view.
func (s Selector) Mirror() Selector {
	return Selector{Local: s.Remote, Remote: s.Local, Proto: s.Proto, LocalPorts: s.RemotePorts, RemotePorts: s.LocalPorts}
}

// String formats the selector for status output, e.g.
// "10.1.0.0/24[any] -> 10.2.0.0/24[any]" or
// "10.1.0.0/24[udp] -> 10.2.0.0/24[udp/5000-5100]".
func (s Selector) String() string {
	var b strings.Builder
	s.writeSide(&b, s.Local, s.LocalPorts)
	b.WriteString(" -> ")
	s.writeSide(&b, s.Remote, s.RemotePorts)
	return b.String()
}

func (s Selector) writeSide(b *strings.Builder, p netip.Prefix, ports PortRange) {
	b.WriteString(p.String())
	b.WriteByte('[')
	if s.Proto == 0 {
		b.WriteString("any")
	} else {
		b.WriteString(ProtoName(s.Proto))
	}
	if hasPorts(s.Proto) && !ports.Any() {
		b.WriteByte('/')
		b.WriteString(strconv.Itoa(int(ports.Lo)))
		if ports.Hi != ports.Lo {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(int(ports.Hi)))
		}
	}
	b.WriteByte(']')
}

// MatchesPacket reports whether a raw IP packet belongs to the SA this
// selector describes. Outbound packets go from Local to Remote; inbound
// ones (the inner packet after ESP/AH decapsulation) from Remote to Local.
// The inbound check is what stops a peer from injecting traffic for
// addresses it did not negotiate (RFC 4301 5.2). Malformed packets do not
// match.
//
// A non-first fragment carries no ports, so it is checked on addresses and
// protocol only; the first fragment, which has the ports, is checked in
// full, and later fragments cannot change the ports it carries.
func (s Selector) MatchesPacket(pkt []byte, inbound bool) bool {
	var k pktKey
	if !parseKey(pkt, &k) {
		return false
	}
	return s.MatchesTuple(k.tuple(), inbound)
}

// Selectors are the proxy IDs of a manually keyed SA, which carries every
// line of its crypto ACL: a packet matches when one of them does.
type Selectors []Selector

// MatchesPacket reports whether one of the selectors matches; it parses
// the packet once.
func (ss Selectors) MatchesPacket(pkt []byte, inbound bool) bool {
	var k pktKey
	if !parseKey(pkt, &k) {
		return false
	}
	t := k.tuple()
	for i := range ss {
		if ss[i].MatchesTuple(t, inbound) {
			return true
		}
	}
	return false
}

// MatchesTuple is MatchesPacket for an already parsed packet.
func (s Selector) MatchesTuple(t Tuple, inbound bool) bool {
	local, remote := t.Src, t.Dst
	localPort, remotePort := t.SrcPort, t.DstPort
	if inbound {
		local, remote = remote, local
		localPort, remotePort = remotePort, localPort
	}
	if !s.Local.Contains(local) || !s.Remote.Contains(remote) {
		return false
	}
	if s.Proto != 0 && s.Proto != t.Proto {
		return false
	}
	if !hasPorts(s.Proto) || t.Fragment {
		return true
	}
	return s.LocalPorts.Contains(localPort) && s.RemotePorts.Contains(remotePort)
}

// Prefixes returns the local and remote address ranges; with Narrowness
// and MatchesPacket it lets the ESP engine index SAs by their negotiated
// selectors (esp.PairSelector).
func (s Selector) Prefixes() (local, remote netip.Prefix) { return s.Local, s.Remote }

// Narrowness ranks selectors with equal prefixes by how few packets they
// admit: any protocol 0, one protocol 1<<17, plus for protocols with ports
// the ports each side's range leaves out. A selector that contains
// another never ranks above it.
func (s Selector) Narrowness() int {
	if s.Proto == 0 {
		return 0
	}
	n := 1 << 17
	if hasPorts(s.Proto) {
		n += portsExcluded(s.LocalPorts) + portsExcluded(s.RemotePorts)
	}
	return n
}

// portsExcluded is the number of ports outside r.
func portsExcluded(r PortRange) int {
	lo, hi := r.bounds()
	return 65536 - (int(hi) - int(lo) + 1)
}

// ProxyIDs returns the selectors an initiator proposes for this ACL: one
// per permit line, in ACL order, as IOS does (one SA per ACL line). An
// "any" side takes the family of the other side; a line that is any on
// both sides becomes IPv4 0.0.0.0/0 both ways, since a proxy ID has one
// family (use ProxyID with v6 set, or write any6, for IPv6).
func (l *List) ProxyIDs() []Selector {
	var out []Selector
	for i := range l.Len() {
		if s, ok := l.ProxyID(i, false); ok {
			out = append(out, s)
		}
	}
	return out
}

// ProxyID returns the selector for rule i, false for deny lines and lines
// that can match nothing. v6 picks the family only when the line is "any"
// on both sides; pass the family of the packet that triggered the
// negotiation.
func (l *List) ProxyID(i int, v6 bool) (Selector, bool) {
	if l == nil || i < 0 || i >= len(l.rules) || !l.rules[i].Permit || l.c[i].fam == famNever {
		return Selector{}, false
	}
	r := &l.rules[i]
	fam := l.c[i].fam
	if fam == 0 {
		fam = 4
		if v6 {
			fam = 6
		}
	}
	s := Selector{
		Local:       ruleSide(r.Src, r.SrcAny, fam),
		Remote:      ruleSide(r.Dst, r.DstAny, fam),
		Proto:       r.Proto,
		LocalPorts:  AnyPort,
		RemotePorts: AnyPort,
	}
	if hasPorts(r.Proto) {
		lo, hi := r.SrcPorts.bounds()
		s.LocalPorts = PortRange{lo, hi}
		lo, hi = r.DstPorts.bounds()
		s.RemotePorts = PortRange{lo, hi}
	}
	return s, true
}

// ruleSide returns a rule's prefix with "any" made explicit in family fam.
// Both through the parser's out-of-line helpers: each inlined
// netip.PrefixFrom is half a kilobyte of 128-bit code (flash).
func ruleSide(p netip.Prefix, isAny bool, fam uint8) netip.Prefix {
	if isAny || !p.IsValid() {
		return anyPrefix(fam == 6)
	}
	return maskedPrefix(p.Addr(), p.Bits())
}

// AllowsProxyID is the responder's check of a proposed proxy ID pair. s
// must already be in our view (Local = the peer's IDcr, Remote = its IDci;
// see Mirror). See FindProxyID for the rule.
func (l *List) AllowsProxyID(s Selector) bool {
	_, ok := l.FindProxyID(s)
	return ok
}

// FindProxyID returns the first permit line that contains the proposal s
// (in our view): addresses, protocol and ports. Deny lines take no part,
// as on Cisco IOS: a deny in a crypto ACL means "do not protect this
// traffic here", it creates no SA and does not forbid one. Two routers with
// mirrored ACLs such as
//
//	deny   ip host 10.1.0.66 10.2.0.0 0.0.255.255
//	permit ip 10.1.0.0 0.0.0.255 10.2.0.0 0.0.255.255
//
// must agree on the permit line's proxy IDs, although the hole overlaps
// them; our own outbound classification still sends the denied traffic in
// the clear. Proposals with mixed families or invalid prefixes are refused.
func (l *List) FindProxyID(s Selector) (rule int, ok bool) {
	s, valid := s.normalized()
	if !valid || l == nil {
		return -1, false
	}
	for i := range l.rules {
		r := &l.rules[i]
		if r.Permit && ruleContains(r, s) {
			return i, true
		}
	}
	return -1, false
}

// Narrow returns the part of proposal s (our view) that the ACL can grant:
// the intersection of s with the first permit line it overlaps, provided no
// earlier deny line intersects that part. It suits a responder that
// answers a too-wide proposal with the narrower selector it accepts.
func (l *List) Narrow(s Selector) (Selector, bool) {
	s, valid := s.normalized()
	if !valid || l == nil {
		return Selector{}, false
	}
	for i := range l.rules {
		r := &l.rules[i]
		if !r.Permit {
			continue
		}
		x, ok := intersectRule(r, s)
		if !ok {
			continue
		}
		denied := false
		for j := range i {
			if !l.rules[j].Permit && ruleIntersects(&l.rules[j], x) {
				denied = true
				break
			}
		}
		if !denied {
			return x, true
		}
	}
	return Selector{}, false
}

// normalized masks the prefixes and expands any-port ranges, and reports
// whether the selector is usable at all.
func (s Selector) normalized() (Selector, bool) {
	if !s.Local.IsValid() || !s.Remote.IsValid() || s.Local.Addr().Is4() != s.Remote.Addr().Is4() {
		return s, false
	}
	s.Local, s.Remote = masked(s.Local), masked(s.Remote)
	s.LocalPorts = canonPorts(s.LocalPorts)
	s.RemotePorts = canonPorts(s.RemotePorts)
	if !hasPorts(s.Proto) {
		s.LocalPorts, s.RemotePorts = AnyPort, AnyPort
	}
	return s, true
}

func canonPorts(r PortRange) PortRange {
	lo, hi := r.bounds()
	return PortRange{lo, hi}
}

// rulePorts returns the port ranges a rule actually enforces.
func rulePorts(r *Rule) (src, dst PortRange) {
	if !hasPorts(r.Proto) {
		return AnyPort, AnyPort
	}
	return canonPorts(r.SrcPorts), canonPorts(r.DstPorts)
}

func prefixContains(outer netip.Prefix, isAny bool, inner netip.Prefix) bool {
	if isAny || !outer.IsValid() {
		return true
	}
	outer = masked(outer)
	return outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}

func prefixOverlaps(a netip.Prefix, isAny bool, b netip.Prefix) bool {
	if isAny || !a.IsValid() {
		return true
	}
	return masked(a).Overlaps(b)
}

func rangeContains(outer, inner PortRange) bool {
	return outer.Lo <= inner.Lo && inner.Hi <= outer.Hi
}

func rangeOverlaps(a, b PortRange) bool {
	return a.Lo <= b.Hi && b.Lo <= a.Hi
}

// ruleContains reports whether every packet of normalized selector s
// matches rule r.
func ruleContains(r *Rule, s Selector) bool {
	if !prefixContains(r.Src, r.SrcAny, s.Local) || !prefixContains(r.Dst, r.DstAny, s.Remote) {
		return false
	}
	if r.Proto != 0 && r.Proto != s.Proto {
		return false
	}
	sp, dp := rulePorts(r)
	return rangeContains(sp, s.LocalPorts) && rangeContains(dp, s.RemotePorts)
}

// ruleIntersects reports whether some packet of normalized selector s
// matches rule r.
func ruleIntersects(r *Rule, s Selector) bool {
	if !prefixOverlaps(r.Src, r.SrcAny, s.Local) || !prefixOverlaps(r.Dst, r.DstAny, s.Remote) {
		return false
	}
	if r.Proto != 0 && s.Proto != 0 && r.Proto != s.Proto {
		return false
	}
	sp, dp := rulePorts(r)
	return rangeOverlaps(sp, s.LocalPorts) && rangeOverlaps(dp, s.RemotePorts)
}

// intersectRule returns the selector for the packets in both r and s.
func intersectRule(r *Rule, s Selector) (Selector, bool) {
	if !ruleIntersects(r, s) {
		return Selector{}, false
	}
	x := s
	x.Local = narrower(r.Src, r.SrcAny, s.Local)
	x.Remote = narrower(r.Dst, r.DstAny, s.Remote)
	if x.Proto == 0 {
		x.Proto = r.Proto
	}
	if !hasPorts(x.Proto) {
		x.LocalPorts, x.RemotePorts = AnyPort, AnyPort
		return x, true
	}
	sp, dp := rulePorts(r)
	x.LocalPorts = PortRange{max(sp.Lo, s.LocalPorts.Lo), min(sp.Hi, s.LocalPorts.Hi)}
	x.RemotePorts = PortRange{max(dp.Lo, s.RemotePorts.Lo), min(dp.Hi, s.RemotePorts.Hi)}
	return x, true
}

// narrower returns the more specific of two overlapping prefixes, which is
// their intersection.
func narrower(a netip.Prefix, isAny bool, b netip.Prefix) netip.Prefix {
	if isAny || !a.IsValid() || a.Bits() <= b.Bits() {
		return b
	}
	return masked(a)
}
