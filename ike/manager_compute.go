package ike

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Diffie-Hellman and RSA/ECDSA work takes milliseconds (a MODP-2048
// exponentiation about 2 ms here, far more on a router's MIPS core). It
// must not run under Manager.mu, which every peer's datagrams, the timers
// and the control socket's status need, nor on the socket reader, which
// also carries ESP in UDP. So each phase 1 message is computed on a
// goroutine of its own, at most GOMAXPROCS at a time: the SA is marked
// busy meanwhile (its other messages are dropped: the peer retransmits),
// and the outcome is applied under the lock. A computation whose SA died
// meanwhile (timeout, Delete, shutdown) wipes its state machine and
// applies nothing.

// computeSlots bounds the computations running at once.
var computeSlots = make(chan struct{}, max(runtime.GOMAXPROCS(0), 1))

// lastComputed is when a computation last ended (unix nanoseconds): the
// pool of DH keys made ahead refills only once handshakes have paused.
var lastComputed atomic.Int64

// computeHook, when set (tests), runs before each computation.
var computeHook func(sa *ikeSA)

// Manager.inlineCompute (tests and benchmarks that attribute CPU time to
// each end's thread) computes under the lock, as before.

// computations tracks the running ones (tests wait for them).
type computations struct {
	_  [0]func() // not comparable: no generated == function (flash)
	wg sync.WaitGroup
}

// computePhase1 feeds the phase 1 message in to sa's exchange (the state
// machine step) outside m.mu, and then applies the outcome under m.mu
// (phase1Step; before is the state the message found) unless the SA
// died. Called with m.mu held.
func (m *Manager) computePhase1(sa *ikeSA, in *inbound, before string) {
	p1 := sa.p1
	if m.inlineCompute {
		out, err := p1.handle(in)
		m.phase1Step(sa, in, before, out, err, monoNow())
		return
	}
	sa.busy, sa.busyState = true, p1.p.state.String()
	var r struct { // shared by the closures: one allocation, not two
		out []byte
		err error
	}
	m.computeForSA(sa, func() { r.out, r.err = p1.handle(in) }, func() {
		sa.busy = false
		if sa.dead() || m.closed {
			p1.p.Wipe()
			return
		}
		m.phase1Step(sa, in, before, r.out, r.err, monoNow())
		// Whatever the step changed in the SA's timers, the next tick
		// looks at it (manager_timerq.go).
		m.schedule(sa, monoNow())
	})
}

// waitComputations blocks until no phase 1 computation runs (tests).
func (m *Manager) waitComputations() { m.compute.wg.Wait() }

// Quick Mode computations. With PFS, a Quick Mode message costs a
// Diffie-Hellman computation (the responder's QM1 also a key pair): run
// outside m.mu as phase 1's are. While one runs, the exchange is busy
// (an initiator's qmState.busy, a responder's message ID in
// ikeSA.qmPending): its further messages are dropped, the peer
// retransmits them. The IKE SA's phase 1 keys are in use meanwhile
// (ikeSA.computing): an SA that dies is wiped by the last computation.

// errSAGone: the IKE SA died while its Quick Mode was being computed.
var errSAGone = errors.New("ike: the IKE SA is gone")

// computeQuick runs a Quick Mode message of sa outside m.mu and then
// applies the outcome under it, unless the IKE SA died or the exchange
// was dropped meanwhile. qs is our exchange for a QM2, or a new record
// (q nil) for a peer's QM1, which the message's ID names until it is
// answered. Called with m.mu held.
//
// One function for both messages, its work and its outcome as two
// closures: a closure per message and role, each wrapping the next, cost
// a function apiece (flash).
func (m *Manager) computeQuick(sa *ikeSA, qs *qmState, in *inbound) {
	qm1, mid, sec := qs.q == nil, in.h.MessageID, sa.out.sec
	// One variable the two closures share: one allocation, not four.
	var r struct {
		q   *quickMode
		out []byte
		res *quickResult
		err error
	}
	work := func() {
		if !qm1 {
			r.q = qs.q
			r.out, r.res, r.err = qs.q.handle(in.pkt)
			return
		}
		// The offer and the SPIs need the manager's state: locked,
		// unless computed under the lock already.
		r.q, r.out, r.err = newQuickResponder(sec, in.pkt, func(peerLocal, peerRemote *ID) (o *childOffer, err error) {
			if !m.inlineCompute {
				m.mu.Lock()
			}
			if sa.dead() || m.closed {
				err = errSAGone
			} else {
				o, err = m.responderOffer(sa, qs, peerLocal, peerRemote)
			}
			if !m.inlineCompute {
				m.mu.Unlock()
			}
			return o, err
		}, func() (spi uint32) {
			if !m.inlineCompute {
				m.mu.Lock()
			}
			spi = m.reserveSPI(qs)
			if !m.inlineCompute {
				m.mu.Unlock()
			}
			return spi
		})
	}
	done := func() {
		if !m.inlineCompute {
			if !qm1 {
				qs.busy = false
			} else {
				for i, p := range sa.qmPending {
					if p == mid {
						sa.qmPending = append(sa.qmPending[:i], sa.qmPending[i+1:]...)
						break
					}
				}
			}
			if sa.dead() || m.closed || !qm1 && sa.qms[qs.q.mid] != qs {
				if r.res != nil {
					r.res.wipe()
				}
				if qm1 {
					m.releaseSPIs(qs)
				}
				computationEnded(sa)
				return
			}
		}
		now := monoNow()
		if qm1 {
			m.quickResponderStep(sa, qs, r.q, r.out, r.err, in, now)
		} else {
			m.quickCompleted(sa, qs, r.out, r.res, r.err, in, now)
		}
		m.schedule(sa, now)
	}
	if m.inlineCompute {
		work()
		done()
		return
	}
	if qm1 {
		push(&sa.qmPending, mid)
	} else {
		qs.busy, qs.busyState = true, qs.q.state
	}
	m.computeForSA(sa, work, done)
}

// computeForSA runs work on a goroutine outside m.mu, at most
// computeSlots at once, and then done under m.mu; tests wait for it with
// waitComputations. Called with m.mu held. The IKE SA's phase 1 keys
// count as in use (sa.computing) until done runs, so an SA that died
// meanwhile is wiped by done's computationEnded. (A phase 1 step counts
// too, though it has no such keys yet: one function for both kinds, not
// a counting wrapper around a plain one; flash.)
func (m *Manager) computeForSA(sa *ikeSA, work, done func()) {
	sa.computing++
	m.compute.wg.Add(1)
	go func() {
		if computeHook != nil {
			computeHook(sa)
		}
		computeSlots <- struct{}{}
		work()
		<-computeSlots
		lastComputed.Store(time.Now().UnixNano())
		m.mu.Lock()
		sa.computing--
		done()
		m.mu.Unlock()
		m.compute.wg.Done()
	}()
}

// computationEnded wipes the phase 1 keys of a dead IKE SA once no
// computation uses them, unless it is a grave whose keys still
// authenticate late Deletes (buryGraves wipes those).
func computationEnded(sa *ikeSA) {
	if sa.dead() && sa.computing == 0 && sa.graveUntil == 0 {
		wipeSecrets(sa)
	}
}
