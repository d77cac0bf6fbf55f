package ike

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"tinyipsec/internal/status"
)

// orphanCount and ikeChildren read a manager's orphans and the pairs on
// its established IKE SAs.
func orphanCount(m *Manager) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.orphans)
}

func ikeChildren(m *Manager) (established, children int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, sa := range m.sas {
		if sa.out != nil && !sa.dead() {
			established++
			children += len(sa.children)
		}
	}
	return
}

// TestManagerPairsOutliveIKESA: the initiator deletes its IKE SA alone
// (as a peer re-authenticating does before its new IKE SA is up on our
// side): both ends keep the IPsec SA pair, which still counts as the ACL
// line's SA (no new negotiation for it). When the pair is due for a rekey
// the initiator starts a new phase 1, the new IKE SA adopts the pair on
// both ends, and the pair is rekeyed on it.
func TestManagerPairsOutliveIKESA(t *testing.T) {
	skipTimingInShort(t)
	_, i, r := startPair(t, nil, nil)
	first, _ := pairThenIKESAGone(t, i, r)
	waitUntil(t, 5*time.Second, "the responder's IKE SA gone, its pair kept", func() bool {
		e, _ := ikeChildren(r.m)
		return e == 0 && orphanCount(r.m) == 1 && orphanCount(i.m) == 1
	})
	// Timer ticks: nobody renegotiates a line that has its pair.
	for range 3 {
		i.m.tick(monoNow())
	}
	if e, _ := ikeChildren(i.m); e != 0 || len(i.m.Status()) != 0 {
		t.Fatalf("the initiator negotiated again although its pair lives: %+v", i.m.Status())
	}
	if live := i.plane.live(); len(live) != 1 || live[0] != first || len(r.plane.live()) != 1 {
		t.Fatalf("pairs without IKE SA: %d / %d", len(i.plane.live()), len(r.plane.live()))
	}

	// The pair is due for a rekey: a new phase 1 adopts it, then the
	// rekey replaces it.
	i.m.mu.Lock()
	i.m.orphans[0].c.rekeyAt = monoNow()
	i.m.mu.Unlock()
	waitUntil(t, 20*time.Second, "a rekeyed pair on a new IKE SA on both ends", func() bool {
		ei, ci := ikeChildren(i.m)
		er, cr := ikeChildren(r.m)
		li, lr := i.plane.live(), r.plane.live()
		return ei == 1 && er == 1 && ci == 1 && cr == 1 && orphanCount(i.m) == 0 && orphanCount(r.m) == 0 &&
			len(li) == 1 && len(lr) == 1 && li[0] != first
	})
	checkMirrored(t, i.plane.live()[0], r.plane.live()[0])
}

// TestManagerInitialContactClearsOrphans: a pair kept after its IKE SA
// went is dropped when the peer comes back with INITIAL-CONTACT (it
// restarted and has none of our SAs).
func TestManagerInitialContactClearsOrphans(t *testing.T) {
	n, i, r := startPair(t, nil, nil)
	_, old := pairThenIKESAGone(t, i, r)
	waitUntil(t, 5*time.Second, "the responder's pair kept without IKE SA", func() bool { return orphanCount(r.m) == 1 })

	// The initiator crashes and comes back with no SAs.
	p := restartInitiator(t, n, i).plane
	waitUntil(t, 20*time.Second, "only the new pair on the responder", func() bool {
		live := r.plane.live()
		return len(p.live()) == 1 && len(live) == 1 && live[0] != old && orphanCount(r.m) == 0
	})
	checkMirrored(t, p.live()[0], r.plane.live()[0])
}

// TestManagerOrphanExpires: a pair kept without IKE SA is listed as such
// for status, carries on until its lifetime ends, and then goes.
func TestManagerOrphanExpires(t *testing.T) {
	_, i, r := startPair(t, nil, nil)
	_, rPair := pairThenIKESAGone(t, i, r)
	spiIn := rPair.ESPIn.SPI
	waitUntil(t, 5*time.Second, "the responder's pair kept without IKE SA", func() bool { return orphanCount(r.m) == 1 })
	// Status marks the pair the data plane lists by its inbound SPI.
	rep := &status.Report{IPsecSAs: []status.IPsecSA{{SPIIn: fmt.Sprintf("0x%08x", spiIn+1)}, {SPIIn: fmt.Sprintf("0x%08x", spiIn)}}}
	r.m.AddStatus(rep)
	if rep.IPsecSAs[0].WithoutIKESA || !rep.IPsecSAs[1].WithoutIKESA {
		t.Fatalf("pairs without IKE SA marked %+v, want only 0x%08x", rep.IPsecSAs, spiIn)
	}
	r.m.tick(monoNow())
	if len(r.plane.live()) != 1 {
		t.Fatal("the kept pair went before its lifetime ended")
	}
	r.m.mu.Lock()
	r.m.orphans[0].c.expires = monoNow().add(-time.Minute) // past for any tick
	r.m.orphanDue = 0
	r.m.mu.Unlock()
	r.m.tick(monoNow().add(time.Millisecond))
	rep = &status.Report{IPsecSAs: []status.IPsecSA{{SPIIn: fmt.Sprintf("0x%08x", spiIn)}}}
	r.m.AddStatus(rep)
	if len(r.plane.live()) != 0 || orphanCount(r.m) != 0 || rep.IPsecSAs[0].WithoutIKESA {
		t.Fatalf("an expired pair without IKE SA is still installed (%d)", len(r.plane.live()))
	}
}

// TestManagerOrphanReconnects: when the peer brings no new IKE SA of its
// own, an initiating map starts one after orphanReconnect; it adopts the
// pair (same SPIs, no rekey), so DPD and Deletes have an IKE SA again.
func TestManagerOrphanReconnects(t *testing.T) {
	defer func(d time.Duration) { orphanReconnect = d }(orphanReconnect)
	orphanReconnect = 0
	_, i, r := startPair(t, nil, nil)
	first, _ := pairThenIKESAGone(t, i, r)
	waitUntil(t, 20*time.Second, "the pair adopted by a new IKE SA on both ends", func() bool {
		ei, ci := ikeChildren(i.m)
		er, cr := ikeChildren(r.m)
		return ei == 1 && er == 1 && ci == 1 && cr == 1 && orphanCount(i.m) == 0 && orphanCount(r.m) == 0
	})
	if live := i.plane.live(); len(live) != 1 || live[0] != first {
		t.Fatal("the pair was renegotiated instead of adopted")
	}
}

// pairThenIKESAGone waits for one IPsec SA pair on both ends, returns
// each end's, and then retires the initiator's IKE SA alone (with a
// Delete to the peer), leaving the pairs without an IKE SA.
func pairThenIKESAGone(t *testing.T, i, r *memEnd) (iPair, rPair *ChildSA) {
	t.Helper()
	waitUntil(t, 20*time.Second, "a pair on both ends", func() bool {
		return len(i.plane.live()) == 1 && len(r.plane.live()) == 1
	})
	iPair, rPair = i.plane.live()[0], r.plane.live()[0]
	i.m.mu.Lock()
	i.m.retireIKE(i.m.sas[0], false, "test: IKE SA alone", monoNow())
	i.m.mu.Unlock()
	return iPair, rPair
}

// TestManagerReauthInitialContactKeepsPair: a peer that deletes its IKE
// SA alone and then sends INITIAL-CONTACT in its next phase 1 while
// keeping the pair (strongSwan's re-authentication when its new Main Mode
// outlasts its overlap) is re-authenticating, not restarting: both ends
// keep the same pair on the new IKE SA.
func TestManagerReauthInitialContactKeepsPair(t *testing.T) {
	defer func(d time.Duration) { orphanReconnect = d }(orphanReconnect)
	orphanReconnect = 0
	_, i, r := startPair(t, nil, nil)
	waitUntil(t, 20*time.Second, "a pair on both ends", func() bool {
		return len(i.plane.live()) == 1 && len(r.plane.live()) == 1
	})
	iPair, rPair := i.plane.live()[0], r.plane.live()[0]
	i.m.mu.Lock()
	i.m.retireIKE(i.m.sas[0], false, "test: re-authentication deletes the old IKE SA first", monoNow())
	// The initiator's next phase 1 carries INITIAL-CONTACT although it
	// kept the pair (its kept pairs do not count when it decides).
	for _, o := range i.m.orphans {
		o.remote = netip.AddrPortFrom(netip.MustParseAddr("192.0.2.99"), 500)
	}
	i.m.mu.Unlock()
	waitUntil(t, 20*time.Second, "the same pair adopted by a new IKE SA on both ends", func() bool {
		ei, ci := ikeChildren(i.m)
		er, cr := ikeChildren(r.m)
		return ei == 1 && er == 1 && ci == 1 && cr == 1 && orphanCount(i.m) == 0 && orphanCount(r.m) == 0
	})
	r.m.mu.Lock()
	ic := r.m.sas[0].out.initialContact
	r.m.mu.Unlock()
	if !ic {
		t.Fatal("the new phase 1 carried no INITIAL-CONTACT: the test does not test what it says")
	}
	for range 3 {
		r.m.tick(monoNow())
		i.m.tick(monoNow())
	}
	if li, lr := i.plane.live(), r.plane.live(); len(li) != 1 || len(lr) != 1 || li[0] != iPair || lr[0] != rPair {
		t.Fatalf("pairs after the re-authentication: %d / %d, want the same pair on both ends", len(li), len(lr))
	}
}
