package ike

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"tinyipsec/acl"
	"tinyipsec/conf"
)

// reloadConfig is one end's configuration with two crypto maps to the
// same peer: m/10 protects 10.x.0.0/24, m/20 10.x.1.0/24. tsOf picks each
// map's transform set ("gcm" or "cbc"); only the maps in ids are present.
func reloadConfig(local, peer netip.Addr, initiator bool, tsOf map[int]string, seqs ...int) *conf.Config {
	sets := []*conf.TransformSet{
		{Name: "cbc", ESP: "aes256", ESPAuth: "sha256", Mode: "tunnel"},
		{Name: "gcm", ESP: "aes128gcm16", Mode: "tunnel"},
	}
	cfg := &conf.Config{
		Policies:      []conf.ISAKMPPolicy{{Priority: 10, Encryption: "aes128", Hash: "sha256", Auth: "pre-share", Group: 14, Lifetime: testP1Lifetime}},
		TransformSets: sets,
	}
	for _, seq := range seqs {
		third := seq/10 - 1 // m/10: 10.x.0.0/24, m/20: 10.x.1.0/24
		lo := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 1, byte(third), 0}), 24)
		hi := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 2, byte(third), 0}), 24)
		src, dst, initiate := lo, hi, "always"
		if !initiator {
			src, dst, initiate = hi, lo, "never"
		}
		name := "acl" + string(rune('0'+third))
		a := &conf.ACL{Name: name, Rules: []acl.Rule{{Permit: true, Src: src, Dst: dst, SrcPorts: acl.AnyPort, DstPorts: acl.AnyPort}}}
		cfg.ACLs = append(cfg.ACLs, a)
		ts := cfg.TransformSetNamed(tsOf[seq])
		cfg.CryptoMaps = append(cfg.CryptoMaps, &conf.CryptoMap{Name: "m", Seq: seq, Keying: "isakmp", Peer: peer.String(), PeerAddr: peer,
			Local: local, PSK: conf.Secret("in-memory-psk"), Match: name, ACL: a, TransformSet: []string{ts.Name},
			TransformSets: []*conf.TransformSet{ts}, Lifetime: time.Hour, Initiate: conf.Initiate(initiate), NATT: "auto"})
	}
	return cfg
}

// pairsOf returns the live pairs of crypto map id.
func (p *memPlane) pairsOf(id string) []*ChildSA {
	var out []*ChildSA
	for _, c := range p.live() {
		if c.CryptoMap.ID() == id {
			out = append(out, c)
		}
	}
	return out
}

// TestManagerReload: a reload keeps the SAs of an unchanged crypto map
// (the very same installed pair), deletes and renegotiates a changed one,
// deletes a removed one on both ends (the peer learns it from the Delete),
// and hands the shared IKE SA to a kept map when the map it was
// negotiated for changes.
func TestManagerReload(t *testing.T) {
	if testing.Short() {
		t.Skip("timer-driven")
	}
	saved := initiateBackoff
	initiateBackoff = 300 * time.Millisecond // each end reloads separately: one refused Quick Mode in between
	t.Cleanup(func() { initiateBackoff = saved })

	ai, ar := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	n := &memNet{peers: map[netip.Addr]*Manager{}}
	gcm := map[int]string{10: "gcm", 20: "gcm"}
	i := n.add(t, ai, reloadConfig(ai, ar, true, gcm, 10, 20), nil)
	r := n.add(t, ar, reloadConfig(ar, ai, false, gcm, 10, 20), nil)
	r.m.Start()
	i.m.Start()
	both := func(id string) bool { return len(i.plane.pairsOf(id)) == 1 && len(r.plane.pairsOf(id)) == 1 }
	waitUntil(t, 20*time.Second, "both maps up", func() bool { return both("m/10") && both("m/20") })
	if s := i.m.Status(); len(s) != 1 || s[0].CryptoMap != "m/10" {
		t.Fatalf("want one IKE SA negotiated for m/10, status %+v", s)
	}
	keepI, keepR := i.plane.pairsOf("m/20")[0], r.plane.pairsOf("m/20")[0]
	oldI := i.plane.pairsOf("m/10")[0]

	// Change m/10 (the map the IKE SA was negotiated for) on both ends.
	changed := map[int]string{10: "cbc", 20: "gcm"}
	res, err := i.m.Reload(reloadConfig(ai, ar, true, changed, 10, 20))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Kept, []string{"m/20"}) || !slices.Equal(res.Changed, []string{"m/10"}) || len(res.Added)+len(res.Removed) != 0 {
		t.Fatalf("reload result %+v", res)
	}
	if _, err := r.m.Reload(reloadConfig(ar, ai, false, changed, 10, 20)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "m/10 renegotiated with the new transform set", func() bool {
		if !both("m/10") {
			return false
		}
		c := i.plane.pairsOf("m/10")[0]
		return c != oldI && c.Encryption == "aes256" && c.ESPIn.SPI != oldI.ESPIn.SPI
	})
	if p := i.plane.pairsOf("m/20"); len(p) != 1 || p[0] != keepI {
		t.Fatal("the unchanged map's pair was replaced on the initiator")
	}
	if p := r.plane.pairsOf("m/20"); len(p) != 1 || p[0] != keepR {
		t.Fatal("the unchanged map's pair was replaced on the responder")
	}
	if s := i.m.Status(); len(s) != 1 || s[0].CryptoMap != "m/20" || s[0].State != "MM_ACTIVE" {
		t.Fatalf("the IKE SA should survive, taken over by m/20: %+v", s)
	}

	// Remove m/20 on the initiator only: the responder's pair goes with
	// the Delete notification.
	res, err = i.m.Reload(reloadConfig(ai, ar, true, changed, 10))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Removed, []string{"m/20"}) || !slices.Equal(res.Kept, []string{"m/10"}) {
		t.Fatalf("reload result %+v", res)
	}
	if len(i.plane.pairsOf("m/20")) != 0 {
		t.Fatal("removed map's pair still installed")
	}
	waitUntil(t, 5*time.Second, "the responder's m/20 pair deleted", func() bool { return len(r.plane.pairsOf("m/20")) == 0 })
	if len(i.plane.pairsOf("m/10")) != 1 || len(r.plane.pairsOf("m/10")) != 1 {
		t.Fatal("m/10 lost its pairs")
	}

	// Add it back: it comes up again (initiate = always).
	res, err = i.m.Reload(reloadConfig(ai, ar, true, changed, 10, 20))
	if err != nil || !slices.Equal(res.Added, []string{"m/20"}) {
		t.Fatalf("reload result %+v, %v", res, err)
	}
	waitUntil(t, 20*time.Second, "m/20 back", func() bool { return both("m/20") })

	// No maps left: the IKE SA is deleted too, on both ends.
	if _, err := i.m.Reload(reloadConfig(ai, ar, true, changed)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "everything deleted on both ends", func() bool {
		return len(i.plane.live())+len(r.plane.live()) == 0 && len(i.m.Status())+len(r.m.Status()) == 0
	})
}

// TestManagerReloadOnTraffic: a crypto map added by a reload with
// initiate = on-traffic waits for the data plane's Acquire, which finds it
// by ID.
func TestManagerReloadOnTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("timer-driven")
	}
	ai, ar := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	n := &memNet{peers: map[netip.Addr]*Manager{}}
	gcm := map[int]string{10: "gcm", 20: "gcm"}
	i := n.add(t, ai, reloadConfig(ai, ar, true, gcm, 10), nil)
	r := n.add(t, ar, reloadConfig(ar, ai, false, gcm, 10, 20), nil)
	r.m.Start()
	i.m.Start()
	waitUntil(t, 20*time.Second, "m/10 up", func() bool { return len(i.plane.pairsOf("m/10")) == 1 })

	qms := len(n.quickModes(ai, time.Now().Add(time.Hour)))
	next := reloadConfig(ai, ar, true, gcm, 10, 20)
	next.CryptoMaps[1].Initiate = "on-traffic"
	if res, err := i.m.Reload(next); err != nil || !slices.Equal(res.Added, []string{"m/20"}) {
		t.Fatalf("reload result %+v, %v", res, err)
	}
	// Run the timer directly (a slow machine's ticker may not have fired
	// yet): no Quick Mode may start for the new map before traffic.
	for range 5 {
		i.m.tick(monoNow())
	}
	if got := len(n.quickModes(ai, time.Now().Add(time.Hour))); got != qms || len(i.plane.pairsOf("m/20")) != 0 {
		t.Fatalf("on-traffic map started without traffic (%d Quick Modes, %d before)", got, qms)
	}
	i.m.Acquire("m/20", nil)
	waitUntil(t, 20*time.Second, "m/20 up after Acquire", func() bool {
		return len(i.plane.pairsOf("m/20")) == 1 && len(r.plane.pairsOf("m/20")) == 1
	})
	if len(i.plane.pairsOf("m/10")) != 1 {
		t.Fatal("m/10 lost its pair")
	}
}

// The manager's view of a crypto ACL is the configuration's compiled
// list, the one the data plane matches packets with.
func TestMapStateSharesCompiledACL(t *testing.T) {
	cfg := testConfig(netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), "10.1.0.0/16", "10.2.0.0/16", "always", nil)
	cm := cfg.CryptoMaps[0]
	if ms := newMapState(cm); ms.acl == nil || ms.acl != cm.ACL.List() {
		t.Fatal("the manager compiled its own copy of the ACL")
	}
}
