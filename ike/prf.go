package ike

import (
	"crypto/hmac"
	"fmt"

	"tinyipsec/internal/algo"
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

// info is the registry row of the hash, or nil.
func (h HashAlg) info() *algo.HashInfo {
	a, ok := algo.HashByIKEAttr(uint16(h))
	if !ok {
		return nil
	}
	return a.Info()
}

func (h HashAlg) String() string {
	if i := h.info(); i != nil {
		return i.Name
	}
	return fmt.Sprintf("hash(%d)", uint16(h))
}

// Sum hashes the concatenation of data (h must be a hash we implement:
// the policy was validated).
func (h HashAlg) Sum(data ...[]byte) []byte {
	d := h.info().New()
	for _, b := range data {
		d.Write(b)
	}
	return d.Sum(nil)
}

// PRF computes prf(key, data[0] | data[1] | ...) = HMAC-hash.
func (h HashAlg) PRF(key []byte, data ...[]byte) []byte {
	m := hmac.New(h.info().New, key)
	for _, b := range data {
		m.Write(b)
	}
	return m.Sum(nil)
}
