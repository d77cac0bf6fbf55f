package ike

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"tinyipsec/conf"
)

// Nothing a message can do before it is authenticated may change an IKE
// SA: these tests feed each kind of unauthenticated input to a manager
// and check the field it could have set.

// forgedInfo is a cleartext Informational about the exchange with
// initiator cookie ckyI, under a made-up responder cookie.
func forgedInfo(t *testing.T, ckyI Cookie, pl Payload) []byte {
	t.Helper()
	m := &Message{Header: Header{CookieI: ckyI, CookieR: Cookie{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4}, Exchange: ExchangeInformational,
		MessageID: 0x01020304}, Payloads: []Payload{pl}}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestForgedNotifyBeforeMM2 is the case of a cleartext NO-PROPOSAL-CHOSEN
// answered to our first MM1 (forged, or the real peer before it loaded
// its configuration): the negotiation is not pinned to the notify's
// cookie nor ended, and the tunnel is up within one retransmission
// interval of the real responder answering.
func TestForgedNotifyBeforeMM2(t *testing.T) {
	if testing.Short() {
		t.Skip("timer-driven manager test: skipped in -short mode")
	}
	base := retxBase
	retxBase = 500 * time.Millisecond
	defer func() { retxBase = base }()

	check := func(t *testing.T, n *memNet, i, r *memEnd) {
		t.Helper()
		waitUntil(t, 20*time.Second, "a pair on both ends", func() bool {
			return len(i.plane.live()) == 1 && len(r.plane.live()) == 1
		})
		up := time.Now()
		answered, ok := n.firstSent(netip.MustParseAddr("192.0.2.2"), ExchangeMain)
		if !ok {
			t.Fatal("the responder never answered")
		}
		// The pair exists by "up"; it was installed at most then.
		if d := up.Sub(answered); d > retxBase {
			t.Fatalf("tunnel up %v after the responder's MM2 (retransmission interval %v)", d, retxBase)
		}
		if i.m.DropCounts()["cleartext-notify"] == 0 {
			t.Fatal("the cleartext notify was not counted")
		}
	}

	t.Run("forged", func(t *testing.T) {
		var i *memEnd
		first := true
		n, ie, r := startPairWith(t, nil, nil, func(pkt []byte) bool {
			h, err := ParseHeader(pkt)
			if err != nil || h.Exchange != ExchangeMain || !h.CookieR.IsZero() || !first {
				return false
			}
			// The first MM1 is lost; a forger answers it instead.
			first = false
			forged := forgedInfo(t, h.CookieI, &Notify{DOI: DOIIPsec, Protocol: ProtoISAKMP, NotifyType: NotifyNoProposalChosen})
			go i.m.HandlePacket(forged, netip.MustParseAddrPort("192.0.2.1:500"), netip.MustParseAddrPort("192.0.2.2:500"))
			return true
		})
		_ = n
		i = ie
		check(t, n, ie, r)
	})

	t.Run("peer-not-ready", func(t *testing.T) {
		// The responder has no matching ISAKMP policy at first and says
		// so in clear; then its configuration is fixed. strongSwan does
		// this when our MM1 arrives before its connection is loaded.
		ai, ar := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
		n := &memNet{peers: map[netip.Addr]*Manager{}}
		good := testConfig(ar, ai, "10.2.0.0/16", "10.1.0.0/16", "never", nil)
		notYet := testConfig(ar, ai, "10.2.0.0/16", "10.1.0.0/16", "never", nil)
		notYet.Policies[0].Encryption = "aes256"
		i := n.add(t, ai, testConfig(ai, ar, "10.1.0.0/16", "10.2.0.0/16", "always", nil), nil)
		r := n.add(t, ar, notYet, nil)
		r.m.Start()
		i.m.Start()
		waitUntil(t, 10*time.Second, "the cleartext refusal", func() bool { return i.m.DropCounts()["cleartext-notify"] > 0 })
		st := i.m.Status()
		if len(st) != 1 || st[0].State != "MM_WAIT_MSG2" || !strings.Contains(st[0].Hint, "NO-PROPOSAL-CHOSEN") {
			t.Fatalf("status after the refusal: %+v", st)
		}
		if _, err := r.m.Reload(good); err != nil {
			t.Fatal(err)
		}
		check(t, n, i, r)
	})
}

// auditPair is an initiator manager driven by hand against a responder
// state machine.
type auditPair struct {
	m        *Manager
	tr       *capTransport
	resp     *Phase1
	me, peer netip.AddrPort
	sa       *ikeSA
}

func newAuditPair(t *testing.T) *auditPair {
	t.Helper()
	ai, ar := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	a := &auditPair{tr: &capTransport{}, me: netip.AddrPortFrom(ai, IKEPort), peer: netip.AddrPortFrom(ar, IKEPort)}
	cfg := testConfig(ai, ar, "10.1.0.0/16", "10.2.0.0/16", "always", func(cm *conf.CryptoMap) { cm.DPDDelay = time.Minute })
	m, err := NewManager(Config{Conf: cfg, Transport: a.tr, DataPlane: &memPlane{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	a.m = m
	m.tick(monoNow()) // starts phase 1 (no timer goroutine: the test drives)
	m.locked(func() {
		if len(m.sas) != 1 {
			t.Fatalf("%d SAs after the first tick", len(m.sas))
		}
		a.sa = m.sas[0]
	})
	pols, _ := PoliciesFromConf(cfg.Policies, false)
	a.resp, err = NewResponder(&Phase1Config{Policies: pols, PSK: []byte("in-memory-psk"), Local: a.peer, Remote: a.me})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// toResp feeds the initiator's last datagram to the responder and returns
// the answer.
func (a *auditPair) toResp(t *testing.T) []byte {
	t.Helper()
	res, err := a.resp.Handle(Packet{Data: a.tr.last(a.peer), Local: a.peer, Remote: a.me}, time.Now())
	if err != nil || res.Failed != nil || len(res.Send) == 0 {
		t.Fatalf("responder: %v %v", err, res.Failed)
	}
	return res.Send[len(res.Send)-1]
}

// snapshot is what unauthenticated input must leave alone.
type saSnapshot struct {
	state            string
	cookieR          Cookie
	local, remote    netip.AddrPort
	retxTries        int
	retxNext         mono
	qms, children    int
	dpdHeard         mono
	dpdSeq           uint32
	established, out bool
}

func (a *auditPair) snap() saSnapshot {
	var s saSnapshot
	a.m.locked(func() {
		sa := a.sa
		s = saSnapshot{state: sa.stateName(), cookieR: sa.cookieR, local: sa.local, remote: sa.remote,
			retxTries: sa.p1Retx.tries, retxNext: sa.p1Retx.next, qms: len(sa.qms), children: len(sa.children),
			out: sa.out != nil, established: !sa.dead()}
		if sa.dpd != nil {
			s.dpdHeard, s.dpdSeq = sa.dpd.lastHeard, sa.dpd.seq
		}
	})
	return s
}

// TestUnauthenticatedChangesNothing walks one negotiation and, at each
// step, sends what an attacker on the path could send without keys.
func TestUnauthenticatedChangesNothing(t *testing.T) {
	a := newAuditPair(t)
	ckyI := a.sa.cookieI
	deliver := func(pkt []byte, from netip.AddrPort) {
		a.m.HandlePacket(pkt, a.me, from)
		a.m.waitComputations()
	}
	// drop names the counter that must count the message ("a|b": either).
	count := func(drop string) (n uint64) {
		for _, d := range strings.Split(drop, "|") {
			n += a.m.DropCounts()[d]
		}
		return n
	}
	try := func(what, drop string, pkt []byte, from netip.AddrPort) {
		t.Helper()
		before, n := a.snap(), count(drop)
		deliver(pkt, from)
		if after := a.snap(); after != before {
			t.Errorf("%s changed the SA:\n before %+v\n after  %+v", what, before, after)
		}
		if got := count(drop); got != n+1 {
			t.Errorf("%s: %s drops %d, want %d", what, drop, got, n+1)
		}
	}

	// Half-open initiator (MM_WAIT_MSG2).
	try("cleartext NO-PROPOSAL-CHOSEN with a made-up responder cookie", "cleartext-notify",
		forgedInfo(t, ckyI, &Notify{DOI: DOIIPsec, Protocol: ProtoISAKMP, NotifyType: NotifyNoProposalChosen}), a.peer)
	if st := a.m.Status(); !strings.Contains(st[0].Hint, "the peer said NO-PROPOSAL-CHOSEN (unauthenticated)") {
		t.Errorf("status hint %q does not show the notify", st[0].Hint)
	}
	try("cleartext Delete of the ISAKMP SA", "cleartext-notify",
		forgedInfo(t, ckyI, &Delete{DOI: DOIIPsec, Protocol: ProtoISAKMP, SPIs: [][]byte{make([]byte, 16)}}), a.peer)
	mm2 := a.toResp(t)
	try("the genuine MM2 from another port", "wrong-endpoint", mm2, netip.AddrPortFrom(a.peer.Addr(), 4500))
	try("the genuine MM2 from another address", "wrong-endpoint", mm2, netip.MustParseAddrPort("192.0.2.66:500"))
	garbage := append([]byte(nil), mm2[:28]...)
	garbage = append(garbage, make([]byte, 40)...)
	garbage[27] = byte(len(garbage))
	try("a garbage MM2 with the right cookies", "phase1-rejected", garbage, a.peer)

	deliver(mm2, a.peer)
	if s := a.snap(); s.state != "MM_WAIT_MSG4" || s.cookieR != a.resp.out.CookieR {
		t.Fatalf("genuine MM2 not accepted: %+v", s)
	}
	forged := append([]byte(nil), mm2...)
	forged[8] ^= 0xff
	try("a second MM2 under another responder cookie", "foreign-cookie", forged, a.peer)

	// Complete phase 1.
	deliver(a.toResp(t), a.peer) // MM4 -> MM5
	deliver(a.toResp(t), a.peer) // MM6
	if s := a.snap(); !s.out {
		t.Fatalf("phase 1 not established: %+v", s)
	}
	sec := (&p1Adapter{p: a.resp}).outcome().sec

	// Established SA: messages without a valid HASH, from anywhere.
	bad, err := sealInfo(sec, sec.dpdNotify(false, 7))
	if err != nil {
		t.Fatal(err)
	}
	bad[len(bad)-1] ^= 1 // breaks the padding or the HASH
	try("an Informational whose HASH fails, from another port", "unauthenticated|malformed", bad, netip.AddrPortFrom(a.peer.Addr(), 4501))
	qm := append([]byte(nil), bad...)
	qm[18] = byte(ExchangeQuick)
	qm[20], qm[21] = 0x7f, 0x7f // a new message ID
	try("a Quick Mode message whose HASH fails", "unauthenticated|malformed", qm, a.peer)
	try("a cleartext Informational after phase 1", "unauthenticated",
		func() []byte {
			b := forgedInfo(t, ckyI, &Notify{DOI: DOIIPsec, Protocol: ProtoISAKMP, NotifyType: NotifyNoProposalChosen})
			copy(b[8:16], sec.CookieR[:])
			return b
		}(), a.peer)

	// A genuine R-U-THERE is answered and counts as a sign of life; the
	// same bytes again are a replay.
	rut, err := sealInfo(sec, sec.dpdNotify(false, 8))
	if err != nil {
		t.Fatal(err)
	}
	sent := a.tr.count()
	deliver(rut, a.peer)
	if a.tr.count() != sent+1 {
		t.Fatal("R-U-THERE not answered")
	}
	a.m.locked(func() { a.sa.dpd.lastHeard = 0 })
	try("a replayed R-U-THERE", "replay", rut, a.peer)
	if a.tr.count() != sent+1 {
		t.Fatal("a replayed R-U-THERE was answered")
	}
}
