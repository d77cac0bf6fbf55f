package ike

import (
	"testing"
	"time"
)

// settleRecount counts by a scan what m.settle keeps by events: the live
// IKE SAs in phase 1 and the Quick Modes in negotiation.
func settleRecount(m *Manager) (counted, scanned int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, sa := range m.sas {
		if sa.out == nil {
			scanned++
		}
		for _, qs := range sa.qms {
			if qs.doneAt == 0 {
				scanned++
			}
		}
	}
	return m.settle.negotiating, scanned
}

// TestSettledOnceAfterChange: the hub reports being settled once after
// spokes came up, not again on idle ticks, and once more after a spoke
// went; the counts it keeps at install, establish and removal match a scan
// of its SAs throughout.
func TestSettledOnceAfterChange(t *testing.T) {
	n, hub := hubBehindNAT(t)
	ends := []*natSpoke{n.addSpoke(t, 1), n.addSpoke(t, 2), n.addSpoke(t, 3)}
	for _, e := range ends {
		go e.m.Start()
	}
	waitUntil(t, 30*time.Second, "3 spokes up", func() bool { return len(hub.plane.live()) == 3 })
	quiet := func(what string) int32 {
		t.Helper()
		waitUntil(t, 5*time.Second, what, func() bool {
			hub.m.mu.Lock()
			defer hub.m.mu.Unlock()
			return !hub.m.settle.unsettled
		})
		if counted, scanned := settleRecount(hub.m); counted != 0 || scanned != 0 {
			t.Fatalf("%s: negotiating %d by events, %d by a scan", what, counted, scanned)
		}
		return n.settled.Load()
	}
	first := quiet("the hub settled after the spokes came up")
	if first < 1 {
		t.Fatalf("Settled called %d times after the spokes came up", first)
	}
	// Idle: ticks (the manager's own and these) call nothing.
	for i := range 10 {
		hub.m.tick(monoNow().add(time.Duration(i) * time.Millisecond))
	}
	time.Sleep(500 * time.Millisecond) // two of the manager's own ticks
	if got := n.settled.Load(); got != first {
		t.Fatalf("idle hub: Settled called %d more times", got-first)
	}

	// Spoke 2 shuts down and deletes its SAs: one more call.
	ends[1].m.Close()
	waitUntil(t, 10*time.Second, "spoke 2's SAs gone from the hub", func() bool {
		byID, _ := hubPeers(hub.m)
		return len(hub.plane.live()) == 2 && len(byID) == 2
	})
	second := quiet("the hub settled after spoke 2 left")
	if second != first+1 {
		t.Fatalf("Settled called %d times after spoke 2 left, want 1", second-first)
	}
	for i := range 10 {
		hub.m.tick(monoNow().add(time.Duration(i) * time.Millisecond))
	}
	time.Sleep(500 * time.Millisecond)
	if got := n.settled.Load(); got != second {
		t.Fatalf("idle hub: Settled called %d more times", got-second)
	}
}

// TestFinishedQuickModeSlim: a finished Quick Mode keeps only what
// answering a retransmission needs (the initiator's last messages; the
// responder's none), not its proposals, identities and nonces.
func TestFinishedQuickModeSlim(t *testing.T) {
	for _, e := range onePairUp(t) {
		waitSACount(t, e, "the Quick Mode finished", 1, func(sa *ikeSA) (done int) {
			for _, qs := range sa.qms {
				if qs.doneAt != 0 {
					done++
				}
			}
			return done
		})
		e.m.locked(func() {
			for _, sa := range e.m.sas {
				for _, qs := range sa.qms {
					q := qs.q
					if q.offer != nil || q.choice != nil || q.ni != nil || q.nr != nil || q.idci != nil || q.ourSA != nil || q.lookup != nil || q.dh != nil {
						t.Fatalf("finished Quick Mode keeps its negotiation state: %+v", q)
					}
					if q.initiator && (q.lastIn == nil || q.lastOut == nil) {
						t.Fatal("finished Quick Mode of the initiator lost its last messages (a repeated QM2 is answered with QM3 again)")
					}
					if !q.initiator && (q.lastIn != nil || q.lastOut != nil) {
						t.Fatal("finished Quick Mode of the responder keeps messages nothing will ask for")
					}
				}
			}
		})
	}
}

// TestPhase1MessagesGoOnceConfirmed: an IKE SA keeps its last phase 1
// messages (to answer a repeat of the peer's last one) only until the
// peer sends an authenticated message after phase 1; with a pair up, both
// ends have let them go.
func TestPhase1MessagesGoOnceConfirmed(t *testing.T) {
	for _, e := range onePairUp(t) {
		waitSACount(t, e, "phase 1's messages let go", 0, func(sa *ikeSA) int {
			if sa.p1In != nil || sa.p1Last != nil {
				return 1
			}
			return 0
		})
	}
}

// onePairUp starts a hub and one spoke and waits for their IPsec SA pair;
// it returns both ends, hub first.
func onePairUp(t *testing.T) []*memEnd {
	t.Helper()
	hub, spokes, addrs := hubWithSpokes(t, 1)
	spokes[0].m.Start()
	waitUntil(t, 30*time.Second, "the pair", func() bool { return pairWith(hub, addrs[0]) && len(spokes[0].plane.live()) == 1 })
	return []*memEnd{hub, spokes[0]}
}

// waitSACount waits until count, summed over e's IKE SAs (under the
// manager's lock), is want.
func waitSACount(t *testing.T, e *memEnd, what string, want int, count func(sa *ikeSA) int) {
	t.Helper()
	waitUntil(t, 30*time.Second, what, func() bool {
		n := 0
		e.m.locked(func() {
			for _, sa := range e.m.sas {
				n += count(sa)
			}
		})
		return n == want
	})
}
