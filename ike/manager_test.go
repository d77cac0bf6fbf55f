package ike

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tinyipsec/acl"
	"tinyipsec/conf"
)

// memNet connects managers in memory: a datagram sent to an address is
// handed to the manager owning it, from a goroutine (as a socket would).
type memNet struct {
	mu    sync.Mutex
	peers map[netip.Addr]*Manager
	drop  func(pkt []byte) bool
	sent  int
	log   []memDatagram // every datagram sent, dropped or not
}

// memDatagram records one sent IKE datagram: when, by whom, and its
// (cleartext) header's exchange and message ID.
type memDatagram struct {
	at       time.Time
	from     netip.Addr
	exchange ExchangeType
	mid      uint32
}

// quickModes returns the message IDs of the Quick Mode exchanges that
// from started (sent a first message of) before the deadline, in order.
// Retransmissions and the peer's answers are not new exchanges; what an
// emulator delivers late does not count either.
func (n *memNet) quickModes(from netip.Addr, before time.Time) []uint32 {
	n.mu.Lock()
	defer n.mu.Unlock()
	peerMIDs := map[uint32]bool{}
	var out []uint32
	for _, d := range n.log {
		if d.exchange != ExchangeQuick || !d.at.Before(before) {
			continue
		}
		if d.from != from {
			peerMIDs[d.mid] = true
			continue
		}
		if !peerMIDs[d.mid] && !slices.Contains(out, d.mid) {
			out = append(out, d.mid)
		}
	}
	return out
}

// firstSent returns when from first sent a message of exchange type x.
func (n *memNet) firstSent(from netip.Addr, x ExchangeType) (time.Time, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, d := range n.log {
		if d.from == from && d.exchange == x {
			return d.at, true
		}
	}
	return time.Time{}, false
}

type memTransport struct {
	net *memNet
}

func (t *memTransport) SendIKE(pkt []byte, local, remote netip.AddrPort) error {
	t.net.mu.Lock()
	dst := t.net.peers[remote.Addr()]
	drop := t.net.drop != nil && t.net.drop(pkt)
	t.net.sent++
	if h, err := ParseHeader(pkt); err == nil {
		t.net.log = append(t.net.log, memDatagram{at: time.Now(), from: local.Addr(), exchange: h.Exchange, mid: h.MessageID})
	}
	t.net.mu.Unlock()
	if dst == nil || drop {
		return nil
	}
	b := bytes.Clone(pkt)
	go dst.HandlePacket(b, remote, local)
	return nil
}

func (t *memTransport) SendKeepalive(local, remote netip.AddrPort) error { return nil }

// memPlane records installed pairs.
type memPlane struct {
	mu    sync.Mutex
	pairs map[*ChildSA]bool
	log   []*ChildSA
	// inbound stands for the packets every pair has received (DPD's
	// sign of life); tests move it by hand.
	inbound atomic.Uint64
	// heldInstalls counts installs with the outbound half held.
	heldInstalls int
}

func (p *memPlane) PacketsIn(ChildHandle) uint64 { return p.inbound.Load() }

func (p *memPlane) InstallChild(c *ChildSA) (ChildHandle, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pairs == nil {
		p.pairs = map[*ChildSA]bool{}
	}
	cp := *c
	if c.HoldOutbound {
		p.heldInstalls++
	}
	for _, k := range []*ChildKeys{&cp.ESPIn, &cp.ESPOut, &cp.AHIn, &cp.AHOut} {
		k.EncKey, k.AuthKey = bytes.Clone(k.EncKey), bytes.Clone(k.AuthKey)
	}
	p.pairs[&cp] = true
	p.log = append(p.log, &cp)
	return &cp, nil
}

// ReleaseOutbound: the memory plane has no traffic to hold; it records
// the release so that tests see the responder's two-step install.
func (p *memPlane) ReleaseOutbound(h ChildHandle) {
	p.mu.Lock()
	defer p.mu.Unlock()
	h.(*ChildSA).HoldOutbound = false
}

// held counts the live pairs whose outbound half is still held.
func (p *memPlane) held() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for c := range p.pairs {
		if c.HoldOutbound {
			n++
		}
	}
	return n
}

func (p *memPlane) RemoveChild(h ChildHandle) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.pairs, h.(*ChildSA))
}

func (p *memPlane) live() []*ChildSA {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*ChildSA
	for c := range p.pairs {
		out = append(out, c)
	}
	return out
}

// testP1Lifetime is the ISAKMP policy lifetime of testConfig.
var testP1Lifetime = 8 * time.Hour

// testConfig is one end's configuration: a PSK crypto map to peer.
func testConfig(local, peer netip.Addr, src, dst string, initiate string, mutate func(*conf.CryptoMap)) *conf.Config {
	ts := &conf.TransformSet{Name: "gcm", ESP: "aes128gcm16", Mode: "tunnel"}
	a := &conf.ACL{Name: "vpn", Rules: []acl.Rule{{Permit: true, Src: netip.MustParsePrefix(src), Dst: netip.MustParsePrefix(dst),
		SrcPorts: acl.AnyPort, DstPorts: acl.AnyPort}}}
	cm := &conf.CryptoMap{Name: "m", Seq: 10, Keying: "isakmp", Peer: peer.String(), PeerAddr: peer, Local: local,
		PSK: conf.Secret("in-memory-psk"), Match: "vpn", ACL: a, TransformSet: []string{"gcm"},
		TransformSets: []*conf.TransformSet{ts}, Lifetime: time.Hour, Initiate: conf.Initiate(initiate), NATT: "auto"}
	if mutate != nil {
		mutate(cm)
	}
	return &conf.Config{
		Policies:      []conf.ISAKMPPolicy{{Priority: 10, Encryption: "aes128", Hash: "sha256", Auth: "pre-share", Group: 14, Lifetime: testP1Lifetime}},
		TransformSets: []*conf.TransformSet{ts},
		ACLs:          []*conf.ACL{a},
		CryptoMaps:    []*conf.CryptoMap{cm},
	}
}

type memEnd struct {
	m     *Manager
	plane *memPlane
}

// add puts a manager for cfg on the network at addr, not started yet,
// with host as its remote-access host (may be nil); it is closed when
// the test ends.
func (n *memNet) add(t testing.TB, addr netip.Addr, cfg *conf.Config, host RemoteAccessHost) *memEnd {
	t.Helper()
	p := &memPlane{}
	m, err := NewManager(Config{Conf: cfg, Transport: &memTransport{n}, DataPlane: p, RemoteAccess: host})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	n.mu.Lock()
	n.peers[addr] = m
	n.mu.Unlock()
	return &memEnd{m: m, plane: p}
}

func startPair(t *testing.T, mutateI, mutateR func(*conf.CryptoMap)) (*memNet, *memEnd, *memEnd) {
	t.Helper()
	return startPairWith(t, mutateI, mutateR, nil)
}

func startPairWith(t *testing.T, mutateI, mutateR func(*conf.CryptoMap), drop func([]byte) bool) (*memNet, *memEnd, *memEnd) {
	t.Helper()
	ai, ar := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	n := &memNet{peers: map[netip.Addr]*Manager{}, drop: drop}
	i := n.add(t, ai, testConfig(ai, ar, "10.1.0.0/16", "10.2.0.0/16", "always", mutateI), nil)
	r := n.add(t, ar, testConfig(ar, ai, "10.2.0.0/16", "10.1.0.0/16", "never", mutateR), nil)
	r.m.Start()
	i.m.Start()
	return n, i, r
}

// restartInitiator plays a crash of startPair's initiator i: it goes away
// silently (nothing it sends while closing arrives) and comes back with
// the same configuration and no SAs.
func restartInitiator(t *testing.T, n *memNet, i *memEnd) *memEnd {
	t.Helper()
	n.mu.Lock()
	n.drop = func([]byte) bool { return true }
	n.mu.Unlock()
	i.m.Close()
	ai, ar := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	restarted := n.add(t, ai, testConfig(ai, ar, "10.1.0.0/16", "10.2.0.0/16", "always", nil), nil)
	n.mu.Lock()
	n.drop = nil
	n.mu.Unlock()
	restarted.m.Start()
	return restarted
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func checkMirrored(t *testing.T, a, b *ChildSA) {
	t.Helper()
	if a.ESPIn.SPI != b.ESPOut.SPI || a.ESPOut.SPI != b.ESPIn.SPI ||
		!bytes.Equal(a.ESPIn.EncKey, b.ESPOut.EncKey) || !bytes.Equal(a.ESPOut.EncKey, b.ESPIn.EncKey) {
		t.Fatalf("pairs do not mirror: %+v / %+v", a, b)
	}
	if len(a.ESPIn.EncKey) != 20 {
		t.Fatalf("AES-128-GCM key+salt of %d bytes", len(a.ESPIn.EncKey))
	}
}

func TestManagerInMemory(t *testing.T) {
	_, i, r := startPair(t, nil, nil)
	waitUntil(t, 20*time.Second, "a pair on both ends", func() bool {
		return len(i.plane.live()) == 1 && len(r.plane.live()) == 1
	})
	checkMirrored(t, i.plane.live()[0], r.plane.live()[0])
	// The responder installed its pair at QM2 with the outbound half held,
	// and released it at QM3.
	waitUntil(t, 5*time.Second, "the responder's outbound half released", func() bool { return r.plane.held() == 0 })
	r.plane.mu.Lock()
	installs, held := len(r.plane.log), r.plane.heldInstalls
	r.plane.mu.Unlock()
	if installs != 1 || held != 1 || i.plane.heldInstalls != 0 {
		t.Fatalf("responder: %d installs, %d with the outbound half held (want 1, 1); initiator: %d held", installs, held, i.plane.heldInstalls)
	}
	si, sr := i.m.Status(), r.m.Status()
	if len(si) != 1 || si[0].State != "MM_ACTIVE" || si[0].Role != "initiator" || sr[0].Role != "responder" ||
		si[0].Encryption != "aes128" || si[0].Group != 14 || si[0].LifetimeLeftS <= 0 {
		t.Fatalf("status %+v / %+v", si, sr)
	}
	sel := i.plane.live()[0].Selector
	if sel.Local.String() != "10.1.0.0/16" || sel.Remote.String() != "10.2.0.0/16" {
		t.Fatalf("initiator selector %v", sel)
	}
	// Shutdown of the initiator deletes everything on the responder too.
	i.m.Close()
	waitUntil(t, 5*time.Second, "responder cleanup after Delete", func() bool {
		return len(r.plane.live()) == 0 && len(r.m.Status()) == 0
	})
}

// TestManagerPFSMismatch: the responder refuses a Quick Mode with PFS;
// both ends say why in status, and the initiator does not start another
// Quick Mode before its backoff, however late a retransmission or the
// responder's notify is delivered (the clock-driven part runs the
// manager's timer directly instead of sleeping).
func TestManagerPFSMismatch(t *testing.T) {
	n, i, r := startPair(t, func(cm *conf.CryptoMap) { cm.PFS = 14 }, nil)
	// Wait for the refusal itself: while Quick Mode is still waiting the
	// state hint mentions PFS too.
	waitUntil(t, 10*time.Second, "the initiator's hint", func() bool {
		s := i.m.Status()
		return len(s) == 1 && strings.Contains(s[0].Hint, "NO-PROPOSAL-CHOSEN")
	})
	ai := netip.MustParseAddr("192.0.2.1")
	first, ok := n.firstSent(ai, ExchangeQuick)
	if !ok {
		t.Fatal("hint without any Quick Mode sent")
	}
	// The failure was recorded after the first Quick Mode left, so the
	// map may not try again before first+initiateBackoff. Timer runs in
	// that window must start nothing; the background ticker's too.
	backoffEnd := first.Add(initiateBackoff)
	for range 10 {
		now := time.Now()
		if !now.Before(backoffEnd) {
			break // a very slow machine: the window has passed
		}
		i.m.tick(monoNow())
	}
	if qms := n.quickModes(ai, backoffEnd); len(qms) != 1 {
		t.Fatalf("%d Quick Modes started within the backoff after a refused one (message IDs %x)", len(qms), qms)
	}
	if len(i.plane.live())+len(r.plane.live()) != 0 {
		t.Fatal("child installed despite a PFS mismatch")
	}
	if s := r.m.Status(); len(s) != 1 || !strings.Contains(s[0].Hint, "one end has PFS set") {
		t.Fatalf("responder status %+v", s)
	}
}

func TestManagerChildRekey(t *testing.T) {
	skipTimingInShort(t)
	grace := rekeyGrace
	rekeyGrace = 500 * time.Millisecond
	defer func() { rekeyGrace = grace }()
	_, i, r := startPair(t, func(cm *conf.CryptoMap) { cm.Lifetime = 8 * time.Second },
		func(cm *conf.CryptoMap) { cm.Lifetime = 8 * time.Second })
	waitUntil(t, 10*time.Second, "first pair", func() bool { return len(i.plane.live()) >= 1 && len(r.plane.live()) >= 1 })
	waitUntil(t, 15*time.Second, "a rekeyed pair", func() bool {
		i.plane.mu.Lock()
		defer i.plane.mu.Unlock()
		return len(i.plane.log) >= 2
	})
	// The old pair goes after the grace period, on both ends.
	waitUntil(t, 10*time.Second, "old pairs removed", func() bool {
		return len(i.plane.live()) == 1 && len(r.plane.live()) == 1
	})
	checkMirrored(t, i.plane.live()[0], r.plane.live()[0])
	// The rekeying initiator held the new pair's outbound half until the
	// peer showed it had the SA (here: after initiatorHold, no traffic
	// counted), then released it.
	i.plane.mu.Lock()
	heldInstalls := i.plane.heldInstalls
	i.plane.mu.Unlock()
	if heldInstalls == 0 || i.plane.held() != 0 {
		t.Fatalf("initiator: %d rekeyed pairs installed held, %d still held after the old pair went", heldInstalls, i.plane.held())
	}
}

// TestManagerRetransmission drops the first copy of every message: each
// side must retransmit and answer duplicates with its last reply.
func TestManagerRetransmission(t *testing.T) {
	skipTimingInShort(t)
	base := retxBase
	retxBase = 100 * time.Millisecond
	defer func() { retxBase = base }()
	seen := map[string]bool{}
	n, i, r := startPairWith(t, nil, nil, func(pkt []byte) bool {
		k := string(pkt)
		if seen[k] {
			return false
		}
		seen[k] = true
		return true
	})
	_ = n
	waitUntil(t, 20*time.Second, "a pair on both ends despite loss", func() bool {
		return len(i.plane.live()) == 1 && len(r.plane.live()) == 1
	})
	checkMirrored(t, i.plane.live()[0], r.plane.live()[0])
}

// TestManagerOnTraffic: a map with initiate = on-traffic starts only when
// the data plane asks.
func TestManagerOnTraffic(t *testing.T) {
	n, i, r := startPairWith(t, func(cm *conf.CryptoMap) { cm.Initiate = "on-traffic" }, nil, nil)
	// Run the timer directly: a slow machine's ticker may not have fired.
	for range 3 {
		i.m.tick(monoNow())
	}
	n.mu.Lock()
	sent := n.sent
	n.mu.Unlock()
	if sent != 0 {
		t.Fatalf("%d datagrams sent before any traffic", sent)
	}
	i.m.Acquire("m/10", nil)
	waitUntil(t, 20*time.Second, "a pair after Acquire", func() bool {
		return len(i.plane.live()) == 1 && len(r.plane.live()) == 1
	})
}

// TestManagerStatusHints covers the plain-words hints.
func TestManagerStatusHints(t *testing.T) {
	for state, want := range map[string]string{
		"MM_WAIT_MSG2": "UDP 500", "MM_WAIT_MSG4": "UDP 4500", "MM_WAIT_MSG6": "pre-shared keys",
		"QM_WAIT_MSG2": "PFS", "MM_ACTIVE": "",
	} {
		got := stateHint(state)
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("%s: hint %q, want it to mention %q", state, got, want)
		}
	}
}

// TestManagerPhase1Rekey: the IKE SA is replaced before it expires
// (make-before-break) and the IPsec SAs survive on both ends.
func TestManagerPhase1Rekey(t *testing.T) {
	skipTimingInShort(t)
	testP1Lifetime = 6 * time.Second
	defer func() { testP1Lifetime = 8 * time.Hour }()
	_, i, r := startPair(t, nil, nil)
	waitUntil(t, 10*time.Second, "first pair", func() bool { return len(i.plane.live()) == 1 && len(r.plane.live()) == 1 })
	cookie := func(e *memEnd) Cookie {
		e.m.mu.Lock()
		defer e.m.mu.Unlock()
		if len(e.m.sas) != 1 || e.m.sas[0].out == nil {
			return Cookie{}
		}
		return e.m.sas[0].cookieI
	}
	first := cookie(i)
	waitUntil(t, 15*time.Second, "a new IKE SA on both ends, the old one gone", func() bool {
		ci, cr := cookie(i), cookie(r)
		return !ci.IsZero() && ci != first && ci == cr
	})
	if len(i.plane.live()) != 1 || len(r.plane.live()) != 1 {
		t.Fatalf("pairs after the IKE rekey: %d / %d", len(i.plane.live()), len(r.plane.live()))
	}
	checkMirrored(t, i.plane.live()[0], r.plane.live()[0])
}

// skipTimingInShort skips tests that depend on seconds-long timers; the
// -short runs under qemu emulate the CPU too slowly for them.
func skipTimingInShort(t *testing.T) {
	if testing.Short() {
		t.Skip("timer-driven test: skipped in -short mode")
	}
}

// TestManagerOneSAPerACLLine: an ACL with two permit lines gets two IPsec
// SA pairs, each with its line's selector; a deny line gets none.
func TestManagerOneSAPerACLLine(t *testing.T) {
	rule := func(permit bool, src, dst string) acl.Rule {
		return acl.Rule{Permit: permit, Src: netip.MustParsePrefix(src), Dst: netip.MustParsePrefix(dst), SrcPorts: acl.AnyPort, DstPorts: acl.AnyPort}
	}
	lines := func(a, b string) func(cm *conf.CryptoMap) {
		return func(cm *conf.CryptoMap) {
			cm.ACL = &conf.ACL{Name: "vpn", Rules: []acl.Rule{
				rule(false, a+".9.0/24", b+".9.0/24"),
				rule(true, a+".1.0/24", b+".1.0/24"),
				rule(true, a+".2.0/24", b+".2.0/24"),
			}}
		}
	}
	_, i, r := startPair(t, lines("10.1", "10.2"), lines("10.2", "10.1"))
	waitUntil(t, 20*time.Second, "two pairs on both ends", func() bool {
		return len(i.plane.live()) == 2 && len(r.plane.live()) == 2
	})
	got := map[int]string{}
	for _, c := range i.plane.live() {
		got[c.Rule] = c.Selector.Local.String() + ">" + c.Selector.Remote.String()
	}
	if got[1] != "10.1.1.0/24>10.2.1.0/24" || got[2] != "10.1.2.0/24>10.2.2.0/24" {
		t.Fatalf("initiator pairs by ACL line: %v", got)
	}
	for _, c := range r.plane.live() {
		if c.Rule != 1 && c.Rule != 2 {
			t.Fatalf("responder pair for ACL line %d", c.Rule)
		}
	}
}

// TestManagerPSKMismatchStatus: a wrong pre-shared key shows up in the
// status of both ends, in words, also after the attempt is over.
func TestManagerPSKMismatchStatus(t *testing.T) {
	skipTimingInShort(t)
	hot, base := halfOpenTimeout, retxBase
	halfOpenTimeout, retxBase = 2*time.Second, 300*time.Millisecond
	defer func() { halfOpenTimeout, retxBase = hot, base }()
	_, i, r := startPair(t, nil, func(cm *conf.CryptoMap) { cm.PSK = conf.Secret("another-key") })
	hint := func(e *memEnd, state, want string) func() bool {
		return func() bool {
			for _, s := range e.m.Status() {
				if s.State == state && strings.Contains(s.Hint, want) {
					return true
				}
			}
			return false
		}
	}
	waitUntil(t, 10*time.Second, "responder status with the failure", hint(r, "MM_WAIT_MSG5", "pre-shared key"))
	waitUntil(t, 10*time.Second, "initiator waiting for MM6", hint(i, "MM_WAIT_MSG6", "pre-shared keys differ"))
	waitUntil(t, 10*time.Second, "initiator status after giving up", hint(i, "MM_WAIT_MSG6", "last attempt failed"))
}

// TestManagerInitialContactInMM5: the initiator restarts without telling
// the responder (no Delete gets through) and negotiates again; its MM5
// carries INITIAL-CONTACT, so the responder drops the IKE SA and IPsec SA
// pair of the old run at once instead of handing that pair to the new
// IKE SA as it would on a rekey.
func TestManagerInitialContactInMM5(t *testing.T) {
	n, i, r := startPair(t, nil, nil)
	waitUntil(t, 20*time.Second, "a pair on both ends", func() bool {
		return len(i.plane.live()) == 1 && len(r.plane.live()) == 1
	})
	old := r.plane.live()[0]

	// The crash: the initiator goes away silently.
	p := restartInitiator(t, n, i).plane

	waitUntil(t, 20*time.Second, "only the new pair on the responder", func() bool {
		live := r.plane.live()
		return len(p.live()) == 1 && len(live) == 1 && live[0] != old && len(r.m.Status()) == 1
	})
	checkMirrored(t, p.live()[0], r.plane.live()[0])
}
