package esp

import (
	"encoding"
	"errors"
	"hash"

	"tinyipsec/internal/algo"
)

// hmacState is an HMAC (RFC 2104) whose keyed inner and outer hash states
// are computed once and restored for every packet. It is written here
// rather than taken from crypto/hmac so the SA owns those key-equivalent
// states and can wipe them on Close. Not safe for concurrent use: each
// scratch slot has its own.
type hmacState struct {
	inner, outer hash.Hash
	innerU       encoding.BinaryUnmarshaler
	outerU       encoding.BinaryUnmarshaler
	ipad, opad   []byte // marshaled keyed states
	size         int
	// out receives the untruncated MAC (SHA-512 at most). It lives here,
	// not in the slot, so that SAs without HMAC (AES-GCM: most of a
	// hub's) do not carry it.
	out [64]byte
}

func newHMAC(alg *algo.HashInfo, key []byte) (*hmacState, error) {
	h := &hmacState{inner: alg.New(), outer: alg.New()}
	h.size = h.inner.Size()
	bs := h.inner.BlockSize()
	var k [128]byte // largest block size (SHA-384/512)
	if len(key) > bs {
		h.inner.Write(key)
		h.inner.Sum(k[:0])
		h.inner.Reset()
	} else {
		copy(k[:], key)
	}
	// The inner and outer hash by one loop (flash): each keyed with its
	// pad, its state saved, and kept as the unmarshaler that restores it.
	var pad [128]byte
	var saved [2][]byte
	var restore [2]encoding.BinaryUnmarshaler
	var err error
	for i, hh := range [2]hash.Hash{h.inner, h.outer} {
		for j := 0; j < bs; j++ {
			pad[j] = k[j] ^ [2]byte{0x36, 0x5c}[i]
		}
		hh.Write(pad[:bs])
		m, ok := hh.(encoding.BinaryMarshaler)
		u, ok2 := hh.(encoding.BinaryUnmarshaler)
		if !ok || !ok2 {
			err = errors.New("esp: hash state cannot be saved")
			break
		}
		if saved[i], err = m.MarshalBinary(); err != nil {
			break
		}
		restore[i] = u
	}
	clear(k[:])
	clear(pad[:])
	if err != nil {
		return nil, err
	}
	h.ipad, h.opad = saved[0], saved[1]
	h.innerU, h.outerU = restore[0], restore[1]
	return h, nil
}

func (h *hmacState) reset() {
	if err := h.innerU.UnmarshalBinary(h.ipad); err != nil {
		panic(err) // our own marshaled state: cannot fail
	}
}

func (h *hmacState) write(p []byte) { h.inner.Write(p) }

// sum finishes the MAC and returns it (h.out[:h.size]), valid until the
// next use of h.
func (h *hmacState) sum() []byte {
	in := h.inner.Sum(h.out[:0])
	if err := h.outerU.UnmarshalBinary(h.opad); err != nil {
		panic(err)
	}
	h.outer.Write(in)
	return h.outer.Sum(h.out[:0])
}

// wipe zeroes the saved keyed states and resets both hashes. What Go does
// not let us reach: copies a hash makes internally while summing (on the
// stack) and memory freed earlier by the runtime.
func (h *hmacState) wipe() {
	clear(h.ipad)
	clear(h.opad)
	clear(h.out[:])
	h.inner.Reset()
	h.outer.Reset()
}
