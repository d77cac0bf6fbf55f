package esp

import (
	"sync"
	"sync/atomic"
)

// The inbound SA table is an immutable map behind an atomic pointer: the
// inbound loops look SPIs up without any lock, and the rare writers
// (install, remove) copy the map under Engine.tableMu and publish the copy.

type inKey struct {
	proto Proto
	spi   uint32
}

type inTable struct {
	m map[inKey]*Pair
}

func (e *Engine) lookupInbound(proto Proto, spi uint32) *Pair {
	return e.inbound.Load().m[inKey{proto, spi}]
}

// publishInbound replaces the table with a copy changed by edit. Callers
// hold e.tableMu.
func (e *Engine) publishInbound(edit func(m map[inKey]*Pair)) {
	old := e.inbound.Load().m
	m := make(map[inKey]*Pair, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	edit(m)
	e.inbound.Store(&inTable{m: m})
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
