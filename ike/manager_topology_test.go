package ike

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"tinyipsec/acl"
	"tinyipsec/conf"
)

// burstHub starts a hub at burstHubAddr with a dynamic crypto map for
// 10.200.0.0/16 <-> 10.0.0.0/8 that only responds.
func burstHub(t *testing.T) (*memNet, *Manager, *memPlane) {
	t.Helper()
	n := &memNet{peers: map[netip.Addr]*Manager{}}
	hubCfg := testConfig(burstHubAddr, netip.Addr{}, "10.200.0.0/16", "10.0.0.0/8", "never", func(cm *conf.CryptoMap) {
		cm.Peer, cm.PeerAddr, cm.Dynamic = "dynamic", netip.Addr{}, true
	})
	hub := n.add(t, burstHubAddr, hubCfg, nil)
	hub.m.Start()
	return n, hub.m, hub.plane
}

var burstHubAddr = netip.MustParseAddr("192.0.2.100")

// burstSpoke adds branch k at addr (not started yet): 10.<k+1>.0.0/16
// behind it, initiating to the burst hub.
func (n *memNet) burstSpoke(t *testing.T, addr netip.Addr, k int) *memEnd {
	t.Helper()
	cfg := testConfig(addr, burstHubAddr, fmt.Sprintf("10.%d.0.0/16", k+1), "10.200.0.0/16", "always", nil)
	return n.add(t, addr, cfg, nil)
}

// TestManagerBurstOfPeers: twenty branch routers start at the same moment
// towards one hub with a dynamic crypto map. The half-open bound limits
// memory, not throughput: every branch gets its tunnel promptly, without
// waiting for retransmissions.
func TestManagerBurstOfPeers(t *testing.T) {
	if testing.Short() {
		t.Skip("timer-driven manager test: skipped in -short mode")
	}
	const branches = 20
	n, hub, hubPlane := burstHub(t)
	planes := make([]*memPlane, branches)
	var spokes []*Manager
	for k := 0; k < branches; k++ {
		e := n.burstSpoke(t, netip.AddrFrom4([4]byte{192, 0, 2, byte(k + 1)}), k)
		planes[k] = e.plane
		spokes = append(spokes, e.m)
	}
	start := time.Now()
	for _, m := range spokes {
		go m.Start()
	}
	// Well under the first retransmission interval would be ideal, but the
	// 20 MODP-2048 handshakes share this machine's two cores with other
	// tests; what matters is that nobody is refused and has to start over.
	waitUntil(t, 30*time.Second, "a tunnel for every branch", func() bool {
		for _, p := range planes {
			if len(p.live()) != 1 {
				return false
			}
		}
		return len(hubPlane.live()) == branches
	})
	n.mu.Lock()
	sent := n.sent
	n.mu.Unlock()
	took := time.Since(start)
	t.Logf("%d branches up in %v, %d datagrams", branches, took.Round(time.Millisecond), sent)
	// Main Mode (6) + Quick Mode (3) per branch, plus at most one
	// Informational each: no branch was refused and had to retransmit.
	// (Only meaningful when the burst finished before the first
	// retransmission timer could fire on a slow machine.)
	if took < retxBase && sent > branches*10 {
		t.Errorf("%d datagrams for %d handshakes: retransmissions in the burst", sent, branches)
	}
	for _, s := range hub.Status() {
		if s.State != "MM_ACTIVE" && s.State != "QM_IDLE" {
			t.Errorf("hub IKE SA with %s in state %s", s.Peer, s.State)
		}
	}
}

// TestManagerMirroredACLWithDeny: both routers carve the same host out of
// the protected subnets with a deny line in front of the permit, as Cisco
// admins write it. The deny creates no SA and forbids none: the permit
// line's proxy IDs are agreed on both ends.
func TestManagerMirroredACLWithDeny(t *testing.T) {
	if testing.Short() {
		t.Skip("timer-driven manager test: skipped in -short mode")
	}
	deny := func(src, dst string) func(*conf.CryptoMap) {
		return func(cm *conf.CryptoMap) {
			cm.ACL = &conf.ACL{Name: cm.ACL.Name, Rules: append([]acl.Rule{{Src: netip.MustParsePrefix(src), Dst: netip.MustParsePrefix(dst),
				SrcPorts: acl.AnyPort, DstPorts: acl.AnyPort}}, cm.ACL.Rules...)}
		}
	}
	_, i, r := startPair(t, deny("10.1.0.66/32", "10.2.0.0/16"), deny("10.2.0.0/16", "10.1.0.66/32"))
	waitUntil(t, 20*time.Second, "a pair on both ends", func() bool {
		return len(i.plane.live()) == 1 && len(r.plane.live()) == 1
	})
	if sel := r.plane.live()[0].Selector; sel.Local.String() != "10.2.0.0/16" || sel.Remote.String() != "10.1.0.0/16" {
		t.Fatalf("responder selector %v", sel)
	}
}

// TestManagerDPDIdleOnly: a tunnel that carries traffic is not probed;
// R-U-THERE goes out only after dpd_delay without packets or IKE messages
// from the peer (RFC 3706 section 5.5).
func TestManagerDPDIdleOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("timer-driven manager test: skipped in -short mode")
	}
	dpd := func(cm *conf.CryptoMap) { cm.DPDDelay, cm.DPDTimeout = 30*time.Second, 150*time.Second }
	n, i, _ := startPair(t, dpd, dpd)
	waitUntil(t, 20*time.Second, "a pair on both ends", func() bool { return len(i.plane.live()) == 1 })
	ai := netip.MustParseAddr("192.0.2.1")
	probes := func() int {
		n.mu.Lock()
		defer n.mu.Unlock()
		k := 0
		for _, d := range n.log {
			if d.from == ai && d.exchange == ExchangeInformational {
				k++
			}
		}
		return k
	}
	before := probes()
	now := monoNow()

	// Traffic arrived during the delay: no probe.
	i.plane.inbound.Add(5)
	i.m.tick(now.add(31 * time.Second))
	if got := probes(); got != before {
		t.Fatalf("%d R-U-THERE sent although ESP arrived", got-before)
	}
	// Idle for longer than dpd_delay since then: one probe.
	i.m.tick(now.add(62 * time.Second))
	if got := probes(); got != before+1 {
		t.Fatalf("%d R-U-THERE after an idle delay, want 1", got-before)
	}
}

// TestOnTrafficManyMapsOnePeer: fifty on-traffic crypto maps towards one
// peer, traffic for all of them at once. One Main Mode serves them all,
// and the maps' Quick Modes follow one another as soon as it is up, each
// when the previous one completes (quickSlotFree), not on a later timer
// tick (the timer never runs here).
func TestOnTrafficManyMapsOnePeer(t *testing.T) {
	w := newBenchWire()
	hubAddr, spokeAddr := netip.MustParseAddr("192.0.2.254"), netip.MustParseAddr("198.18.0.1")
	hubCfg := benchConfig(hubAddr, netip.Addr{}, "10.1.0.0/16", "10.0.0.0/8", "never", 19, 0)
	hubCfg.CryptoMaps[0].Peer, hubCfg.CryptoMaps[0].PeerAddr, hubCfg.CryptoMaps[0].Dynamic = "dynamic", netip.Addr{}, true
	hub := w.newBenchEnd(t, hubAddr, hubCfg, false)

	const n = 50
	cfg := benchConfig(spokeAddr, hubAddr, "10.16.0.0/24", "10.1.0.0/16", "on-traffic", 19, 0)
	tmpl := cfg.CryptoMaps[0]
	cfg.CryptoMaps = nil
	for k := range n {
		cm := *tmpl
		cm.Seq = 10 + k
		a := &conf.ACL{Name: fmt.Sprintf("a%d", k), Rules: []acl.Rule{{Permit: true, Src: netip.MustParsePrefix(fmt.Sprintf("10.16.%d.0/24", k)),
			Dst: netip.MustParsePrefix("10.1.0.0/16"), SrcPorts: acl.AnyPort, DstPorts: acl.AnyPort}}}
		cm.Match, cm.ACL = a.Name, a
		cfg.ACLs = append(cfg.ACLs, a)
		cfg.CryptoMaps = append(cfg.CryptoMaps, &cm)
	}
	spoke := w.newBenchEnd(t, spokeAddr, cfg, false)

	for _, cm := range cfg.CryptoMaps {
		spoke.m.Acquire(cm.ID(), nil)
	}
	// Acquire hands over to goroutines; once each has noted its map's
	// traffic (and the first has started Main Mode), deliver what they
	// sent, and what that brings, until the wire is quiet.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		spoke.m.mu.Lock()
		noted := 0
		for _, ms := range spoke.m.maps {
			noted += len(ms.wanted)
		}
		spoke.m.mu.Unlock()
		if noted == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d/%d maps saw their traffic", noted, n)
		}
	}
	w.pump()
	if spoke.plane.live != n {
		t.Fatalf("%d/%d pairs without a timer tick; spoke: %+v", spoke.plane.live, n, spoke.m.Status())
	}
	if st := spoke.m.Status(); len(st) != 1 || st[0].State != "MM_ACTIVE" {
		t.Errorf("want one IKE SA for the fifty maps, have %+v", st)
	}
	if hub.plane.live != n {
		t.Errorf("hub has %d pairs, want %d", hub.plane.live, n)
	}
}
