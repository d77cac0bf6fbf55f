package ike

// What tests read of the manager's share of status (AddStatus).

// DropCounts returns how many IKE datagrams were dropped for each reason
// (only reasons that occurred).
func (m *Manager) DropCounts() map[string]uint64 {
	out := map[string]uint64{}
	for r := range numDropReasons {
		if n := m.drops.counts[r].Load(); n > 0 {
			out[r.String()] = n
		}
	}
	return out
}

// HalfOpen is the number of unproven Main Mode responders.
func (m *Manager) HalfOpen() int {
	m.mu.Lock()
	n := len(m.halfOpen.entries)
	m.mu.Unlock()
	return n
}
