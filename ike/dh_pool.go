package ike

import (
	"crypto/rand"
	"errors"
	"sync"
)

// Ephemeral Diffie-Hellman keys made ahead. An initiator's first message
// of Aggressive Mode, and of a Quick Mode with PFS, carries its public
// value; making the key pair is a modular exponentiation (about a
// millisecond for MODP-2048 here, tens of milliseconds on a router's MIPS
// core), which must not run under Manager.mu. So the manager takes a key
// made beforehand by a goroutine of this pool; when the pool of a group
// is empty, the exchange is started at a later tick (the manager's timer
// retries every tickInterval) and the pool makes a key meanwhile. Groups
// that the configuration uses are filled at start and after a reload.
// Keys are process-wide: they belong to no SA until one is taken, and a
// taken key is never given out again.

// errKeyNotReady: the exchange waits for a key from the pool.
var errKeyNotReady = errors.New("ike: Diffie-Hellman key not made yet")

// dhPoolDepth is how many keys of a group are kept ready.
const dhPoolDepth = 2

type dhPool struct {
	mu      sync.Mutex
	keys    map[Group][]*DHKey
	filling map[Group]bool
	wg      sync.WaitGroup // fillers running (tests wait for them)
}

var dhKeys = &dhPool{keys: map[Group][]*DHKey{}, filling: map[Group]bool{}}

// take returns a ready key of group g, or nil when there is none yet (one
// is then being made). It never computes. Unsupported groups give nil.
func (p *dhPool) take(g Group) *DHKey {
	if !g.Supported() {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var k *DHKey
	if l := p.keys[g]; len(l) > 0 {
		k = l[len(l)-1]
		l[len(l)-1] = nil
		p.keys[g] = l[:len(l)-1]
	}
	p.fillLocked(g)
	return k
}

// prepare makes sure keys of the groups are ready or being made.
func (p *dhPool) prepare(groups ...Group) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, g := range groups {
		if g.Supported() {
			p.fillLocked(g)
		}
	}
}

// fillLocked starts a goroutine that tops group g up to dhPoolDepth keys
// unless one runs already (p.mu held). It shares the phase 1 computation
// slots, so key making never takes more than the cores.
func (p *dhPool) fillLocked(g Group) {
	if p.filling[g] || len(p.keys[g]) >= dhPoolDepth {
		return
	}
	p.filling[g] = true
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			if dhKeyHook != nil {
				dhKeyHook(g)
			}
			computeSlots <- struct{}{}
			k, err := g.GenerateKey(rand.Reader)
			<-computeSlots
			p.mu.Lock()
			if err != nil || len(p.keys[g]) >= dhPoolDepth {
				p.filling[g] = false
				p.mu.Unlock()
				if k != nil {
					k.Wipe()
				}
				return
			}
			p.keys[g] = append(p.keys[g], k)
			full := len(p.keys[g]) >= dhPoolDepth
			if full {
				p.filling[g] = false
			}
			p.mu.Unlock()
			if full {
				return
			}
		}
	}()
}

// dhKeyHook, when set (tests), runs before each key is made.
var dhKeyHook func(Group)

// wait blocks until no filler runs (tests).
func (p *dhPool) wait() { p.wg.Wait() }
