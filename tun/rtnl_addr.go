package tun

import (
	"encoding/binary"
	"net/netip"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// DelAddr removes prefix (address/len) from the interface, as when a
// remote-access gateway assigns another inner address.
func (r *RTNL) DelAddr(ifindex int, prefix netip.Prefix) error {
	return r.addr(unix.RTM_DELADDR, ifindex, prefix, 0)
}

// AddAddrNoDAD assigns prefix to the interface without IPv6 duplicate
// address detection: an address a remote-access gateway assigned to the
// TUN is unique by construction, and while DAD runs (about a second) the
// kernel refuses it as a route's preferred source.
func (r *RTNL) AddAddrNoDAD(ifindex int, prefix netip.Prefix) error {
	var flags uint8
	if prefix.Addr().Is6() {
		flags = unix.IFA_F_NODAD
	}
	return r.addr(unix.RTM_NEWADDR, ifindex, prefix, flags)
}

// addr sends one RTM_NEWADDR (add or replace, in the universe scope) or
// RTM_DELADDR for prefix on the interface, with the ifaddrmsg flags.
func (r *RTNL) addr(typ netlink.HeaderType, ifindex int, prefix netip.Prefix, flags uint8) error {
	a := prefix.Addr()
	q := make(request, unix.SizeofIfAddrmsg, 48)
	q[0] = family(a)
	q[1] = uint8(prefix.Bits())
	q[2] = flags
	binary.NativeEndian.PutUint32(q[4:], uint32(ifindex))
	q = q.attr(unix.IFA_LOCAL, a.AsSlice())
	msgFlags := netlink.Acknowledge
	what := "delete"
	if typ == unix.RTM_NEWADDR {
		q[3] = unix.RT_SCOPE_UNIVERSE
		q = q.attr(unix.IFA_ADDRESS, a.AsSlice())
		msgFlags |= netlink.Create | netlink.Replace
		what = "add"
	}
	_, err := r.execute(typ, msgFlags, q, what+" address "+prefix.String())
	return err
}
