package ike

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"
	"time"

	"tinyipsec/conf"
)

// capTransport records what a manager sends.
type capTransport struct {
	mu   sync.Mutex
	sent [][]byte
	to   []netip.AddrPort
}

func (t *capTransport) SendIKE(pkt []byte, local, remote netip.AddrPort) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sent = append(t.sent, append([]byte(nil), pkt...))
	t.to = append(t.to, remote)
	return nil
}

func (t *capTransport) SendKeepalive(local, remote netip.AddrPort) error { return nil }

func (t *capTransport) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.sent)
}

// last returns the last datagram sent to remote.
func (t *capTransport) last(remote netip.AddrPort) []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := len(t.sent) - 1; i >= 0; i-- {
		if t.to[i] == remote {
			return t.sent[i]
		}
	}
	return nil
}

// hoResponder is a dynamic-map responder at 192.0.2.100 driven by hand.
func hoResponder(t *testing.T, c Config) (*Manager, *capTransport, netip.AddrPort) {
	t.Helper()
	hub := netip.MustParseAddr("192.0.2.100")
	tr := &capTransport{}
	c.Conf = testConfig(hub, netip.Addr{}, "10.200.0.0/16", "10.0.0.0/8", "never", func(cm *conf.CryptoMap) {
		cm.Peer, cm.PeerAddr, cm.Dynamic = "dynamic", netip.Addr{}, true
	})
	c.Transport, c.DataPlane = tr, &memPlane{}
	m, err := NewManager(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m, tr, netip.AddrPortFrom(hub, IKEPort)
}

// hoInitiator is a hand-driven Main Mode initiator from addr.
func hoInitiator(t *testing.T, m *Manager, addr netip.AddrPort, hub netip.AddrPort) (*Phase1, []byte) {
	t.Helper()
	pols, _ := PoliciesFromConf(m.cfg.Conf.Policies, false)
	p, err := NewInitiator(&Phase1Config{Policies: pols, PSK: []byte("in-memory-psk"), Local: addr, Remote: hub})
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Start(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return p, res.Send[0]
}

// forgedMM1 is mm1 with another initiator cookie (what a flood sends).
func forgedMM1(mm1 []byte, n uint64) []byte {
	b := append([]byte(nil), mm1...)
	binary.BigEndian.PutUint64(b[:8], n|1<<63)
	return b
}

func spoofedAddr(n uint64) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}), IKEPort)
}

func (m *Manager) locked(f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f()
}

// step feeds what the manager last sent to addr to the initiator, and
// the initiator's answer to the manager.
func step(t *testing.T, m *Manager, tr *capTransport, p *Phase1, addr, hub netip.AddrPort) {
	t.Helper()
	in := tr.last(addr)
	if in == nil {
		t.Fatal("the responder sent nothing to", addr)
	}
	res, err := p.Handle(Packet{Data: in, Local: addr, Remote: hub}, time.Now())
	if err != nil || res.Failed != nil {
		t.Fatalf("initiator: %v %v", err, res.Failed)
	}
	for _, b := range res.Send {
		m.HandlePacket(b, hub, addr)
	}
	m.waitComputations()
}

// TestHalfOpenMM1IsCheap: a first message leaves no IKE SA, only a small
// record; the answer carries a cookie derived from our secret and is not
// retransmitted.
func TestHalfOpenMM1IsCheap(t *testing.T) {
	m, tr, hub := hoResponder(t, Config{})
	peer := netip.MustParseAddrPort("192.0.2.1:500")
	_, mm1 := hoInitiator(t, m, peer, hub)
	m.HandlePacket(mm1, hub, peer)
	h, err := ParseHeader(tr.last(peer))
	if err != nil {
		t.Fatal(err)
	}
	m.locked(func() {
		if len(m.sas) != 0 || len(m.halfOpen.entries) != 1 {
			t.Fatalf("after MM1: %d SAs, %d half-open records; want 0 and 1", len(m.sas), len(m.halfOpen.entries))
		}
		if !m.cookies.issued(&h.CookieI, &h.CookieR, &peer) {
			t.Fatal("MM2's responder cookie is not one the cookie secret gives")
		}
		other := netip.MustParseAddrPort("192.0.2.1:4500")
		if m.cookies.issued(&h.CookieI, &h.CookieR, &other) {
			t.Fatal("the cookie does not depend on the peer's port")
		}
		if sz := m.halfOpen.bytes; sz > 600 {
			t.Fatalf("an unproven responder costs %d bytes", sz)
		}
	})
	// The repeated MM1 gets the same MM2 and still one record.
	first := tr.last(peer)
	m.HandlePacket(mm1, hub, peer)
	if string(tr.last(peer)) != string(first) || len(m.halfOpen.entries) != 1 {
		t.Fatal("a retransmitted MM1 is not answered with the same MM2")
	}
	// Nothing is retransmitted by the timer.
	n := tr.count()
	m.tick(monoNow().add(retxBase * 3))
	if tr.count() != n {
		t.Fatal("MM2 retransmitted to an unproven peer")
	}
	// And the record goes after the half-open timeout.
	m.tick(monoNow().add(halfOpenTimeout + time.Second))
	if len(m.halfOpen.entries) != 0 {
		t.Fatal("unproven record kept past the half-open timeout")
	}
}

// TestHalfOpenProvenSurvivesFlood: a real initiator's MM3 arrives behind
// thousands of forged MM1; its negotiation completes, and once proven it
// is never evicted by more of them, even from a pool far too small.
func TestHalfOpenProvenSurvivesFlood(t *testing.T) {
	m, tr, hub := hoResponder(t, Config{HalfOpenMemory: 64 << 10})
	peer := netip.MustParseAddrPort("192.0.2.1:500")
	p, mm1 := hoInitiator(t, m, peer, hub)
	m.HandlePacket(mm1, hub, peer)
	// A pool of 64 KiB holds a few hundred records: a flood of as many
	// does not push the real one out...
	for i := range uint64(100) {
		m.HandlePacket(forgedMM1(mm1, i), hub, spoofedAddr(i))
	}
	step(t, m, tr, p, peer, hub) // MM2 -> MM3; MM4 sent
	m.locked(func() {
		if len(m.sas) != 1 || m.sas[0].out != nil || m.sas[0].p1.p.state.String() != "MM_WAIT_MSG5" {
			t.Fatalf("MM3 did not start the negotiation: %d SAs", len(m.sas))
		}
	})
	// ...and once proven, a flood of any size does not touch it.
	for i := range uint64(20000) {
		m.HandlePacket(forgedMM1(mm1, 1000+i), hub, spoofedAddr(1000+i))
	}
	m.locked(func() {
		if m.halfOpen.bytes > 64<<10 {
			t.Fatalf("unproven pool at %d bytes, budget 64 KiB", m.halfOpen.bytes)
		}
		if m.halfOpen.evicted == 0 {
			t.Fatal("the flood evicted nothing from a 64 KiB pool")
		}
	})
	step(t, m, tr, p, peer, hub) // MM4 -> MM5; MM6 sent
	step2 := tr.last(peer)
	if _, err := p.Handle(Packet{Data: step2, Local: peer, Remote: hub}, time.Now()); err != nil || !p.State().Active() {
		t.Fatalf("initiator not active after MM6: %v %v", err, p.State())
	}
	m.locked(func() {
		if len(m.sas) != 1 || m.sas[0].out == nil {
			t.Fatal("phase 1 not established on the responder")
		}
	})
}

// TestHalfOpenPerSource: one real address flooding first messages only
// pushes out its own records.
func TestHalfOpenPerSource(t *testing.T) {
	m, _, hub := hoResponder(t, Config{HalfOpenPerSource: 8})
	peer := netip.MustParseAddrPort("192.0.2.1:500")
	other := netip.MustParseAddrPort("192.0.2.2:500")
	_, mm1 := hoInitiator(t, m, other, hub)
	m.HandlePacket(mm1, hub, other)
	for i := range uint64(1000) {
		m.HandlePacket(forgedMM1(mm1, i), hub, peer)
	}
	m.locked(func() {
		if n := len(m.halfOpen.bySource[peer.Addr()]); n != 8 {
			t.Fatalf("%d records from one address, limit 8", n)
		}
		if len(m.halfOpen.entries) != 9 {
			t.Fatalf("%d records, want 9 (8 from the flooder, 1 other)", len(m.halfOpen.entries))
		}
	})
}

// TestHalfOpenBoundedByMemory: 50,000 forged first messages (more than fill it) keep the
// pool within its budget (and its bookkeeping with it).
func TestHalfOpenBoundedByMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("50,000 messages")
	}
	m, _, hub := hoResponder(t, Config{})
	_, mm1 := hoInitiator(t, m, netip.MustParseAddrPort("192.0.2.1:500"), hub)
	for i := range uint64(50000) {
		m.HandlePacket(forgedMM1(mm1, i), hub, spoofedAddr(i))
	}
	m.locked(func() {
		p := m.halfOpen
		if p.bytes > defaultHalfOpenMemory || len(p.entries) == 0 {
			t.Fatalf("pool at %d bytes (%d records), budget %d", p.bytes, len(p.entries), defaultHalfOpenMemory)
		}
		if len(p.fifo)-p.head > 2*len(p.entries)+64 || len(p.bySource) > len(p.entries) {
			t.Fatalf("bookkeeping grew: fifo %d, sources %d, records %d", len(p.fifo)-p.head, len(p.bySource), len(p.entries))
		}
		t.Logf("%d unproven records in %d bytes; %d evicted", len(p.entries), p.bytes, p.evicted)
	})
}

// TestHalfOpenForeignCookie: a message with a responder cookie we did not
// issue, or an MM3 from another address than its MM1, changes nothing.
func TestHalfOpenForeignCookie(t *testing.T) {
	m, tr, hub := hoResponder(t, Config{})
	peer := netip.MustParseAddrPort("192.0.2.1:500")
	p, mm1 := hoInitiator(t, m, peer, hub)
	m.HandlePacket(mm1, hub, peer)
	mm2 := tr.last(peer)
	res, err := p.Handle(Packet{Data: mm2, Local: peer, Remote: hub}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	mm3 := res.Send[0]
	forged := append([]byte(nil), mm3...)
	forged[15] ^= 1 // another responder cookie
	m.HandlePacket(forged, hub, peer)
	m.HandlePacket(mm3, hub, netip.MustParseAddrPort("192.0.2.9:500"))
	m.locked(func() {
		if len(m.sas) != 0 || len(m.halfOpen.entries) != 1 {
			t.Fatalf("%d SAs, %d records after forged MM3s", len(m.sas), len(m.halfOpen.entries))
		}
	})
	if fi, fr := Cookie(forged[:8]), Cookie(forged[8:16]); m.cookies.issued(&fi, &fr, &peer) {
		t.Fatal("a flipped cookie passes as ours")
	}
	m.HandlePacket(mm3, hub, peer)
	m.locked(func() {
		if len(m.sas) != 1 || len(m.halfOpen.entries) != 0 {
			t.Fatalf("the real MM3 did not start the negotiation: %d SAs", len(m.sas))
		}
	})
}

// TestHalfOpenCookieRotation: cookies stay valid for one rotation, not
// two.
func TestHalfOpenCookieRotation(t *testing.T) {
	var j cookieJar
	now := monoNow()
	j.rotate(now)
	ci, peer := Cookie{1, 2, 3}, netip.MustParseAddrPort("192.0.2.1:500")
	c := cookieFrom(&j.cur, &ci, &peer) // what a responder issues
	j.rotate(now.add(cookieRotation))
	if !j.issued(&ci, &c, &peer) {
		t.Fatal("cookie rejected right after a rotation")
	}
	j.rotate(now.add(2 * cookieRotation))
	if j.issued(&ci, &c, &peer) {
		t.Fatal("cookie accepted two rotations later")
	}
}

// TestProvenLimitWaits: beyond MaxHalfOpen a proven exchange is not
// evicted; the newest MM3 waits, and is accepted when repeated after
// room is made.
func TestProvenLimitWaits(t *testing.T) {
	m, tr, hub := hoResponder(t, Config{MaxHalfOpen: 2})
	type ini struct {
		p    *Phase1
		addr netip.AddrPort
		mm3  []byte
	}
	var inis []ini
	for k := range 3 {
		addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(k + 1)}), IKEPort)
		p, mm1 := hoInitiator(t, m, addr, hub)
		m.HandlePacket(mm1, hub, addr)
		res, err := p.Handle(Packet{Data: tr.last(addr), Local: addr, Remote: hub}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		inis = append(inis, ini{p, addr, res.Send[0]})
		m.HandlePacket(res.Send[0], hub, addr)
		m.waitComputations()
	}
	m.locked(func() {
		if len(m.sas) != 2 || m.sas[0].remote != inis[0].addr || m.sas[1].remote != inis[1].addr || len(m.halfOpen.entries) != 1 {
			t.Fatalf("%d proven SAs, %d records; want the first two proven, the third waiting", len(m.sas), len(m.halfOpen.entries))
		}
		m.removeSA(m.sas[0])
	})
	m.HandlePacket(inis[2].mm3, hub, inis[2].addr)
	m.locked(func() {
		if len(m.sas) != 2 || m.sas[1].remote != inis[2].addr {
			t.Fatal("the repeated MM3 was not accepted once there was room")
		}
	})
}

// TestManagerBurstOf100: a hundred branches start at once towards one
// hub; all come up (the old limit of 32 half-open SAs lost most).
func TestManagerBurstOf100(t *testing.T) {
	if testing.Short() {
		t.Skip("timer-driven manager test: skipped in -short mode")
	}
	const branches = 100
	n, _, hubPlane := burstHub(t)
	var spokes []*Manager
	for k := range branches {
		spokes = append(spokes, n.burstSpoke(t, netip.AddrFrom4([4]byte{192, 0, 3, byte(k + 1)}), k).m)
	}
	for _, m := range spokes {
		go m.Start()
	}
	waitUntil(t, 60*time.Second, "100 pairs on the hub", func() bool { return len(hubPlane.live()) == branches })
}

// BenchmarkForgedMM1: the responder's cost of one forged first message
// (answered, recorded, evicting an older record once the pool is full).
func BenchmarkForgedMM1(b *testing.B) {
	t := &testing.T{}
	m, _, hub := hoResponder(t, Config{})
	_, mm1 := hoInitiator(t, m, netip.MustParseAddrPort("192.0.2.1:500"), hub)
	b.ReportAllocs()
	for i := range uint64(b.N) {
		m.HandlePacket(forgedMM1(mm1, i), hub, spoofedAddr(i))
	}
}
