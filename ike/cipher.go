package ike

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"fmt"
)

// CipherAlg is the phase 1 encryption algorithm attribute value (RFC 2409
// appendix A, RFC 3602).
type CipherAlg uint16

// Phase 1 ciphers.
const (
	CipherDES  CipherAlg = 1
	Cipher3DES CipherAlg = 5
	CipherAES  CipherAlg = 7
)

// Weak reports whether the cipher needs allow_weak.
func (c CipherAlg) Weak() bool { return c == CipherDES }

// KeyLen returns the key length in bytes for the negotiated key-length
// attribute (in bits; 0 = absent), or an error if the combination is
// invalid.
func (c CipherAlg) KeyLen(attrBits int) (int, error) {
	switch c {
	case CipherDES:
		if attrBits == 0 {
			return 8, nil
		}
	case Cipher3DES:
		if attrBits == 0 {
			return 24, nil
		}
	case CipherAES:
		switch attrBits {
		case 128, 192, 256:
			return attrBits / 8, nil
		case 0:
			// RFC 3602 makes the attribute mandatory for AES; Cisco
			// treats a missing one as 128.
			return 16, nil
		}
	default:
		return 0, fmt.Errorf("ike: unsupported cipher %d", uint16(c))
	}
	return 0, fmt.Errorf("ike: invalid key length %d for %v", attrBits, c)
}

// BlockSize is the cipher block size (and IV length).
func (c CipherAlg) BlockSize() int {
	if c == CipherAES {
		return aes.BlockSize
	}
	return des.BlockSize
}

func (c CipherAlg) String() string {
	switch c {
	case CipherDES:
		return "des"
	case Cipher3DES:
		return "3des"
	case CipherAES:
		return "aes"
	}
	return fmt.Sprintf("cipher(%d)", uint16(c))
}

// NewBlock returns the block cipher for key (length from KeyLen).
func (c CipherAlg) NewBlock(key []byte) (cipher.Block, error) {
	switch c {
	case CipherDES:
		return des.NewCipher(key)
	case Cipher3DES:
		return des.NewTripleDESCipher(key)
	case CipherAES:
		return aes.NewCipher(key)
	}
	return nil, fmt.Errorf("ike: unsupported cipher %d", uint16(c))
}
