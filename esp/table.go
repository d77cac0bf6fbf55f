package esp

import (
	"sync"
	"sync/atomic"
)

// The inbound SA table: the inbound loops look SPIs up without any lock;
// the rare writers (install, remove) serialise on Engine.tableMu. It is
// split into inShards shards by a hash of the SPI, each an immutable slice
// sorted by SPI behind an atomic pointer, and a writer copies and
// republishes only its SPI's shard. One immutable map for the whole table
// would be copied in full on every install: on a hub where a burst of
// spokes installs n pairs that is n²/2 entries copied, megabytes of
// garbage for a thousand spokes, all of it while the handshakes' own
// garbage peaks.

type inKey struct {
	proto Proto
	spi   uint32
}

// less orders keys by SPI, then protocol.
func (k inKey) less(o inKey) bool {
	if k.spi != o.spi {
		return k.spi < o.spi
	}
	return k.proto < o.proto
}

type inEntry struct {
	_   [0]func() // not comparable: no generated == function (flash)
	key inKey
	p   *Pair
}

// inShards is a power of two: with a thousand SAs a shard holds about 16,
// and an install copies that many entries.
const inShards = 64

type inTable struct {
	_      [0]func() // not comparable: no generated == function (flash)
	shards [inShards]atomic.Pointer[[]inEntry]
}

// shardOf spreads SPIs over the shards. IKE picks SPIs at random, but
// manual keying often uses round numbers (0x1000, 0x2000): a
// multiplicative hash takes the top bits, which depend on every bit of the
// SPI.
func shardOf(spi uint32) int { return int((spi * 0x9e3779b1) >> 26) }

// search returns the index of the first entry of s not less than k.
func search(s []inEntry, k inKey) int {
	lo, hi := 0, len(s)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if s[mid].key.less(k) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

func (t *inTable) lookup(k inKey) *Pair {
	s := t.shards[shardOf(k.spi)].Load()
	if s == nil {
		return nil
	}
	if i := search(*s, k); i < len(*s) && (*s)[i].key == k {
		return (*s)[i].p
	}
	return nil
}

// set adds, replaces (p != nil) or removes (p == nil) the entry of k.
// Callers hold Engine.tableMu.
func (t *inTable) set(k inKey, p *Pair) {
	sh := &t.shards[shardOf(k.spi)]
	var old []inEntry
	if s := sh.Load(); s != nil {
		old = *s
	}
	i := search(old, k)
	found := i < len(old) && old[i].key == k
	n := len(old)
	switch {
	case p != nil && !found:
		n++
	case p == nil && found:
		n--
	case p == nil:
		return
	}
	if n == 0 {
		sh.Store(nil)
		return
	}
	// Copied into an exact-size slice: appends would each carry the
	// growth check and its call (flash).
	next := make([]inEntry, n)
	j := copy(next, old[:i])
	if p != nil {
		next[j] = inEntry{key: k, p: p}
		j++
	}
	if found {
		i++
	}
	copy(next[j:], old[i:])
	sh.Store(&next)
}

// clear empties the table (tableMu held).
func (t *inTable) clear() {
	for i := range t.shards {
		t.shards[i].Store(nil)
	}
}

func (e *Engine) lookupInbound(proto Proto, spi uint32) *Pair {
	return e.inbound.lookup(inKey{proto, spi})
}

// entry is one policy entry (crypto map entry): its current outbound SAs
// and the packets waiting for one. IKE negotiates SAs with traffic
// selectors inside the ACL lines (one per line as IOS proposes, or one per
// spoke on a hub's dynamic map): a packet takes the most specific of them
// that contains it (see selIndex). Pairs without selectors are per ACL
// line or for the whole entry (manual keying); a line's own SA wins over
// the entry-wide one.
type entry struct {
	id    string
	index atomic.Int32                  // position in the current policy table; -1 once dropped
	sel   atomic.Pointer[selIndex]      // SAs with negotiated selectors
	out   atomic.Pointer[Pair]          // entry-wide SA
	rules atomic.Pointer[map[int]*Pair] // per-ACL-line SAs; immutable, replaced on change

	mu      sync.Mutex
	queue   []queued     // packets waiting for an SA, oldest first
	pending atomic.Int32 // len(queue), readable without mu
	// acquired is when Acquire was last called for each ACL line (unix
	// nanoseconds), under mu: per line, since IKE negotiates an SA per
	// line and traffic for two lines often starts together.
	acquired map[int]int64

	drops dropCounters
}

// lookup returns the outbound pair for packet pkt, which matched ACL line
// rule: the pair whose negotiated selectors contain it, else the line's or
// the entry's pair without selectors.
func (ent *entry) lookup(rule int, pkt []byte) *Pair {
	if ix := ent.sel.Load(); ix != nil {
		if p := ix.lookup(pkt); p != nil {
			return p
		}
	}
	if m := ent.rules.Load(); m != nil {
		if p := (*m)[rule]; p != nil {
			return p
		}
	}
	return ent.out.Load()
}

// setRule installs (p != nil) or removes (only if still old) the pair of
// ACL line rule. Callers hold ent.mu.
func (ent *entry) setRule(rule int, p, old *Pair) {
	m := map[int]*Pair{}
	if cur := ent.rules.Load(); cur != nil {
		for k, v := range *cur {
			m[k] = v
		}
	}
	if p != nil {
		m[rule] = p
	} else if m[rule] == old {
		delete(m, rule)
	}
	if len(m) == 0 {
		ent.rules.Store(nil)
		return
	}
	ent.rules.Store(&m)
}

// current reports whether p carries outbound traffic of its entry.
func (ent *entry) current(p *Pair) bool {
	if p.sel != nil {
		return ent.sel.Load().current(p)
	}
	if p.Info.ForRule {
		m := ent.rules.Load()
		return m != nil && (*m)[p.Info.Rule] == p
	}
	return ent.out.Load() == p
}

// hasSA reports whether any outbound SA is installed.
func (ent *entry) hasSA() bool {
	return ent.sel.Load() != nil || ent.out.Load() != nil || ent.rules.Load() != nil
}
