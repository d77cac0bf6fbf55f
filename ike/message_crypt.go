package ike

import (
	"bytes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
)

// Seal encodes m with its payload chain encrypted in CBC mode (RFC 2409
// appendix B): the chain is padded with zero octets to the block size (at
// least one octet, like strongSwan) and encrypted with blk and iv. It
// returns the datagram and the IV of the next message in the same exchange
// (the last ciphertext block). iv is not modified. With blk nil the
// message is encoded in clear (Marshal). One encoder for the two (flash).
func (m *Message) Seal(blk cipher.Block, iv []byte) (out, nextIV []byte, err error) {
	body, err := MarshalPayloads(m.Payloads)
	if err != nil {
		return nil, nil, err
	}
	flags := m.Flags &^ FlagEncryption
	if blk != nil {
		bs := blk.BlockSize()
		if len(iv) != bs {
			return nil, nil, fmt.Errorf("ike: IV of %d bytes for a %d-byte block cipher", len(iv), bs)
		}
		pad := bs - len(body)%bs
		body = append(body, make([]byte, pad)...)
		cipher.NewCBCEncrypter(blk, iv).CryptBlocks(body, body)
		nextIV = bytes.Clone(body[len(body)-bs:])
		flags |= FlagEncryption
	}
	n := HeaderLen + len(body)
	if n > MaxMessageLen {
		return nil, nil, fmt.Errorf("ike: message too long (%d bytes)", n)
	}
	next := PayloadNone
	if len(m.Payloads) > 0 {
		next = m.Payloads[0].Type()
	}
	v := m.Version
	if v == 0 {
		v = Version
	}
	// The fixed fields at their offsets (RFC 2408 section 3.1), as parse
	// reads them.
	out = make([]byte, n)
	copy(out, m.CookieI[:])
	copy(out[8:], m.CookieR[:])
	out[16], out[17], out[18], out[19] = uint8(next), v, uint8(m.Exchange), flags
	binary.BigEndian.PutUint32(out[20:], m.MessageID)
	binary.BigEndian.PutUint32(out[24:], uint32(n))
	copy(out[HeaderLen:], body)
	m.NextPayload, m.Version, m.Length = next, v, uint32(n)
	if blk != nil {
		m.Flags = flags
	}
	return out, nextIV, nil
}

// Open decrypts and parses an encrypted message with blk and iv. Padding
// is not interpreted (peers pad with zeroes, random bytes, or a trailing
// pad-length octet): the payload lengths say where the chain ends. It
// returns the IV of the next message (the last ciphertext block); callers
// adopt it only once the message authenticated. Raw and the payloads alias
// a private copy of the plaintext. With blk nil it parses a plaintext
// message (Unmarshal), in which no bytes may follow the last payload.
func Open(b []byte, blk cipher.Block, iv []byte) (m *Message, nextIV []byte, err error) {
	m = &Message{}
	if err := m.parse(b); err != nil {
		return nil, nil, err
	}
	if blk == nil && m.Encrypted() {
		return nil, nil, ErrEncrypted
	}
	body := bytes.Clone(b[HeaderLen:])
	if blk != nil {
		if !m.Encrypted() {
			return nil, nil, ErrNotEncrypted
		}
		bs := blk.BlockSize()
		if len(iv) != bs {
			return nil, nil, fmt.Errorf("ike: IV of %d bytes for a %d-byte block cipher", len(iv), bs)
		}
		if len(body) == 0 || len(body)%bs != 0 {
			return nil, nil, malformed("encrypted body of %d bytes is not a multiple of the block size %d", len(body), bs)
		}
		nextIV = bytes.Clone(body[len(body)-bs:])
		cipher.NewCBCDecrypter(blk, iv).CryptBlocks(body, body)
	}
	if err := m.parsePayloads(body, blk != nil); err != nil {
		return nil, nil, err
	}
	return m, nextIV, nil
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
