package ike

import (
	"runtime"
	"sync"
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

// computeHook, when set (tests), runs before each computation.
var computeHook func(sa *ikeSA)

// Manager.inlineCompute (tests and benchmarks that attribute CPU time to
// each end's thread) computes under the lock, as before.

// computations tracks the running ones (tests wait for them).
type computations struct{ wg sync.WaitGroup }

// computePhase1 runs work (the state machine step) outside m.mu and then
// apply (under m.mu) unless the SA died. Called with m.mu held.
func (m *Manager) computePhase1(sa *ikeSA, work func(phase1) ([]byte, error), apply func([]byte, error)) {
	if m.inlineCompute {
		apply(work(sa.p1))
		return
	}
	p1 := sa.p1
	sa.busy, sa.busyState = true, p1.state()
	m.compute.wg.Add(1)
	go func() {
		defer m.compute.wg.Done()
		if computeHook != nil {
			computeHook(sa)
		}
		computeSlots <- struct{}{}
		out, err := work(p1)
		<-computeSlots
		m.mu.Lock()
		defer m.mu.Unlock()
		sa.busy = false
		if sa.dead() || m.closed {
			if w, ok := p1.(interface{ wipe() }); ok {
				w.wipe()
			}
			return
		}
		apply(out, err)
		// Whatever the step changed in the SA's timers, the next tick
		// looks at it (manager_timerq.go).
		m.schedule(sa, time.Now())
	}()
}

// waitComputations blocks until no phase 1 computation runs (tests).
func (m *Manager) waitComputations() { m.compute.wg.Wait() }
