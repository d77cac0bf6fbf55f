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
	a := prefix.Addr()
	hdr := make([]byte, unix.SizeofIfAddrmsg)
	hdr[0] = family(a)
	hdr[1] = uint8(prefix.Bits())
	binary.NativeEndian.PutUint32(hdr[4:], uint32(ifindex))
	ae := netlink.NewAttributeEncoder()
	ae.Bytes(unix.IFA_LOCAL, a.AsSlice())
	attrs, err := ae.Encode()
	if err != nil {
		return err
	}
	_, err = r.c.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_DELADDR, Flags: netlink.Request | netlink.Acknowledge},
		Data:   append(hdr, attrs...),
	})
	if err != nil {
		return fmt.Errorf("rtnetlink: delete address %s: %w", prefix, err)
	}
	return nil
}

// AddAddrNoDAD assigns prefix to the interface without IPv6 duplicate
// address detection: an address a remote-access gateway assigned to the
// TUN is unique by construction, and while DAD runs (about a second) the
// kernel refuses it as a route's preferred source.
func (r *RTNL) AddAddrNoDAD(ifindex int, prefix netip.Prefix) error {
	a := prefix.Addr()
	hdr := make([]byte, unix.SizeofIfAddrmsg)
	hdr[0] = family(a)
	hdr[1] = uint8(prefix.Bits())
	if a.Is6() {
		hdr[2] = unix.IFA_F_NODAD
	}
	hdr[3] = unix.RT_SCOPE_UNIVERSE
	binary.NativeEndian.PutUint32(hdr[4:], uint32(ifindex))
	ae := netlink.NewAttributeEncoder()
	ae.Bytes(unix.IFA_LOCAL, a.AsSlice())
	ae.Bytes(unix.IFA_ADDRESS, a.AsSlice())
	attrs, err := ae.Encode()
	if err != nil {
		return err
	}
	_, err = r.c.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_NEWADDR, Flags: netlink.Request | netlink.Acknowledge | netlink.Create | netlink.Replace},
		Data:   append(hdr, attrs...),
	})
	if err != nil {
		return fmt.Errorf("rtnetlink: add address %s: %w", prefix, err)
	}
	return nil
}
