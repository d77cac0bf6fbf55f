package ike

import (
	"fmt"

	"tinyipsec/internal/algo"
)

// CipherAlg is the phase 1 encryption algorithm attribute value (RFC 2409
// appendix A, RFC 3602).
type CipherAlg uint16

// Phase 1 ciphers.
const (
	CipherDES  = CipherAlg(algo.IKECipherDES)
	Cipher3DES = CipherAlg(algo.IKECipher3DES)
	CipherAES  = CipherAlg(algo.IKECipherAES)
)

// info is the registry row of the cipher with a key-length attribute.
func (c CipherAlg) info(attrBits int) *algo.P1CipherInfo {
	pc, ok := algo.P1CipherByAttr(uint16(c), attrBits)
	if !ok {
		return nil
	}
	return pc.Info()
}

// KeyLen returns the key length in bytes for the negotiated key-length
// attribute (in bits; 0 = absent, which for AES means 128 as on Cisco),
// or an error if the combination is invalid.
func (c CipherAlg) KeyLen(attrBits int) (int, error) {
	if c.info(0) == nil {
		return 0, fmt.Errorf("ike: unsupported cipher %d", uint16(c))
	}
	i := c.info(attrBits)
	if i == nil {
		return 0, fmt.Errorf("ike: invalid key length %d for %v", attrBits, c)
	}
	return i.KeyLen, nil
}

// cipherNames are the ciphers' names by attribute value.
var cipherNames = [...]string{CipherDES: "des", Cipher3DES: "3des", CipherAES: "aes"}

func (c CipherAlg) String() string { return nameIn(cipherNames[:], int(c), "cipher(%d)") }
