package ike

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"tinyipsec/internal/nstest"
)

// TestInteropMainModePSKWeakPFS: AES-256 / SHA-1 / group 2 in phase 1
// (allow_weak), PFS group 14 and ESP AES-256-CBC with HMAC-SHA-256.
func TestInteropMainModePSKWeakPFS(t *testing.T) {
	requireStrongSwan(t)
	c := interopCase{
		tis: tisConn{PSK: "interop-psk-pfs", AllowWeak: true, Listen: true,
			Policy: "encryption = \"aes256\"\nhash = \"sha1\"\nauthentication = \"pre-share\"\ngroup = 2\n",
			ESP:    "aes256", ESPAuth: "sha256", PFS: 14},
		ss: charonConn{PSK: "interop-psk-pfs", IKEProposals: "aes256-sha1-modp1024", ESPProposals: "aes256-sha256-modp2048"},
	}
	t.Run("tinyipsec-initiates", func(t *testing.T) { runInterop(t, c, true) })
	t.Run("strongswan-initiates", func(t *testing.T) { runInterop(t, c, false) })
}

// TestInteropAggressiveModeFQDN: Aggressive Mode with a pre-shared key
// and FQDN identities.
func TestInteropAggressiveModeFQDN(t *testing.T) {
	requireStrongSwan(t)
	c := interopCase{
		tis: tisConn{PSK: "interop-psk-aggressive", Exchange: "aggressive",
			LocalID: "fqdn:left.iop.test", RemoteID: "fqdn:right.iop.test", ESP: "aes128", ESPAuth: "sha256"},
		ss: charonConn{PSK: "interop-psk-aggressive", Aggressive: true, LocalID: "@right.iop.test", RemoteID: "@left.iop.test",
			ESPProposals: "aes128-sha256"},
	}
	t.Run("tinyipsec-initiates", func(t *testing.T) { runInterop(t, c, true) })
	t.Run("strongswan-initiates", func(t *testing.T) { runInterop(t, c, false) })
}

// interopPKI is a CA and two end-entity certificates made for one test.
type interopPKI struct {
	caPEM                     []byte
	leftCert, leftKey, caFile string
	rightCert, rightKey       string
	leftDN, rightDN           string
}

func newInteropPKI(t *testing.T) *interopPKI {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{Country: []string{"CH"}, Organization: []string{"tinyipsec test"}, CommonName: "tinyipsec test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	p := &interopPKI{caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})}
	p.caFile = filepath.Join(dir, "ca.pem")
	os.WriteFile(p.caFile, p.caPEM, 0o600)
	issue := func(name string, serial int64) (certFile, keyFile string) {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{Country: []string{"CH"}, Organization: []string{"tinyipsec test"}, CommonName: name},
			DNSNames: []string{name}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
		os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
		os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), 0o600)
		return certFile, keyFile
	}
	p.leftCert, p.leftKey = issue("left.iop.test", 2)
	p.rightCert, p.rightKey = issue("right.iop.test", 3)
	p.leftDN = "C=CH, O=tinyipsec test, CN=left.iop.test"
	p.rightDN = "C=CH, O=tinyipsec test, CN=right.iop.test"
	return p
}

// TestInteropMainModeRSASig: Main Mode with RSA signatures and X.509
// certificates from a CA made by the test; DN identities.
func TestInteropMainModeRSASig(t *testing.T) {
	requireStrongSwan(t)
	pki := newInteropPKI(t)
	c := interopCase{
		tis: tisConn{Policy: "encryption = \"aes128\"\nhash = \"sha256\"\nauthentication = \"rsa-sig\"\ngroup = 14\n",
			Cert: pki.leftCert, Key: pki.leftKey, CA: pki.caFile, RemoteID: "dn:" + pki.rightDN},
		ss: charonConn{Auth: "pubkey", Cert: pki.rightCert, Key: pki.rightKey, CACert: pki.caPEM,
			LocalID: pki.rightDN, RemoteID: pki.leftDN},
	}
	t.Run("tinyipsec-initiates", func(t *testing.T) { runInterop(t, c, true) })
	t.Run("strongswan-initiates", func(t *testing.T) { runInterop(t, c, false) })
}

// TestInteropOnTraffic: with initiate = on-traffic nothing happens until
// a packet for the tunnel arrives; that packet's Acquire brings it up.
func TestInteropOnTraffic(t *testing.T) {
	requireStrongSwan(t)
	left, right := twoHosts(t)
	ss := startCharon(t, right)
	ss.loadConn(t, charonConn{PSK: "interop-psk-acquire", LocalAddr: rightOuter, RemoteAddr: leftOuter,
		LocalTS: rightSubnet, RemoteTS: leftSubnet})
	tis := startTinyipsec(t, left, tisConn{PSK: "interop-psk-acquire", Peer: rightOuter, Local: leftOuter, Initiate: "on-traffic"})
	time.Sleep(time.Second) // nothing may start on its own
	if s, err := tis.status(); err != nil || len(s.IKESAs) != 0 {
		t.Fatalf("IKE started without traffic: %+v %v", s, err)
	}
	pingAcross(t, left, leftInner, rightInner)
	if !tis.established() || !ss.established() {
		t.Fatal("tunnel not up after the traffic")
	}
	tcpTransfer(t, left, leftInner, right, rightInner)
}

// TestInteropOneSAPerACLLine: a crypto ACL with two permit lines (and a
// deny line) gets one IPsec SA per permit line, matching two strongSwan
// children, and each pair carries its own subnets' traffic.
func TestInteropOneSAPerACLLine(t *testing.T) {
	requireStrongSwan(t)
	bothWays(t, "strongswan-initiates", "tinyipsec-initiates", func(t *testing.T, tinyInit bool) {
		left, right := twoHosts(t)
		for _, a := range []string{"10.212.1.1/32", "10.212.2.1/32"} {
			left.Run(t, "ip", "addr", "add", a, "dev", "lo")
		}
		for _, a := range []string{"10.222.1.1/32", "10.222.2.1/32"} {
			right.Run(t, "ip", "addr", "add", a, "dev", "lo")
		}
		ss := startCharon(t, right)
		ss.loadConn(t, charonConn{PSK: "interop-psk-lines", LocalAddr: rightOuter, RemoteAddr: leftOuter,
			LocalTS: "10.222.1.0/24", RemoteTS: "10.212.1.0/24",
			Extra: []charonTS{{LocalTS: "10.222.2.0/24", RemoteTS: "10.212.2.0/24"}}})
		initiate := "never"
		if tinyInit {
			initiate = "always"
		}
		tis := startTinyipsec(t, left, tisConn{PSK: "interop-psk-lines", Peer: rightOuter, Local: leftOuter, Initiate: initiate,
			ACLRules: []string{
				"deny ip host 10.212.3.9 any",
				"permit ip 10.212.1.0 0.0.0.255 10.222.1.0 0.0.0.255",
				"permit ip 10.212.2.0 0.0.0.255 10.222.2.0 0.0.0.255",
			}})
		if !tinyInit {
			ss.initiateChild(t, "tis")
			ss.initiateChild(t, "tis0")
		}
		nstest.WaitFor(t, 30*time.Second, "two IPsec SAs on both ends", func() bool {
			s, err := tis.status()
			return err == nil && len(s.IPsecSAs) == 2 && ss.installedChildren() == 2
		})
		pingAcross(t, left, "10.212.1.1", "10.222.1.1")
		pingAcross(t, left, "10.212.2.1", "10.222.2.1")
		pingAcross(t, right, "10.222.2.1", "10.212.2.1")
		tcpTransfer(t, left, "10.212.2.1", right, "10.222.2.1")
		s, _ := tis.status()
		for _, sa := range s.IPsecSAs {
			if sa.PktsIn == 0 || sa.PktsOut == 0 {
				t.Errorf("pair %s/%s carried nothing (in %d, out %d)", sa.SPIIn, sa.SPIOut, sa.PktsIn, sa.PktsOut)
			}
		}
	})
}
