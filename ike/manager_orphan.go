package ike

import (
	"fmt"
	"net/netip"
	"time"
)

// IPsec SAs outlive the IKE SA that negotiated them.
//
// In IKEv1 an IPsec SA pair is not bound to its ISAKMP SA: it lives until
// its own lifetime runs out or a Delete names it (RFC 2409 §5.5 and §9;
// strongSwan, Libreswan and Cisco all keep such pairs). A peer that
// re-authenticates may delete the old IKE SA before the new one is up on
// our side, and an IKE SA may expire without a replacement; removing its
// pairs then would break a tunnel that both ends still use.
//
// So when an IKE SA goes without an heir (the peer's Delete, its
// lifetime), its pairs stay installed as orphans, remembered with the
// identity that negotiated them and the crypto map of that IKE SA. The
// next IKE SA established with the same identity on the same map adopts
// them: it then carries their DPD, their Deletes and their rekeys. Until
// then an orphan carries traffic on its own. A map that initiates starts
// a new phase 1 once the peer has had orphanReconnect to bring its own
// (a re-authenticating peer does within seconds), so that DPD watches the
// pair again; any map with a peer address does when the pair is due for
// a rekey. When its lifetime ends it goes. INITIAL-CONTACT from that identity
// clears its orphans: the peer says it has no SAs with us any more (except
// right after its own Delete of the IKE SA alone: see initialContact).
//
// Not kept: the pairs of a peer DPD declared dead (that is what DPD is
// for), of a remote-access client (its address lease goes with the IKE
// SA), on shutdown, and of a crypto map that was changed or removed.

// orphan is an installed IPsec SA pair without an IKE SA.
type orphan struct {
	_      [0]func() // not comparable: no generated == function (flash)
	c      *child
	peer   peerIdentity // who negotiated it
	ms     *mapState    // the crypto map of the IKE SA that negotiated it
	remote netip.AddrPort
	since  mono
	// peerKept: the peer itself deleted the IKE SA alone, keeping this
	// pair on its side (see initialContact).
	peerKept bool
}

// retireIKE deletes an IKE SA whose pairs live on (see above): after the
// peer's Delete for it (byPeer), or sending a Delete for the IKE SA alone.
//
// A peer that shuts down sends Deletes for its IPsec SAs and then one for
// the IKE SA, in separate messages that may arrive in another order. So
// an IKE SA whose pairs became orphans stays a grave for graveTime: its
// keys still authenticate late Informational messages, whose Deletes for
// IPsec SAs are honoured; nothing else is.
func (m *Manager) retireIKE(sa *ikeSA, byPeer bool, why string, now mono) {
	// The pairs of an IKE SA going without an heir are kept.
	if !m.closed && sa.ra == nil && sa.out != nil && len(sa.children) > 0 && sa.heir() == nil {
		// Another established IKE SA with the same peer on the same map
		// (our own rekey racing the peer's) takes them at once.
		for _, s := range m.sas {
			if s != sa && !s.dead() && s.out != nil && s.replacedBy == nil && s.ra == nil && s.ms == sa.ms && samePeer(s, sa) {
				for _, c := range sa.children {
					push(&s.children, c) // the list instantiation (flash)
				}
				sa.children = nil
				m.schedule(s, now)
				break
			}
		}
		for _, c := range sa.children {
			m.releaseChild(c)
			push(&m.orphans, &orphan{c: c, peer: sa.out.peer, ms: sa.ms, remote: sa.remote, since: now, peerKept: byPeer})
			m.log.Info("IPsec SA kept without its IKE SA until a new one with the peer takes it over", "crypto_map", c.ms,
				"peer", &sa.remote, "spi_in", spiHex(c.espIn, c.ahIn))
		}
		if len(sa.children) > 0 {
			// They became orphans: the IKE SA stays a grave (above).
			sa.children = nil
			m.settle.unsettled = true // an IPsec SA pair came or went
			sa.graveUntil = now + mono(graveTime)
			push(&m.graves, sa)
		}
	}
	m.deleteIKE(sa, !byPeer, why)
}

// orphanReconnect is how long an initiating map leaves the peer to
// establish a new IKE SA before starting one itself.
var orphanReconnect = 30 * time.Second

// graveTime is how long a retired IKE SA answers for late Deletes.
const graveTime = 10 * time.Second

// buryGraves wipes the keys of the retired IKE SAs whose time is up.
func (m *Manager) buryGraves(now mono, all bool) {
	for i, g := range m.graves {
		if !all && now < g.graveUntil {
			continue
		}
		if g.computing > 0 {
			g.graveUntil = 0 // the computation wipes them when it ends
		} else {
			wipeSecrets(g)
		}
		m.graves[i] = nil
	}
	m.graves = withoutNil(m.graves)
}

// heir is the live IKE SA that took over from sa, nil if none.
func (sa *ikeSA) heir() *ikeSA {
	h := sa.replacedBy
	for h != nil && h.dead() {
		h = h.replacedBy
	}
	return h
}

// adoptOrphans hands the orphans of sa's peer identity and crypto map to
// the newly established sa.
func (m *Manager) adoptOrphans(sa *ikeSA) {
	if len(m.orphans) == 0 || sa.ra != nil || sa.out == nil || !sa.out.peer.valid() {
		return
	}
	for i, o := range m.orphans {
		if !o.peer.is(&sa.out.peer) || o.ms != sa.ms {
			continue
		}
		push(&sa.children, o.c)
		m.log.Info("IPsec SA taken over by the new IKE SA", "crypto_map", o.c.ms, "peer", &sa.remote,
			"spi_in", spiHex(o.c.espIn, o.c.ahIn))
		m.orphans[i] = nil
	}
	m.orphans = withoutNil(m.orphans)
	m.settle.unsettled = true // an IPsec SA pair came or went
}

// reauthWindow: INITIAL-CONTACT this soon after the same identity deleted
// its old IKE SA alone is a re-authentication, not a restart.
//
// strongSwan re-authenticates make-before-break, but when its new Main
// Mode takes longer than its overlap (a slow responder, a loaded machine)
// it deletes the old IKE SA first, keeping the IPsec SAs it moves to the
// new one, and then sends INITIAL-CONTACT in MM5 because no other IKE SA
// with us is left. A peer that restarted could not have sent that
// authenticated Delete moments earlier.
const reauthWindow = 30 * time.Second

// dropOrphan takes an orphan's pair out of the data plane (no IKE SA to
// send a Delete on).
func (m *Manager) dropOrphan(o *orphan) {
	m.cfg.DataPlane.RemoveChild(o.c.handle)
	delete(m.used, o.c.espIn)
	delete(m.used, o.c.ahIn)
	m.settle.unsettled = true // an IPsec SA pair came or went
}

// spiHex renders an inbound SPI (ESP's, else AH's) for logs.
func spiHex(esp, ah uint32) string {
	if esp == 0 {
		esp = ah
	}
	return fmt.Sprintf("%08x", esp)
}
