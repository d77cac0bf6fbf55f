package ike

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Phase2IV is the IV of the first message of a Quick Mode or Informational
// exchange: hash(last phase 1 IV | M-ID) truncated to the block size. The
// "last phase 1 IV" is the last ciphertext block of the final phase 1
// message (the IV the phase 1 chain ended with).
func Phase2IV(h HashAlg, lastPhase1IV []byte, msgID uint32, blockSize int) []byte {
	return h.Sum(lastPhase1IV, be32(msgID))[:blockSize]
}

// HashI computes HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b).
func HashI(h HashAlg, skeyid, gxi, gxr []byte, ckyI, ckyR Cookie, saiB, idiiB []byte) []byte {
	return h.PRF(skeyid, gxi, gxr, ckyI[:], ckyR[:], saiB, idiiB)
}

// HashR computes HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b).
func HashR(h HashAlg, skeyid, gxi, gxr []byte, ckyI, ckyR Cookie, saiB, idirB []byte) []byte {
	return h.PRF(skeyid, gxr, gxi, ckyR[:], ckyI[:], saiB, idirB)
}

// QuickHash1 computes HASH(1) = prf(SKEYID_a, M-ID | rest), where rest is
// the message's payload chain after the HASH payload (without padding). The
// Informational exchange's HASH uses the same formula.
func QuickHash1(h HashAlg, skeyidA []byte, msgID uint32, rest []byte) []byte {
	return h.PRF(skeyidA, be32(msgID), rest)
}

// QuickHash2 computes HASH(2) = prf(SKEYID_a, M-ID | Ni_b | rest).
func QuickHash2(h HashAlg, skeyidA []byte, msgID uint32, niB, rest []byte) []byte {
	return h.PRF(skeyidA, be32(msgID), niB, rest)
}

// QuickHash3 computes HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b).
func QuickHash3(h HashAlg, skeyidA []byte, msgID uint32, niB, nrB []byte) []byte {
	return h.PRF(skeyidA, []byte{0}, be32(msgID), niB, nrB)
}

// QuickKeymat computes n bytes of KEYMAT for one IPsec SA (RFC 2409
// section 5.5): K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b),
// K(i+1) = prf(SKEYID_d, K(i) | seed). gqmxy is nil without PFS. spi is
// the SPI of the SA being keyed, the one its receiver chose. The caller cuts
// the result: encryption key first, then the integrity key.
func QuickKeymat(h HashAlg, skeyidD, gqmxy []byte, protocol uint8, spi, niB, nrB []byte, n int) []byte {
	// The seed, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b, is fed to the
	// PRF piece by piece.
	proto := []byte{protocol}
	var out, k []byte
	for len(out) < n {
		k = h.PRF(skeyidD, k, gqmxy, proto, spi, niB, nrB)
		out = append(out, k...)
	}
	return out[:n]
}

// NATDHash computes a NAT-D payload value: HASH(CKY-I | CKY-R | IP | Port)
// (RFC 3947 section 3.2), with the negotiated hash. The endpoint is
// passed by pointer: an AddrPort is several words, copied at each call.
func NATDHash(h HashAlg, ckyI, ckyR Cookie, ap *netip.AddrPort) []byte {
	a := ap.Addr().Unmap()
	return h.Sum(ckyI[:], ckyR[:], a.AsSlice(), binary.BigEndian.AppendUint16(nil, ap.Port()))
}

// Wipe zeroes secret key material in place.
func Wipe(bs ...[]byte) {
	for _, b := range bs {
		clear(b)
	}
}

// Phase1Keys is the key material of an established (or establishing) IKE
// SA. IV is the current CBC IV of the phase 1 exchange; once phase 1 is
// done it is the "last phase 1 IV" that Phase2IV needs.
type Phase1Keys struct {
	Hash    HashAlg
	SKEYID  []byte
	SKEYIDd []byte
	SKEYIDa []byte
	SKEYIDe []byte
	Ka      []byte
	IV      []byte
}

// DerivePhase1Keys computes the phase 1 keys (RFC 2409 section 5 and
// appendix B): SKEYID, SKEYID_d/a/e, Ka (of keyLen bytes) and the IV of
// the first encrypted message. psk is the pre-shared key with pre-shared
// key authentication, nil with signatures.
func DerivePhase1Keys(h HashAlg, c CipherAlg, keyLen int, psk, niB, nrB, gxy, gxi, gxr []byte, ckyI, ckyR Cookie) (*Phase1Keys, error) {
	if h.info() == nil {
		return nil, fmt.Errorf("ike: unsupported hash %d", uint16(h))
	}
	// SKEYID = prf(pre-shared-key, Ni_b | Nr_b) with a pre-shared key,
	// prf(Ni_b | Nr_b, g^xy) with signatures.
	var skeyid []byte
	if psk != nil {
		skeyid = h.PRF(psk, niB, nrB)
	} else {
		skeyid = h.PRF(append(niB[:len(niB):len(niB)], nrB...), gxy) // a copy: the key is Ni_b | Nr_b
	}
	k := &Phase1Keys{Hash: h, SKEYID: skeyid}
	// SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0), and SKEYID_a and
	// SKEYID_e the same over the previous one first and the next counter
	// byte.
	var prev []byte
	for i, dst := range [...]*[]byte{&k.SKEYIDd, &k.SKEYIDa, &k.SKEYIDe} {
		prev = h.PRF(skeyid, prev, gxy, ckyI[:], ckyR[:], []byte{byte(i)})
		*dst = prev
	}
	// Ka is SKEYID_e cut to the key length or, when SKEYID_e is too
	// short, its appendix B expansion: K1 = prf(SKEYID_e, 0),
	// K2 = prf(SKEYID_e, K1), ...
	if len(k.SKEYIDe) >= keyLen {
		k.Ka = append([]byte(nil), k.SKEYIDe[:keyLen]...)
	} else {
		for kn := h.PRF(k.SKEYIDe, []byte{0}); len(k.Ka) < keyLen; kn = h.PRF(k.SKEYIDe, kn) {
			k.Ka = append(k.Ka, kn...)
		}
		k.Ka = k.Ka[:keyLen]
	}
	// The first IV: hash(g^xi | g^xr) truncated to the cipher's block
	// size. The size read from the registry, not by a
	// CipherAlg.BlockSize method: a method of that name and signature is
	// kept in every binary, with a pointer wrapper, because cipher.Block
	// has one (flash).
	bs := 0
	if i := c.info(0); i != nil {
		bs = i.BlockSize
	}
	k.IV = h.Sum(gxi, gxr)[:bs]
	return k, nil
}
