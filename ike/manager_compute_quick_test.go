package ike

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"tinyipsec/conf"
)

// statusAnswers fails unless m.Status returns within 2 s.
func statusAnswers(t *testing.T, m *Manager, while string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		m.Status()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatalf("status blocked while %s", while)
	}
}

// hubWithSpokes is a dynamic hub at 192.0.2.100 and spokes 192.0.3.k
// (not started), all with PFS group 14.
func hubWithSpokes(t *testing.T, spokes int) (hub *memEnd, ends []*memEnd, addrs []netip.Addr) {
	t.Helper()
	hubAddr := netip.MustParseAddr("192.0.2.100")
	n := &memNet{peers: map[netip.Addr]*Manager{}}
	mk := func(addr netip.Addr, cfg *conf.Config) *memEnd { return n.add(t, addr, cfg, nil) }
	hub = mk(hubAddr, testConfig(hubAddr, netip.Addr{}, "10.200.0.0/16", "10.0.0.0/8", "never", func(cm *conf.CryptoMap) {
		cm.Peer, cm.PeerAddr, cm.Dynamic, cm.PFS = "dynamic", netip.Addr{}, true, 14
	}))
	hub.m.Start()
	for k := 1; k <= spokes; k++ {
		a := netip.AddrFrom4([4]byte{192, 0, 3, byte(k)})
		ends = append(ends, mk(a, testConfig(a, hubAddr, fmt.Sprintf("10.%d.0.0/16", k), "10.200.0.0/16", "always",
			func(cm *conf.CryptoMap) { cm.PFS = 14 })))
		addrs = append(addrs, a)
	}
	return hub, ends, addrs
}

func pairWith(e *memEnd, peer netip.Addr) bool {
	for _, c := range e.plane.live() {
		if c.Remote.Addr() == peer {
			return true
		}
	}
	return false
}

// TestQuickModePFSStallsNobody: Quick Mode's Diffie-Hellman work (PFS)
// runs outside the manager's lock. While the hub's answer to spoke 1's
// QM1 is held in its computation, the hub's status answers and spoke 2
// negotiates phase 1 and Quick Mode to the end; then, while spoke 1's own
// computation of QM2 is held, spoke 1's status answers; released, both
// finish.
func TestQuickModePFSStallsNobody(t *testing.T) {
	hub, spokes, addrs := hubWithSpokes(t, 2)
	s1 := addrs[0]
	holdHub, holdSpoke := make(chan struct{}), make(chan struct{})
	entered := make(chan string, 2)
	computeHook = func(sa *ikeSA) {
		if sa.out == nil {
			return // phase 1
		}
		switch {
		case !sa.initiator && sa.remote.Addr() == s1:
			entered <- "hub"
			<-holdHub
		case sa.initiator && sa.local.Addr() == s1:
			entered <- "spoke"
			<-holdSpoke
		}
	}
	defer func() { computeHook = nil }()
	released := map[chan struct{}]bool{}
	release := func(c chan struct{}) {
		if !released[c] {
			released[c] = true
			close(c)
		}
	}
	defer release(holdHub)
	defer release(holdSpoke)
	wait := func(want string) {
		t.Helper()
		select {
		case got := <-entered:
			if got != want {
				t.Fatalf("computation held on the %s, want the %s", got, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("no Quick Mode computation on the %s outside the lock", want)
		}
	}

	spokes[0].m.Start()
	wait("hub")
	statusAnswers(t, hub.m, "a Quick Mode computation ran")
	spokes[1].m.Start()
	waitUntil(t, 30*time.Second, "spoke 2's pair on the hub while spoke 1's QM1 is computed", func() bool { return pairWith(hub, addrs[1]) })
	if pairWith(hub, s1) {
		t.Fatal("spoke 1's pair installed while its computation is held")
	}

	release(holdHub)
	wait("spoke")
	statusAnswers(t, spokes[0].m, "its QM2 computation ran")
	release(holdSpoke)
	waitUntil(t, 30*time.Second, "spoke 1's pair on both ends", func() bool { return pairWith(hub, s1) && len(spokes[0].plane.live()) == 1 })
}

// drainKeys empties the pool of group g, then holds its maker until
// the returned function is called.
func drainKeys(t *testing.T, g Group) (release func()) {
	dhKeys.wait()
	dhKeys.mu.Lock()
	r := dhKeys.of(g)
	for _, k := range r.keys {
		k.Wipe()
	}
	r.keys = nil
	dhKeys.mu.Unlock()
	hold := make(chan struct{})
	dhKeyHook = func(Group) { <-hold }
	released := false
	release = func() {
		if !released {
			released = true
			close(hold)
		}
	}
	t.Cleanup(func() {
		release()
		dhKeys.wait()
		dhKeyHook = nil
	})
	return release
}

// TestPFSKeysMadeAhead: an initiator's PFS key pair comes from the pool;
// while the pool has none and its maker is held, the exchange waits
// (status answers), and it starts once a key is made.
func TestPFSKeysMadeAhead(t *testing.T) {
	release := drainKeys(t, GroupMODP2048)
	hub, spokes, _ := hubWithSpokes(t, 1)
	spokes[0].m.Start()
	waitUntil(t, 30*time.Second, "spoke's phase 1", func() bool {
		for _, s := range spokes[0].m.Status() {
			if s.State == "MM_ACTIVE" {
				return true
			}
		}
		return false
	})
	statusAnswers(t, spokes[0].m, "the PFS key is being made")
	// No Quick Mode started (made inline, the key would have let it start
	// when phase 1 completed; a finished one stays listed for 30 s).
	spokes[0].m.locked(func() {
		for _, sa := range spokes[0].m.sas {
			if len(sa.qms) != 0 {
				t.Fatal("a Quick Mode started without a key from the pool")
			}
		}
	})
	release()
	waitUntil(t, 30*time.Second, "the pair once a key is made", func() bool { return len(spokes[0].plane.live()) == 1 && len(hub.plane.live()) == 1 })
}

// TestAggressiveKeyMadeAhead: an Aggressive Mode initiator's key pair
// (its first message carries the public value) comes from the pool too:
// with none made yet, no exchange starts and status answers; once a key
// is made, the tunnel comes up.
func TestAggressiveKeyMadeAhead(t *testing.T) {
	release := drainKeys(t, GroupMODP2048)
	hub, spokes, _ := hubWithSpokes(t, 1)
	spokes[0].m.locked(func() { spokes[0].m.maps[0].cm.Exchange = conf.ExchangeAggressive })
	spokes[0].m.Start()
	statusAnswers(t, spokes[0].m, "the Aggressive Mode key is being made")
	for range 3 {
		spokes[0].m.tick(monoNow()) // the timer's attempts to start
	}
	spokes[0].m.locked(func() {
		if len(spokes[0].m.sas) != 0 {
			t.Fatal("Aggressive Mode started without a key from the pool")
		}
	})
	release()
	waitUntil(t, 30*time.Second, "the pair once a key is made", func() bool { return len(spokes[0].plane.live()) == 1 && len(hub.plane.live()) == 1 })
	for _, s := range spokes[0].m.Status() {
		if s.Exchange != "aggressive" {
			t.Fatalf("exchange %q, want aggressive", s.Exchange)
		}
	}
}

// TestXAuthCheckStallsNobody: a gateway checks XAUTH passwords (bcrypt)
// outside the manager's lock: while alice's check is held, the gateway's
// status answers and bob connects to the end; released, alice does too.
func TestXAuthCheckStallsNobody(t *testing.T) {
	hold := make(chan struct{})
	entered := make(chan struct{}, 1)
	computeHook = func(sa *ikeSA) {
		if sa.ra != nil && sa.ra.verifying && sa.ra.user == "alice" {
			entered <- struct{}{}
			<-hold
		}
	}
	defer func() { computeHook = nil }()
	released := false
	defer func() {
		if !released {
			close(hold)
		}
	}()
	rn := newRANet(t)
	alice, _ := rn.client("192.0.2.1", "alice", "s3cret", "main")
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("alice's password was not checked outside the lock")
	}
	statusAnswers(t, rn.gw.m, "a password was being checked")
	bob, _ := rn.client("192.0.2.2", "bob", "other", "main")
	raActiveStatus(t, bob, "bob connected while alice's password is checked")
	if len(alice.plane.live()) != 0 {
		t.Fatal("alice connected while her password check is held")
	}
	released = true
	close(hold)
	raActiveStatus(t, alice, "alice connected after her check")
}
