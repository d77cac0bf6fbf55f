package ike

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/netip"
	"time"
)

// Credentials are the local certificate, its key, and the CA that peers'
// certificates must chain to.
type Credentials struct {
	Cert          *x509.Certificate
	Intermediates []*x509.Certificate // sent after Cert, and used to build peers' chains
	Key           crypto.Signer
	CAs           []*x509.Certificate
}

// ParseCredentials reads PEM data: a certificate file (leaf first, then any
// intermediates), a private key (PKCS#8, PKCS#1 or SEC 1) and CA
// certificates.
func ParseCredentials(certPEM, keyPEM, caPEM []byte) (*Credentials, error) {
	certs, err := parsePEMCerts(certPEM)
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, errorText("ike: no certificate in the cert file")
	}
	cas, err := parsePEMCerts(caPEM)
	if err != nil {
		return nil, err
	}
	if len(cas) == 0 {
		return nil, errorText("ike: no certificate in the CA file")
	}
	// The first private key block of the key file.
	var key crypto.Signer
	for key == nil {
		var blk *pem.Block
		if blk, keyPEM = pem.Decode(keyPEM); blk == nil {
			return nil, errorText("ike: no private key in the key file")
		}
		var k any
		switch blk.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(blk.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		var ok bool
		if key, ok = k.(crypto.Signer); !ok {
			return nil, errorText("ike: unsupported private key type")
		}
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if k, ok := key.Public().(equaler); !ok || !k.Equal(certs[0].PublicKey) {
		return nil, errorText("ike: private key does not match the certificate")
	}
	return &Credentials{Cert: certs[0], Intermediates: certs[1:], Key: key, CAs: cas}, nil
}

func parsePEMCerts(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return out, nil
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}

// verifyPeerCert returns the peer's certificate from the CERT payloads
// of m once it chains to one of the CAs at time now: the first one is
// the peer's, the others are intermediates.
func (c *Credentials) verifyPeerCert(m *Message, now time.Time) (*x509.Certificate, error) {
	var certs []*x509.Certificate
	for _, p := range FindAll[*Cert](m) {
		if p.Request || p.Encoding != CertX509Sig {
			continue
		}
		c, err := x509.ParseCertificate(p.Data)
		if err != nil {
			return nil, fmt.Errorf("ike: peer certificate: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errorText("ike: peer sent no certificate")
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, ca := range c.CAs {
		roots.AddCert(ca)
	}
	for _, ic := range append(certs[1:], c.Intermediates...) {
		inter.AddCert(ic)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: now,
		// IKE certificates rarely carry an IKE-specific EKU.
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

// IDMatchesCert reports whether an ID payload names the certificate: the
// subject DN (compared as DER, or by its canonical string form), or one of
// its subjectAltNames (DNS name, e-mail, IP address).
func IDMatchesCert(id *ID, c *x509.Certificate) bool {
	switch id.IDType {
	case IDDERASN1DN:
		if bytes.Equal(id.Data, c.RawSubject) {
			return true
		}
		return id.String() == c.Subject.String()
	case IDFQDN, IDUserFQDN:
		names := c.DNSNames
		if id.IDType == IDUserFQDN {
			names = c.EmailAddresses
		}
		for _, n := range names {
			if equalFoldASCII(n, string(id.Data)) {
				return true
			}
		}
	case IDIPv4Addr, IDIPv6Addr:
		a, ok := id.Addr()
		if !ok {
			return false
		}
		a = a.Unmap()
		for _, ip := range c.IPAddresses {
			if b, ok := netip.AddrFromSlice(ip); ok && b.Unmap() == a {
				return true
			}
		}
	}
	return false
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// IDEqual reports whether two identities are the same (type and data;
// DNs also by their string form, FQDNs case-insensitively).
func IDEqual(a, b *ID) bool {
	if a.IDType != b.IDType {
		return false
	}
	switch a.IDType {
	case IDFQDN, IDUserFQDN:
		return equalFoldASCII(string(a.Data), string(b.Data))
	case IDDERASN1DN:
		return bytes.Equal(a.Data, b.Data) || a.String() == b.String()
	}
	return bytes.Equal(a.Data, b.Data)
}
