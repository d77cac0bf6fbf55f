package ike

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"io"
	"math/big"
)

// AuthMethod is the phase 1 authentication method attribute value (RFC
// 2409 appendix A, RFC 4754). RSA encryption modes are deliberately absent.
type AuthMethod uint16

// Authentication methods.
const (
	AuthPSK      AuthMethod = 1
	AuthRSASig   AuthMethod = 3
	AuthECDSA256 AuthMethod = 9  // ECDSA with SHA-256 on P-256
	AuthECDSA384 AuthMethod = 10 // ECDSA with SHA-384 on P-384
	AuthECDSA521 AuthMethod = 11 // ECDSA with SHA-512 on P-521

	// XAUTHInitPreShared (draft-beaulieu-ike-xauth-02 section 7.2): phase 1
	// keyed and authenticated by the group pre-shared key, then the
	// gateway asks the initiator for a user name and password before
	// anything else. Cisco and strongSwan remote-access clients offer it.
	AuthXAuthInitPSK AuthMethod = 65001
)

// PreShared reports whether phase 1 itself is authenticated by the
// pre-shared key (plain, or followed by XAUTH); every other method
// authenticates with certificates and signatures. (No more one-line
// predicates: each method is listed twice in the type data, for
// AuthMethod and *AuthMethod: flash.)
func (a AuthMethod) PreShared() bool { return a == AuthPSK || a == AuthXAuthInitPSK }

// IsECDSA reports whether the method is one of the RFC 4754 methods.
func (a AuthMethod) IsECDSA() bool {
	return a == AuthECDSA256 || a == AuthECDSA384 || a == AuthECDSA521
}

// authNames are the methods' names by attribute value (XAUTH's, 65001,
// apart: a table that long would be mostly empty).
var authNames = [...]string{AuthPSK: "pre-share", AuthRSASig: "rsa-sig",
	AuthECDSA256: "ecdsa-sig-256", AuthECDSA384: "ecdsa-sig-384", AuthECDSA521: "ecdsa-sig-521"}

func (a AuthMethod) String() string {
	if a == AuthXAuthInitPSK {
		return "xauth-pre-share"
	}
	return nameIn(authNames[:], int(a), "auth(%d)")
}

// ECDSAMethodFor returns the RFC 4754 method that matches an ECDSA public
// key's curve.
func ECDSAMethodFor(pub crypto.PublicKey) (AuthMethod, bool) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return 0, false
	}
	switch k.Curve {
	case elliptic.P256():
		return AuthECDSA256, true
	case elliptic.P384():
		return AuthECDSA384, true
	case elliptic.P521():
		return AuthECDSA521, true
	}
	return 0, false
}

// ErrBadSignature is returned when SIG_I/SIG_R does not verify.
var ErrBadSignature error = errorText("ike: signature verification failed")

// SignHash produces the SIG payload data for HASH_I/HASH_R. Both schemes
// sign HASH_I/HASH_R itself as the digest, as IKEv1 implementations
// (strongSwan among them) do: RSA with PKCS#1 v1.5 padding and no
// DigestInfo, ECDSA (RFC 4754 methods) with r||s in fixed-size halves; a
// hash longer than the curve order is truncated as ECDSA prescribes.
func SignHash(rand io.Reader, method AuthMethod, key crypto.Signer, hash []byte) ([]byte, error) {
	// The key's own functions rather than crypto.Signer's Sign: a call
	// through the interface links every Sign method of every key type
	// x509 can parse (RSA-PSS, deterministic ECDSA, Ed25519), and ECDSA's
	// DER signature would need an ASN.1 reader of its own (flash).
	switch {
	case method == AuthRSASig:
		k, ok := key.(*rsa.PrivateKey)
		if !ok {
			return nil, errorText("ike: rsa-sig needs an RSA key")
		}
		return rsa.SignPKCS1v15(rand, k, crypto.Hash(0), hash)
	case method.IsECDSA():
		k, ok := key.(*ecdsa.PrivateKey)
		if m, ok2 := ECDSAMethodFor(key.Public()); !ok || !ok2 || m != method {
			return nil, fmt.Errorf("ike: %v needs an ECDSA key on the matching curve", method)
		}
		size := (k.Curve.Params().BitSize + 7) / 8 // of r and s
		r, s, err := ecdsa.Sign(rand, k, hash)
		if err != nil {
			return nil, err
		}
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out, nil
	}
	return nil, fmt.Errorf("ike: %v does not sign", method)
}

// VerifyHash checks SIG payload data against HASH_I/HASH_R with the peer's
// public key.
func VerifyHash(method AuthMethod, pub crypto.PublicKey, hash, sig []byte) error {
	switch {
	case method == AuthRSASig:
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("%w: peer key is not RSA", ErrBadSignature)
		}
		if rsa.VerifyPKCS1v15(k, crypto.Hash(0), hash, sig) != nil {
			return ErrBadSignature
		}
		return nil
	case method.IsECDSA():
		k, ok := pub.(*ecdsa.PublicKey)
		if m, ok2 := ECDSAMethodFor(pub); !ok || !ok2 || m != method {
			return fmt.Errorf("%w: peer key does not fit %v", ErrBadSignature, method)
		}
		size := (k.Curve.Params().BitSize + 7) / 8 // of r and s
		if len(sig) != 2*size {
			return ErrBadSignature
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		if !ecdsa.Verify(k, hash, r, s) {
			return ErrBadSignature
		}
		return nil
	}
	return fmt.Errorf("ike: %v does not sign", method)
}
