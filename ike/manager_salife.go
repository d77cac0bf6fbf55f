package ike

import "fmt"

// The IKE SA's life as one explicit state. Each change goes through
// Manager.setLife, which allows only the moves of lifeMoves:
//
//	negotiating --phase 1 done--------------> active
//	negotiating --phase 1 done, remote access-> configuring --XAUTH + Mode-Config done--> active
//	any --failed, timed out, deleted, replaced and over--> dead
//
// An active SA that a newer one replaced (rekey, the peer's
// re-authentication) stays active, with replacedBy naming its heir,
// until its exchanges are over (manager_timers.go). Status' Cisco state
// names derive from the life and the exchange in progress (stateName).
type ikeLife uint8

const (
	lifeNegotiating ikeLife = iota // phase 1 in progress (p1; busy while a step is computed)
	lifeConfiguring                // phase 1 done; XAUTH and Mode-Config in progress (ra)
	lifeActive                     // Quick Modes and Informationals may run
	lifeDead                       // gone from the manager; references may linger
)

var lifeNames = [...]string{"negotiating", "configuring", "active", "dead"}

func (l ikeLife) String() string {
	if int(l) < len(lifeNames) {
		return lifeNames[l]
	}
	return fmt.Sprintf("life(%d)", uint8(l))
}

// lifeMoves are the allowed changes of life, from -> to.
var lifeMoves = [...][]ikeLife{
	lifeNegotiating: {lifeConfiguring, lifeActive, lifeDead},
	lifeConfiguring: {lifeActive, lifeDead},
	lifeActive:      {lifeDead},
	lifeDead:        {},
}

// setLife moves sa to life to; a move lifeMoves does not allow is a bug,
// logged and not made.
func (m *Manager) setLife(sa *ikeSA, to ikeLife) {
	ok := sa.life == to
	for _, l := range lifeMoves[sa.life] {
		ok = ok || l == to
	}
	if !ok {
		m.log.Error("internal: IKE SA life move refused", "peer", &sa.remote, "from", sa.life, "to", to)
		return
	}
	sa.life = to
}

// dead reports an IKE SA the manager has let go.
func (sa *ikeSA) dead() bool { return sa.life == lifeDead }

// negotiating reports an IKE SA whose phase 1 is still in progress.
func (sa *ikeSA) negotiating() bool { return sa.life == lifeNegotiating }

// stateName is the Cisco-style state for status: phase 1's state while
// negotiating, else the Quick Mode in progress or MM_ACTIVE / AM_ACTIVE.
func (sa *ikeSA) stateName() string {
	if sa.life == lifeNegotiating || sa.out == nil { // or died negotiating
		if sa.busy {
			return sa.busyState
		}
		if sa.p1 != nil {
			return sa.p1.p.state.String()
		}
		return "MM_NO_STATE"
	}
	for _, q := range sa.qms {
		if q.busy {
			return string(q.busyState) // q is its computation's (manager_compute.go)
		}
		if q.doneAt == 0 {
			return string(q.q.state)
		}
	}
	if sa.out.exchange == "aggressive" {
		return "AM_ACTIVE"
	}
	return "MM_ACTIVE"
}
