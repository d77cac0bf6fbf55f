package ike

import (
	"bytes"
	"sync/atomic"
	"testing"
	"time"
)

// TestDHPoolDepth: dh_keys_ready keys of a group are kept; while
// handshakes are computed only the first dhUrgentDepth are made again,
// the rest once the computations stop; a key is never handed out twice;
// lowering the depth wipes what is beyond it.
func TestDHPoolDepth(t *testing.T) {
	const g = GroupECP256
	var busy atomic.Bool
	defaultBusy := dhBusy
	dhBusy = busy.Load
	t.Cleanup(func() {
		busy.Store(false) // a filler waiting for an idle moment must end
		dhKeys.wait()
		dhBusy = defaultBusy
		dhKeys.prepare(2)
	})
	dhKeys.prepare(6, g)
	waitUntil(t, 30*time.Second, "6 keys ready", func() bool { return dhKeys.ready(g) == 6 })

	busy.Store(true)
	var taken []*DHKey
	for range 5 {
		k := dhKeys.take(g)
		if k == nil {
			t.Fatal("no key although the pool had some")
		}
		for _, o := range taken {
			if bytes.Equal(o.Public(), k.Public()) {
				t.Fatal("a key was handed out twice")
			}
		}
		taken = append(taken, k)
		if len(taken) == 1 {
			// The filler the first take started now waits for an idle
			// moment (5 keys left); the next takes drain the pool below
			// dhUrgentDepth while it waits.
			time.Sleep(5 * dhIdlePoll)
		}
	}
	waitUntil(t, 30*time.Second, "the urgent keys made while busy", func() bool { return dhKeys.ready(g) >= dhUrgentDepth })
	time.Sleep(5 * dhIdlePoll)
	if n := dhKeys.ready(g); n != dhUrgentDepth {
		t.Fatalf("%d keys made while handshakes are computed, want %d", n, dhUrgentDepth)
	}
	busy.Store(false)
	waitUntil(t, 30*time.Second, "6 keys once idle", func() bool { return dhKeys.ready(g) == 6 })
	dhKeys.wait()

	dhKeys.mu.Lock()
	beyond := append([]*DHKey(nil), dhKeys.of(g).keys[3:]...)
	dhKeys.mu.Unlock()
	dhKeys.prepare(3, g)
	if n := dhKeys.ready(g); n != 3 {
		t.Fatalf("%d keys after lowering the depth to 3", n)
	}
	for _, k := range beyond {
		if k.ec != nil || k.exp != nil {
			t.Fatal("a key beyond the lowered depth was not wiped")
		}
	}
	for _, k := range taken {
		k.Wipe()
	}
}

// TestMainModeTakesPooledKeys: both ends of a Main Mode take their key
// pairs from the pool when it has them (a burst then costs one
// exponentiation per handshake instead of two).
func TestMainModeTakesPooledKeys(t *testing.T) {
	hub, spokes, addrs := hubWithSpokes(t, 1)
	g := Group(hub.m.cfg.Conf.Policies[0].Group)
	// The depth is the configuration's (set again by each Start).
	spokes[0].m.cfg.Conf.Global.DHKeysReady = 4
	dhKeys.prepare(4, g)
	waitUntil(t, 30*time.Second, "4 keys ready", func() bool { return dhKeys.ready(g) == 4 })
	dhKeys.wait()
	hold := make(chan struct{})
	dhKeyHook = func(Group) { <-hold }
	t.Cleanup(func() {
		close(hold)
		dhKeys.wait()
		dhKeyHook = nil
		dhKeys.prepare(2)
	})
	// No PFS: only Main Mode takes keys.
	for _, e := range append(spokes, hub) {
		e.m.locked(func() {
			for _, ms := range e.m.maps {
				ms.cm.PFS = 0
			}
		})
	}
	spokes[0].m.Start()
	waitUntil(t, 30*time.Second, "the pair", func() bool { return pairWith(hub, addrs[0]) })
	if n := dhKeys.ready(g); n != 2 {
		t.Fatalf("%d of 4 keys left after one Main Mode, want 2 (one per end)", n)
	}
}

// ready is how many keys of group g are ready.
func (p *dhPool) ready(g Group) int {
	p.mu.Lock()
	n := len(p.of(g).keys)
	p.mu.Unlock()
	return n
}

// wait blocks until no filler runs.
func (p *dhPool) wait() { p.wg.Wait() }
