package ike

import (
	"crypto/cipher"
	"fmt"
)

// Seal encodes m with its payload chain encrypted in CBC mode (RFC 2409
// appendix B): the chain is padded with zero octets to the block size (at
// least one octet, like strongSwan) and encrypted with blk and iv. It
// returns the datagram and the IV of the next message in the same exchange
// (the last ciphertext block). iv is not modified.
func (m *Message) Seal(blk cipher.Block, iv []byte) (out, nextIV []byte, err error) {
	bs := blk.BlockSize()
	if len(iv) != bs {
		return nil, nil, fmt.Errorf("ike: IV of %d bytes for a %d-byte block cipher", len(iv), bs)
	}
	body, err := MarshalPayloads(m.Payloads)
	if err != nil {
		return nil, nil, err
	}
	pad := bs - len(body)%bs
	body = append(body, make([]byte, pad)...)
	cipher.NewCBCEncrypter(blk, iv).CryptBlocks(body, body)
	out, err = m.marshalWithBody(body, m.Flags|FlagEncryption)
	if err != nil {
		return nil, nil, err
	}
	m.Flags |= FlagEncryption
	return out, append([]byte(nil), body[len(body)-bs:]...), nil
}

// Open decrypts and parses an encrypted message with blk and iv. Padding
// is not interpreted (peers pad with zeroes, random bytes, or a trailing
// pad-length octet): the payload lengths say where the chain ends. It
// returns the IV of the next message (the last ciphertext block); callers
// adopt it only once the message authenticated. Raw and the payloads alias
// a private copy of the plaintext.
func Open(b []byte, blk cipher.Block, iv []byte) (m *Message, nextIV []byte, err error) {
	var h Header // filled in place: ParseHeader returns a copy
	if err := h.parse(b); err != nil {
		return nil, nil, err
	}
	if !h.Encrypted() {
		return nil, nil, ErrNotEncrypted
	}
	bs := blk.BlockSize()
	if len(iv) != bs {
		return nil, nil, fmt.Errorf("ike: IV of %d bytes for a %d-byte block cipher", len(iv), bs)
	}
	ct := b[HeaderLen:]
	if len(ct) == 0 || len(ct)%bs != 0 {
		return nil, nil, malformed("encrypted body of %d bytes is not a multiple of the block size %d", len(ct), bs)
	}
	nextIV = append([]byte(nil), ct[len(ct)-bs:]...)
	plain := make([]byte, len(ct))
	cipher.NewCBCDecrypter(blk, iv).CryptBlocks(plain, ct)
	ps, raw, err := UnmarshalPayloads(h.NextPayload, plain, true)
	if err != nil {
		return nil, nil, err
	}
	return &Message{Header: h, Payloads: ps, Raw: raw}, nextIV, nil
}

// Find returns the first payload of type T in m, or nil.
func Find[T Payload](m *Message) T {
	for _, p := range m.Payloads {
		if q, ok := p.(T); ok {
			return q
		}
	}
	var zero T
	return zero
}

// FindAll returns every payload of type T in m, in order.
func FindAll[T Payload](m *Message) []T {
	var out []T
	for _, p := range m.Payloads {
		if q, ok := p.(T); ok {
			out = append(out, q)
		}
	}
	return out
}
