package esp

import (
	"encoding/binary"
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
// replaced when a pair is installed or removed (under ent.mu), read by
// the outbound loop without locks. Its candidates are split into
// selShards shards by a hash of their remote prefix, and a new index
// shares every shard but the one that changed: a hub's dynamic crypto map
// holds one prefix per spoke, and copying them all on every install would
// cost n²/2 copies in a burst of n spokes.
type selIndex struct {
	// lens4 and lens6 are the distinct remote prefix lengths in use per
	// address family, longest first.
	lens4, lens6 []int
	shards       [selShards]*selShard
	n            int
	// lenCount counts the remote prefixes of each length, IPv4 in
	// [0] and IPv6 in [1]: an array copied with the index rather than a
	// map copied when a length comes or goes, whose key type, hash and
	// copy loop cost flash (1 KB more per index, set-up only).
	lenCount [2][129]int32
}

const selShards = 64

// selShard holds the remote prefixes of one shard sorted by hash, each
// with its candidates in the order they are tried. Immutable.
type selShard []selEntry

type selEntry struct {
	hash   uint64
	remote netip.Prefix
	pairs  []*Pair
}

// prefixHash mixes every bit of the masked prefix; its top bits choose
// the shard.
func prefixHash(p netip.Prefix) uint64 {
	a := p.Addr().As16()
	h := binary.LittleEndian.Uint64(a[:8])*0x9e3779b97f4a7c15 ^ binary.LittleEndian.Uint64(a[8:]) ^ uint64(p.Bits())<<1
	if p.Addr().Is4() {
		h ^= 1
	}
	return h * 0xff51afd7ed558ccd
}

func shardOfHash(h uint64) int { return int(h >> 58) }

// find returns the index of remote in the shard, or where it would go and
// false.
func (sh selShard) find(h uint64, remote netip.Prefix) (int, bool) {
	lo, hi := 0, len(sh)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if sh[mid].hash < h {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	for i := lo; i < len(sh) && sh[i].hash == h; i++ {
		if sh[i].remote == remote {
			return i, true
		}
	}
	return lo, false
}

// candidates returns the pairs of remote prefix pfx (masked).
func (ix *selIndex) candidates(pfx netip.Prefix) []*Pair {
	h := prefixHash(pfx)
	sh := ix.shards[shardOfHash(h)]
	if sh == nil {
		return nil
	}
	if i, ok := sh.find(h, pfx); ok {
		return (*sh)[i].pairs
	}
	return nil
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
		for _, p := range ix.candidates(pfx) {
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

// withCandidates returns a copy of ix (nil: empty) in which remote's
// candidates are pairs (none: remote removed). Only remote's shard, the
// shard array and, when a prefix comes or goes, the length counts are
// copied.
func (ix *selIndex) withCandidates(remote netip.Prefix, pairs []*Pair, dn int) *selIndex {
	next := &selIndex{}
	if ix != nil {
		*next = *ix
	}
	next.n += dn
	h := prefixHash(remote)
	slot := &next.shards[shardOfHash(h)]
	var old selShard
	if *slot != nil {
		old = **slot
	}
	i, found := old.find(h, remote)
	// The shard is copied into an exact-size slice with remote's entry
	// replaced, removed or inserted: copy rather than appends, which each
	// carry the growth check and its call, or slices.Insert, whose
	// instantiations cost 2.6 KB of code here (flash).
	keep := !found || len(pairs) > 0
	n := len(old)
	switch {
	case !found:
		n++
	case !keep:
		n--
	}
	sh := make(selShard, n)
	j := copy(sh, old[:i])
	if keep {
		sh[j] = selEntry{hash: h, remote: remote, pairs: pairs}
		j++
	}
	if found {
		i++
	}
	copy(sh[j:], old[i:])
	if len(sh) == 0 {
		*slot = nil
	} else {
		*slot = &sh
	}
	if found != (len(pairs) > 0) {
		fam := 1
		if remote.Addr().Is4() {
			fam = 0
		}
		if found {
			next.lenCount[fam][remote.Bits()]--
		} else {
			next.lenCount[fam][remote.Bits()]++
		}
		// The lengths in use, longest first, read off the counts (no
		// sort: a sort of ints would link one more instantiation of the
		// generic sort, 6 KB on MIPS).
		next.lens4, next.lens6 = nil, nil
		for bits := 128; bits >= 0; bits-- {
			if next.lenCount[0][bits] > 0 {
				next.lens4 = append(next.lens4, bits)
			}
			if next.lenCount[1][bits] > 0 {
				next.lens6 = append(next.lens6, bits)
			}
		}
	}
	if next.n == 0 {
		return nil
	}
	return next
}

// with returns a copy of ix (nil: empty) with p added. p is the newest
// pair, so it goes before every candidate that is not more specific.
func (ix *selIndex) with(p *Pair) *selIndex {
	k, remote := keyOf(p.sel)
	var old []*Pair
	if ix != nil {
		old = ix.candidates(remote)
	}
	at := len(old)
	for i, q := range old {
		if qk, _ := keyOf(q.sel); !qk.less(k) {
			at = i
			break
		}
	}
	next := make([]*Pair, len(old)+1)
	copy(next, old[:at])
	next[at] = p
	copy(next[at+1:], old[at:])
	return ix.withCandidates(remote, next, 1)
}

// without returns a copy of ix without p, nil when nothing is left.
func (ix *selIndex) without(p *Pair) *selIndex {
	if ix == nil {
		return nil
	}
	_, remote := keyOf(p.sel)
	old := ix.candidates(remote)
	i := slices.Index(old, p)
	if i < 0 {
		return ix
	}
	var rest []*Pair
	if len(old) > 1 {
		rest = make([]*Pair, len(old)-1)
		copy(rest, old[:i])
		copy(rest[i:], old[i+1:])
	}
	return ix.withCandidates(remote, rest, -1)
}

// current reports whether p carries outbound traffic: no newer pair with
// the same selector shadows it.
func (ix *selIndex) current(p *Pair) bool {
	if ix == nil {
		return false
	}
	_, remote := keyOf(p.sel)
	for _, q := range ix.candidates(remote) {
		if q == p {
			return true
		}
		if q.sel == p.sel {
			return false
		}
	}
	return false
}
