package ike

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// idleHub is a manager holding n established IKE SAs whose next timer
// (expiry) is an hour away, as on a hub with thousands of quiet spokes.
func idleHub(t testing.TB, n int) (*Manager, []*ikeSA, mono) {
	hubAddr := netip.MustParseAddr("192.0.2.100")
	net := &memNet{peers: map[netip.Addr]*Manager{}}
	m, err := NewManager(Config{Conf: testConfig(hubAddr, netip.Addr{}, "10.200.0.0/16", "10.0.0.0/8", "never", nil),
		Transport: &memTransport{net}, DataPlane: &memPlane{}})
	if err != nil {
		t.Fatal(err)
	}
	now := monoNow()
	sas := make([]*ikeSA, n)
	for i := range sas {
		sa := &ikeSA{remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 500),
			created: now, out: &p1Outcome{}, life: lifeActive, established: now, expires: now.add(time.Hour), rekeyAt: now.add(50 * time.Minute),
			qms: map[uint32]*qmState{}}
		m.sas = append(m.sas, sa)
		m.schedule(sa, now)
		sas[i] = sa
	}
	m.tick(now) // the first visit of each computes its next timer
	return m, sas, now
}

// TestTickVisitsOnlyDueSAs: a tick leaves SAs whose timers are not due
// alone (their place in the queue is unchanged), and still serves the one
// SA that has a retransmission due.
func TestTickVisitsOnlyDueSAs(t *testing.T) {
	m, sas, now := idleHub(t, 1000)
	for _, sa := range sas {
		if want := now.add(timerMaxSleep); sa.due != want {
			t.Fatalf("idle SA due at %v, want %v (the safety-net sleep)", sa.due.sub(now), timerMaxSleep)
		}
	}
	// A Quick Mode of SA 500 waits for its answer.
	busy := sas[500]
	busy.qms[1] = &qmState{}
	busy.qms[1].retx.arm([]byte("quick mode message"), now)
	m.schedule(busy, now)
	m.tick(now.add(retxBase + time.Millisecond))
	if busy.qms[1].retx.tries != 1 {
		t.Fatalf("the due retransmission was not sent (tries %d)", busy.qms[1].retx.tries)
	}
	for i, sa := range sas {
		if i != 500 && sa.due != now.add(timerMaxSleep) {
			t.Fatalf("SA %d was visited by a tick although nothing of it was due", i)
		}
	}
	// Past the safety-net sleep every SA is looked at again.
	m.tick(now.add(timerMaxSleep + time.Second))
	for i, sa := range sas {
		if sa.due <= now.add(timerMaxSleep+time.Second) {
			t.Fatalf("SA %d not revisited after the safety-net sleep", i)
		}
	}
}

// BenchmarkTickIdleHub: the cost of one timer tick with n quiet IKE SAs,
// which must not grow with n.
func BenchmarkTickIdleHub(b *testing.B) {
	for _, n := range []int{100, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			m, _, now := idleHub(b, n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m.tick(now.add(time.Second))
			}
		})
	}
}

// spokeWithMaps is a manager with n "initiate always" crypto maps towards
// one hub, each from its own local address and with its tunnel up (an
// established IKE SA holding its pair), as on a site router with many
// maps.
func spokeWithMaps(t testing.TB, n int) *Manager {
	hub := netip.MustParseAddr("192.0.2.1")
	cfg := testConfig(netip.MustParseAddr("198.18.0.1"), hub, "10.1.0.0/16", "10.2.0.0/16", "always", nil)
	tmpl := cfg.CryptoMaps[0]
	cfg.CryptoMaps = nil
	for i := range n {
		cm := *tmpl
		cm.Seq = 10 + i
		cm.Local = netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
		cfg.CryptoMaps = append(cfg.CryptoMaps, &cm)
	}
	m, err := NewManager(Config{Conf: cfg, Transport: &memTransport{&memNet{peers: map[netip.Addr]*Manager{}}}, DataPlane: &memPlane{}})
	if err != nil {
		t.Fatal(err)
	}
	now := monoNow()
	for _, ms := range m.maps {
		sa := &ikeSA{ms: ms, initiator: true, local: netip.AddrPortFrom(ms.cm.Local, 500), remote: netip.AddrPortFrom(hub, 500),
			created: now, out: &p1Outcome{}, life: lifeActive, established: now, expires: now.add(time.Hour),
			rekeyAt: now.add(50 * time.Minute), qms: map[uint32]*qmState{}}
		sa.children = append(sa.children, &child{ms: ms, rule: ms.rules[0], expires: now.add(time.Hour)})
		m.sas = append(m.sas, sa)
	}
	return m
}

// TestTickMapsManyMaps: with every map's pair up, tickMaps starts
// nothing; when one map's pair is going, that map alone wants a new one,
// and it finds its own IKE SA (still negotiating, so it waits for it)
// among the SAs with the hub instead of starting a phase 1; tickMaps on an SA
// looks only at the maps that may use the SA it is given.
func TestTickMapsManyMaps(t *testing.T) {
	m := spokeWithMaps(t, 200)
	m.mu.Lock()
	defer m.mu.Unlock()
	now := monoNow()
	m.tickMaps(nil, now)
	if len(m.sas) != 200 {
		t.Fatalf("%d IKE SAs after a tick with every pair up, want 200", len(m.sas))
	}
	for _, ms := range m.maps {
		if len(ms.wanted) != 0 {
			t.Fatalf("map %s initiates although its pair is up", ms.cm.ID())
		}
	}
	sa := m.sas[123]
	sa.children[0].removeAt = now.add(time.Second)
	sa.life = lifeNegotiating // a re-authentication in progress
	m.tickMaps(nil, now)
	if len(m.sas) != 200 {
		t.Fatalf("%d IKE SAs: a phase 1 started although the map's own IKE SA is negotiating", len(m.sas))
	}
	for i, ms := range m.maps {
		if want := i == 123; ms.wanted[0] != want {
			t.Errorf("map %d wants its ACL line: %v, want %v", i, ms.wanted[0], want)
		}
	}

	// After a handshake on one SA only the maps that may use it are
	// looked at: map 5's missing pair is noticed at once, map 7's (on
	// another SA) at the next tick.
	for _, k := range []int{5, 7} {
		m.sas[k].children[0].removeAt = now.add(time.Second)
		m.sas[k].life = lifeNegotiating
	}
	m.tickMaps(m.sas[5], now)
	if !m.maps[5].wanted[0] || m.maps[7].wanted[0] {
		t.Errorf("after a handshake on map 5's SA: map 5 wants its line %v, map 7 %v; want true, false",
			m.maps[5].wanted[0], m.maps[7].wanted[0])
	}
	if len(m.sas) != 200 {
		t.Fatalf("%d IKE SAs after tickMaps on an SA, want 200", len(m.sas))
	}
}

// BenchmarkTickMapsSpoke: tickMaps (each tick, and after each phase 1 and
// Quick Mode the spoke initiates) with n maps whose tunnels are up, and
// with n maps whose phase 1 is still in progress (a burst: each map looks
// for its IKE SA), which must grow with n, not with n x n.
func BenchmarkTickMapsSpoke(b *testing.B) {
	for _, n := range []int{100, 1000} {
		for _, state := range []string{"up", "negotiating"} {
			b.Run(fmt.Sprintf("%d/%s", n, state), func(b *testing.B) {
				m := spokeWithMaps(b, n)
				if state == "negotiating" {
					for _, sa := range m.sas {
						sa.children, sa.life = nil, lifeNegotiating
					}
				}
				now := monoNow()
				m.mu.Lock()
				defer m.mu.Unlock()
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					m.tickMaps(nil, now)
				}
				if len(m.sas) != n {
					b.Fatalf("%d IKE SAs, want %d", len(m.sas), n)
				}
			})
		}
	}
}

// TestTimerQueueOrder: after any mix of insertions, earlier and later due
// times, and removals from the middle, the queue hands the SAs out in
// due-time order and every SA's tqIndex is its place in the queue.
func TestTimerQueueOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var q timerQueue
	var in []*ikeSA
	check := func() {
		t.Helper()
		for i, sa := range q {
			if sa.tqIndex != i {
				t.Fatalf("SA at %d has tqIndex %d", i, sa.tqIndex)
			}
			if i > 0 && q[(i-1)/2].due > sa.due {
				t.Fatalf("heap order broken at %d", i)
			}
		}
	}
	for step := 0; step < 5000; step++ {
		switch op := rng.IntN(4); {
		case op < 2 || len(in) == 0:
			sa := &ikeSA{due: mono(rng.IntN(200))}
			q = append(q, sa)
			q.sift(len(q) - 1)
			in = append(in, sa)
		case op == 2:
			sa := in[rng.IntN(len(in))]
			sa.due = mono(rng.IntN(200))
			q.sift(sa.tqIndex)
		default:
			k := rng.IntN(len(in))
			sa := in[k]
			if got := q.remove(sa.tqIndex); got != sa || sa.tqIndex != -1 {
				t.Fatalf("remove returned %p (tqIndex %d), want %p", got, sa.tqIndex, sa)
			}
			in = append(in[:k], in[k+1:]...)
		}
		check()
		if len(q) != len(in) {
			t.Fatalf("queue holds %d SAs, want %d", len(q), len(in))
		}
	}
	var last mono
	for len(q) > 0 {
		sa := q.remove(0)
		if sa.due < last {
			t.Fatalf("due %d handed out after %d", sa.due, last)
		}
		last = sa.due
		check()
	}
}
