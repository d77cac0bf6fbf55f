package ike

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"net/netip"
	"strconv"
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
	b.add([]byte{p.IDType, p.Protocol, byte(p.Port >> 8), byte(p.Port)})
	b.add(p.Data)
}

// Body returns the ID payload body (IDii_b / IDir_b in RFC 2409 terms).
func (p *ID) Body() []byte {
	b := &builder{}
	p.marshalBody(b)
	return b.bytesOrPanic()
}

// IDFromAddr returns an ID_IPV4_ADDR / ID_IPV6_ADDR identity.
func IDFromAddr(a netip.Addr) *ID {
	b := a.Unmap().AsSlice()
	t := IDIPv6Addr
	if len(b) == 4 {
		t = IDIPv4Addr
	}
	return &ID{IDType: t, Data: b}
}

// IDFromPrefix returns an ID_IPV4_ADDR_SUBNET / ID_IPV6_ADDR_SUBNET, also
// for a host prefix; callers that want ID_IPV4_ADDR use IDFromAddr.
func IDFromPrefix(pfx netip.Prefix) *ID {
	a, bits := prefixBytes(&pfx)
	t := IDIPv4AddrSubnet
	if len(a) == 16 {
		if string(a[:12]) == v4InV6 {
			a, bits = a[12:], bits-96 // an IPv4-mapped prefix: IPv4
		} else {
			t = IDIPv6AddrSubnet
		}
	}
	return &ID{IDType: t, Data: append(a, prefixMask(len(a), bits)...)}
}

// v4InV6 starts an IPv4-mapped IPv6 address.
const v4InV6 = "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff"

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
	a, bits, err := p.prefix()
	if err != nil {
		return netip.Prefix{}, err
	}
	ip, _ := netip.AddrFromSlice(a)
	return netip.PrefixFrom(ip, bits).Masked(), nil
}

// prefix is Prefix as the address bytes (not masked) and the length.
func (p *ID) prefix() ([]byte, int, error) {
	a := p.Data
	switch p.IDType {
	case IDIPv4Addr, IDIPv6Addr:
		return a, len(a) * 8, nil
	case IDIPv4AddrSubnet, IDIPv6AddrSubnet:
		n := len(a) / 2
		bits, ok := maskBits(a[n:])
		if !ok {
			return nil, 0, fmt.Errorf("ike: non-contiguous subnet mask %x", a[n:])
		}
		return a[:n], bits, nil
	}
	return nil, 0, fmt.Errorf("ike: ID type %d is not an address or subnet", p.IDType)
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
	lo, hi := p.Data, p.Data
	switch p.IDType {
	case IDIPv4AddrRange, IDIPv6AddrRange:
		n := len(p.Data) / 2
		lo, hi = lo[:n], hi[n:]
	default:
		a, bits, err := p.prefix()
		if err != nil {
			return from, to, err
		}
		lo, hi = bytes.Clone(a), bytes.Clone(a)
		for i := range lo {
			hostBits := max(0, min(8, (i+1)*8-bits))
			lo[i] &^= byte(1<<uint(hostBits) - 1)
			hi[i] |= byte(1<<uint(hostBits) - 1)
		}
	}
	from, _ = netip.AddrFromSlice(lo)
	to, _ = netip.AddrFromSlice(hi)
	return from, to, nil
}

// String renders the identity the way Cisco and strongSwan logs do.
func (p *ID) String() string {
	switch p.IDType {
	case IDIPv4Addr, IDIPv6Addr:
		return addrText(p.Data)
	case IDIPv4AddrSubnet, IDIPv6AddrSubnet:
		if pfx, err := p.Prefix(); err == nil {
			return pfx.String()
		}
	case IDIPv4AddrRange, IDIPv6AddrRange:
		n := len(p.Data) / 2
		return addrText(p.Data[:n]) + "-" + addrText(p.Data[n:])
	case IDFQDN, IDUserFQDN, IDKeyID:
		return strconv.Quote(string(p.Data))
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

// addrText is the address of 4 or 16 bytes as text ("invalid IP" for
// another length, as netip writes the zero Addr).
func addrText(b []byte) string {
	a, _ := netip.AddrFromSlice(b)
	return a.String()
}
