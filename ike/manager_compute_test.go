package ike

import (
	"net/netip"
	"testing"
	"time"
)

// sentTo counts the datagrams sent to addr.
func (t *capTransport) sentTo(addr netip.AddrPort) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, to := range t.to {
		if to == addr {
			n++
		}
	}
	return n
}

// TestSlowComputationStallsNobody: while one peer's phase 1 computation
// hangs, status answers at once and another peer negotiates phase 1 to
// the end; then the first one finishes too.
func TestSlowComputationStallsNobody(t *testing.T) {
	m, tr, hub := hoResponder(t, Config{})
	slow := netip.MustParseAddrPort("192.0.2.1:500")
	fast := netip.MustParseAddrPort("192.0.2.2:500")
	release := make(chan struct{})
	computeHook = func(sa *ikeSA) {
		if sa.remote == slow {
			<-release
		}
	}
	defer func() { computeHook = nil }()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()

	// step sends the initiator's answer to what the responder sent last
	// and waits for the responder's next datagram (not for every
	// computation: one of them hangs on purpose).
	step := func(p *Phase1, addr netip.AddrPort, wantAnswer bool) {
		t.Helper()
		res, err := p.Handle(Packet{Data: tr.last(addr), Local: addr, Remote: hub}, time.Now())
		if err != nil || res.Failed != nil {
			t.Fatalf("initiator %v: %v %v", addr, err, res.Failed)
		}
		n := tr.sentTo(addr)
		for _, b := range res.Send {
			m.HandlePacket(b, hub, addr)
		}
		if wantAnswer {
			waitUntil(t, 5*time.Second, "the responder's answer to "+addr.String(), func() bool { return tr.sentTo(addr) > n })
		}
	}

	ps, mm1 := hoInitiator(t, m, slow, hub)
	m.HandlePacket(mm1, hub, slow)
	step(ps, slow, false) // MM3: its computation hangs

	done := make(chan []IKESAStatus)
	go func() { done <- m.Status() }()
	select {
	case st := <-done:
		if len(st) != 1 || st[0].State != "MM_WAIT_MSG3" {
			t.Fatalf("status during the computation: %+v", st)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("status blocked by another peer's computation")
	}

	pf, mm1f := hoInitiator(t, m, fast, hub)
	m.HandlePacket(mm1f, hub, fast)
	step(pf, fast, true) // MM3 -> MM4
	step(pf, fast, true) // MM5 -> MM6
	if _, err := pf.Handle(Packet{Data: tr.last(fast), Local: fast, Remote: hub}, time.Now()); err != nil || !pf.State().Active() {
		t.Fatalf("the other peer did not complete phase 1 during the computation: %v %v", err, pf.State())
	}

	close(release)
	m.waitComputations()
	step(ps, slow, true) // MM5 -> MM6
	if _, err := ps.Handle(Packet{Data: tr.last(slow), Local: slow, Remote: hub}, time.Now()); err != nil || !ps.State().Active() {
		t.Fatalf("the slow peer did not complete: %v %v", err, ps.State())
	}
}
