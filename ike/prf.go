package ike

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
)

// HashAlg is the phase 1 hash algorithm attribute value (RFC 2409
// appendix A, RFC 4878). The PRF is HMAC with this hash: no PRF attribute
// is ever negotiated by the peers we support.
type HashAlg uint16

// Hash algorithms.
const (
	HashMD5    HashAlg = 1
	HashSHA1   HashAlg = 2
	HashSHA256 HashAlg = 4
	HashSHA384 HashAlg = 5
	HashSHA512 HashAlg = 6
)

// New returns the hash constructor, or nil for an unknown algorithm.
func (h HashAlg) New() func() hash.Hash {
	switch h {
	case HashMD5:
		return md5.New
	case HashSHA1:
		return sha1.New
	case HashSHA256:
		return sha256.New
	case HashSHA384:
		return sha512.New384
	case HashSHA512:
		return sha512.New
	}
	return nil
}

// Size is the digest (and PRF output) length.
func (h HashAlg) Size() int {
	switch h {
	case HashMD5:
		return 16
	case HashSHA1:
		return 20
	case HashSHA256:
		return 32
	case HashSHA384:
		return 48
	case HashSHA512:
		return 64
	}
	return 0
}

// Weak reports whether the algorithm needs allow_weak.
func (h HashAlg) Weak() bool { return h == HashMD5 }

// Valid reports whether the algorithm is implemented.
func (h HashAlg) Valid() bool { return h.New() != nil }

func (h HashAlg) String() string {
	switch h {
	case HashMD5:
		return "md5"
	case HashSHA1:
		return "sha1"
	case HashSHA256:
		return "sha256"
	case HashSHA384:
		return "sha384"
	case HashSHA512:
		return "sha512"
	}
	return fmt.Sprintf("hash(%d)", uint16(h))
}

// Sum hashes the concatenation of data.
func (h HashAlg) Sum(data ...[]byte) []byte {
	d := h.New()()
	for _, b := range data {
		d.Write(b)
	}
	return d.Sum(nil)
}

// PRF computes prf(key, data[0] | data[1] | ...) = HMAC-hash.
func (h HashAlg) PRF(key []byte, data ...[]byte) []byte {
	m := hmac.New(h.New(), key)
	for _, b := range data {
		m.Write(b)
	}
	return m.Sum(nil)
}
