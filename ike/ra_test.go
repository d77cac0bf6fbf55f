package ike

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"tinyipsec/conf"
)

// Remote access between tinyipsec ends in memory: XAUTH, Mode-Config,
// pool bookkeeping and the narrowed selectors. The strongSwan interop
// tests (interop_ra_test.go) show the same against a real peer.

var (
	raGW    = netip.MustParseAddr("192.0.2.100")
	raSplit = netip.MustParsePrefix("10.2.0.0/16")
)

// raTestConfig is the common part of a remote-access map: group key, one
// transform set, the test policy.
func raTestConfig(cm *conf.CryptoMap) *conf.Config {
	ts := &conf.TransformSet{Name: "gcm", ESP: "aes128gcm16", Mode: "tunnel"}
	cm.Seq, cm.Keying, cm.PSK, cm.TransformSet, cm.TransformSets = 10, "isakmp", conf.Secret("group-key"), []string{"gcm"}, []*conf.TransformSet{ts}
	cm.Lifetime, cm.NATT = time.Hour, "auto"
	return &conf.Config{
		Policies:      []conf.ISAKMPPolicy{{Priority: 10, Encryption: "aes128", Hash: "sha256", Auth: "pre-share", Group: 14, Lifetime: testP1Lifetime}},
		TransformSets: []*conf.TransformSet{ts},
		CryptoMaps:    []*conf.CryptoMap{cm},
	}
}

func raGatewayConfig(t *testing.T, first, last string) *conf.Config {
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	hash2, _ := bcrypt.GenerateFromPassword([]byte("other"), bcrypt.MinCost)
	cm := &conf.CryptoMap{Name: "gw", Peer: "dynamic", Dynamic: true, Local: raGW, Initiate: "never",
		XAuthUsers: map[string]string{"alice": string(hash), "bob": string(hash2)},
		PoolFirst:  netip.MustParseAddr(first), PoolLast: netip.MustParseAddr(last),
		DNS: []netip.Addr{netip.MustParseAddr("10.2.0.53")}, SplitNetworks: []netip.Prefix{raSplit}}
	cfg := raTestConfig(cm)
	cm.ACL = &conf.ACL{Name: "pool"}
	for _, a := range cm.PoolAddrs() {
		cm.ACL.Rules = append(cm.ACL.Rules, conf.PoolRule(a))
	}
	return cfg
}

func raClientConfig(local netip.Addr, user, password, exchange string) *conf.Config {
	cm := &conf.CryptoMap{Name: "vpn", Peer: raGW.String(), PeerAddr: raGW, Local: local, Initiate: "always",
		XAuthUser: user, XAuthPassword: conf.Secret(password), ModeCfg: "pull", Exchange: conf.Exchange(exchange)}
	return raTestConfig(cm)
}

// raHostRecorder is the client daemon's side: it records the leases. The
// manager applies them from its own goroutines while the test reads them:
// a mutex guards the list.
type raHostRecorder struct {
	mu     sync.Mutex
	leases []*Lease
}

func (h *raHostRecorder) ApplyLease(_ *conf.CryptoMap, l *Lease) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.leases = append(h.leases, l)
	return nil
}

// applied returns the leases applied so far.
func (h *raHostRecorder) applied() []*Lease {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.leases)
}

type raNet struct {
	t  *testing.T
	n  *memNet
	gw *memEnd
}

func newRANet(t *testing.T) *raNet {
	n := &memNet{peers: map[netip.Addr]*Manager{}}
	gw := raEnd(t, n, raGW, raGatewayConfig(t, "10.9.0.10", "10.9.0.11"), nil)
	return &raNet{t: t, n: n, gw: gw}
}

func raEnd(t *testing.T, n *memNet, addr netip.Addr, cfg *conf.Config, host RemoteAccessHost) *memEnd {
	e := n.add(t, addr, cfg, host)
	e.m.Start()
	return e
}

func (rn *raNet) client(addr, user, password, exchange string) (*memEnd, *raHostRecorder) {
	h := &raHostRecorder{}
	a := netip.MustParseAddr(addr)
	return raEnd(rn.t, rn.n, a, raClientConfig(a, user, password, exchange), h), h
}

// raActive waits for an active remote-access SA on e and returns its status.
// raAliceActive is a gateway and one client (alice, Main Mode) whose
// remote access is active.
func raAliceActive(t *testing.T) (*raNet, *memEnd, *raHostRecorder, IKESAStatus) {
	t.Helper()
	rn := newRANet(t)
	c, h := rn.client("192.0.2.1", "alice", "s3cret", "main")
	return rn, c, h, raActiveStatus(t, c, "client active")
}

func raActiveStatus(t *testing.T, e *memEnd, what string) IKESAStatus {
	t.Helper()
	var st IKESAStatus
	waitUntil(t, 20*time.Second, what, func() bool {
		for _, s := range e.m.Status() {
			if s.RemoteAccess == "active" && len(e.plane.live()) > 0 {
				st = s
				return true
			}
		}
		return false
	})
	return st
}

func TestRemoteAccessInMemory(t *testing.T) {
	for _, ex := range []string{"main", "aggressive"} {
		t.Run(ex, func(t *testing.T) {
			rn := newRANet(t)
			c1, h1 := rn.client("192.0.2.1", "alice", "s3cret", ex)
			st := raActiveStatus(t, c1, "client 1 active")
			if st.Assigned != "10.9.0.10" || st.User != "alice" || st.Type != "RA" || st.Auth != "xauth-pre-share" ||
				strings.Join(st.DNS, ",") != "10.2.0.53" || strings.Join(st.Split, ",") != "10.2.0.0/16" {
				t.Fatalf("client status %+v", st)
			}
			if l := h1.applied(); len(l) != 1 || l[0].IP4.String() != "10.9.0.10" {
				t.Fatalf("leases applied: %+v", l)
			}
			// The lease's ACL is compiled once: the data plane gets the
			// list IKE takes its proxy IDs from.
			c1.m.mu.Lock()
			same := c1.m.maps[0].acl == h1.leases[0].ACL()
			c1.m.mu.Unlock()
			if !same {
				t.Fatal("the lease's ACL was compiled twice")
			}
			sel := c1.plane.live()[0].Selector
			if sel.Local.String() != "10.9.0.10/32" || sel.Remote != raSplit {
				t.Fatalf("client selector %v", sel)
			}
			// The second client gets the other address; both have pairs.
			c2, _ := rn.client("192.0.2.2", "bob", "other", ex)
			st2 := raActiveStatus(t, c2, "client 2 active")
			if st2.Assigned != "10.9.0.11" {
				t.Fatalf("second client got %q", st2.Assigned)
			}
			waitUntil(t, 10*time.Second, "two pairs on the gateway", func() bool { return len(rn.gw.plane.live()) == 2 })
			rules := map[int]string{}
			for _, c := range rn.gw.plane.live() {
				rules[c.Rule] = c.Selector.Remote.String()
			}
			if rules[0] != "10.9.0.10/32" || rules[1] != "10.9.0.11/32" {
				t.Fatalf("gateway pairs by pool line: %v", rules)
			}
			// The pool is full: a third client is refused an address.
			c3, _ := rn.client("192.0.2.3", "alice", "s3cret", ex)
			waitUntil(t, 10*time.Second, "pool exhausted", func() bool {
				for _, s := range rn.gw.m.Status() {
					if strings.Contains(s.Hint, "exhausted") {
						return true
					}
				}
				return false
			})
			c3.m.Close()
			// Client 1 leaves: its address returns to the pool and the
			// next client gets it.
			c1.m.Close()
			waitUntil(t, 10*time.Second, "gateway forgets client 1", func() bool { return len(rn.gw.plane.live()) == 1 })
			c4, _ := rn.client("192.0.2.4", "alice", "s3cret", ex)
			if st := raActiveStatus(t, c4, "client 4 active"); st.Assigned != "10.9.0.10" {
				t.Fatalf("returned address not reused: %q", st.Assigned)
			}
		})
	}
}

func TestRemoteAccessWrongPassword(t *testing.T) {
	rn := newRANet(t)
	c, h := rn.client("192.0.2.1", "alice", "not-the-password", "main")
	var hint string
	waitUntil(t, 20*time.Second, "the client's failure", func() bool {
		s := c.m.Status()
		if len(s) == 1 && strings.Contains(s[0].Hint, "wrong user name or password") {
			hint = s[0].Hint
			return true
		}
		return false
	})
	if strings.Contains(hint, "not-the-password") {
		t.Fatalf("hint shows the password: %s", hint)
	}
	waitUntil(t, 5*time.Second, "the gateway's record", func() bool {
		s := rn.gw.m.Status()
		return len(s) == 1 && strings.Contains(s[0].Hint, `XAUTH refused user "alice": wrong password`)
	})
	// No retry: nothing more is sent for a while, no lease was applied.
	rn.n.mu.Lock()
	sent := rn.n.sent
	rn.n.mu.Unlock()
	c.m.tick(monoNow().add(10 * time.Minute))
	time.Sleep(300 * time.Millisecond)
	rn.n.mu.Lock()
	after := rn.n.sent
	rn.n.mu.Unlock()
	if l := h.applied(); after != sent || len(l) != 0 {
		t.Fatalf("client retried after a refused password: %d -> %d datagrams, leases %v", sent, after, l)
	}
}

func TestLeaseAttributes(t *testing.T) {
	l := &Lease{IP4: netip.MustParseAddr("10.9.0.7"), DNS: []netip.Addr{netip.MustParseAddr("10.2.0.53")},
		Split: []netip.Prefix{netip.MustParsePrefix("10.2.0.0/16"), netip.MustParsePrefix("192.168.7.0/24")}}
	for _, unity := range []bool{true, false} {
		as := l.attributes(unity)
		if unity {
			a := as.Get(UnitySplitInclude)
			if a == nil || len(a.Value) != 28 {
				t.Fatalf("UNITY_SPLIT_INCLUDE %v", a)
			}
		}
		got, ok := parseLease(as)
		if !ok || got.IP4 != l.IP4 || len(got.Split) != 2 || got.Split[1] != l.Split[1] || len(got.DNS) != 1 {
			t.Fatalf("unity=%v: %+v", unity, got)
		}
	}
	// The same network twice, the second time with host bits set, and then
	// in the other order: one entry each time.
	net16 := AttrTLV(CfgIP4Subnet, []byte{10, 2, 0, 0, 255, 255, 0, 0})
	host16 := AttrTLV(CfgIP4Subnet, []byte{10, 2, 3, 4, 255, 255, 0, 0})
	for _, as := range []Attributes{{net16, host16}, {host16, net16}} {
		got, _ := parseLease(as)
		if len(got.Split) != 1 || got.Split[0] != netip.MustParsePrefix("10.2.0.0/16") {
			t.Fatalf("one network sent twice: split list %v", got.Split)
		}
	}
	if _, ok := parseLease(Attributes{AttrTLV(CfgIP4Address, []byte{1, 2, 3})}); ok {
		t.Fatal("a 3-byte address accepted")
	}
	rules := (&Lease{IP4: l.IP4}).ACLRules()
	if len(rules) != 1 || rules[0].Dst.Bits() != 0 {
		t.Fatalf("no split list must mean everything: %+v", rules)
	}
}

// TestRemoteAccessRekeyKeepsAddress: the client rekeys its IKE SA (XAUTH and
// Mode-Config run again on the new one) and keeps its address and its
// IPsec SA; the gateway keeps one lease.
func TestRemoteAccessRekeyKeepsAddress(t *testing.T) {
	rn, c, h, st := raAliceActive(t)
	c.m.mu.Lock()
	first := c.m.sas[0]
	for _, sa := range c.m.sas {
		sa.rekeyAt = monoNow()
		// Finished Quick Modes are kept 30 s for retransmissions and hold
		// the old SA up to 10 s after the new one is up: skip that wait.
		clear(sa.qms)
	}
	c.m.scheduleAll(monoNow()) // timers changed behind the manager's back
	c.m.mu.Unlock()
	waitUntil(t, 20*time.Second, "the old IKE SA replaced", func() bool {
		s := c.m.Status()
		if len(s) != 1 || s[0].RemoteAccess != "active" {
			return false
		}
		c.m.mu.Lock()
		defer c.m.mu.Unlock()
		return len(c.m.sas) == 1 && c.m.sas[0] != first
	})
	if s := c.m.Status(); s[0].Assigned != st.Assigned {
		t.Fatalf("address changed on rekey: %s -> %s", st.Assigned, s[0].Assigned)
	}
	if n := len(h.applied()); n != 1 {
		t.Fatalf("the TUN address was touched on rekey: %d leases applied", n)
	}
	if len(c.plane.live()) != 1 || len(rn.gw.plane.live()) != 1 {
		t.Fatalf("IPsec SAs lost on rekey: client %d, gateway %d", len(c.plane.live()), len(rn.gw.plane.live()))
	}
	waitUntil(t, 10*time.Second, "one SA and one lease on the gateway", func() bool {
		s := rn.gw.m.Status()
		return len(s) == 1 && s[0].Assigned == st.Assigned
	})
	rn.gw.m.mu.Lock()
	leases := len(rn.gw.m.maps[0].poolOwner)
	rn.gw.m.mu.Unlock()
	if leases != 1 {
		t.Fatalf("gateway pool holds %d leases", leases)
	}
}

// FuzzTransactionAttributes: whatever an authenticated gateway or client
// sends in an attribute payload, reading it as a lease or as XAUTH
// questions neither panics nor yields more than the limits allow.
func FuzzTransactionAttributes(f *testing.F) {
	l := &Lease{IP4: netip.MustParseAddr("10.9.0.7"), DNS: []netip.Addr{netip.MustParseAddr("10.2.0.53")},
		Split: []netip.Prefix{netip.MustParsePrefix("10.2.0.0/16")}}
	for _, as := range []Attributes{l.attributes(true), l.attributes(false), xauthQuestion, leaseRequest(l)} {
		ap := &AttributesPayload{CfgType: CfgReply, Attributes: as}
		b, err := MarshalPayloads([]Payload{ap})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[4:])
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > 0xffff-4 {
			return
		}
		// The payload as the only one of a chain: its generic header,
		// then the body.
		m := &Message{Header: Header{NextPayload: PayloadAttributes}}
		if m.parsePayloads(append([]byte{0, 0, byte((len(body) + 4) >> 8), byte(len(body) + 4)}, body...), false) != nil {
			return
		}
		as := m.Payloads[0].(*AttributesPayload).Attributes
		if l, ok := parseLease(as); ok {
			if len(l.Split) > maxSplitNetworks || len(l.DNS) > 8 {
				t.Fatalf("lease beyond limits: %d networks, %d DNS", len(l.Split), len(l.DNS))
			}
			l.ACLRules()
			l.attributes(true)
		}
		xauthCredentials(as, "u", []byte("p"))
	})
}

// TestLeaseIPv6: an IPv6 inner address gets its own ACL lines: to the
// IPv6 split networks, to everything without any split network, and to
// nothing when only IPv4 networks are split.
func TestLeaseIPv6(t *testing.T) {
	v4, v6 := netip.MustParseAddr("10.9.0.7"), netip.MustParseAddr("fd00:9::7")
	l := &Lease{IP4: v4, IP6: v6, Split: []netip.Prefix{netip.MustParsePrefix("10.2.0.0/16"), netip.MustParsePrefix("fd00:2::/64")}}
	got, ok := parseLease(l.attributes(true))
	if !ok || got.IP6 != v6 || len(got.Split) != 2 {
		t.Fatalf("round trip %+v", got)
	}
	var lines []string
	for _, r := range l.ACLRules() {
		lines = append(lines, r.Src.String()+">"+r.Dst.String())
	}
	if strings.Join(lines, " ") != "10.9.0.7/32>10.2.0.0/16 fd00:9::7/128>fd00:2::/64" {
		t.Fatalf("rules %v", lines)
	}
	l.Split = l.Split[:1]
	if rules := l.ACLRules(); len(rules) != 1 {
		t.Fatalf("IPv4-only split list gave %d lines", len(rules))
	}
	l.Split = nil
	if rules := l.ACLRules(); len(rules) != 2 || rules[1].Dst.String() != "::/0" {
		t.Fatalf("no split list: %+v", rules)
	}
}

// TestRemoteAccessDeadGatewayKeepsAddress: the client loses its IKE SA
// without a word (DPD found the gateway dead); it reconnects, asks for
// its address again and gets it, so the TUN keeps it.
func TestRemoteAccessDeadGatewayKeepsAddress(t *testing.T) {
	rn, c, h, st := raAliceActive(t)
	c.m.mu.Lock()
	c.m.deleteIKE(c.m.sas[0], false, "dead peer")
	c.m.mu.Unlock()
	waitUntil(t, 20*time.Second, "client back", func() bool {
		s := c.m.Status()
		return len(s) == 1 && s[0].RemoteAccess == "active" && len(c.plane.live()) == 1
	})
	if s, n := c.m.Status(), len(h.applied()); s[0].Assigned != st.Assigned || n != 1 {
		t.Fatalf("address %s -> %s, %d leases applied", st.Assigned, s[0].Assigned, n)
	}
	// The gateway's stale SA of the same client hands over to the new one.
	waitUntil(t, 20*time.Second, "the gateway's stale SA gone", func() bool { return len(rn.gw.m.Status()) == 1 })
}

// TestRemoteAccessUsersReload: a reload that only changes the users file
// keeps the connected client, and the next XAUTH uses the new list.
func TestRemoteAccessUsersReload(t *testing.T) {
	rn, _, _, _ := raAliceActive(t)
	next := raGatewayConfig(t, "10.9.0.10", "10.9.0.11")
	delete(next.CryptoMaps[0].XAuthUsers, "bob")
	res, err := rn.gw.m.Reload(next)
	if err != nil || len(res.Kept) != 1 {
		t.Fatalf("reload: %+v %v", res, err)
	}
	if len(rn.gw.plane.live()) != 1 || len(rn.gw.m.Status()) != 1 {
		t.Fatal("the connected client was dropped by a users-only reload")
	}
	b, _ := rn.client("192.0.2.2", "bob", "other", "main")
	waitUntil(t, 10*time.Second, "bob refused", func() bool {
		s := b.m.Status()
		return len(s) == 1 && strings.Contains(s[0].Hint, "wrong user name or password")
	})
}

// TestRemoteAccessStuckHints: a client that waits for a pushed address
// from a gateway that only answers pulls: both ends show "configuring"
// with a hint that names the cause, and the attempt ends after raTimeout.
func TestRemoteAccessStuckHints(t *testing.T) {
	rn := newRANet(t)
	h := &raHostRecorder{}
	a := netip.MustParseAddr("192.0.2.1")
	cfg := raClientConfig(a, "alice", "s3cret", "main")
	cfg.CryptoMaps[0].ModeCfg = "push"
	c := raEnd(t, rn.n, a, cfg, h)
	waitUntil(t, 10*time.Second, "both ends configuring", func() bool {
		cs, gs := c.m.Status(), rn.gw.m.Status()
		return len(cs) == 1 && cs[0].RemoteAccess == "configuring" && strings.Contains(cs[0].Hint, "modecfg pull or push") &&
			len(gs) == 1 && gs[0].RemoteAccess == "configuring" && strings.Contains(gs[0].Hint, "expect the gateway to push")
	})
	c.m.tick(monoNow().add(raTimeout + time.Second))
	if s := c.m.Status(); len(s) != 1 || !strings.Contains(s[0].Hint, "timed out") {
		t.Fatalf("after the timeout: %+v", s)
	}
}

// TestRemoteAccessRefusalSendsNoDelete: like strongSwan and Cisco, a
// refused XAUTH ends the IKE SA on both ends without a Delete.
func TestRemoteAccessRefusalSendsNoDelete(t *testing.T) {
	rn := newRANet(t)
	c, _ := rn.client("192.0.2.1", "alice", "wrong", "main")
	waitUntil(t, 10*time.Second, "both ends forget the SA", func() bool {
		cs, gs := c.m.Status(), rn.gw.m.Status()
		return len(cs) == 1 && cs[0].State == "MM_ACTIVE" && strings.Contains(cs[0].Hint, "last attempt failed") &&
			len(gs) == 1 && strings.Contains(gs[0].Hint, "last attempt failed")
	})
	rn.n.mu.Lock()
	defer rn.n.mu.Unlock()
	for _, d := range rn.n.log {
		if d.exchange == ExchangeInformational {
			t.Fatalf("%v sent an Informational (Delete) after the refusal", d.from)
		}
	}
}

// failingHost refuses the first lease, as when the kernel rejects a route.
type failingHost struct {
	raHostRecorder
	failed bool
}

func (h *failingHost) ApplyLease(cm *conf.CryptoMap, l *Lease) error {
	if !h.failed {
		h.failed = true
		return errors.New("rtnetlink: add route: invalid argument")
	}
	return h.raHostRecorder.ApplyLease(cm, l)
}

// TestRemoteAccessApplyFailureRetries: when the address cannot be put in
// place, the SA ends and the next connection applies the same lease again.
func TestRemoteAccessApplyFailureRetries(t *testing.T) {
	rn := newRANet(t)
	h := &failingHost{}
	a := netip.MustParseAddr("192.0.2.1")
	c := raEnd(t, rn.n, a, raClientConfig(a, "alice", "s3cret", "main"), h)
	c.m.mu.Lock()
	c.m.maps[0].nextTry = 0
	c.m.mu.Unlock()
	waitUntil(t, 30*time.Second, "the lease applied on the second connection", func() bool {
		c.m.mu.Lock()
		c.m.maps[0].nextTry = 0 // skip the backoff
		c.m.mu.Unlock()
		s := c.m.Status()
		return len(h.applied()) == 1 && len(s) == 1 && s[0].RemoteAccess == "active"
	})
}

// TestRemoteAccessGatewayPush: a gateway with modecfg = "push" sends the
// address after XAUTH; a pushing client acknowledges it, a pulling one
// asks anyway and gets the same address.
func TestRemoteAccessGatewayPush(t *testing.T) {
	for _, clientMode := range []string{"push", "pull"} {
		t.Run("client-"+clientMode, func(t *testing.T) {
			n := &memNet{peers: map[netip.Addr]*Manager{}}
			gcfg := raGatewayConfig(t, "10.9.0.10", "10.9.0.11")
			gcfg.CryptoMaps[0].ModeCfg = "push"
			gw := raEnd(t, n, raGW, gcfg, nil)
			a := netip.MustParseAddr("192.0.2.1")
			ccfg := raClientConfig(a, "alice", "s3cret", "main")
			ccfg.CryptoMaps[0].ModeCfg = clientMode
			c := raEnd(t, n, a, ccfg, &raHostRecorder{})
			if st := raActiveStatus(t, c, "client active"); st.Assigned != "10.9.0.10" {
				t.Fatalf("client got %q", st.Assigned)
			}
			waitUntil(t, 10*time.Second, "gateway active", func() bool {
				s := gw.m.Status()
				return len(s) == 1 && s[0].RemoteAccess == "active" && s[0].Assigned == "10.9.0.10" && len(gw.plane.live()) == 1
			})
		})
	}
}

// TestDummyHash: the hash an unknown XAUTH user is checked against is a
// bcrypt hash at the minimum cost.
func TestDummyHash(t *testing.T) {
	if err := bcrypt.CompareHashAndPassword(dummyHash, []byte("tinyipsec")); err != nil {
		t.Fatal(err)
	}
	if c, err := bcrypt.Cost(dummyHash); err != nil || c != bcrypt.MinCost {
		t.Fatalf("cost %d, %v", c, err)
	}
}
