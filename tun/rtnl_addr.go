package tun

import (
	"encoding/binary"
	"fmt"
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
	hdr := make([]byte, unix.SizeofIfAddrmsg)
	hdr[0] = family(a)
	hdr[1] = uint8(prefix.Bits())
	hdr[2] = flags
	binary.NativeEndian.PutUint32(hdr[4:], uint32(ifindex))
	ae := netlink.NewAttributeEncoder()
	ae.Bytes(unix.IFA_LOCAL, a.AsSlice())
	msgFlags := netlink.Request | netlink.Acknowledge
	what := "delete"
	if typ == unix.RTM_NEWADDR {
		hdr[3] = unix.RT_SCOPE_UNIVERSE
		ae.Bytes(unix.IFA_ADDRESS, a.AsSlice())
		msgFlags |= netlink.Create | netlink.Replace
		what = "add"
	}
	attrs, err := ae.Encode()
	if err != nil {
		return err
	}
	_, err = r.c.Execute(netlink.Message{
		Header: netlink.Header{Type: typ, Flags: msgFlags},
		Data:   append(hdr, attrs...),
	})
	if err != nil {
		return fmt.Errorf("rtnetlink: %s address %s: %w", what, prefix, err)
	}
	return nil
}
