package ike

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Attribute is one data attribute (RFC 2408 section 3.3). TV attributes
// carry a 2-byte value in the header (AF bit set); TLV attributes a
// variable-length value. Type is the class without the AF bit.
type Attribute struct {
	Type  uint16
	TV    bool
	Value []byte // 2 bytes for TV
}

// Phase 1 attribute classes (RFC 2409 appendix A).
const (
	AttrEncryption   uint16 = 1
	AttrHash         uint16 = 2
	AttrAuthMethod   uint16 = 3
	AttrGroupDesc    uint16 = 4
	AttrGroupType    uint16 = 5
	AttrGroupPrime   uint16 = 6
	AttrGroupGenOne  uint16 = 7
	AttrGroupGenTwo  uint16 = 8
	AttrGroupCurveA  uint16 = 9
	AttrGroupCurveB  uint16 = 10
	AttrLifeType     uint16 = 11
	AttrLifeDuration uint16 = 12
	AttrPRF          uint16 = 13
	AttrKeyLength    uint16 = 14
	AttrFieldSize    uint16 = 15
	AttrGroupOrder   uint16 = 16
)

// Phase 2 attribute classes, IPsec DOI (RFC 2407 section 4.5).
const (
	AttrSALifeType        uint16 = 1
	AttrSALifeDuration    uint16 = 2
	AttrP2GroupDesc       uint16 = 3
	AttrEncapsulationMode uint16 = 4
	AttrAuthAlgorithm     uint16 = 5
	AttrP2KeyLength       uint16 = 6
	AttrKeyRounds         uint16 = 7
	AttrCompressDictSize  uint16 = 8
	AttrCompressPrivAlg   uint16 = 9
	AttrECNTunnel         uint16 = 10
	AttrExtendedSeq       uint16 = 11
)

// Life types (phase 1 and phase 2 use the same values).
const (
	LifeSeconds   uint64 = 1
	LifeKilobytes uint64 = 2
)

// Encapsulation modes (RFC 2407, RFC 3947, and the draft values).
const (
	EncapTunnel          uint64 = 1
	EncapTransport       uint64 = 2
	EncapUDPTunnel       uint64 = 3 // RFC 3947
	EncapUDPTransport    uint64 = 4 // RFC 3947
	EncapUDPTunnelDraft  uint64 = 61443
	EncapUDPTransportDft uint64 = 61444
)

// AttrTV builds a TV attribute.
func AttrTV(t, v uint16) Attribute {
	return Attribute{Type: t, TV: true, Value: []byte{byte(v >> 8), byte(v)}}
}

// AttrTLV builds a TLV attribute.
func AttrTLV(t uint16, v []byte) Attribute { return Attribute{Type: t, Value: v} }

// AttrUint builds the shortest encoding of a numeric attribute: TV when the
// value fits 16 bits, else a TLV of 4 (or 8) bytes, as life durations need.
func AttrUint(t uint16, v uint64) Attribute {
	var as Attributes
	as.addUint(t, v)
	return as[0]
}

// add appends a TLV attribute; addUint a numeric one (AttrUint). One
// call instead of an append written out at each site (flash).
func (as *Attributes) add(t uint16, v []byte) { *as = append(*as, Attribute{Type: t, Value: v}) }

func (as *Attributes) addUint(t uint16, v uint64) {
	n := 8
	switch {
	case v <= 0xffff:
		n = 2
	case v <= 0xffffffff:
		n = 4
	}
	// One append for both encodings: the value's last n bytes, a TV
	// attribute when they are two.
	as.add(t, binary.BigEndian.AppendUint64(nil, v)[8-n:])
	(*as)[len(*as)-1].TV = n == 2
}

// addLife appends the lifetimes: a life type attribute of class typ
// (phase 1's AttrLifeType or the IPsec DOI's AttrSALifeType), each
// followed by its duration, whose class comes next: life in whole
// seconds always, kilobytes when kb is set. (The 64-bit division by a
// second is code on 32-bit targets: written here once.)
func (as *Attributes) addLife(typ uint16, life time.Duration, kb uint64) {
	as.addUint(typ, LifeSeconds)
	as.addUint(typ+1, uint64(life/time.Second))
	if kb > 0 {
		as.addUint(typ, LifeKilobytes)
		as.addUint(typ+1, kb)
	}
}

// Uint decodes a numeric value (either encoding, at most 8 bytes, leading
// zeroes allowed). By pointer: an Attribute is four words on 32-bit,
// copied at each call otherwise.
func (a *Attribute) Uint() (uint64, bool) {
	v := a.Value
	for len(v) > 8 && v[0] == 0 {
		v = v[1:]
	}
	if len(v) > 8 || len(v) == 0 {
		return 0, false
	}
	var n uint64
	for _, c := range v {
		n = n<<8 | uint64(c)
	}
	return n, true
}

// Attributes is an attribute list with lookup methods.
type Attributes []Attribute

// Get returns the first attribute of class t, or nil (a pointer: an
// Attribute is four words on 32-bit, copied at each return otherwise).
func (as Attributes) Get(t uint16) *Attribute {
	for i := range as {
		if as[i].Type == t {
			return &as[i]
		}
	}
	return nil
}

// Uint returns the numeric value of the first attribute of class t.
func (as Attributes) Uint(t uint16) (uint64, bool) {
	if a := as.Get(t); a != nil {
		return a.Uint()
	}
	return 0, false
}

func marshalAttributes(b *builder, as []Attribute) {
	for i := range as {
		// AF bit and type, then the 2-byte value (TV) or a 2-byte length
		// and the value (TLV): one header written for both.
		a := &as[i]
		t, n, v := a.Type&^0x8000, len(a.Value), a.Value
		if a.TV {
			var tv [2]byte
			copy(tv[2-min(2, n):], v)
			t, n, v = t|0x8000, int(tv[0])<<8|int(tv[1]), nil
		} else if n > 0xffff {
			b.fail(fmt.Errorf("ike: attribute %d too long (%d bytes)", a.Type, n))
		}
		b.add([]byte{byte(t >> 8), byte(t), byte(n >> 8), byte(n)})
		b.add(v)
	}
}

// attributeBytes encodes attributes on their own, as notification data.
func attributeBytes(as []Attribute) []byte {
	b := &builder{}
	marshalAttributes(b, as)
	return b.bytesOrPanic()
}

func parseAttributes(s wire) (Attributes, error) {
	var as Attributes
	for len(s) != 0 {
		if len(as) >= MaxPayloads {
			return nil, ErrTooMany
		}
		// AF bit and type, then a 2-byte value (TV) or a 2-byte
		// length and the value (TLV).
		if len(s) < 2 {
			return nil, malformed("truncated attribute")
		}
		t := binary.BigEndian.Uint16(s)
		a := Attribute{Type: t &^ 0x8000, TV: t&0x8000 != 0}
		end := 4
		if a.TV {
			if len(s) < end {
				return nil, malformed("truncated TV attribute %d", a.Type)
			}
			a.Value = s[2:4]
		} else {
			if len(s) >= 4 {
				end += int(binary.BigEndian.Uint16(s[2:4]))
			}
			if len(s) < end {
				return nil, malformed("truncated TLV attribute %d", a.Type)
			}
			a.Value = s[4:end]
		}
		as, s = append(as, a), s[end:]
	}
	return as, nil
}

// AttributesPayload is the attribute payload (type 14) of the Transaction
// exchange (mode-config, XAUTH; draft-ietf-ipsec-isakmp-mode-cfg).
type AttributesPayload struct {
	CfgType    uint8 // 1 REQUEST, 2 REPLY, 3 SET, 4 ACK
	Identifier uint16
	Attributes Attributes
}

func (*AttributesPayload) Type() PayloadType { return PayloadAttributes }

func (p *AttributesPayload) marshalBody(b *builder) {
	b.add([]byte{p.CfgType, 0, byte(p.Identifier >> 8), byte(p.Identifier)})
	marshalAttributes(b, p.Attributes)
}
