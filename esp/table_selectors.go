package esp

import (
	"net/netip"
	"slices"
)

// Outbound SA choice by negotiated selectors.
//
// A crypto map entry can hold many SA pairs whose negotiated traffic
// selectors are narrower than the ACL line that admitted them: a hub's
// dynamic crypto map permits 10.222.0.0/16 -> 10.212.0.0/16 and each spoke
// negotiates its own /32 or /24 inside it. The ACL line says only that a
// packet must be protected; which SA protects it is decided by the
// negotiated selectors (RFC 4301 §4.4.2: the SPD-S cache entry whose
// selectors match). Taking the newest pair of the line instead would hand
// one spoke's traffic to another spoke's keys.
//
// The pairs of an entry that carry selectors live in a selIndex keyed by
// the remote (destination) prefix of their selector, so the outbound loop
// finds a packet's pair with one map lookup per distinct prefix length in
// use (typically one: every spoke a /32, or every spoke a /24), not a scan
// over every pair. The order in which candidates are tried is "most
// specific first":
//
//  1. the longest remote prefix containing the destination,
//  2. then the longest local prefix,
//  3. then the narrowest protocol and ports (PairSelector.Narrowness),
//  4. then, among pairs of the same selector (a rekey's old and new pair),
//     the newest.
//
// The first candidate whose selector matches the whole packet (addresses,
// protocol, ports) carries it. When none does, the entry has no SA for the
// packet: it waits and Acquire is asked for one, exactly as for an entry
// without any pair.

// PairSelector is a pair's negotiated traffic selector as the outbound
// path uses it: MatchesPacket (with inbound false) decides whether an
// outbound packet belongs to the pair, Prefixes index it, Narrowness
// orders selectors of equal prefixes. acl.Selector implements it. Values
// must be comparable with ==: two pairs have the same selector (one
// rekeys the other) when their selectors are equal.
type PairSelector interface {
	Selector
	// Prefixes returns the local (source, outbound) and remote
	// (destination) address ranges.
	Prefixes() (local, remote netip.Prefix)
	// Narrowness is larger for selectors that admit fewer packets with the
	// same prefixes: a protocol beats "any", a narrower port range beats a
	// wider one. If a contains b and their prefixes are equal, then
	// a.Narrowness() <= b.Narrowness().
	Narrowness() int
}

// selIndex is an immutable index of an entry's pairs with selectors,
// replaced as a whole when a pair is installed or removed (under ent.mu),
// read by the outbound loop without locks.
type selIndex struct {
	// lens4 and lens6 are the distinct remote prefix lengths in use per
	// address family, longest first.
	lens4, lens6 []int
	// byRemote holds the candidates of each remote prefix (masked), in
	// the order they are tried.
	byRemote map[netip.Prefix][]*Pair
	n        int
}

// lookup returns the pair that carries the outbound cleartext packet pkt,
// nil when none does. It does not allocate.
func (ix *selIndex) lookup(pkt []byte) *Pair {
	var dst netip.Addr
	var lens []int
	switch {
	case len(pkt) >= 20 && pkt[0]>>4 == 4:
		dst, lens = netip.AddrFrom4([4]byte(pkt[16:20])), ix.lens4
	case len(pkt) >= 40 && pkt[0]>>4 == 6:
		dst, lens = netip.AddrFrom16([16]byte(pkt[24:40])), ix.lens6
	default:
		return nil
	}
	for _, l := range lens {
		pfx, err := dst.Prefix(l)
		if err != nil {
			continue
		}
		for _, p := range ix.byRemote[pfx] {
			if p.sel.MatchesPacket(pkt, false) {
				return p
			}
		}
	}
	return nil
}

// selKey is what orders candidates of one remote prefix.
type selKey struct {
	localBits  int
	narrowness int
}

func keyOf(s PairSelector) (selKey, netip.Prefix) {
	local, remote := s.Prefixes()
	return selKey{localBits: local.Bits(), narrowness: s.Narrowness()}, remote.Masked()
}

// less reports whether a is tried before b (more specific).
func (a selKey) less(b selKey) bool {
	if a.localBits != b.localBits {
		return a.localBits > b.localBits
	}
	return a.narrowness > b.narrowness
}

// with returns a copy of ix (nil: empty) with p added. p is the newest
// pair, so it goes before every candidate that is not more specific.
func (ix *selIndex) with(p *Pair) *selIndex {
	k, remote := keyOf(p.sel)
	next := ix.clone()
	old := next.byRemote[remote]
	at := len(old)
	for i, q := range old {
		if qk, _ := keyOf(q.sel); !qk.less(k) {
			at = i
			break
		}
	}
	next.byRemote[remote] = slices.Insert(slices.Clip(old), at, p)
	next.n++
	next.lengths()
	return next
}

// without returns a copy of ix without p, nil when nothing is left.
func (ix *selIndex) without(p *Pair) *selIndex {
	if ix == nil {
		return nil
	}
	_, remote := keyOf(p.sel)
	old := ix.byRemote[remote]
	i := slices.Index(old, p)
	if i < 0 {
		return ix
	}
	if ix.n == 1 {
		return nil
	}
	next := ix.clone()
	if len(old) == 1 {
		delete(next.byRemote, remote)
	} else {
		next.byRemote[remote] = slices.Delete(slices.Clone(old), i, i+1)
	}
	next.n--
	next.lengths()
	return next
}

// current reports whether p carries outbound traffic: no newer pair with
// the same selector shadows it.
func (ix *selIndex) current(p *Pair) bool {
	if ix == nil {
		return false
	}
	_, remote := keyOf(p.sel)
	for _, q := range ix.byRemote[remote] {
		if q == p {
			return true
		}
		if q.sel == p.sel {
			return false
		}
	}
	return false
}

// clone copies the map; the candidate slices are shared (never modified
// in place: with and without build new ones).
func (ix *selIndex) clone() *selIndex {
	next := &selIndex{byRemote: map[netip.Prefix][]*Pair{}}
	if ix != nil {
		for k, v := range ix.byRemote {
			next.byRemote[k] = v
		}
		next.n = ix.n
	}
	return next
}

// lengths recomputes lens4 and lens6 from the keys.
func (ix *selIndex) lengths() {
	var seen4, seen6 [129]bool
	for pfx := range ix.byRemote {
		if pfx.Addr().Is4() {
			seen4[pfx.Bits()] = true
		} else {
			seen6[pfx.Bits()] = true
		}
	}
	// Longest first, read off the marks (no sort: a sort of ints would
	// link one more instantiation of the generic sort, 6 KB on MIPS).
	ix.lens4, ix.lens6 = nil, nil
	for bits := 128; bits >= 0; bits-- {
		if seen4[bits] {
			ix.lens4 = append(ix.lens4, bits)
		}
		if seen6[bits] {
			ix.lens6 = append(ix.lens6, bits)
		}
	}
}
