package ike

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"tinyipsec/conf"
)

// TestHubFailuresPerSpoke: a dynamic crypto map shows the failure of each
// spoke that could not connect, and another spoke connecting clears none
// of them; a spoke that then connects clears only its own. Before, the map
// kept one failure, which the next spoke's failure replaced and any
// spoke's success erased.
func TestHubFailuresPerSpoke(t *testing.T) {
	w := newBenchWire()
	hubAddr := netip.MustParseAddr("192.0.2.254")
	hubCfg := benchConfig(hubAddr, netip.Addr{}, "10.1.0.0/16", "10.0.0.0/8", "never", 14, 0)
	hubCfg.CryptoMaps[0].Peer, hubCfg.CryptoMaps[0].PeerAddr, hubCfg.CryptoMaps[0].Dynamic = "dynamic", netip.Addr{}, true
	hub := w.newBenchEnd(t, hubAddr, hubCfg, false)

	spoke := func(k int, psk string) *benchEnd {
		addr := netip.AddrFrom4([4]byte{198, 18, 0, byte(k)})
		cfg := benchConfig(addr, hubAddr, fmt.Sprintf("10.%d.0.0/16", 16+k), "10.1.0.0/16", "always", 14, 0)
		cfg.CryptoMaps[0].PSK = conf.Secret(psk)
		return w.newBenchEnd(t, addr, cfg, false)
	}
	try := func(e *benchEnd) {
		e.m.tick(monoNow())
		w.pump()
	}
	rows := func() map[string]IKESAStatus {
		out := map[string]IKESAStatus{}
		for _, st := range hub.m.Status() {
			out[st.Peer] = st
		}
		return out
	}

	bad1, bad2, good := spoke(1, "wrong-one"), spoke(2, "wrong-two"), spoke(3, "in-memory-psk")
	try(bad1)
	try(bad2)
	try(good)
	if good.plane.live != 1 {
		t.Fatalf("the spoke with the right key has %d pairs", good.plane.live)
	}
	st := rows()
	for _, bad := range []*benchEnd{bad1, bad2} {
		r, ok := st[bad.addr.String()]
		if !ok || !strings.Contains(r.Hint, "last attempt failed") {
			t.Errorf("hub status has no failure for %v (%+v); all: %+v", bad.addr, r, st)
		}
	}
	if r := st[good.addr.String()]; r.State != "MM_ACTIVE" {
		t.Errorf("good spoke: %+v", r)
	}

	// The first bad spoke comes back with the right key: its failure
	// goes, the other's stays.
	bad1.m.Close()
	bad1 = spoke(1, "in-memory-psk")
	try(bad1)
	st = rows()
	if r := st[bad1.addr.String()]; r.State != "MM_ACTIVE" || r.Hint != "" {
		t.Errorf("repaired spoke: %+v", r)
	}
	if r := st[bad2.addr.String()]; !strings.Contains(r.Hint, "last attempt failed") {
		t.Errorf("the other failure went too: %+v", r)
	}
}

// TestFailuresBounded: failures from many addresses (unauthenticated
// peers cause them) keep at most maxFailuresShown per map, the newest.
func TestFailuresBounded(t *testing.T) {
	ms := &mapState{}
	for k := range 3 * maxFailuresShown {
		ms.noteFailure(&phase1Failure{peer: fmt.Sprint(k)})
		ms.noteFailure(&phase1Failure{peer: fmt.Sprint(k)}) // a repeat replaces
	}
	if len(ms.p1Failures) != maxFailuresShown {
		t.Fatalf("%d failures kept", len(ms.p1Failures))
	}
	if f := ms.p1Failures[len(ms.p1Failures)-1]; f.peer != fmt.Sprint(3*maxFailuresShown-1) {
		t.Fatalf("newest is %q", f.peer)
	}
	if ms.failureOf("0") != nil {
		t.Fatal("the oldest was kept")
	}
}
