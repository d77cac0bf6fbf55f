package ike

import (
	"encoding/binary"
	"fmt"
)

// ExchangeType is the ISAKMP exchange type (RFC 2408 section 3.1, RFC 2409).
type ExchangeType uint8

// Exchange types.
const (
	ExchangeBase          ExchangeType = 1
	ExchangeMain          ExchangeType = 2 // Identity Protection
	ExchangeAuthOnly      ExchangeType = 3
	ExchangeAggressive    ExchangeType = 4
	ExchangeInformational ExchangeType = 5
	ExchangeTransaction   ExchangeType = 6 // mode-config / XAUTH
	ExchangeQuick         ExchangeType = 32
	ExchangeNewGroup      ExchangeType = 33
)

var exchangeNames = [...]string{ExchangeBase: "Base", ExchangeMain: "Main", ExchangeAuthOnly: "AuthOnly",
	ExchangeAggressive: "Aggressive", ExchangeInformational: "Informational", ExchangeTransaction: "Transaction",
	ExchangeQuick: "Quick", ExchangeNewGroup: "NewGroup"}

func (e ExchangeType) String() string { return nameIn(exchangeNames[:], int(e), "Exchange(%d)") }

// nameIn is names[v] when the table names v, else fallback formatted
// with v: the protocol numbers' names are static tables, looked up in
// one place (flash).
func nameIn(names []string, v int, fallback string) string {
	if v < len(names) && names[v] != "" {
		return names[v]
	}
	return fmt.Sprintf(fallback, v)
}

// Header flags (RFC 2408 section 3.1).
const (
	FlagEncryption uint8 = 1 << 0
	FlagCommit     uint8 = 1 << 1
	FlagAuthOnly   uint8 = 1 << 2
)

// Version is the only ISAKMP version spoken: major 1, minor 0.
const Version uint8 = 0x10

// HeaderLen is the size of the fixed ISAKMP header.
const HeaderLen = 28

// MaxPayloads bounds the number of payloads accepted in one message (and in
// one SA payload's proposal/transform/attribute lists) so that a hostile
// peer cannot make us allocate without limit.
const MaxPayloads = 64

// MaxMessageLen bounds the size of a message we parse (a UDP datagram cannot
// be larger anyway).
const MaxMessageLen = 65535

// Codec errors. Parse errors wrap ErrMalformed so callers can count them.
var (
	ErrMalformed    error = errorText("ike: malformed message")
	ErrVersion      error = errorText("ike: unsupported ISAKMP version")
	ErrTooMany      error = errorText("ike: too many payloads")
	ErrNotEncrypted error = errorText("ike: message is not encrypted")
	ErrEncrypted    error = errorText("ike: message is encrypted")
)

// errorText is an error whose value is static data: a package-level
// errors.New is code run at start (flash). Values compare by their text,
// so each one's text is its own.
type errorText string

func (e errorText) Error() string { return string(e) }

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// Cookie is an ISAKMP cookie (the 8-byte "SPI" of the IKE SA).
type Cookie [8]byte

// IsZero reports whether the cookie is all zeroes (no responder cookie yet).
func (c Cookie) IsZero() bool { return c == Cookie{} }

// Header is the fixed ISAKMP header.
type Header struct {
	CookieI     Cookie
	CookieR     Cookie
	NextPayload PayloadType // filled in by Marshal from the first payload
	Version     uint8       // Marshal writes Version when zero
	Exchange    ExchangeType
	Flags       uint8
	MessageID   uint32
	Length      uint32 // filled in by Marshal; checked by Unmarshal
}

// Encrypted reports whether the E flag is set.
func (h *Header) Encrypted() bool { return h.Flags&FlagEncryption != 0 }

func (h *Header) marshal(b *builder, next PayloadType, length int) {
	b.add(h.CookieI[:])
	b.add(h.CookieR[:])
	b.u8(uint8(next))
	v := h.Version
	if v == 0 {
		v = Version
	}
	b.u8(v)
	b.u8(uint8(h.Exchange))
	b.u8(h.Flags)
	b.u32(h.MessageID)
	b.u32(uint32(length))
}

// ParseHeader decodes the fixed header of b and checks the length field
// against len(b). It is what a dispatcher uses to route a datagram to an SA
// before (possibly) decrypting it.
func ParseHeader(b []byte) (Header, error) {
	var h Header
	err := h.parse(b)
	return h, err
}

// parse is ParseHeader filling h in place (a Header is copied at every
// return otherwise).
func (h *Header) parse(b []byte) error {
	if len(b) < HeaderLen {
		return malformed("short header (%d bytes)", len(b))
	}
	if len(b) > MaxMessageLen {
		return malformed("message too long (%d bytes)", len(b))
	}
	// The fixed fields at their offsets (RFC 2408 section 3.1): the
	// length was checked above.
	copy(h.CookieI[:], b[0:8])
	copy(h.CookieR[:], b[8:16])
	h.NextPayload, h.Version, h.Exchange, h.Flags = PayloadType(b[16]), b[17], ExchangeType(b[18]), b[19]
	h.MessageID, h.Length = binary.BigEndian.Uint32(b[20:24]), binary.BigEndian.Uint32(b[24:28])
	if h.Version>>4 != 1 {
		return fmt.Errorf("%w: %#x", ErrVersion, h.Version)
	}
	if int(h.Length) != len(b) {
		return malformed("header length %d, datagram %d bytes", h.Length, len(b))
	}
	return nil
}

// Message is one ISAKMP message: the header and its payload chain.
type Message struct {
	Header
	Payloads []Payload

	// Raw holds, for a parsed message, the wire bytes of each payload
	// (generic header included), parallel to Payloads. The hashes of Quick
	// Mode and Informational exchanges and SAi_b are computed over the bytes
	// as received, not over a re-encoding. Nil for built messages.
	Raw [][]byte
}

// Marshal encodes a plaintext message. Header.NextPayload and Length are
// derived from the payloads.
func (m *Message) Marshal() ([]byte, error) {
	body, err := MarshalPayloads(m.Payloads)
	if err != nil {
		return nil, err
	}
	return m.marshalWithBody(body, m.Flags&^FlagEncryption)
}

func (m *Message) marshalWithBody(body []byte, flags uint8) ([]byte, error) {
	if HeaderLen+len(body) > MaxMessageLen {
		return nil, fmt.Errorf("ike: message too long (%d bytes)", HeaderLen+len(body))
	}
	h := m.Header
	h.Flags = flags
	next := PayloadNone
	if len(m.Payloads) > 0 {
		next = m.Payloads[0].Type()
	}
	b := &builder{buf: make([]byte, 0, HeaderLen+len(body))}
	h.marshal(b, next, HeaderLen+len(body))
	b.add(body)
	out := b.buf
	m.NextPayload = next
	m.Length = uint32(len(out))
	if m.Version == 0 {
		m.Version = Version
	}
	return out, nil
}

// MarshalPayloads encodes a payload chain (without ISAKMP header): each
// generic header's next-payload field names the following payload.
func MarshalPayloads(ps []Payload) ([]byte, error) {
	if len(ps) > MaxPayloads {
		return nil, ErrTooMany
	}
	b := &builder{}
	for i, p := range ps {
		next := PayloadNone
		if i+1 < len(ps) {
			next = ps[i+1].Type()
		}
		at := b.open(uint8(next))
		p.marshalBody(b)
		b.close(at)
	}
	return b.bytes()
}

// Unmarshal parses a plaintext message. An encrypted message returns
// ErrEncrypted: use Open with the SA's cipher state.
func Unmarshal(b []byte) (*Message, error) {
	var h Header // filled in place: ParseHeader returns a copy
	if err := h.parse(b); err != nil {
		return nil, err
	}
	if h.Encrypted() {
		return nil, ErrEncrypted
	}
	buf := append([]byte(nil), b[HeaderLen:]...)
	ps, raw, err := UnmarshalPayloads(h.NextPayload, buf, false)
	if err != nil {
		return nil, err
	}
	return &Message{Header: h, Payloads: ps, Raw: raw}, nil
}

// UnmarshalPayloads parses a payload chain that starts with a payload of
// type first. With trailing set, bytes after the last payload (encryption
// padding, whatever scheme the peer used) are ignored; otherwise they are an
// error. The returned payloads alias body.
func UnmarshalPayloads(first PayloadType, body []byte, trailing bool) ([]Payload, [][]byte, error) {
	var ps []Payload
	var raw [][]byte
	next := first
	s := wire(body)
	for next != PayloadNone {
		if len(ps) >= MaxPayloads {
			return nil, nil, ErrTooMany
		}
		// Generic header: next payload, reserved, length (with the
		// header).
		if len(s) < 4 {
			return nil, nil, malformed("truncated generic payload header (%v)", next)
		}
		length := int(binary.BigEndian.Uint16(s[2:4]))
		if length < 4 {
			return nil, nil, malformed("payload %v length %d", next, length)
		}
		if length > len(s) {
			return nil, nil, malformed("payload %v length %d exceeds message", next, length)
		}
		p, err := parsePayload(next, s[4:length])
		if err != nil {
			return nil, nil, err
		}
		ps = append(ps, p)
		raw = append(raw, s[:length])
		next, s = PayloadType(s[0]), s[length:]
	}
	if !trailing && len(s) != 0 {
		return nil, nil, malformed("%d bytes after the last payload", len(s))
	}
	return ps, raw, nil
}
