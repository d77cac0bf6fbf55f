package ike

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"tinyipsec/acl"
	"tinyipsec/conf"
)

// TestOnTrafficManyMapsOnePeer: fifty on-traffic crypto maps towards one
// peer, traffic for all of them at once. One Main Mode serves them all,
// and every map's Quick Mode starts as soon as it is up, not on a later
// timer tick (the timer never runs here).
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
		cfg.ACLs[a.Name] = a
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
