package ike

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

var (
	addrI = netip.MustParseAddrPort("192.0.2.1:500")
	addrR = netip.MustParseAddrPort("192.0.2.2:500")
)

// policyName names a policy for subtests: aes128-sha256-modp2048-pre-share-86400s.
func policyName(p *Policy) string {
	c := p.Cipher.String()
	if p.KeyBits != 0 {
		c = fmt.Sprintf("%s%d", c, p.KeyBits)
	}
	return fmt.Sprintf("%s-%s-%v-%v-%ds", c, p.Hash, p.Group, p.Auth, int(p.Lifetime/time.Second))
}

func pskPolicy(c CipherAlg, bits int, h HashAlg, g Group) Policy {
	return Policy{Priority: 10, Cipher: c, KeyBits: bits, Hash: h, Auth: AuthPSK, Group: g, Lifetime: 8 * time.Hour}
}

func pskConfigs(pols ...Policy) (*Phase1Config, *Phase1Config) {
	psk := []byte("correct horse battery staple")
	i := &Phase1Config{Policies: pols, Local: addrI, Remote: addrR, PSK: psk, AllowWeak: true}
	r := &Phase1Config{Policies: pols, Local: addrR, Remote: addrI, PSK: psk, AllowWeak: true}
	return i, r
}

// link is the in-memory network between the two state machines: it moves
// datagrams and floats the ports the way the manager would.
type link struct {
	t          testing.TB
	i, r       *Phase1
	iEP, rEP   netip.AddrPort
	now        time.Time
	iDone      *Phase1Done
	rDone      *Phase1Done
	iFail      *Phase1Failure
	rFail      *Phase1Failure
	delivered  int
	fragments  int // datagrams that were IKEv1 fragments
	dropFirstN int // drop the first N datagrams to test retransmission
}

func (l *link) deliver(toResponder bool, data []byte) Result {
	l.delivered++
	if h, err := ParseHeader(data); err == nil && h.NextPayload == PayloadFragment {
		l.fragments++
	}
	var res Result
	var err error
	if toResponder {
		res, err = l.r.Handle(Packet{Data: data, Local: l.rEP, Remote: l.iEP}, l.now)
	} else {
		res, err = l.i.Handle(Packet{Data: data, Local: l.iEP, Remote: l.rEP}, l.now)
	}
	if err != nil {
		l.t.Fatalf("handle (to responder %v): %v", toResponder, err)
	}
	return res
}

func (l *link) float() {
	l.iEP = netip.AddrPortFrom(l.iEP.Addr(), 4500)
	l.rEP = netip.AddrPortFrom(l.rEP.Addr(), 4500)
}

// run drives a complete exchange to its end.
func (l *link) run() {
	res, err := l.i.Start(l.now)
	if err != nil {
		l.t.Fatal(err)
	}
	toResponder := true
	queue := res.Send
	for steps := 0; len(queue) > 0; steps++ {
		if steps > 20 {
			l.t.Fatal("exchange does not terminate")
		}
		var next [][]byte
		for _, d := range queue {
			r := l.deliver(toResponder, d)
			if r.Float {
				l.float()
			}
			l.note(!toResponder, r)
			next = append(next, r.Send...)
		}
		queue = next
		toResponder = !toResponder
	}
}

func (l *link) note(initiator bool, r Result) {
	if initiator {
		if r.Done != nil {
			l.iDone = r.Done
		}
		if r.Failed != nil {
			l.iFail = r.Failed
		}
	} else {
		if r.Done != nil {
			l.rDone = r.Done
		}
		if r.Failed != nil {
			l.rFail = r.Failed
		}
	}
}

func newLink(t testing.TB, ic, rc *Phase1Config, now time.Time) *link {
	t.Helper()
	i, err := NewInitiator(ic)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewResponder(rc)
	if err != nil {
		t.Fatal(err)
	}
	return &link{t: t, i: i, r: r, iEP: ic.Local, rEP: rc.Local, now: now}
}

func checkAgreement(t *testing.T, l *link) {
	t.Helper()
	if l.iFail != nil || l.rFail != nil {
		t.Fatalf("failed: initiator %v, responder %v", l.iFail, l.rFail)
	}
	a, b := l.iDone, l.rDone
	if a == nil || b == nil {
		t.Fatalf("not done: initiator %v (%v), responder %v (%v)", a != nil, l.i.State(), b != nil, l.r.State())
	}
	if !l.i.State().Active() || !l.r.State().Active() {
		t.Fatalf("states %v / %v", l.i.State(), l.r.State())
	}
	for _, kv := range [][2][]byte{{a.Keys.SKEYID, b.Keys.SKEYID}, {a.Keys.SKEYIDd, b.Keys.SKEYIDd},
		{a.Keys.SKEYIDa, b.Keys.SKEYIDa}, {a.Keys.Ka, b.Keys.Ka}, {a.Keys.IV, b.Keys.IV}} {
		if !bytes.Equal(kv[0], kv[1]) || len(kv[0]) == 0 {
			t.Fatalf("keys differ: %x / %x", kv[0], kv[1])
		}
	}
	if a.CookieI != b.CookieI || a.CookieR != b.CookieR || !reflect.DeepEqual(a.Policy, b.Policy) || a.Lifetime != b.Lifetime {
		t.Fatalf("SA parameters differ: %+v / %+v", a, b)
	}
	if !IDEqual(a.PeerID, b.LocalID) || !IDEqual(b.PeerID, a.LocalID) {
		t.Fatalf("identities: I sees %v (R is %v), R sees %v (I is %v)", a.PeerID, b.LocalID, b.PeerID, a.LocalID)
	}
}

func TestPhase1PSK(t *testing.T) {
	now := time.Now()
	suites := []Policy{
		pskPolicy(CipherAES, 128, HashSHA256, GroupMODP2048),
		pskPolicy(CipherAES, 256, HashSHA1, GroupMODP1024),
		pskPolicy(CipherAES, 192, HashSHA384, GroupECP384),
		pskPolicy(Cipher3DES, 0, HashSHA512, GroupECP256),
		pskPolicy(CipherDES, 0, HashMD5, GroupMODP768),
		pskPolicy(CipherAES, 256, HashSHA256, GroupCurve25519),
		pskPolicy(CipherAES, 128, HashSHA256, GroupECP521),
	}
	for _, ex := range []ExchangeType{ExchangeMain, ExchangeAggressive} {
		for _, pol := range suites {
			t.Run(ex.String()+"/"+policyName(&pol), func(t *testing.T) {
				ic, rc := pskConfigs(pol)
				ic.Exchange = ex
				l := newLink(t, ic, rc, now)
				l.run()
				checkAgreement(t, l)
				if l.iDone.NATT != NATTRFC3947 || l.iDone.Floated || l.rDone.Floated {
					t.Errorf("NAT-T %v floated %v/%v without a NAT", l.iDone.NATT, l.iDone.Floated, l.rDone.Floated)
				}
				if a, _ := l.iDone.LocalID.Addr(); a != addrI.Addr() {
					t.Errorf("default local ID %v", l.iDone.LocalID)
				}
			})
		}
	}
}

func TestPhase1NATForceFloats(t *testing.T) {
	for _, ex := range []ExchangeType{ExchangeMain, ExchangeAggressive} {
		ic, rc := pskConfigs(pskPolicy(CipherAES, 128, HashSHA256, GroupMODP2048))
		ic.Exchange = ex
		ic.NATT = NATTForce
		l := newLink(t, ic, rc, time.Now())
		l.run()
		checkAgreement(t, l)
		if !l.iDone.Floated || !l.rDone.Floated || !l.rDone.PeerNAT || !l.iDone.LocalNAT {
			t.Errorf("%v: floated %v/%v, responder sees peer NAT %v", ex, l.iDone.Floated, l.rDone.Floated, l.rDone.PeerNAT)
		}
		if l.iDone.Remote.Port() != 4500 || l.rDone.Remote.Port() != 4500 {
			t.Errorf("%v: endpoints %v / %v", ex, l.iDone.Remote, l.rDone.Remote)
		}
	}
	// With NAT-T off nothing floats and no NAT-D is sent.
	ic, rc := pskConfigs(pskPolicy(CipherAES, 128, HashSHA256, GroupMODP2048))
	ic.NATT = NATTOff
	l := newLink(t, ic, rc, time.Now())
	l.run()
	checkAgreement(t, l)
	if l.iDone.NATT != NATTNone || l.rDone.Floated {
		t.Error("NAT-T negotiated although disabled")
	}
}

func TestPhase1WrongPSK(t *testing.T) {
	for _, ex := range []ExchangeType{ExchangeMain, ExchangeAggressive} {
		ic, rc := pskConfigs(pskPolicy(CipherAES, 128, HashSHA256, GroupECP256))
		ic.Exchange = ex
		rc.PSK = []byte("something else")
		l := newLink(t, ic, rc, time.Now())
		l.run()
		f := l.rFail
		if ex == ExchangeAggressive {
			f = l.iFail // the initiator checks HASH_R first
		}
		if f == nil || f.Reason != FailAuth {
			t.Fatalf("%v: failures %v / %v", ex, l.iFail, l.rFail)
		}
	}
}

func TestPhase1NoProposal(t *testing.T) {
	ic, _ := pskConfigs(pskPolicy(CipherAES, 128, HashSHA256, GroupMODP2048))
	_, rc := pskConfigs(pskPolicy(CipherAES, 256, HashSHA256, GroupMODP2048))
	l := newLink(t, ic, rc, time.Now())
	res, err := l.i.Start(l.now)
	if err != nil {
		t.Fatal(err)
	}
	r := l.deliver(true, res.Send[0])
	if r.Failed == nil || r.Failed.Reason != FailNoProposal || len(r.Send) != 1 {
		t.Fatalf("responder: %v, %d answers", r.Failed, len(r.Send))
	}
	// The responder tells the initiator in clear. Anyone who saw MM1 could
	// have sent that: the initiator notes it and keeps waiting for an MM2
	// (the peer may load a matching policy before our retransmission).
	_, err = l.i.Handle(Packet{Data: r.Send[0], Local: l.iEP, Remote: l.rEP}, l.now)
	var cn *CleartextNotice
	if !errors.As(err, &cn) || cn.Notify != NotifyNoProposalChosen {
		t.Fatalf("initiator: %v", err)
	}
	if l.i.State() != StateMMWaitMsg2 || l.i.Failure() != nil {
		t.Fatalf("initiator in %v after a cleartext notify", l.i.State())
	}
}

func TestPhase1PolicySelection(t *testing.T) {
	// The responder takes the first of ITS policies that the initiator
	// offers, and the lower lifetime.
	a := pskPolicy(CipherAES, 128, HashSHA1, GroupMODP2048)
	b := pskPolicy(CipherAES, 256, HashSHA256, GroupMODP2048)
	c := pskPolicy(CipherAES, 256, HashSHA256, GroupECP256)
	ic, _ := pskConfigs(a, b, c)
	rb := b
	rb.Lifetime = time.Hour
	_, rc := pskConfigs(c, rb)
	l := newLink(t, ic, rc, time.Now())
	l.run()
	checkAgreement(t, l)
	if !l.iDone.Policy.sameSuite(&c) {
		t.Errorf("chose %v, want %v", l.iDone.Policy, c)
	}
	if l.iDone.Lifetime != 8*time.Hour {
		t.Errorf("lifetime %v", l.iDone.Lifetime)
	}
	_, rc = pskConfigs(rb)
	l = newLink(t, ic, rc, time.Now())
	l.run()
	checkAgreement(t, l)
	if l.iDone.Lifetime != time.Hour || l.rDone.Lifetime != time.Hour {
		t.Errorf("lifetimes %v / %v, want the responder's lower 1h", l.iDone.Lifetime, l.rDone.Lifetime)
	}
}

func TestPhase1Retransmission(t *testing.T) {
	ic, rc := pskConfigs(pskPolicy(CipherAES, 128, HashSHA256, GroupECP256))
	l := newLink(t, ic, rc, time.Now())
	res, _ := l.i.Start(l.now)
	mm1 := res.Send[0]
	mm2 := l.deliver(true, mm1).Send[0]
	// MM1 again (our MM2 "got lost"): the same MM2 comes back.
	if again := l.deliver(true, mm1); len(again.Send) != 1 || !bytes.Equal(again.Send[0], mm2) {
		t.Fatal("MM1 retransmission not answered with the same MM2")
	}
	mm3 := l.deliver(false, mm2).Send[0]
	mm4 := l.deliver(true, mm3).Send[0]
	mm5 := l.deliver(false, mm4).Send[0]
	r6 := l.deliver(true, mm5)
	if r6.Done == nil {
		t.Fatal("responder not done")
	}
	// MM5 again after MM_ACTIVE: MM6 resent.
	if again := l.deliver(true, mm5); !bytes.Equal(again.Send[0], r6.Send[0]) {
		t.Fatal("MM5 retransmission not answered with MM6")
	}
	if r := l.deliver(false, r6.Send[0]); r.Done == nil {
		t.Fatal("initiator not done")
	}
	// A repeated MM6 ends nothing new and must not be answered.
	if again := l.deliver(false, r6.Send[0]); len(again.Send) != 0 {
		t.Fatal("MM6 retransmission answered")
	}
	if !bytes.Equal(l.i.LastSent()[0], mm5) {
		t.Error("LastSent is not MM5")
	}
}

func TestPhase1DropsGarbage(t *testing.T) {
	ic, rc := pskConfigs(pskPolicy(CipherAES, 128, HashSHA256, GroupECP256))
	i, _ := NewInitiator(ic)
	r, _ := NewResponder(rc)
	res, _ := i.Start(time.Now())
	for _, b := range [][]byte{nil, {1, 2, 3}, res.Send[0][:40]} {
		if _, err := r.Handle(Packet{Data: b}, time.Now()); err == nil {
			t.Error("garbage accepted")
		}
	}
	if r.State() != StateNone {
		t.Errorf("state %v", r.State())
	}
}

// Certificates.

func vectorCreds(t *testing.T, side string) *Credentials {
	dir := vectorDir("mm-rsa-sig")
	read := func(n string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	c, err := ParseCredentials(read(side+".crt"), read(side+".key"), read("ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type testPKI struct {
	ca    *x509.Certificate
	caKey *ecdsa.PrivateKey
}

func newTestPKI(t *testing.T) *testPKI {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	return &testPKI{ca: ca, caKey: k}
}

func (p *testPKI) issue(t *testing.T, curve elliptic.Curve, cn string, dns ...string) *Credentials {
	k, _ := ecdsa.GenerateKey(curve, rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn, Organization: []string{"test"}},
		DNSNames: dns, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &k.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &Credentials{Cert: c, Key: k, CAs: []*x509.Certificate{p.ca}}
}

func sigConfigs(auth AuthMethod, g Group, ci, cr *Credentials) (*Phase1Config, *Phase1Config) {
	pol := Policy{Cipher: CipherAES, KeyBits: 256, Hash: HashSHA256, Auth: auth, Group: g, Lifetime: time.Hour}
	i := &Phase1Config{Policies: []Policy{pol}, Local: addrI, Remote: addrR, Creds: ci}
	r := &Phase1Config{Policies: []Policy{pol}, Local: addrR, Remote: addrI, Creds: cr}
	return i, r
}

func TestPhase1RSASignatures(t *testing.T) {
	left, right := vectorCreds(t, "left"), vectorCreds(t, "right")
	for _, ex := range []ExchangeType{ExchangeMain, ExchangeAggressive} {
		for _, g := range []Group{GroupMODP2048, GroupECP256} {
			t.Run(ex.String()+"/"+g.String(), func(t *testing.T) {
				ic, rc := sigConfigs(AuthRSASig, g, left, right)
				ic.Exchange = ex
				ic.NATT = NATTForce
				l := newLink(t, ic, rc, vectorTime)
				l.run()
				checkAgreement(t, l)
				if l.iDone.PeerCert == nil || l.iDone.PeerCert.Subject.CommonName != "right.iop.test" {
					t.Errorf("peer cert %v", l.iDone.PeerCert)
				}
				if l.rDone.PeerID.IDType != IDDERASN1DN || l.rDone.PeerID.String() != "CN=left.iop.test,O=iop-lab,C=CH" {
					t.Errorf("peer ID %v", l.rDone.PeerID)
				}
			})
		}
	}
	// Outside the validity window the certificate is refused.
	ic, rc := sigConfigs(AuthRSASig, GroupECP256, left, right)
	l := newLink(t, ic, rc, vectorTime.AddDate(20, 0, 0))
	l.run()
	if l.rFail == nil || l.rFail.Reason != FailCert {
		t.Fatalf("expired certificate: %v / %v", l.iFail, l.rFail)
	}
	// A configured remote ID that the certificate does not hold.
	ic, rc = sigConfigs(AuthRSASig, GroupECP256, left, right)
	rc.RemoteID = IDFromFQDN("other.iop.test")
	ic.LocalID = IDFromFQDN("other.iop.test")
	l = newLink(t, ic, rc, vectorTime)
	l.run()
	if l.rFail == nil || l.rFail.Reason != FailInvalidID {
		t.Fatalf("ID not in certificate: %v / %v", l.iFail, l.rFail)
	}
	// The responder said why, encrypted: the initiator fails at once.
	if l.iFail == nil || l.iFail.Reason != FailPeerNotify || l.iFail.Notify != NotifyInvalidIDInformation {
		t.Fatalf("initiator: %v", l.iFail)
	}
}

func TestPhase1ECDSASignatures(t *testing.T) {
	pki := newTestPKI(t)
	for _, c := range []struct {
		curve elliptic.Curve
		auth  AuthMethod
	}{{elliptic.P256(), AuthECDSA256}, {elliptic.P384(), AuthECDSA384}, {elliptic.P521(), AuthECDSA521}} {
		ci := pki.issue(t, c.curve, "left", "left.example")
		cr := pki.issue(t, c.curve, "right", "right.example")
		for _, ex := range []ExchangeType{ExchangeMain, ExchangeAggressive} {
			ic, rc := sigConfigs(AuthECDSA256, GroupCurve25519, ci, cr) // resolved to the key's curve
			ic.Exchange = ex
			ic.LocalID = IDFromFQDN("left.example")
			rc.RemoteID = IDFromFQDN("left.example")
			l := newLink(t, ic, rc, time.Now())
			l.run()
			checkAgreement(t, l)
			if l.iDone.Policy.Auth != c.auth {
				t.Errorf("auth %v, want %v", l.iDone.Policy.Auth, c.auth)
			}
		}
	}
	// A certificate from another CA is refused.
	other := newTestPKI(t)
	ic, rc := sigConfigs(AuthECDSA256, GroupECP256, other.issue(t, elliptic.P256(), "x"), pki.issue(t, elliptic.P256(), "y"))
	l := newLink(t, ic, rc, time.Now())
	l.run()
	if l.rFail == nil || l.rFail.Reason != FailCert {
		t.Fatalf("foreign CA: %v / %v", l.iFail, l.rFail)
	}
}

func TestSignHashECDSAEncoding(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	h := bytes.Repeat([]byte{1}, 32)
	sig, err := SignHash(rand.Reader, AuthECDSA384, k, h)
	if err != nil || len(sig) != 96 {
		t.Fatalf("%d bytes, %v", len(sig), err)
	}
	if err := VerifyHash(AuthECDSA384, &k.PublicKey, h, sig); err != nil {
		t.Fatal(err)
	}
	sig[5] ^= 1
	if err := VerifyHash(AuthECDSA384, &k.PublicKey, h, sig); !errors.Is(err, ErrBadSignature) {
		t.Fatal("tampered signature accepted")
	}
}

// The recorded strongSwan MM1 and AM1 are accepted by our responder, which
// answers with the offered transform unchanged.
func TestPhase1ResponderAcceptsStrongSwan(t *testing.T) {
	for _, c := range []struct {
		name string
		pol  Policy
	}{
		{"mm-psk-modp2048", pskPolicy(CipherAES, 128, HashSHA256, GroupMODP2048)},
		{"am-psk-fqdn", pskPolicy(CipherAES, 128, HashSHA256, GroupMODP2048)},
	} {
		v := loadVectors(t, c.name)
		msgs := pcapIKEMessages(t, filepath.Join(vectorDir(c.name), "exchange.pcap"))
		ini := netip.AddrPortFrom(netip.MustParseAddr(v.str("initiator_addr")), 500)
		res := netip.AddrPortFrom(netip.MustParseAddr(v.str("responder_addr")), 500)
		c.pol.Lifetime = 86400 * time.Second
		rc := &Phase1Config{Policies: []Policy{c.pol}, Local: res, Remote: ini, PSK: []byte(v.str("psk"))}
		r, err := NewResponder(rc)
		if err != nil {
			t.Fatal(err)
		}
		out, err := r.Handle(Packet{Data: msgs[0].Payload, Local: res, Remote: ini}, vectorTime)
		if err != nil || out.Failed != nil || len(out.Send) != 1 {
			t.Fatalf("%s: %v %v", c.name, err, out.Failed)
		}
		reply, err := Unmarshal(out.Send[0])
		if err != nil {
			t.Fatal(err)
		}
		tr := Find[*SA](reply).Proposals[0].Transforms[0]
		if got := attributeBytes(tr.Attributes); !bytes.Equal(got, v.hex("p1_transform_attributes")) {
			t.Errorf("%s: chosen transform %x, want %x", c.name, got, v.hex("p1_transform_attributes"))
		}
		// strongSwan offers 15840 s, our policy 86400 s: theirs is lower.
		if r.out.Lifetime != 15840*time.Second {
			t.Errorf("%s: lifetime %v", c.name, r.out.Lifetime)
		}
		if !r.out.Peer.DPD || r.out.Peer.NATT != NATTRFC3947 || !r.out.Peer.Fragmentation || !r.out.Peer.XAuth {
			t.Errorf("%s: vendor IDs %+v", c.name, r.out.Peer)
		}
		want := StateMMWaitMsg3
		if c.name == "am-psk-fqdn" {
			want = StateAMWaitMsg3
			if r.out.PeerID.String() != `"left.iop.test"` {
				t.Errorf("AM peer ID %v", r.out.PeerID)
			}
			if reply.opaque(PayloadNATD) == nil || reply.opaque(PayloadHash) == nil {
				t.Error("AM2 lacks NAT-D or HASH_R")
			}
		}
		if r.State() != want {
			t.Errorf("%s: state %v", c.name, r.State())
		}
	}
}

func TestParseDNMatchesCertificate(t *testing.T) {
	left := vectorCreds(t, "left")
	der, err := ParseDN("C=CH, O=iop-lab, CN=left.iop.test")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(der, left.Cert.RawSubject) {
		t.Errorf("DER %x, certificate subject %x", der, left.Cert.RawSubject)
	}
	if !IDMatchesCert(IDFromDN(der), left.Cert) {
		t.Error("DN ID does not match its certificate")
	}
	for _, bad := range []string{"", "CN", "XX=1"} {
		if _, err := ParseDN(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestPhase1AggressiveGroupFromKE(t *testing.T) {
	// The responder prefers an ECP-256 policy, but the initiator's KE is
	// MODP-2048: the matching lower-priority policy must be chosen.
	ic, _ := pskConfigs(pskPolicy(CipherAES, 256, HashSHA256, GroupMODP2048))
	ic.Exchange = ExchangeAggressive
	_, rc := pskConfigs(pskPolicy(CipherAES, 256, HashSHA256, GroupECP256), pskPolicy(CipherAES, 256, HashSHA256, GroupMODP2048))
	l := newLink(t, ic, rc, time.Now())
	l.run()
	checkAgreement(t, l)
	if l.rDone.Policy.Group != GroupMODP2048 {
		t.Errorf("group %v", l.rDone.Policy.Group)
	}
}

func TestPhase1AggressiveRetransmission(t *testing.T) {
	ic, rc := pskConfigs(pskPolicy(CipherAES, 128, HashSHA256, GroupECP256))
	ic.Exchange = ExchangeAggressive
	l := newLink(t, ic, rc, time.Now())
	res, _ := l.i.Start(l.now)
	am2 := l.deliver(true, res.Send[0]).Send[0]
	r3 := l.deliver(false, am2)
	if r3.Done == nil {
		t.Fatal("initiator not done")
	}
	// AM2 again (AM3 lost): AM3 is resent.
	if again := l.deliver(false, am2); len(again.Send) != 1 || !bytes.Equal(again.Send[0], r3.Send[0]) {
		t.Fatal("AM2 retransmission not answered with AM3")
	}
	if r := l.deliver(true, r3.Send[0]); r.Done == nil {
		t.Fatal("responder not done")
	}
	if again := l.deliver(true, r3.Send[0]); len(again.Send) != 0 {
		t.Fatal("AM3 retransmission answered")
	}
}

// BenchmarkPhase1 measures one complete negotiation, both roles, in
// memory: what an IKE SA costs a router's CPU.
func BenchmarkPhase1(b *testing.B) {
	for _, c := range []struct {
		name string
		ex   ExchangeType
		pol  Policy
	}{
		{"main-psk-modp2048", ExchangeMain, pskPolicy(CipherAES, 128, HashSHA256, GroupMODP2048)},
		{"main-psk-ecp256", ExchangeMain, pskPolicy(CipherAES, 128, HashSHA256, GroupECP256)},
		{"aggressive-psk-curve25519", ExchangeAggressive, pskPolicy(CipherAES, 256, HashSHA256, GroupCurve25519)},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				ic, rc := pskConfigs(c.pol)
				ic.Exchange = c.ex
				l := newLink(b, ic, rc, time.Now())
				l.run()
				if l.iDone == nil || l.rDone == nil {
					b.Fatal("negotiation failed")
				}
			}
		})
	}
}

func TestPhase1Fragmentation(t *testing.T) {
	left, right := vectorCreds(t, "left"), vectorCreds(t, "right")
	for _, ex := range []ExchangeType{ExchangeMain, ExchangeAggressive} {
		ic, rc := sigConfigs(AuthRSASig, GroupECP256, left, right)
		ic.Exchange = ex
		ic.Fragmentation, rc.Fragmentation = true, true
		l := newLink(t, ic, rc, vectorTime)
		l.run()
		checkAgreement(t, l)
		// MM5 and MM6 (or AM3) carry a certificate: more than one packet.
		if l.fragments < 2 {
			t.Errorf("%v: %d fragments", ex, l.fragments)
		}
		if !l.iDone.Peer.Fragmentation || !l.rDone.Peer.Fragmentation {
			t.Errorf("%v: fragmentation VID not seen", ex)
		}
	}
	// Only one side announcing: nothing is fragmented.
	ic, rc := sigConfigs(AuthRSASig, GroupECP256, left, right)
	ic.Fragmentation = true
	l := newLink(t, ic, rc, vectorTime)
	l.run()
	checkAgreement(t, l)
	if l.fragments != 0 {
		t.Errorf("%d fragments without the peer's consent", l.fragments)
	}
}

func TestFragmentDatagramRoundTrip(t *testing.T) {
	m := &Message{Header: Header{Exchange: ExchangeMain, CookieI: Cookie{1}}, Payloads: []Payload{&Cert{Encoding: CertX509Sig, Data: bytes.Repeat([]byte{7}, 5000)}}}
	b, _ := m.Marshal()
	fs, err := FragmentDatagram(b, 9)
	if err != nil || len(fs) != 5 {
		t.Fatalf("%d fragments, %v", len(fs), err)
	}
	var r Reassembler
	for i := len(fs) - 1; i >= 0; i-- { // any order
		fm, err := Unmarshal(fs[i])
		if err != nil || len(fs[i]) > 1280-20-8-4 {
			t.Fatalf("fragment %d: %d bytes, %v", i, len(fs[i]), err)
		}
		full, err := r.Add(fm.opaque(PayloadFragment))
		if err != nil {
			t.Fatal(err)
		}
		if (full != nil) != (i == 0) {
			t.Fatalf("fragment %d: complete=%v", i, full != nil)
		}
		if full != nil && !bytes.Equal(full, b) {
			t.Fatal("reassembled datagram differs")
		}
	}
}

func TestPolicyFromTransform(t *testing.T) {
	for _, c := range []struct {
		as   Attributes
		want Policy
		ok   bool
	}{
		{Attributes{AttrTV(AttrEncryption, 5), AttrTV(AttrKeyLength, 192), AttrTV(AttrHash, 2), AttrTV(AttrAuthMethod, 1), AttrTV(AttrGroupDesc, 14),
			AttrTV(AttrLifeType, 1), AttrUint(AttrLifeDuration, 86400)},
			Policy{Cipher: Cipher3DES, Hash: HashSHA1, Auth: AuthPSK, Group: GroupMODP2048, Lifetime: 24 * time.Hour}, true},
		{Attributes{AttrTV(AttrEncryption, 7), AttrTV(AttrHash, 4), AttrTV(AttrAuthMethod, 3), AttrTV(AttrGroupDesc, 19)},
			Policy{Cipher: CipherAES, KeyBits: 128, Hash: HashSHA256, Auth: AuthRSASig, Group: GroupECP256}, true},
		// A PRF attribute, a private group, an unknown attribute: refused.
		{Attributes{AttrTV(AttrEncryption, 7), AttrTV(AttrHash, 4), AttrTV(AttrAuthMethod, 1), AttrTV(AttrGroupDesc, 14), AttrTV(AttrPRF, 1)}, Policy{}, false},
		{Attributes{AttrTV(AttrEncryption, 7), AttrTV(AttrHash, 4), AttrTV(AttrAuthMethod, 1), AttrTV(AttrGroupType, 1)}, Policy{}, false},
		{Attributes{AttrTV(AttrEncryption, 7), AttrTV(AttrHash, 4), AttrTV(AttrAuthMethod, 1)}, Policy{}, false},
	} {
		var got Policy
		ok := policyFromTransform(&Transform{ID: TransformKeyIKE, Attributes: c.as}, &got)
		if ok != c.ok || (ok && !reflect.DeepEqual(got, c.want)) {
			t.Errorf("%v: got %+v %v, want %+v %v", c.as, got, ok, c.want, c.ok)
		}
	}
}

// TestPhase1PeerInitialContact: INITIAL-CONTACT in the initiator's MM5 or
// AM3 reaches the responder's Done; without it, or on the sending side,
// PeerInitialContact stays false.
func TestPhase1PeerInitialContact(t *testing.T) {
	for _, ex := range []ExchangeType{ExchangeMain, ExchangeAggressive} {
		for _, send := range []bool{true, false} {
			t.Run(fmt.Sprintf("%v/sent=%v", ex, send), func(t *testing.T) {
				ic, rc := pskConfigs(pskPolicy(CipherAES, 128, HashSHA256, GroupMODP2048))
				ic.Exchange, ic.InitialContact = ex, send
				l := newLink(t, ic, rc, time.Now())
				l.run()
				checkAgreement(t, l)
				if l.rDone.PeerInitialContact != send || l.iDone.PeerInitialContact {
					t.Fatalf("responder saw INITIAL-CONTACT %v, initiator %v; sent %v",
						l.rDone.PeerInitialContact, l.iDone.PeerInitialContact, send)
				}
			})
		}
	}
}

// TestWeakPolicyRefused: a weak policy without allow_weak is refused with
// its name (cipher with key size, hash, group, method, lifetime).
func TestWeakPolicyRefused(t *testing.T) {
	for _, c := range []struct {
		pol  Policy
		want string
	}{
		{pskPolicy(CipherDES, 0, HashMD5, GroupMODP768), "ike: policy des-md5-modp768-pre-share-28800s is weak (needs allow_weak)"},
		{pskPolicy(CipherAES, 256, HashSHA256, GroupMODP1024), "ike: policy aes256-sha256-modp1024-pre-share-28800s is weak (needs allow_weak)"},
	} {
		ic, _ := pskConfigs(c.pol)
		ic.AllowWeak = false
		if _, err := NewInitiator(ic); err == nil || err.Error() != c.want {
			t.Errorf("got %v, want %s", err, c.want)
		}
	}
}
