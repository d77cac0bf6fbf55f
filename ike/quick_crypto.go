package ike

import "crypto/cipher"

// p1Secrets is what the exchanges after phase 1 (Quick Mode,
// Informational, DPD) need from an established ISAKMP SA.
type p1Secrets struct {
	CookieI, CookieR Cookie
	// Hash is the negotiated hash; the PRF is HMAC over it.
	Hash    HashAlg
	SKEYIDd []byte
	SKEYIDa []byte
	// Block is the phase 1 cipher keyed with Ka.
	Block cipher.Block
	// LastIV is the last ciphertext block of phase 1: the seed of every
	// later exchange's IV (RFC 2409 appendix B).
	LastIV []byte
	// Ka is the phase 1 cipher key, kept only for the admin's key export
	// (ExportIKEKeys); Block is what encrypts.
	Ka []byte
}

// prf computes prf(key, data...) with the negotiated hash.
func (s *p1Secrets) prf(key []byte, data ...[]byte) []byte { return s.Hash.PRF(key, data...) }

// hashOf is prf(SKEYID_a, pre | rest), the HASH of the exchanges after
// phase 1 (HASH(1) of Quick Mode, Informational and Transaction: pre is
// the M-ID).
func (s *p1Secrets) hashOf(pre [][]byte, rest []byte) []byte {
	return s.Hash.PRF(s.SKEYIDa, append(pre, rest)...)
}

// exchangeIV is the first IV of a phase 2 / Informational exchange.
func (s *p1Secrets) exchangeIV(mid uint32) []byte {
	return Phase2IV(s.Hash, s.LastIV, mid, s.Block.BlockSize())
}

// wipeBytes zeroes a secret.
func wipeBytes(b []byte) { clear(b) }
