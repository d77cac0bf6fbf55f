package esp

import (
	"sync/atomic"
	"time"

	"tinyipsec/internal/order"
)

// Drop is why the packet paths dropped a packet outside the per-packet
// transforms (whose reasons are the Error values). Both share one counter
// space: Error values first, then these.
type Drop uint8

const (
	DropNoPolicy  Drop = Drop(numErrors) + iota // outbound packet permitted by no crypto ACL entry
	DropNoSA                                    // inbound SPI with no SA
	DropQueueFull                               // no SA yet and the entry's queue is full (or discarded)
	DropTooBig                                  // would exceed the path MTU after encapsulation (ICMP sent if DF)
	DropMalformed                               // not a parseable IP/ESP/AH packet
	DropSend                                    // the wire send failed
	DropTunWrite                                // the TUN refused the decrypted packet
	DropReadError                               // a device or socket read failed (not a packet drop as such)
	numDrops
)

// dropNames are the keys of the drop maps in status (stable: scripts read
// them).
var dropNames = [numDrops]string{
	ErrTruncated:  "truncated",
	ErrProto:      "protocol",
	ErrSPI:        "spi",
	ErrReplay:     "replay",
	ErrAuth:       "auth",
	ErrPadding:    "padding",
	ErrPolicy:     "policy",
	ErrExpired:    "expired",
	ErrDummy:      "dummy",
	ErrNoRoom:     "no_room",
	ErrTooBig:     "too_big",
	DropNoPolicy:  "no_policy",
	DropNoSA:      "no_sa",
	DropQueueFull: "queue_full",
	DropTooBig:    "mtu",
	DropMalformed: "malformed",
	DropSend:      "send_error",
	DropTunWrite:  "tun_write",
	DropReadError: "read_error",
}

// String returns the status key of the reason.
func (d Drop) String() string {
	if int(d) < len(dropNames) && dropNames[d] != "" {
		return dropNames[d]
	}
	return "unknown"
}

// dropCounters counts drops by reason without locks.
type dropCounters [numDrops]atomic.Uint64

func (c *dropCounters) add(d Drop) { c[d].Add(1) }

func (c *dropCounters) addErr(err error) {
	if e, ok := err.(Error); ok && e < numErrors {
		c[e].Add(1)
		return
	}
	c[DropMalformed].Add(1)
}

// PacketsIn is the number of packets the pair has accepted so far. It is
// cheap enough for a once-a-second liveness check (DPD) and safe for
// concurrent use.
func (p *Pair) PacketsIn() uint64 {
	if c := p.own; c != nil {
		return c.pktsIn.Load()
	}
	if sa := saOf(p.in); sa != nil {
		return sa.life.packets.Load()
	}
	return 0
}

// counters fills in a pair's packet, byte and drop counts: its own, or
// the sum of its SAs'.
func (p *Pair) counters(ps *PairStats) {
	if c := p.own; c != nil {
		ps.PktsIn, ps.BytesIn = c.pktsIn.Load(), c.bytesIn.Load()
		ps.PktsOut, ps.BytesOut = c.pktsOut.Load(), c.bytesOut.Load()
		ps.Drops = c.drops.snapshot()
		return
	}
	ps.Drops = map[string]uint64{}
	// Both halves by one loop: the drop sum is written once.
	for i, half := range [2]any{p.in, p.out} {
		sa := saOf(half)
		if sa == nil {
			continue
		}
		// The SA's counters read here rather than through its Stats,
		// whose snapshot copies every counter once more (flash).
		pkts, bytes := sa.life.packets.Load(), sa.life.bytes.Load()
		if i == 0 {
			ps.PktsIn, ps.BytesIn = pkts, bytes
		} else {
			ps.PktsOut, ps.BytesOut = pkts, bytes
		}
		if d := sa.drops.Load(); d != nil {
			for j := range d {
				if v := d[j].Load(); v != 0 {
					ps.Drops[dropNames[j]] += v
				}
			}
		}
	}
}

func (c *dropCounters) snapshot() map[string]uint64 {
	m := map[string]uint64{}
	for i := range c {
		if v := c[i].Load(); v != 0 {
			m[dropNames[i]] = v
		}
	}
	return m
}

// EngineStats is a snapshot of the engine's counters for status.
type EngineStats struct {
	// Drops counts packets dropped outside any SA, by reason.
	Drops map[string]uint64
	// Bypassed counts outbound packets no entry permits that were sent
	// in cleartext (EngineConfig.Bypass).
	Bypassed uint64
	// Entries has one element per policy entry, in configuration order.
	Entries []EntryStats
	// Pairs lists every installed SA pair, the entry's current one first.
	Pairs []PairStats
}

// EntryStats are the counters of one policy entry without an SA.
type EntryStats struct {
	ID      string
	HasSA   bool
	Waiting int               // packets queued for an SA
	Drops   map[string]uint64 // e.g. queue_full
}

// PairStats describes one installed SA pair.
type PairStats struct {
	PairInfo
	// Current is true while the pair's outbound SA is its entry's SA;
	// false for an old pair kept for inbound only after a rekey.
	Current           bool
	Installed         time.Time
	LifetimeLeft      time.Duration // -1 when the pair has no time limit
	PktsIn, BytesIn   uint64
	PktsOut, BytesOut uint64
	Drops             map[string]uint64
}

// PairCount is the number of installed pairs (Stats().Pairs without
// listing them).
func (e *Engine) PairCount() int {
	e.tableMu.Lock()
	n := len(e.pairs)
	e.tableMu.Unlock()
	return n
}

// pairList copies the set of installed pairs (taking the table lock), for
// the status and the lifetime timer, which then work without the lock.
func (e *Engine) pairList() []*Pair {
	e.tableMu.Lock()
	pairs := make([]*Pair, len(e.pairs))
	copy(pairs, e.pairs)
	e.tableMu.Unlock()
	return pairs
}

// Stats returns a snapshot of every counter. It allocates and takes the
// table lock, so call it for status, not per packet.
func (e *Engine) Stats() EngineStats {
	s := EngineStats{Drops: e.drops.snapshot(), Bypassed: e.bypassed.Load()}
	// Both lists are made at their size and filled in place (no appends,
	// no copy of each large PairStats); they stay nil when empty, as
	// status has always shown them.
	ents := e.policy.Load().entries
	if len(ents) > 0 {
		s.Entries = make([]EntryStats, len(ents))
	}
	for i, ent := range ents {
		s.Entries[i] = EntryStats{
			ID:      ent.id,
			HasSA:   ent.hasSA(),
			Waiting: int(ent.pending.Load()),
			Drops:   ent.drops.snapshot(),
		}
	}
	now := time.Now()
	pairs := e.pairList()
	if len(pairs) > 0 {
		s.Pairs = make([]PairStats, len(pairs))
	}
	for i, p := range pairs {
		ps := &s.Pairs[i]
		ps.PairInfo = p.Info
		ps.Installed = p.installed
		ps.LifetimeLeft = -1
		p.counters(ps)
		// The entry's index moves when a reload reorders the crypto maps.
		ps.Entry = int(p.ent.index.Load())
		ps.Current = ps.Entry >= 0 && p.ent.current(p)
		if p.Info.Lifetime > 0 {
			ps.LifetimeLeft = max(0, p.Info.Lifetime-now.Sub(p.installed))
		}
	}
	// By entry, its current pairs first, newest first.
	ps := s.Pairs
	order.Stable(len(ps), func(i, j int) bool {
		a, b := &ps[i], &ps[j]
		if a.Entry != b.Entry {
			return a.Entry < b.Entry
		}
		if a.Current != b.Current {
			return a.Current
		}
		return a.Installed.After(b.Installed)
	}, func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
	return s
}
