package acl

import (
	"net/netip"
	"slices"
)

// List is a compiled ACL: first match wins, implicit deny at the end.
// It is immutable after Compile and safe for concurrent use.
//
// Matching uses tuple space search: rules of one family are grouped by
// their (source length, destination length) pair, and each group is a hash
// table from the masked address pair to its rules in ACL order. A lookup
// costs one hash probe per group instead of one comparison per rule, and
// real crypto ACLs have few distinct length pairs (mostly /24-/24 or /32-/32),
// so a 1,000-line ACL costs about as much as a 10-line one. Small ACLs are
// scanned linearly, which is faster than hashing below a few dozen rules.
type List struct {
	rules []Rule
	c     []crule
	v4    famTable
	v6    famTable
}

// crule is a Rule reduced to masked words for the hot path.
type crule struct {
	_            [0]func() // not comparable: no generated == function (flash)
	src, dst     a128
	smask, dmask a128
	slen, dlen   uint8
	fam          uint8 // 0 = both families ("any any"), 4, 6; never = no packet can match
	proto        uint8
	permit       bool
	ports        bool // a port range is restricted
	spLo, spHi   uint16
	dpLo, dpHi   uint16
}

const famNever = 255

// famTable holds the rules that can match one address family.
type famTable struct {
	linear []int32 // rule indexes in order, when a scan is cheaper
	groups []group // otherwise (non-nil); sorted by their first rule index
}

type group struct {
	smask, dmask a128
	first        int32
	spans        map[pairKey]span
	idx          []int32 // rule indexes; each span is an ascending run
}

type pairKey struct{ src, dst a128 }

type span struct{ off, n int32 }

// Compile prepares rules for matching. Rules that can never match (an IPv4
// source with an IPv6 destination, which ParseRule rejects but a
// hand-built Rule may have) keep their index but are left out of the tables.
// Port ranges are honoured only for TCP, UDP and SCTP rules, as on IOS.
func Compile(rules []Rule) *List {
	l := &List{rules: slices.Clone(rules), c: make([]crule, len(rules))}
	for i := range rules {
		compileRule(&rules[i], &l.c[i])
	}
	l.v4 = buildTable(l.c, 4)
	l.v6 = buildTable(l.c, 6)
	return l
}

// compileRule fills c, which is zero, in place: returned by value, the
// compiled rule (22 words) was built and then copied (flash).
func compileRule(r *Rule, c *crule) {
	c.proto, c.permit, c.spHi, c.dpHi = r.Proto, r.Permit, 65535, 65535
	var sf, df uint8
	c.src, c.smask, c.slen, sf = compileSide(&r.Src, r.SrcAny)
	c.dst, c.dmask, c.dlen, df = compileSide(&r.Dst, r.DstAny)
	switch {
	case sf != 0 && df != 0 && sf != df:
		c.fam = famNever
	case sf != 0:
		c.fam = sf
	default:
		c.fam = df
	}
	if hasPorts(r.Proto) {
		c.spLo, c.spHi = r.SrcPorts.bounds()
		c.dpLo, c.dpHi = r.DstPorts.bounds()
		c.ports = !r.SrcPorts.Any() || !r.DstPorts.Any()
	}
}

// compileSide reduces one side of a rule to the masked address, its
// mask, length and family; all zero for "any". Once for both sides: the
// 128-bit mask arithmetic is long code on a 32-bit router (flash).
//
//go:noinline
func compileSide(p *netip.Prefix, isAny bool) (addr, mask a128, bits, fam uint8) {
	if isAny || !p.IsValid() {
		return
	}
	addr, fam = addrBits(p.Addr())
	mask = prefixMask(p.Bits(), fam)
	return addr.and(mask), mask, uint8(p.Bits()), fam
}

// familyRules returns the indexes of the rules that can match family fam.
func familyRules(c []crule, fam uint8) []int32 {
	var all []int32
	for i := range c {
		if c[i].fam == 0 || c[i].fam == fam {
			all = append(all, int32(i))
		}
	}
	return all
}

// buildTable picks the cheaper lookup for family fam: each group costs one
// hash probe, which is worth about groupCost rule checks of a straight scan
// (BenchmarkMatchSmall, BenchmarkMatchMixedLengths). Small ACLs, and ACLs
// with many distinct length pairs, are scanned.
func buildTable(c []crule, fam uint8) famTable {
	all := familyRules(c, fam)
	if len(all) <= groupCost {
		return famTable{linear: all}
	}
	groups := buildGroups(c, fam, all)
	if len(groups)*groupCost >= len(all) {
		return famTable{linear: all}
	}
	return famTable{groups: groups}
}

const groupCost = 24

// buildGroups builds the tuple space tables over rules all of family fam:
// one group per (source length, destination length) pair, in the order
// of its first rule, and in each group one span of idx per masked
// address pair, in the order of the pair's first rule. Two passes over
// the rules with the groups' own span maps (first counting, then placing)
// rather than maps of slices per length pair and per address pair, whose
// map types and code the daemon carried for this alone (flash).
func buildGroups(c []crule, fam uint8, all []int32) []group {
	var groups []group
	in := make([]int32, len(all)) // the group of each rule of all
	var size []int32              // rules per group
	for n, i := range all {
		// The rule's group is found by a scan of the groups, which
		// are few (one per length pair in use, a handful in real
		// ACLs), rather than a map keyed by the length pair, whose
		// map type and code nothing else used (flash).
		gi := int32(0)
		for ; int(gi) < len(groups); gi++ {
			if f := &c[groups[gi].first]; f.slen == c[i].slen && f.dlen == c[i].dlen {
				break
			}
		}
		if int(gi) == len(groups) {
			// The group's masks are its first rule's: a length has one
			// mask in the family, and an "any" side has length 0 and a
			// zero mask in either family.
			groups = append(groups, group{smask: c[i].smask, dmask: c[i].dmask, first: i, spans: map[pairKey]span{}})
			size = append(size, 0)
		}
		in[n] = gi
		size[gi]++
		g := &groups[gi]
		pk := pairKey{c[i].src, c[i].dst}
		sp, seen := g.spans[pk]
		if !seen {
			sp.off = -1 // placed in the second pass
		}
		sp.n++
		g.spans[pk] = sp
	}
	next := make([]int32, len(groups)) // where each group's next span starts
	for gi := range groups {
		groups[gi].idx = make([]int32, size[gi])
	}
	for n, i := range all {
		gi := in[n]
		g := &groups[gi]
		pk := pairKey{c[i].src, c[i].dst}
		sp := g.spans[pk]
		if sp.off < 0 {
			// The pair's first rule: its span starts here, and n
			// counts the rules placed so far, up to the total again.
			next[gi] += sp.n
			sp.off, sp.n = next[gi]-sp.n, 0
		}
		g.idx[sp.off+sp.n] = i
		sp.n++
		g.spans[pk] = sp
	}
	return groups
}

// Match classifies a raw IPv4/IPv6 packet: the index of the first rule that
// matches and whether it permits. No match, or a packet too malformed to
// classify, gives (-1, false): the implicit deny.
func (l *List) Match(pkt []byte) (rule int, permit bool) {
	var k pktKey
	if !parseKey(pkt, &k) {
		return -1, false
	}
	return l.match(&k)
}

// MatchTuple is Match for an already parsed packet.
func (l *List) MatchTuple(t Tuple) (rule int, permit bool) {
	var k pktKey
	if !tupleKey(&t, &k) {
		return -1, false
	}
	return l.match(&k)
}

func (l *List) match(k *pktKey) (int, bool) {
	if l == nil {
		return -1, false
	}
	t := &l.v4
	if k.fam == 6 {
		t = &l.v6
	}
	i := l.first(t, k)
	if i < 0 {
		return -1, false
	}
	return int(i), l.c[i].permit
}

func (l *List) first(t *famTable, k *pktKey) int32 {
	if t.groups == nil {
		for _, i := range t.linear {
			if l.c[i].matchAddr(k) && l.c[i].matchRest(k) {
				return i
			}
		}
		return -1
	}
	best := int32(len(l.c))
	for gi := range t.groups {
		g := &t.groups[gi]
		if g.first >= best {
			break // groups are sorted by first index: none can win now
		}
		sp, ok := g.spans[pairKey{k.src.and(g.smask), k.dst.and(g.dmask)}]
		if !ok {
			continue
		}
		for _, i := range g.idx[sp.off : sp.off+sp.n] {
			if i >= best {
				break
			}
			if l.c[i].matchRest(k) {
				best = i
				break
			}
		}
	}
	if best == int32(len(l.c)) {
		return -1
	}
	return best
}

func (r *crule) matchAddr(k *pktKey) bool {
	return k.src.and(r.smask) == r.src && k.dst.and(r.dmask) == r.dst
}

// matchRest checks everything but the addresses (and the family, which the
// table choice already decided).
//
// A non-first fragment has no ports. Like IOS, a permit rule with ports
// matches it on addresses and protocol alone (the first fragment, which
// has the ports, decides whether the datagram can be reassembled), while a
// deny rule with ports does not match it, so it falls through to later
// rules rather than being dropped on a guess.
func (r *crule) matchRest(k *pktKey) bool {
	if r.proto != 0 && r.proto != k.proto {
		return false
	}
	if !r.ports {
		return true
	}
	if k.frag {
		return r.permit
	}
	return r.spLo <= k.sport && k.sport <= r.spHi && r.dpLo <= k.dport && k.dport <= r.dpHi
}

// Len returns the number of rules.
func (l *List) Len() int {
	if l == nil {
		return 0
	}
	return len(l.rules)
}

// Rule returns rule i as compiled.
func (l *List) Rule(i int) Rule { return l.rules[i] }

// Rules returns a copy of the rules.
func (l *List) Rules() []Rule {
	if l == nil {
		return nil
	}
	return slices.Clone(l.rules)
}
