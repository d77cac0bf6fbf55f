package ike

import "time"

// The manager's timers (retransmissions, half-open and Quick Mode
// timeouts, DPD, NAT-T keepalives, rekeying, expiry) live in the IKE SAs.
// A hub holds thousands of SAs whose next timer is minutes away, so a tick
// must not visit them all: SAs wait in a heap ordered by the time their
// earliest timer is due, and a tick handles only those at the top whose
// time has come. Anything that can change an SA's timers outside a tick
// (a packet for it, a new Quick Mode, a new SA, a reload) reschedules it
// for the next tick. As a safety net no SA waits longer than
// timerMaxSleep, so a timer that an event failed to announce fires late,
// never not at all.

// timerMaxSleep bounds how long an SA waits in the queue between visits.
const timerMaxSleep = 30 * time.Second

// timerQueue is a min-heap of IKE SAs by due time; each queued SA keeps
// its index in tqIndex, so it can be moved or removed without a search.
// It is written out rather than built on container/heap: the heap
// interface's five methods, their pointer wrappers and the package's
// generic sifts cost more code than the one sift below.
type timerQueue []*ikeSA

// sift moves the SA at i down past any earlier child, then up past any
// later parent, to where the heap order holds (container/heap's down then
// up, with the same choice between equal children). Only one of the two
// moves it.
func (q timerQueue) sift(i int) {
	sa := q[i]
	for {
		c := 2*i + 1
		if c >= len(q) {
			break
		}
		if c+1 < len(q) && q[c+1].due < q[c].due {
			c++
		}
		if q[c].due >= sa.due {
			break
		}
		q[i] = q[c]
		q[i].tqIndex = i
		i = c
	}
	for i > 0 {
		p := (i - 1) / 2
		if q[p].due <= sa.due {
			break
		}
		q[i] = q[p]
		q[i].tqIndex = i
		i = p
	}
	q[i] = sa
	sa.tqIndex = i
}

// remove takes the SA at i out of the queue and returns it.
func (q *timerQueue) remove(i int) *ikeSA {
	old := *q
	n := len(old) - 1
	sa := old[i]
	old[i] = old[n]
	old[n] = nil
	*q = old[:n]
	if i < n {
		old[:n].sift(i)
	}
	sa.tqIndex = -1
	return sa
}

// schedule makes sure sa is visited by the first tick at or after at.
// During a tick, "now" means the next tick: the running one must end.
func (m *Manager) schedule(sa *ikeSA, at mono) {
	if sa == nil || sa.dead() {
		return
	}
	if m.tickNow != 0 && at <= m.tickNow {
		at = m.tickNow + mono(time.Nanosecond)
	}
	if sa.tqIndex <= 0 && (len(m.timers) == 0 || m.timers[0] != sa) {
		// Not queued (tqIndex is 0 both for "first" and for a new SA).
		sa.due = at
		push((*[]*ikeSA)(&m.timers), sa) // the list instantiation (flash)
		m.timers.sift(len(m.timers) - 1)
		return
	}
	if at < sa.due {
		sa.due = at
		m.timers.sift(sa.tqIndex)
	}
}

// scheduleAll queues every SA for the next tick (after a reload).
func (m *Manager) scheduleAll(now mono) {
	for _, sa := range m.sas {
		m.schedule(sa, now)
	}
}

// nextTimer is when the earliest of sa's timers is due (at most
// timerMaxSleep away). It mirrors tickSA.
func (sa *ikeSA) nextTimer(now mono) mono {
	next := now + mono(timerMaxSleep)
	soon := now + mono(tickInterval) // the next tick
	at := func(t mono) {
		if t != 0 && t < next {
			next = t
		}
	}
	if sa.negotiating() {
		if sa.p1Retx.out != nil {
			at(sa.p1Retx.next)
		}
		at(sa.created + mono(halfOpenTimeout))
		return max(next, soon)
	}
	if sa.ra != nil && sa.ra.phase != raActive {
		return soon // XAUTH / Mode-Config in progress
	}
	for _, qs := range sa.qms {
		if qs.doneAt != 0 {
			at(qs.doneAt + mono(30*time.Second))
		} else if qs.retx.out != nil {
			at(qs.retx.next)
		}
	}
	for _, c := range sa.children {
		if c.releaseAt != 0 {
			at(soon) // polls for the first packet on it
		}
		at(c.removeAt)
		at(c.expires)
		if c.removeAt == 0 && !c.rekeying && sa.replacedBy == nil {
			at(c.rekeyAt)
		}
	}
	if d := sa.dpd; d != nil && sa.out.peerDPD && d.Delay > 0 {
		if d.probing {
			at(d.firstSent + mono(d.Timeout))
			at(d.lastSent + mono(dpdRetryInterval))
		} else if half := d.lastHeard + mono(d.Delay/2); now < half {
			// ESP counted since then may postpone the probe; the
			// visit checks the counters. Looking halfway as well keeps
			// lastHeard, the time of the visit that saw the counters
			// move, within dpd_delay/2 of the last packet: a dead peer
			// is declared within 1.5 x dpd_delay + dpd_timeout.
			at(half)
		} else {
			at(d.lastHeard + mono(d.Delay))
		}
	}
	at(sa.nextKA)
	if sa.replacedBy != nil {
		at(soon) // until the old SA can go
	}
	at(sa.expires)
	if sa.initiator && sa.ms != nil && !sa.rekeying {
		at(sa.rekeyAt)
	}
	// A timer that is already due fires on the next tick, not in a loop.
	return max(next, soon)
}
