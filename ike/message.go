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

// idDataLen is the data length of the ID types that have a fixed one
// (the addresses, subnets and ranges), by type; 0: any length.
var idDataLen = [...]uint8{IDIPv4Addr: 4, IDIPv4AddrSubnet: 8, IDIPv4AddrRange: 8,
	IDIPv6Addr: 16, IDIPv6AddrSubnet: 32, IDIPv6AddrRange: 32}

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

// Marshal encodes a plaintext message (Seal without a cipher).
// Header.NextPayload and Length are derived from the payloads.
func (m *Message) Marshal() ([]byte, error) {
	out, _, err := m.Seal(nil, nil)
	return out, err
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
	if b.err != nil {
		return nil, b.err
	}
	return b.buf, nil
}

// Unmarshal parses a plaintext message (Open without a cipher). An
// encrypted message returns ErrEncrypted: use Open with the SA's cipher
// state.
func Unmarshal(b []byte) (*Message, error) {
	m, _, err := Open(b, nil, nil)
	return m, err
}

// parsePayloads parses the payload chain body, which starts with a
// payload of type m.NextPayload, into m.Payloads and m.Raw. With trailing
// set, bytes after the last payload (encryption padding, whatever scheme
// the peer used) are ignored; otherwise they are an error. The payloads
// alias body.
func (m *Message) parsePayloads(body []byte, trailing bool) error {
	next := m.NextPayload
	s := wire(body)
	for next != PayloadNone {
		if len(m.Payloads) >= MaxPayloads {
			return ErrTooMany
		}
		// Generic header: next payload, reserved, length (with the
		// header).
		if len(s) < 4 {
			return malformed("truncated generic payload header (%v)", next)
		}
		length := int(binary.BigEndian.Uint16(s[2:4]))
		if length < 4 {
			return malformed("payload %v length %d", next, length)
		}
		if length > len(s) {
			return malformed("payload %v length %d exceeds message", next, length)
		}
		// Each payload's fixed fields at their offsets after one length
		// check, as gVisor's header package does; SA payloads nest
		// proposals and transforms (parseSA).
		var p Payload
		var err error
		switch body := s[4:length]; next {
		case PayloadSA:
			p, err = parseSA(body)
		case PayloadID:
			// ID type, protocol, port, the identity; the address types
			// have a fixed length.
			if len(body) < 4 {
				return malformed("short ID payload")
			}
			id := &ID{IDType: body[0], Protocol: body[1], Port: binary.BigEndian.Uint16(body[2:4]), Data: body[4:]}
			if t := int(id.IDType); t < len(idDataLen) && idDataLen[t] != 0 && len(id.Data) != int(idDataLen[t]) {
				return malformed("ID type %d with %d data bytes", id.IDType, len(id.Data))
			}
			p = id
		case PayloadCert, PayloadCR:
			// The encoding, then the certificate (CERT) or the DER
			// subject of an acceptable CA (CR).
			if len(body) < 1 {
				return malformed("empty %v payload", next)
			}
			p = &Cert{Request: next == PayloadCR, Encoding: body[0], Data: body[1:]}
		case PayloadNotify:
			// DOI, protocol, SPI size, notify type, SPI, data.
			if len(body) < 8 || len(body)-8 < int(body[5]) {
				return malformed("short notify payload")
			}
			end := 8 + int(body[5])
			p = &Notify{DOI: binary.BigEndian.Uint32(body), Protocol: body[4], NotifyType: binary.BigEndian.Uint16(body[6:8]),
				SPI: body[8:end], Data: body[end:]}
		case PayloadDelete:
			// DOI, protocol, SPI size, number of SPIs, the SPIs.
			if len(body) < 8 {
				return malformed("short delete payload")
			}
			d := &Delete{DOI: binary.BigEndian.Uint32(body), Protocol: body[4], SPISize: body[5]}
			n, size, spis := int(binary.BigEndian.Uint16(body[6:8])), int(body[5]), body[8:]
			if size == 0 || n*size != len(spis) {
				return malformed("delete: %d SPIs of %d bytes in %d bytes", n, size, len(spis))
			}
			for ; len(spis) > 0; spis = spis[size:] {
				d.SPIs = append(d.SPIs, spis[:size:size])
			}
			p = d
		case PayloadAttributes:
			// Configuration type, reserved, identifier, the attributes.
			if len(body) < 4 {
				return malformed("short attribute payload")
			}
			ap := &AttributesPayload{CfgType: body[0], Identifier: binary.BigEndian.Uint16(body[2:4])}
			ap.Attributes, err = parseAttributes(body[4:])
			p = ap
		case PayloadProposal, PayloadTransform:
			// Only valid nested inside an SA payload.
			return malformed("%v payload outside SA", next)
		case PayloadNATOA, PayloadNATOADraft:
			// NAT Original Address (RFC 3947 section 5.2): an ID type,
			// three reserved bytes, an IPv4 or IPv6 address. Checked and
			// kept as opaque bytes: nothing reads the address (it would
			// only correct transport-mode checksums).
			if len(body) < 4 {
				return malformed("short NAT-OA payload")
			}
			if id, n := body[0], len(body)-4; !(id == IDIPv4Addr && n == 4) && !(id == IDIPv6Addr && n == 16) {
				return malformed("NAT-OA type %d with %d bytes", id, n)
			}
			fallthrough // kept as it came (default)
		case PayloadFragment:
			// Fragment ID, number, flags (1: the last), the data: the
			// fixed fields are read where the fragments are put together
			// (Reassembler.Add), so the payload is kept as it came.
			if len(body) < 4 {
				return malformed("short fragment payload")
			}
			fallthrough
		default: // KE, HASH, SIG, NONCE, VID, NAT-D and unknown types
			p = &Opaque{PType: next, Data: body}
		}
		if err != nil {
			return err
		}
		m.Payloads = append(m.Payloads, p)
		m.Raw = append(m.Raw, s[:length])
		next, s = PayloadType(s[0]), s[length:]
	}
	if !trailing && len(s) != 0 {
		return malformed("%d bytes after the last payload", len(s))
	}
	return nil
}
