package ike

import (
	"net/netip"

	"tinyipsec/acl"
)

// Mode-Config (draft-dukes-ike-mode-cfg-02) and XAUTH
// (draft-beaulieu-ike-xauth-02) attributes, and the lease they describe.

// Mode-Config attribute types.
const (
	CfgIP4Address uint16 = 1
	CfgIP4Netmask uint16 = 2
	CfgIP4DNS     uint16 = 3
	CfgIP4NBNS    uint16 = 4
	CfgAddrExpiry uint16 = 5
	CfgAppVersion uint16 = 7
	CfgIP6Address uint16 = 8
	CfgIP6DNS     uint16 = 10
	CfgIP4Subnet  uint16 = 13 // 8 bytes: address, mask (strongSwan's split networks)
	CfgIP6Subnet  uint16 = 15 // 17 bytes: address, prefix length

	// Cisco Unity attributes.
	UnitySplitInclude uint16 = 28676 // 14 bytes per network
	UnityDefDomain    uint16 = 28674
	UnityBanner       uint16 = 28672
)

// XAUTH attribute types and values.
const (
	XAuthType     uint16 = 16520
	XAuthUserName uint16 = 16521
	XAuthPassword uint16 = 16522
	XAuthMessage  uint16 = 16526
	XAuthStatus   uint16 = 16527

	xauthGeneric   = 0
	xauthStatusOK  = 1
	xauthStatusBad = 0
)

// maxSplitNetworks bounds what a gateway may push at us (and what we
// install as routes and proxy IDs).
const maxSplitNetworks = 64

// Lease is what Mode-Config assigned to a remote-access client: its inner
// addresses, DNS servers and the networks reached through the tunnel (none:
// everything).
type Lease struct {
	IP4, IP6 netip.Addr
	DNS      []netip.Addr
	Split    []netip.Prefix

	acl *acl.List
}

// attributes encodes the lease as a gateway's REPLY or SET. Addresses
// are their AsSlice bytes (4 for IPv4, 16 for IPv6): no helper of our own
// per family (flash).
func (l *Lease) attributes(unity bool) Attributes {
	// AsSlice is nil for an address not set.
	var as Attributes
	if a := l.IP4.AsSlice(); a != nil {
		as.add(CfgIP4Address, a)
	}
	if a := l.IP6.AsSlice(); a != nil {
		as.add(CfgIP6Address, append(a, 128))
	}
	for i := range l.DNS {
		// 4 bytes for an IPv4 server, 16 for an IPv6 one.
		a, t := l.DNS[i].AsSlice(), CfgIP6DNS
		if len(a) == 4 {
			t = CfgIP4DNS
		}
		as.add(t, a)
	}
	var split []byte
	for i := range l.Split {
		a, bits := prefixBytes(&l.Split[i])
		if len(a) != 4 {
			as.add(CfgIP6Subnet, append(a, byte(bits)))
			continue
		}
		a = append(a, prefixMask(4, bits)...)
		if unity {
			// address, mask, then protocol and ports (all zero: any)
			split = append(append(split, a...), 0, 0, 0, 0, 0, 0)
		} else {
			as.add(CfgIP4Subnet, a)
		}
	}
	if len(split) > 0 {
		as.add(UnitySplitInclude, split)
	}
	return as
}

// prefixBytes is a prefix's network address, 4 or 16 bytes (an
// IPv4-mapped prefix: 16), and its length.
func prefixBytes(p *netip.Prefix) ([]byte, int) {
	m := p.Masked()
	a := m.Addr()
	return a.AsSlice(), m.Bits()
}

// leaseRequest is a client's Mode-Config REQUEST: empty attributes name
// what it wants; a non-empty address asks for the one it had (rekey).
func leaseRequest(prev *Lease) Attributes {
	as := make(Attributes, len(leaseAsks))
	for i, t := range leaseAsks {
		as[i].Type = t
	}
	if prev != nil {
		as[0].Value = prev.IP4.AsSlice() // nil when it had none
	}
	return as
}

// leaseAsks are the attributes a client's REQUEST names, the address first.
var leaseAsks = [...]uint16{CfgIP4Address, CfgIP4Netmask, CfgIP4DNS, CfgIP6Address, CfgIP6DNS, CfgIP4Subnet, UnitySplitInclude}

// parseLease reads a gateway's REPLY or SET. Malformed or unusable values
// are skipped (a gateway may send attributes we do not use); the lease
// needs an inner address.
func parseLease(as Attributes) (*Lease, bool) {
	l := &Lease{}
	got := false
	for _, a := range as {
		v := a.Value
		n := 0 // the length of an address to take
		switch a.Type {
		case CfgIP4Address, CfgIP4DNS:
			if len(v) == 4 {
				n = 4
			}
		case CfgIP6Address, CfgIP6DNS:
			if len(v) == 16 || len(v) == 17 && a.Type == CfgIP6Address {
				n = 16
			}
		case CfgIP4Subnet, UnitySplitInclude:
			// IPv4 networks, an address and a netmask each (contiguous
			// masks only): one of 8 bytes, or Unity's list of 14 bytes
			// each (then protocol and ports, ignored).
			step := 14
			if a.Type == CfgIP4Subnet {
				if len(v) != 8 {
					break
				}
				step = 8
			}
			for ; len(v) >= step; v = v[step:] {
				if bits, ok := maskBits(v[4:8]); ok {
					l.addSplit(v[:4], bits)
				}
			}
		case CfgIP6Subnet:
			if len(v) == 17 && v[16] <= 128 {
				l.addSplit(v[:16], int(v[16]))
			}
		}
		if n == 0 {
			continue
		}
		ip, _ := netip.AddrFromSlice(v[:n])
		switch {
		case a.Type == CfgIP4DNS || a.Type == CfgIP6DNS:
			if len(l.DNS) < 8 {
				l.DNS = append(l.DNS, ip)
			}
		case ip.IsUnspecified():
		case a.Type == CfgIP4Address:
			l.IP4, got = ip, true
		default:
			l.IP6, got = ip, true
		}
	}
	return l, got
}

// addSplit adds the split network of address a (4 or 16 bytes) and
// length bits, once, up to maxSplitNetworks.
func (l *Lease) addSplit(a []byte, bits int) {
	ip, _ := netip.AddrFromSlice(a)
	// Masked before the comparison: the list holds masked networks, so
	// 10.2.3.4/16 after 10.2.0.0/16 is the same network.
	p := netip.PrefixFrom(ip, bits).Masked()
	if len(l.Split) < maxSplitNetworks && p.IsValid() {
		for i := range l.Split {
			if l.Split[i] == p {
				return
			}
		}
		l.Split = append(l.Split, p)
	}
}

// xauthCredentials answers a gateway's XAUTH REQUEST: the requested
// attributes with our user name and password filled in.
func xauthCredentials(req Attributes, user string, password []byte) (Attributes, bool) {
	var out Attributes
	var haveUser, havePass bool
	for i := range req {
		a := &req[i]
		switch a.Type {
		case XAuthType:
			if v, ok := a.Uint(); !ok || v != xauthGeneric {
				return nil, false // only generic user name/password
			}
			out.addUint(XAuthType, xauthGeneric)
		case XAuthUserName:
			out.add(XAuthUserName, []byte(user))
			haveUser = true
		case XAuthPassword:
			out.add(XAuthPassword, password)
			havePass = true
		}
	}
	return out, haveUser && havePass
}

// xauthQuestion is the gateway's question for user name and password
// (generic XAUTH); xauthVerdict the gateway's verdict (SET) or the
// client's ACK of it, refused then accepted. Static data, sent as they
// are (flash).
var (
	xauthQuestion = Attributes{{Type: XAuthType, TV: true, Value: []byte{0, xauthGeneric}}, {Type: XAuthUserName}, {Type: XAuthPassword}}
	xauthVerdict  = [2]Attributes{
		{{Type: XAuthStatus, TV: true, Value: []byte{0, xauthStatusBad}}},
		{{Type: XAuthStatus, TV: true, Value: []byte{0, xauthStatusOK}}},
	}
)
