package ike

// Phase 1 alone against strongSwan's charon: our state machines drive real
// UDP sockets (ports 500 and 4500, non-ESP marker after the float) in one
// test namespace, charon runs in another. The full tunnel tests live with
// the SA manager; these pin down the wire-level handshake.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tinyipsec/internal/nstest"
)

const (
	p1OurAddr    = "10.204.1.1"
	p1CharonAddr = "10.204.1.2"
)

// listenUDPIn opens a UDP socket bound to addr inside the namespace. The
// socket stays in that namespace after the thread has left it.
func listenUDPIn(t *testing.T, ns *nstest.NS, addr netip.AddrPort) *net.UDPConn {
	t.Helper()
	type res struct {
		c   *net.UDPConn
		err error
	}
	ch := make(chan res)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			ch <- res{err: err}
			return // the locked thread is retired
		}
		defer orig.Close()
		f, err := os.Open(filepath.Join("/run/netns", ns.Name))
		if err != nil {
			runtime.UnlockOSThread()
			ch <- res{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- res{err: err}
			return
		}
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(addr))
		// Return the thread to its namespace and to the scheduler. A
		// thread must not be retired here: children forked from it with
		// Pdeathsig (the test daemons) would be killed with it.
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		ch <- res{c, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { r.c.Close() })
	return r.c
}

// udpEnd is our side of the wire: the two IKE sockets.
type udpEnd struct {
	t       *testing.T
	c500    *net.UDPConn
	c4500   *net.UDPConn
	in      chan Packet
	floated bool
	peer    netip.Addr
	diag    func() // logs the namespaces' sockets when stuck
}

func newUDPEnd(t *testing.T, ns *nstest.NS, local, peer netip.Addr) *udpEnd {
	u := &udpEnd{t: t, in: make(chan Packet, 16), peer: peer,
		c500:  listenUDPIn(t, ns, netip.AddrPortFrom(local, 500)),
		c4500: listenUDPIn(t, ns, netip.AddrPortFrom(local, 4500))}
	for _, c := range []*net.UDPConn{u.c500, u.c4500} {
		go func(c *net.UDPConn) {
			buf := make([]byte, 65536)
			for {
				n, from, err := c.ReadFromUDPAddrPort(buf)
				if err != nil {
					return
				}
				b := append([]byte(nil), buf[:n]...)
				localAP := netip.MustParseAddrPort(c.LocalAddr().String())
				if localAP.Port() == 4500 {
					if len(b) < 4 || b[0]|b[1]|b[2]|b[3] != 0 {
						continue // ESP or keepalive
					}
					b = b[4:]
				}
				u.in <- Packet{Data: b, Local: localAP, Remote: netip.AddrPortFrom(from.Addr().Unmap(), from.Port())}
			}
		}(c)
	}
	return u
}

func (u *udpEnd) send(bs [][]byte) {
	for _, b := range bs {
		var err error
		if u.floated {
			_, err = u.c4500.WriteToUDPAddrPort(append([]byte{0, 0, 0, 0}, b...), netip.AddrPortFrom(u.peer, 4500))
		} else {
			_, err = u.c500.WriteToUDPAddrPort(b, netip.AddrPortFrom(u.peer, 500))
		}
		if err != nil {
			u.t.Fatal(err)
		}
	}
}

// drive runs p until Done, retransmitting every 2 s.
func (u *udpEnd) drive(p *Phase1, first *Packet) *Phase1Done {
	u.t.Helper()
	done, f := u.run(p, first)
	if f != nil {
		u.t.Fatalf("phase 1 failed in %v: %v", p.State(), f)
	}
	return done
}

// run runs p until it is done or has failed.
func (u *udpEnd) run(p *Phase1, first *Packet) (*Phase1Done, *Phase1Failure) {
	u.t.Helper()
	deadline := time.After(30 * time.Second)
	if first != nil {
		u.in <- *first
	}
	for {
		select {
		case pkt := <-u.in:
			res, err := p.Handle(pkt, time.Now())
			if err != nil {
				u.t.Logf("dropped: %v", err)
				continue
			}
			if res.Float {
				u.floated = true
			}
			u.send(res.Send)
			if res.Failed != nil {
				return nil, res.Failed
			}
			if res.Done != nil {
				return res.Done, nil
			}
		case <-time.After(2 * time.Second):
			u.send(p.LastSent())
		case <-deadline:
			if u.diag != nil {
				u.diag()
			}
			u.t.Fatalf("phase 1 stuck in %v", p.State())
		}
	}
}

type p1InteropCase struct {
	name       string
	aggressive bool
	certs      bool // RSA, the vectors' test certificates
	ecdsa      bool // ECDSA P-256 certificates made by the test
	encap      bool
	frag       bool // announce IKEv1 fragmentation (both sides then fragment certificates)
	proposal   string
	policy     Policy
}

func TestPhase1StrongSwan(t *testing.T) {
	if testing.Short() {
		t.Skip("network test")
	}
	requireStrongSwan(t)
	cases := []p1InteropCase{
		{name: "mm-psk-encap", encap: true, proposal: "aes128-sha256-modp2048",
			policy: pskPolicy(CipherAES, 128, HashSHA256, GroupMODP2048)},
		// charon offers two transforms; only its second one is ours.
		{name: "mm-psk-second-transform", proposal: "aes256-sha384-ecp384,aes128-sha256-modp3072",
			policy: pskPolicy(CipherAES, 128, HashSHA256, GroupMODP3072)},
		{name: "mm-psk-ecp256", proposal: "aes256-sha1-ecp256",
			policy: pskPolicy(CipherAES, 256, HashSHA1, GroupECP256)},
		{name: "am-psk-encap", aggressive: true, encap: true, proposal: "aes256-sha384-curve25519",
			policy: pskPolicy(CipherAES, 256, HashSHA384, GroupCurve25519)},
		{name: "mm-ecdsa-encap", ecdsa: true, encap: true, proposal: "aes256-sha256-ecp256",
			policy: Policy{Cipher: CipherAES, KeyBits: 256, Hash: HashSHA256, Auth: AuthECDSA256, Group: GroupECP256, Lifetime: 4 * time.Hour}},
		{name: "am-ecdsa-sha1", ecdsa: true, aggressive: true, proposal: "aes128-sha1-modp2048",
			policy: Policy{Cipher: CipherAES, KeyBits: 128, Hash: HashSHA1, Auth: AuthECDSA256, Group: GroupMODP2048, Lifetime: 4 * time.Hour}},
		{name: "mm-ecdsa-sha1", ecdsa: true, proposal: "aes128-sha1-modp2048",
			policy: Policy{Cipher: CipherAES, KeyBits: 128, Hash: HashSHA1, Auth: AuthECDSA256, Group: GroupMODP2048, Lifetime: 4 * time.Hour}},
		{name: "mm-rsa-sha1", certs: true, proposal: "aes128-sha1-modp2048",
			policy: Policy{Cipher: CipherAES, KeyBits: 128, Hash: HashSHA1, Auth: AuthRSASig, Group: GroupMODP2048, Lifetime: 4 * time.Hour}},
		{name: "mm-rsa-frag", certs: true, encap: true, frag: true, proposal: "aes256-sha256-modp2048",
			policy: Policy{Cipher: CipherAES, KeyBits: 256, Hash: HashSHA256, Auth: AuthRSASig, Group: GroupMODP2048, Lifetime: 4 * time.Hour}},
		{name: "am-rsa-frag", certs: true, aggressive: true, encap: true, frag: true, proposal: "aes256-sha256-modp2048",
			policy: Policy{Cipher: CipherAES, KeyBits: 256, Hash: HashSHA256, Auth: AuthRSASig, Group: GroupMODP2048, Lifetime: 4 * time.Hour}},
		{name: "mm-rsa-encap", certs: true, encap: true, proposal: "aes128-sha256-modp2048",
			policy: Policy{Cipher: CipherAES, KeyBits: 128, Hash: HashSHA256, Auth: AuthRSASig, Group: GroupMODP2048, Lifetime: 4 * time.Hour}},
	}
	for _, c := range cases {
		bothWays(t, c.name+"/responder", c.name+"/initiator", func(t *testing.T, weInitiate bool) { runPhase1StrongSwan(t, c, weInitiate) })
	}
}

func runPhase1StrongSwan(t *testing.T, c p1InteropCase, weInitiate bool) {
	ours, theirs := nstest.New(t, "p1-us"), nstest.New(t, "p1-ss")
	nstest.Link(t, ours, theirs, p1OurAddr+"/24", p1CharonAddr+"/24")
	ourAddr, peerAddr := netip.MustParseAddr(p1OurAddr), netip.MustParseAddr(p1CharonAddr)
	u := newUDPEnd(t, ours, ourAddr, peerAddr)
	ch := startCharon(t, theirs)
	conn := charonConn{Aggressive: c.aggressive, LocalAddr: p1CharonAddr, RemoteAddr: p1OurAddr,
		IKEProposals: c.proposal, Encap: c.encap, PSK: "interop phase one secret",
		LocalTS: "10.224.0.0/16", RemoteTS: "10.214.0.0/16"}
	cfg := &Phase1Config{Policies: []Policy{c.policy}, Local: netip.AddrPortFrom(ourAddr, 500),
		Remote: netip.AddrPortFrom(peerAddr, 500), PSK: []byte(conn.PSK), InitialContact: true, Fragmentation: c.frag}
	if c.aggressive {
		cfg.Exchange = ExchangeAggressive
	}
	if c.certs {
		dir, _ := filepath.Abs(vectorDir("mm-rsa-sig"))
		ca, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
		if err != nil {
			t.Fatal(err)
		}
		conn.Auth, conn.CACert = "pubkey", ca
		conn.Cert, conn.Key = filepath.Join(dir, "right.crt"), filepath.Join(dir, "right.key")
		conn.LocalID, conn.RemoteID = "C=CH, O=iop-lab, CN=right.iop.test", "C=CH, O=iop-lab, CN=left.iop.test"
		cfg.PSK, cfg.Creds = nil, vectorCreds(t, "left")
		id, err := ParseDN(conn.LocalID)
		if err != nil {
			t.Fatal(err)
		}
		cfg.RemoteID = IDFromDN(id) // charon's own identity
	}
	if c.ecdsa {
		pki := newTestPKI(t)
		mine := pki.issue(t, elliptic.P256(), "left.ecdsa.test")
		their := pki.issue(t, elliptic.P256(), "right.ecdsa.test")
		dir := t.TempDir()
		keyDER, err := x509.MarshalECPrivateKey(their.Key.(*ecdsa.PrivateKey))
		if err != nil {
			t.Fatal(err)
		}
		writePEM(t, filepath.Join(dir, "right.crt"), "CERTIFICATE", their.Cert.Raw)
		// swanctl reads a "private" secret as RSA; ECDSA keys are loaded
		// from the ecdsa directory next to swanctl.conf instead.
		if err := os.MkdirAll(filepath.Join(ch.dir, "ecdsa"), 0o700); err != nil {
			t.Fatal(err)
		}
		writePEM(t, filepath.Join(ch.dir, "ecdsa", "right.key"), "EC PRIVATE KEY", keyDER)
		conn.Auth, conn.CACert = "pubkey", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.ca.Raw})
		conn.Cert = filepath.Join(dir, "right.crt")
		conn.LocalID, conn.RemoteID = "O=test, CN=right.ecdsa.test", "O=test, CN=left.ecdsa.test"
		cfg.PSK, cfg.Creds = nil, mine
		id, err := ParseDN(conn.LocalID)
		if err != nil {
			t.Fatal(err)
		}
		cfg.RemoteID = IDFromDN(id)
	}
	ch.loadConn(t, conn)
	u.diag = func() {
		for _, ns := range []*nstest.NS{ours, theirs} {
			a, _ := ns.Output("ss", "-uanp")
			b, _ := ns.Output("ip", "-br", "addr")
			c, _ := ns.Output("ip", "-s", "link")
			t.Logf("%s:\n%s\n%s\n%s", ns.Name, a, b, c)
		}
	}

	var done *Phase1Done
	if weInitiate {
		p, err := NewInitiator(cfg)
		if err != nil {
			t.Fatal(err)
		}
		res, err := p.Start(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		u.send(res.Send)
		done = u.drive(p, nil)
	} else {
		errc := make(chan error, 1)
		go func() {
			_, err := ch.swanctl("--initiate", "--ike", "tis", "--timeout", "30")
			errc <- err
		}()
		var first Packet
		select {
		case first = <-u.in:
		case <-time.After(20 * time.Second):
			u.diag()
			select {
			case err := <-errc:
				t.Fatalf("no first message from charon: %v", err)
			default:
			}
			t.Fatalf("no first message from charon")
		}
		cfg.Remote = first.Remote
		p, err := NewResponder(cfg)
		if err != nil {
			t.Fatal(err)
		}
		done = u.drive(p, &first)
		t.Cleanup(func() { <-errc })
	}
	nstest.WaitFor(t, 15*time.Second, "charon's IKE SA", func() bool {
		return ikeEstablishedRE.MatchString(ch.listSAs())
	})
	if c.encap && (!done.Floated || done.Remote.Port() != 4500 || !done.PeerNAT) {
		t.Errorf("charon forces encapsulation but we did not float: %+v", done)
	}
	if done.NATT != NATTRFC3947 || !done.Peer.DPD {
		t.Errorf("vendor IDs: NAT-T %v, %+v", done.NATT, done.Peer)
	}
	if (c.certs || c.ecdsa) && done.PeerCert == nil {
		t.Error("no peer certificate")
	}
	if c.frag {
		if !done.Peer.Fragmentation {
			t.Error("charon's fragmentation VID not recognized")
		}
		if !strings.Contains(ch.proc.Output(), "received fragment") && !strings.Contains(ch.proc.Output(), "FRAG") {
			t.Logf("charon did not log fragments")
		}
	}
	if c.certs && (done.PeerCert == nil || !strings.Contains(done.PeerID.String(), "right.iop.test")) {
		t.Errorf("peer %v", done.PeerID)
	}
	if os.Getenv("TIS_CHARON_LOG") != "" {
		t.Logf("charon log:\n%s", ch.proc.Output())
	}
	sas := ch.listSAs()
	if !strings.Contains(sas, strings.ToUpper(c.proposal[:3])) {
		t.Logf("charon:\n%s", sas)
	}

}

func writePEM(t *testing.T, path, typ string, der []byte) {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A peer that refuses us says why in an encrypted notification, and we
// end at once instead of retransmitting until a timeout; and strongSwan
// reads ours.
func TestPhase1StrongSwanRejects(t *testing.T) {
	if testing.Short() {
		t.Skip("network test")
	}
	requireStrongSwan(t)
	ours, theirs := nstest.New(t, "p1-us"), nstest.New(t, "p1-ss")
	nstest.Link(t, ours, theirs, p1OurAddr+"/24", p1CharonAddr+"/24")
	ourAddr, peerAddr := netip.MustParseAddr(p1OurAddr), netip.MustParseAddr(p1CharonAddr)
	u := newUDPEnd(t, ours, ourAddr, peerAddr)
	ch := startCharon(t, theirs)
	// charon expects another identity than the one we send.
	conn := charonConn{LocalAddr: p1CharonAddr, RemoteAddr: p1OurAddr, RemoteID: "not-us.example",
		Encap: true, PSK: "interop phase one secret", LocalTS: "10.224.0.0/16", RemoteTS: "10.214.0.0/16"}
	ch.loadConn(t, conn)
	cfg := &Phase1Config{Policies: []Policy{pskPolicy(CipherAES, 128, HashSHA256, GroupMODP2048)},
		Local: netip.AddrPortFrom(ourAddr, 500), Remote: netip.AddrPortFrom(peerAddr, 500), PSK: []byte(conn.PSK)}
	p, err := NewInitiator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, _ := p.Start(time.Now())
	u.send(res.Send)
	start := time.Now()
	done, f := u.run(p, nil)
	if done != nil || f == nil || f.Reason != FailPeerNotify || f.Notify != NotifyAuthenticationFailed {
		t.Fatalf("done %v, failure %v", done != nil, f)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("took %v to notice the rejection", time.Since(start))
	}

	// Now charon initiates and we refuse its identity.
	u.floated = false
	cfg.RemoteID = IDFromFQDN("someone-else.example")
	conn.RemoteID = ""
	ch.loadConn(t, conn)
	go ch.swanctl("--initiate", "--ike", "tis", "--timeout", "20")
	var first Packet
	select {
	case first = <-u.in:
	case <-time.After(20 * time.Second):
		t.Fatal("no first message from charon")
	}
	cfg.Remote = first.Remote
	r, err := NewResponder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, f := u.run(r, &first); f == nil || f.Reason != FailInvalidID {
		t.Fatalf("responder: %v", f)
	}
	nstest.WaitFor(t, 10*time.Second, "charon reading our INVALID_ID_INFORMATION", func() bool {
		return strings.Contains(ch.proc.Output(), "INVALID_ID_INFORMATION")
	})
}
