package ike

import (
	"crypto/rand"
	"sync"
	"time"

	"tinyipsec/conf"
)

// Ephemeral Diffie-Hellman keys made ahead. An initiator's first message
// of Aggressive Mode, and of a Quick Mode with PFS, carries its public
// value; making the key pair is a modular exponentiation (about half a
// millisecond for MODP-2048 here, tens of milliseconds on a router's MIPS
// core), which must not run under Manager.mu. So the manager takes a key
// made beforehand by a goroutine of this pool; when the pool of a group
// is empty, the exchange is started at a later tick (the manager's timer
// retries every tickInterval) and the pool makes a key meanwhile.
//
// Main Mode takes its key pair from the pool too (both roles), and makes
// one itself when the pool has none: a hub that a burst of spokes
// connects to then spends one exponentiation per handshake instead of
// two while the keys last. How many keys of a group are kept ready is
// dh_keys_ready (default 2); the first two are made at once, the rest
// only once no handshake has been computed for dhQuiet (a second), so
// refilling never slows a burst down. Groups that the configuration uses
// are filled at start and after a reload. Keys are process-wide: they
// belong to no SA until one is taken, a taken key is never given out
// again (the SA wipes it with its other secrets), and keys beyond a
// lowered depth are wiped.

// dhUrgentDepth keys of a group are made at once, whatever the load: the
// exchanges that can only start with a key from the pool (PFS, Aggressive
// Mode initiators) must not wait for an idle moment.
const dhUrgentDepth = 2

// dhIdlePoll is how often a filler beyond dhUrgentDepth looks whether the
// handshakes' computations have stopped.
const dhIdlePoll = 20 * time.Millisecond

// dhQuiet is how long no handshake must have been computed before keys
// beyond dhUrgentDepth are made: a burst's gaps between messages are not
// idle time (a key made then would delay the next message of the burst by
// an exponentiation). An initiator's gap is a round trip to its peer, a
// hub's the time its spokes take to answer, hundreds of milliseconds over
// a WAN or from a loaded peer, so a second: the refill only has to be done
// before the next burst.
const dhQuiet = time.Second

// dhBusy reports whether handshakes are being computed or were a moment
// ago (a variable for tests).
var dhBusy = func() bool {
	return len(computeSlots) > 0 || time.Since(time.Unix(0, lastComputed.Load())) < dhQuiet
}

type dhPool struct {
	mu    sync.Mutex
	depth int // keys kept ready per group
	// groups are the groups asked for so far (a handful), searched in
	// order: two maps keyed by group cost their map types and a look-up
	// call at each use (flash).
	groups []*dhGroupKeys
	wg     sync.WaitGroup // fillers running (tests wait for them)
}

// dhGroupKeys are the ready keys of one group and whether a filler
// makes more.
type dhGroupKeys struct {
	group   Group
	keys    []*DHKey
	filling bool
}

var dhKeys = &dhPool{depth: conf.DefaultDHKeysReady}

// of returns the row of group g, added if new (p.mu held).
func (p *dhPool) of(g Group) *dhGroupKeys {
	for _, r := range p.groups {
		if r.group == g {
			return r
		}
	}
	r := &dhGroupKeys{group: g}
	p.groups = append(p.groups, r)
	return r
}

// take returns a ready key of group g, or nil when there is none yet (one
// is then being made). It never computes. Unsupported groups give nil.
func (p *dhPool) take(g Group) *DHKey {
	if !g.Supported() {
		return nil
	}
	p.mu.Lock()
	r := p.of(g)
	var k *DHKey
	if l := r.keys; len(l) > 0 {
		k = l[len(l)-1]
		l[len(l)-1] = nil
		r.keys = l[:len(l)-1]
	}
	p.fillLocked(r)
	p.mu.Unlock()
	return k
}

// prepare sets how many keys per group are kept ready and makes sure keys
// of the groups are ready or being made. Keys beyond the depth are wiped.
func (p *dhPool) prepare(depth int, groups ...Group) {
	p.mu.Lock()
	p.depth = max(depth, 1)
	for _, r := range p.groups {
		for len(r.keys) > p.depth {
			l := r.keys
			l[len(l)-1].Wipe()
			l[len(l)-1] = nil
			r.keys = l[:len(l)-1]
		}
	}
	for _, g := range groups {
		if g.Supported() {
			p.fillLocked(p.of(g))
		}
	}
	p.mu.Unlock()
}

// fillLocked starts a goroutine that tops group r up to p.depth keys
// unless one runs already (p.mu held). It shares the phase 1 computation
// slots, so key making never takes more than the cores; beyond
// dhUrgentDepth keys it waits until no computation holds a slot.
func (p *dhPool) fillLocked(r *dhGroupKeys) {
	if r.filling || len(r.keys) >= p.depth {
		return
	}
	r.filling = true
	g := r.group
	p.wg.Add(1)
	go func() {
		// p.wg.Done at each return, not deferred: a deferred call is a
		// wrapper function of its own (flash).
		for {
			// Beyond dhUrgentDepth keys, wait for an idle moment, but
			// look again at the depth while waiting: takes during the
			// wait may have drained the pool below it.
			for {
				p.mu.Lock()
				urgent := len(r.keys) < dhUrgentDepth
				p.mu.Unlock()
				if urgent || !dhBusy() {
					break
				}
				<-time.After(dhIdlePoll) // not time.Sleep, linked for nothing else (flash)
			}
			if dhKeyHook != nil {
				dhKeyHook(g)
			}
			computeSlots <- struct{}{}
			k, err := g.GenerateKey(rand.Reader)
			<-computeSlots
			p.mu.Lock()
			if err != nil || len(r.keys) >= p.depth {
				r.filling = false
				p.mu.Unlock()
				if k != nil {
					k.Wipe()
				}
				p.wg.Done()
				return
			}
			r.keys = append(r.keys, k)
			full := len(r.keys) >= p.depth
			if full {
				r.filling = false
			}
			p.mu.Unlock()
			if full {
				p.wg.Done()
				return
			}
		}
	}()
}

// dhKeyHook, when set (tests), runs before each key is made.
var dhKeyHook func(Group)
