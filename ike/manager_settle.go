package ike

// Settling after a burst.
//
// A Main Mode and Quick Mode leave tens of kilobytes of garbage behind
// (Diffie-Hellman arithmetic, messages, proposals), and Go's collector lets
// the heap grow to at least 4 MB before it runs and keeps what it freed for
// reuse. After a hundred spokes connect, a router would carry megabytes of
// nothing in its RSS until the next periodic collection hands them back, and
// per SA the daemon would look several times its real size. So the manager
// tells its owner when negotiations have quietened down after a change in
// its SAs (Config.Settled), and the daemon returns the garbage to the
// kernel then.

// settleState is the manager's view of whether anything changed since it
// last reported being settled. It is kept up to date where SAs are
// installed, established and removed (addSA, established, removeSA, addQM,
// quickCompleted, dropQM, and where IPsec SA pairs come and go), so the check on each tick costs the
// same with ten thousand SAs as with one (the timers visit only due SAs).
type settleState struct {
	_ [0]func() // not comparable: no generated == function (flash)
	// negotiating counts the live IKE SAs still in phase 1 and the Quick
	// Mode records still in negotiation.
	negotiating int
	// unsettled: an IKE SA, IPsec SA pair or Quick Mode record came or
	// went since the last call of Config.Settled. Finished Quick Modes are
	// kept a while to answer retransmissions; when they go, their
	// messages become garbage too.
	unsettled bool
}

// addSA puts a new IKE SA (in phase 1) into m.sas and the timer queue.
func (m *Manager) addSA(sa *ikeSA, now mono) {
	push(&m.sas, sa)
	m.settle.unsettled = true
	if sa.out == nil {
		m.settle.negotiating++
	}
	m.schedule(sa, now)
}

// addQM records a Quick Mode in negotiation on sa.
func (m *Manager) addQM(sa *ikeSA, qs *qmState) {
	if old := sa.qms[qs.q.mid]; old != nil {
		m.dropQM(sa, qs.q.mid)
	}
	if sa.qms == nil {
		sa.qms = map[uint32]*qmState{}
	}
	sa.qms[qs.q.mid] = qs
	m.settle.unsettled = true
	if !sa.dead() && qs.doneAt == 0 {
		m.settle.negotiating++
	}
}

// dropQM forgets the Quick Mode record mid of sa, finished or not.
func (m *Manager) dropQM(sa *ikeSA, mid uint32) {
	qs, ok := sa.qms[mid]
	if !ok {
		return
	}
	delete(sa.qms, mid)
	if len(sa.qms) == 0 {
		// A map keeps the table it grew to: a hub's IKE SA that carried a
		// burst of Quick Modes would hold it for its lifetime.
		sa.qms = nil
	}
	m.releaseSPIs(qs)
	m.settle.unsettled = true
	if !sa.dead() && qs.doneAt == 0 {
		m.settle.negotiating--
	}
}
