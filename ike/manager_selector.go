package ike

import (
	"fmt"
	"net/netip"

	"tinyipsec/acl"
)

// Conversions between crypto-ACL selectors and Quick Mode ID payloads.

// idFromSide encodes one side of a proxy ID: a host as ID_IPV4_ADDR /
// ID_IPV6_ADDR (what Cisco and strongSwan send), anything else as a
// subnet; protocol and a single port go into the ID's fields.
func idFromSide(p netip.Prefix, proto uint8, ports acl.PortRange) *ID {
	var id *ID
	if p.IsSingleIP() {
		id = IDFromAddr(p.Addr())
	} else {
		id = IDFromPrefix(p)
	}
	id.Protocol = proto
	if ports.Lo == ports.Hi {
		id.Port = ports.Lo
	}
	return id
}

// sideFromID decodes one side; address ranges are accepted only when they
// are exactly one prefix.
//
// The results are named so that the error returns share one zero value
// instead of building one each (flash).
func sideFromID(id *ID) (p netip.Prefix, ports acl.PortRange, err error) {
	ports = acl.AnyPort
	if id.Port != 0 {
		ports = acl.PortRange{Lo: id.Port, Hi: id.Port}
	}
	switch id.IDType {
	case IDIPv4AddrRange, IDIPv6AddrRange:
		from, to, err := id.Range()
		if err != nil {
			return p, ports, err
		}
		for bits := 0; bits <= from.BitLen(); bits++ {
			q := netip.PrefixFrom(from, bits).Masked()
			if q.Addr() == from {
				if _, last, _ := IDFromPrefix(q).Range(); last == to {
					return q, ports, nil
				}
			}
		}
		return p, ports, fmt.Errorf("address range %v is not a subnet", id)
	}
	p, err = id.Prefix()
	return p, ports, err
}
