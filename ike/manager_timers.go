package ike

import (
	"net/netip"
	"time"

	"tinyipsec/conf"
)

// tick runs the timers of the manager that are due: retransmissions
// (exponential backoff, then give up), half-open timeouts, DPD, NAT-T
// keepalives, rekeying before expiry, expiry (SAs wait in a queue by their
// next timer, manager_timerq.go), and "initiate always" maps.
func (m *Manager) tick(now mono) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.cookies.rotate(now)
	m.drops.flush(m.log, now)
	// The unproven Main Mode responders older than halfOpenTimeout go,
	// oldest first (manager_halfopen.go).
	if p := m.halfOpen; len(p.entries) > 0 {
		for {
			r, e := p.oldest()
			if e == nil || time.Duration(now-e.created) <= halfOpenTimeout {
				break
			}
			p.remove(r.key)
		}
		p.compact()
	}
	// The SAs whose timers are due, each queued again for its next timer
	// (manager_timerq.go).
	m.tickNow = now
	var done []*ikeSA
	for len(m.timers) > 0 && m.timers[0].due <= now {
		sa := m.timers.remove(0)
		if sa.dead() {
			continue
		}
		m.tickSA(sa, now)
		push(&done, sa)
	}
	for _, sa := range done {
		if !sa.dead() && sa.tqIndex < 0 {
			sa.due = sa.nextTimer(now)
			push((*[]*ikeSA)(&m.timers), sa) // the list instantiation (flash)
			m.timers.sift(len(m.timers) - 1)
		}
	}
	m.tickNow = 0
	// The orphans' timers (manager_orphan.go), once a second: removal
	// after a rekey's grace period or at the end of the lifetime, and at
	// rekey time a new phase 1 with the peer (which adopts the orphan
	// and rekeys it once up).
	if len(m.orphans) > 0 && now >= m.orphanDue {
		m.orphanDue = now + mono(time.Second)
		for i, o := range m.orphans {
			c := o.c
			if c.removeAt == 0 || now <= c.removeAt {
				if now <= c.expires {
					continue
				}
				m.log.Info("IPsec SA expired (no IKE SA)", "crypto_map", c.ms, "peer", &o.remote)
			}
			m.dropOrphan(o)
			m.orphans[i] = nil
		}
		m.orphans = withoutNil(m.orphans)
		for _, o := range m.orphans {
			c, ms := o.c, o.ms
			if c.removeAt != 0 || ms == nil || !ms.cm.PeerAddr.IsValid() || ms.cm.Dynamic || now < ms.nextTry {
				continue
			}
			// A phase 1 with the map's peer under way: it adopts the orphan.
			negotiating := false
			for _, sa := range m.sas {
				negotiating = negotiating || sa.negotiating() && hostIs(&sa.remote, &ms.cm.PeerAddr)
			}
			if negotiating {
				continue
			}
			rekey := now > c.rekeyAt
			if rekey || (ms.cm.Initiate != conf.InitiateNever && time.Duration(now-o.since) >= orphanReconnect) {
				m.log.Info("IPsec SA without IKE SA: starting phase 1 with the peer", "crypto_map", ms, "peer", &o.remote, "rekey_due", rekey)
				m.startPhase1(ms, now)
			}
		}
	}
	if len(m.graves) > 0 {
		m.buryGraves(now, false)
	}
	m.tickMaps(nil, now)
	// Config.Settled once nothing is negotiating any more after something
	// was established, replaced or removed (manager_settle.go).
	if m.cfg.Settled != nil && m.settle.negotiating == 0 && m.settle.unsettled {
		m.settle.unsettled = false
		m.cfg.Settled()
	}
	m.mu.Unlock()
}

// tickMaps starts what the crypto maps want and do not have: an IPsec SA
// per wanted ACL line. It runs on every tick (only nil), and after each
// phase 1 and Quick Mode we initiate on only, for the maps that may use
// that SA (mapState.mayUse): what waited for it starts now instead of at
// the next tick. It looks at the SAs once, not once per map and line: a
// spoke with many maps towards one hub would otherwise spend maps x SAs
// on each of its handshakes.
func (m *Manager) tickMaps(only *ikeSA, now mono) {
	idx := &m.tickIdx
	haveChildren, peersAt := false, -1
	for _, ms := range m.maps {
		// Only maps that start negotiations of their own now: not a
		// dynamic map, not initiate = "never", and not a remote access
		// client that has gone idle.
		cm := ms.cm
		if only != nil && !ms.mayUse(only) || cm.Dynamic || cm.Initiate == conf.InitiateNever ||
			cm.RemoteAccessClient() && m.raClientIdle(ms, now) {
			continue
		}
		for i := range ms.rules {
			// A line wants a pair always with initiate = "always", else
			// once traffic asked for it.
			r := &ms.rules[i]
			if cm.Initiate != conf.InitiateAlways && !ms.wanted[r.index] {
				continue
			}
			if !haveChildren {
				// Which ACL lines have a pair that is not about to go.
				if idx.children == nil {
					idx.children = map[mapRule]bool{}
				}
				clear(idx.children)
				for _, sa := range m.sas {
					for _, c := range sa.children {
						if c.removeAt == 0 {
							idx.children[mapRule{c.ms, c.rule.index}] = true
						}
					}
				}
				for _, o := range m.orphans {
					if o.c.removeAt == 0 {
						idx.children[mapRule{o.c.ms, o.c.rule.index}] = true
					}
				}
				haveChildren = true
			}
			if idx.children[mapRule{ms, r.index}] {
				continue
			}
			// The first IKE SA the map may use: by peer and local
			// address for maps towards one hub from many local
			// addresses, by peer alone (the zero local address) for the
			// others.
			ends := [2]netip.Addr{ms.cm.PeerAddr, ms.cm.Local}
			sa := idx.byEnds[ends]
			if peersAt != len(m.sas) || sa != nil && !ms.mayUse(sa) {
				// Again when what this call started changed the SAs.
				if idx.byEnds == nil {
					idx.byEnds = map[[2]netip.Addr]*ikeSA{}
				}
				clear(idx.byEnds)
				for _, sa := range m.sas {
					if sa.dead() || sa.replacedBy != nil {
						continue
					}
					// By peer and local address, then by peer alone
					// (one key changed in place: an array of both keys
					// was built and copied per SA; flash).
					k := [2]netip.Addr{sa.remote.Addr(), sa.local.Addr()}
					for range 2 {
						if idx.byEnds[k] == nil {
							idx.byEnds[k] = sa
						}
						k[1] = netip.Addr{}
					}
				}
				peersAt = len(m.sas)
				sa = idx.byEnds[ends]
			}
			m.initiateRule(ms, r, sa, now)
		}
	}
	if peersAt >= 0 {
		clear(idx.byEnds) // holds no SA beyond this call
	}
}

// tickIndex is what tickMaps needs to know about the SAs, its maps kept
// between calls so that a tick allocates nothing: which ACL lines have an
// installed pair that is not about to go, and the first of m.sas that a
// map may use (mapState.mayUse) by peer and local address, and by peer
// address alone under the zero local address (one map type, not two;
// flash).
type tickIndex struct {
	children map[mapRule]bool
	byEnds   map[[2]netip.Addr]*ikeSA
}

type mapRule struct {
	ms   *mapState
	rule int
}

func (m *Manager) tickSA(sa *ikeSA, now mono) {
	// Phase 1 in negotiation.
	if sa.negotiating() {
		if send, giveUp := sa.p1Retx.due(now); send {
			m.send(sa, sa.p1Retx.out)
		} else if giveUp || time.Duration(now-sa.created) > halfOpenTimeout {
			reason := "no answer from the peer"
			if sa.p1Note != "" {
				reason = "no acceptable answer from the peer; " + sa.p1Note
			}
			m.drop(EventPhase1TimedOut, "phase 1 timed out", "peer", &sa.remote, "state", sa.stateName(),
				"reason", reason, "hint", stateHint(sa.stateName()))
			m.phase1Failed(sa, sa.stateName(), reason, now)
		}
		return
	}
	if !m.tickRA(sa, now) {
		return
	}
	// The responder keeps its last phase 1 message for retransmissions of
	// the peer's final message; nothing to time here.
	for mid, qs := range sa.qms {
		if qs.busy {
			continue // its computation owns it (manager_compute.go)
		}
		if qs.doneAt != 0 {
			if time.Duration(now-qs.doneAt) > 30*time.Second {
				m.dropQM(sa, mid)
			}
			continue
		}
		if send, giveUp := qs.retx.due(now); send {
			m.send(sa, qs.retx.out)
		} else if giveUp {
			m.log.Warn("Quick Mode timed out", "peer", &sa.remote, "state", string(qs.q.state), "hint", stateHint(string(qs.q.state)))
			m.abandonQM(sa, qs, now)
		}
	}
	// Children: outbound release after our rekey, grace removal after a
	// rekey, rekey, expiry.
	ic := m.counter
	for _, c := range snapshot(sa.children) {
		if c.releaseAt != 0 && (now >= c.releaseAt || ic != nil && ic.PacketsIn(c.handle) > 0) {
			m.releaseChild(c)
		}
		switch {
		case c.removeAt != 0 && now > c.removeAt:
			m.removeChild(sa, c, true)
		case now > c.expires:
			m.log.Info("IPsec SA expired", "crypto_map", c.ms, "peer", &sa.remote)
			m.removeChild(sa, c, true)
		case c.removeAt == 0 && !c.rekeying && now > c.rekeyAt:
			if via := rekeyVia(sa); via != nil && quickSlotFree(via, now) {
				m.log.Info("rekeying IPsec SA", "crypto_map", c.ms, "peer", &sa.remote)
				m.startQuick(via, c.ms, &c.rule, c, now)
			}
		}
	}
	// DPD. Packets arriving on the IKE SA's IPsec SAs show the peer alive.
	if sa.dpd != nil && sa.out.peerDPD {
		if ic != nil {
			for _, c := range sa.children {
				if n := ic.PacketsIn(c.handle); n != c.pktsIn {
					c.pktsIn = n
					sa.dpd.heard(now)
				}
			}
		}
		send, seq, dead := sa.dpd.tick(now)
		if dead {
			m.log.Warn("DPD: peer is dead", "peer", &sa.remote)
			ms := sa.ms
			m.deleteIKE(sa, false, "dead peer")
			if ms != nil {
				ms.nextTry = 0
			}
			return
		}
		if send {
			if pkt, err := sealInfo(sa.out.sec, sa.out.sec.dpdNotify(false, seq)); err == nil {
				m.send(sa, pkt)
			}
		}
	}
	// NAT-T keepalive from the end behind the NAT.
	if sa.nextKA != 0 && now > sa.nextKA {
		m.cfg.Transport.SendKeepalive(sa.local, sa.remote)
		sa.nextKA = now + mono(nattKeepaliveInterval)
	}
	// Phase 1 rekey (make-before-break) and expiry.
	if heir := sa.replacedBy; heir != nil && !heir.dead() && heir.life == lifeActive {
		// Our own rekey: the old SA goes once its exchanges are over.
		// The peer's re-authentication: the peer deletes the old SA
		// itself once it has moved its IPsec SAs to the new one
		// (strongSwan 2 s later). A Delete from us before that makes it
		// tear those IPsec SAs down with the old SA, and the tunnel
		// stops; so the old SA waits for the peer's Delete, and goes on
		// our side only if none came.
		over := len(sa.qms) == 0 || time.Duration(now-heir.established) > 10*time.Second
		if !heir.initiator && heir.ra == nil {
			over = time.Duration(now-heir.established) > peerReauthGrace
		}
		if over {
			m.deleteIKE(sa, true, "replaced by a new IKE SA")
		}
		return
	}
	if now > sa.expires {
		m.retireIKE(sa, false, "lifetime expired", now)
		return
	}
	if sa.initiator && sa.ms != nil && !sa.rekeying && now > sa.rekeyAt {
		for _, s := range m.sas {
			if s != sa && s.negotiating() && sameHost(&s.remote, &sa.remote) {
				return // a newer phase 1 with the peer is under way
			}
		}
		m.log.Info("rekeying phase 1", "peer", &sa.remote)
		if n := m.startPhase1(sa.ms, now); n != nil {
			n.replaces = sa
			sa.rekeying = true
		}
	}
}

// rekeyVia is the IKE SA that rekeys the pairs of sa: sa itself, or once
// a newer IKE SA with the peer is up (our phase 1 rekey, the peer's
// re-authentication), the newer one, where the peer has moved the pairs
// (strongSwan at once). The old IKE SA lingers a while for its exchanges
// in progress (10 s after our rekey, up to peerReauthGrace after the
// peer's): its pairs that come due meanwhile must not wait for it to go,
// or with short lifetimes they expired before their successor came (a gap
// of a second in the soak at each phase 1 rekey). nil while the newer one
// is still being set up.
func rekeyVia(sa *ikeSA) *ikeSA {
	if sa.replacedBy == nil {
		return sa
	}
	if h := sa.heir(); h != nil && h.life == lifeActive {
		return h
	}
	return nil
}

// Our Quick Modes on one IKE SA go one at a time, as strongSwan runs its
// own. strongSwan keeps the IVs of only three IKEv1 exchanges per IKE SA
// (charon.max_ikev1_exchanges) and forgets the least recently used: a
// Quick Mode of ours that waits for its QM3 while three other exchanges
// (our other Quick Modes and Deletes, the peer's own Deletes) pass loses
// its IV there, the peer cannot decrypt QM3 ("invalid HASH_V1 payload
// length, decryption failed?"), and it never installs the pair that we
// already use: a rekey soak lost pings until the next rekey. One Quick Mode
// in progress leaves room for two other exchanges in that window.
//
// A Quick Mode still unanswered when its first retransmission is due
// (retxBase) may be stuck (a peer that drops it silently): a second one
// may then start, so that one ACL line the peer never answers does not
// hold up the rekeys of the others.
const maxQuicksInFlight = 2

// quickSlotFree reports whether a Quick Mode of ours may start on sa now.
func quickSlotFree(sa *ikeSA, now mono) bool {
	n := 0
	for _, qs := range sa.qms {
		if qs.q == nil || !qs.q.initiator || qs.doneAt != 0 {
			continue
		}
		if time.Duration(now-qs.q.started) < retxBase {
			return false
		}
		n++
	}
	return n < maxQuicksInFlight
}

// peerReauthGrace is how long an IKE SA the peer replaced by a new one
// (its rekey or re-authentication) waits for the peer's Delete before we
// delete it: well beyond the few seconds a peer takes to move its IPsec SAs
// over, well within any phase 1 lifetime.
const peerReauthGrace = 30 * time.Second
