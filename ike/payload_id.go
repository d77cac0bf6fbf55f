package ike

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"net/netip"
)

// Identification types (RFC 2407 section 4.6.2.1).
const (
	IDIPv4Addr       uint8 = 1
	IDFQDN           uint8 = 2
	IDUserFQDN       uint8 = 3
	IDIPv4AddrSubnet uint8 = 4
	IDIPv6Addr       uint8 = 5
	IDIPv6AddrSubnet uint8 = 6
	IDIPv4AddrRange  uint8 = 7
	IDIPv6AddrRange  uint8 = 8
	IDDERASN1DN      uint8 = 9
	IDDERASN1GN      uint8 = 10
	IDKeyID          uint8 = 11
)

// ID is the Identification payload. In phase 1 it names the peer (Protocol
// and Port are 0, or 17/500); in Quick Mode it is a traffic selector.
type ID struct {
	IDType   uint8
	Protocol uint8
	Port     uint16
	Data     []byte
}

func (*ID) Type() PayloadType { return PayloadID }

func (p *ID) marshalBody(b *builder) {
	b.u8(p.IDType)
	b.u8(p.Protocol)
	b.u16(p.Port)
	b.add(p.Data)
}

// Body returns the ID payload body (IDii_b / IDir_b in RFC 2409 terms).
func (p *ID) Body() []byte {
	b := &builder{}
	p.marshalBody(b)
	return b.bytesOrPanic()
}

func parseID(s wire) (Payload, error) {
	p := &ID{}
	if !s.readU8(&p.IDType) || !s.readU8(&p.Protocol) || !s.readU16(&p.Port) {
		return nil, malformed("short ID payload")
	}
	p.Data = s
	if err := p.validate(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *ID) validate() error {
	want := 0
	switch p.IDType {
	case IDIPv4Addr:
		want = 4
	case IDIPv4AddrSubnet, IDIPv4AddrRange:
		want = 8
	case IDIPv6Addr:
		want = 16
	case IDIPv6AddrSubnet, IDIPv6AddrRange:
		want = 32
	}
	if want != 0 && len(p.Data) != want {
		return malformed("ID type %d with %d data bytes", p.IDType, len(p.Data))
	}
	return nil
}

// IDFromAddr returns an ID_IPV4_ADDR / ID_IPV6_ADDR identity.
func IDFromAddr(a netip.Addr) *ID {
	a = a.Unmap()
	if a.Is4() {
		return &ID{IDType: IDIPv4Addr, Data: a.AsSlice()}
	}
	return &ID{IDType: IDIPv6Addr, Data: a.AsSlice()}
}

// IDFromPrefix returns an ID_IPV4_ADDR_SUBNET / ID_IPV6_ADDR_SUBNET, also
// for a host prefix; callers that want ID_IPV4_ADDR use IDFromAddr.
func IDFromPrefix(pfx netip.Prefix) *ID {
	pfx = pfx.Masked()
	a := pfx.Addr().Unmap()
	bits := pfx.Bits()
	if a.Is4() {
		if pfx.Addr().Is4In6() {
			bits -= 96
		}
		return &ID{IDType: IDIPv4AddrSubnet, Data: append(a.AsSlice(), prefixMask(4, bits)...)}
	}
	return &ID{IDType: IDIPv6AddrSubnet, Data: append(a.AsSlice(), prefixMask(16, bits)...)}
}

func prefixMask(n, bits int) []byte {
	m := make([]byte, n)
	for i := range m {
		switch {
		case bits >= 8:
			m[i] = 0xff
			bits -= 8
		case bits > 0:
			m[i] = byte(0xff << (8 - bits))
			bits = 0
		}
	}
	return m
}

// IDFromRange returns an ID_IPV4_ADDR_RANGE / ID_IPV6_ADDR_RANGE.
func IDFromRange(from, to netip.Addr) *ID {
	from, to = from.Unmap(), to.Unmap()
	t := IDIPv6AddrRange
	if from.Is4() {
		t = IDIPv4AddrRange
	}
	return &ID{IDType: t, Data: append(from.AsSlice(), to.AsSlice()...)}
}

// IDFromFQDN returns an ID_FQDN identity.
func IDFromFQDN(name string) *ID { return &ID{IDType: IDFQDN, Data: []byte(name)} }

// IDFromUserFQDN returns an ID_USER_FQDN identity (user@domain).
func IDFromUserFQDN(name string) *ID { return &ID{IDType: IDUserFQDN, Data: []byte(name)} }

// IDFromDN returns an ID_DER_ASN1_DN identity from a DER-encoded Name (for
// example x509.Certificate.RawSubject).
func IDFromDN(der []byte) *ID { return &ID{IDType: IDDERASN1DN, Data: der} }

// Addr returns the address of an ID_IPV4_ADDR / ID_IPV6_ADDR.
func (p *ID) Addr() (netip.Addr, bool) {
	switch p.IDType {
	case IDIPv4Addr, IDIPv6Addr:
		return netip.AddrFromSlice(p.Data)
	}
	return netip.Addr{}, false
}

// Prefix returns the prefix of a single address or subnet ID. A subnet
// mask that is not contiguous is an error.
func (p *ID) Prefix() (netip.Prefix, error) {
	switch p.IDType {
	case IDIPv4Addr, IDIPv6Addr:
		a, _ := netip.AddrFromSlice(p.Data)
		return netip.PrefixFrom(a, a.BitLen()), nil
	case IDIPv4AddrSubnet, IDIPv6AddrSubnet:
		n := len(p.Data) / 2
		a, _ := netip.AddrFromSlice(p.Data[:n])
		bits, ok := maskBits(p.Data[n:])
		if !ok {
			return netip.Prefix{}, fmt.Errorf("ike: non-contiguous subnet mask %x", p.Data[n:])
		}
		return netip.PrefixFrom(a, bits).Masked(), nil
	}
	return netip.Prefix{}, fmt.Errorf("ike: ID type %d is not an address or subnet", p.IDType)
}

func maskBits(m []byte) (int, bool) {
	bits, done := 0, false
	for _, c := range m {
		for i := 7; i >= 0; i-- {
			set := c>>uint(i)&1 == 1
			if set && done {
				return 0, false
			}
			if set {
				bits++
			} else {
				done = true
			}
		}
	}
	return bits, true
}

// Range returns the first and last address covered by an address, subnet
// or range ID.
func (p *ID) Range() (from, to netip.Addr, err error) {
	switch p.IDType {
	case IDIPv4AddrRange, IDIPv6AddrRange:
		n := len(p.Data) / 2
		from, _ = netip.AddrFromSlice(p.Data[:n])
		to, _ = netip.AddrFromSlice(p.Data[n:])
		return from, to, nil
	}
	pfx, err := p.Prefix()
	if err != nil {
		return from, to, err
	}
	from = pfx.Addr()
	b := from.AsSlice()
	for i := range b {
		hostBits := max(0, min(8, (i+1)*8-pfx.Bits()))
		b[i] |= byte(1<<uint(hostBits) - 1)
	}
	to, _ = netip.AddrFromSlice(b)
	return from, to, nil
}

// String renders the identity the way Cisco and strongSwan logs do.
func (p *ID) String() string {
	switch p.IDType {
	case IDIPv4Addr, IDIPv6Addr:
		a, _ := p.Addr()
		return a.String()
	case IDIPv4AddrSubnet, IDIPv6AddrSubnet:
		if pfx, err := p.Prefix(); err == nil {
			return pfx.String()
		}
	case IDIPv4AddrRange, IDIPv6AddrRange:
		f, t, _ := p.Range()
		return f.String() + "-" + t.String()
	case IDFQDN, IDUserFQDN, IDKeyID:
		return fmt.Sprintf("%q", p.Data)
	case IDDERASN1DN:
		var rdn pkix.RDNSequence
		if rest, err := asn1.Unmarshal(p.Data, &rdn); err == nil && len(rest) == 0 {
			var n pkix.Name
			n.FillFromRDNSequence(&rdn)
			return n.String()
		}
	}
	return fmt.Sprintf("ID(%d:%x)", p.IDType, p.Data)
}
