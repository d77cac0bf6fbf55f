package esp

import (
	"crypto/cipher"
	"encoding/binary"
	"sync/atomic"
)

// ivSource makes the unpredictable IVs CBC needs (RFC 3602 §3: the IV must
// not be guessable by an attacker before the packet is sent). Reading
// crypto/rand for every packet costs a system call, so instead each SA
// encrypts a counter under its own random AES key: the outputs never repeat
// and, without the key, are indistinguishable from random (the method of
// NIST SP 800-38A appendix C, with a key independent of the data key).
type ivSource struct {
	block cipher.Block
	ctr   atomic.Uint64
	key   [16]byte
	// fixed, when set by a test, supplies the IV instead (known-answer
	// tests; they give AEAD SAs an ivSource for it).
	fixed func(seq uint64, iv []byte)
}

// fill writes len(iv) IV bytes, using scratch (16 bytes) for the block.
func (v *ivSource) fill(seq uint64, iv, scratch []byte) {
	if v.fixed != nil {
		v.fixed(seq, iv)
		return
	}
	binary.BigEndian.PutUint64(scratch[:8], v.ctr.Add(1))
	clear(scratch[8:16])
	v.block.Encrypt(scratch[:16], scratch[:16])
	copy(iv, scratch[:16])
}

func (v *ivSource) close() {
	if v != nil {
		clear(v.key[:])
	}
}
