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
// last reported being settled.
type settleState struct {
	shape     [3]int // IKE SAs, IPsec SA pairs and Quick Mode records at the last tick
	unsettled bool
}

// settleCheck runs at the end of each tick, under m.mu: it calls
// Config.Settled once nothing is negotiating any more after something was
// established, replaced or removed.
func (m *Manager) settleCheck() {
	if m.cfg.Settled == nil {
		return
	}
	busy := false
	pairs, qms := 0, 0
	for _, sa := range m.sas {
		if sa.out == nil {
			busy = true
		}
		for _, qs := range sa.qms {
			if qs.doneAt.IsZero() {
				busy = true
			}
		}
		pairs += len(sa.children)
		qms += len(sa.qms)
	}
	// Finished Quick Modes are kept a while to answer retransmissions;
	// when they go, their messages become garbage too.
	if shape := [3]int{len(m.sas), pairs, qms}; shape != m.settle.shape {
		m.settle.shape = shape
		m.settle.unsettled = true
	}
	if busy || !m.settle.unsettled {
		return
	}
	m.settle.unsettled = false
	m.cfg.Settled()
}
