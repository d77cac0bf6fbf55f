package tun

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// routeProtocol marks the routes tinyipsec installs (rtm_protocol), so that
// `ip route show proto 0x7a` lists them and a crashed daemon's leftovers are
// recognisable.
const routeProtocol = 0x7a

// RTNL is a small rtnetlink client for the few requests the daemon needs:
// addresses, routes and route look-ups.
type RTNL struct {
	c *netlink.Conn
}

// DialRTNL opens a NETLINK_ROUTE socket in the caller's network namespace.
func DialRTNL() (*RTNL, error) {
	c, err := netlink.Dial(unix.NETLINK_ROUTE, nil)
	if err != nil {
		return nil, fmt.Errorf("rtnetlink: %w", err)
	}
	return &RTNL{c: c}, nil
}

// Close closes the socket.
func (r *RTNL) Close() error { return r.c.Close() }

func family(a netip.Addr) uint8 {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// AddAddr assigns prefix (address/len) to the interface.
func (r *RTNL) AddAddr(ifindex int, prefix netip.Prefix) error {
	return r.addr(unix.RTM_NEWADDR, ifindex, prefix, 0)
}

// Route is a unicast route in the main table.
type Route struct {
	_       [0]func() // not comparable: no generated == function (flash)
	Dst     netip.Prefix
	IfIndex int
	Gateway netip.Addr // optional
	Src     netip.Addr // optional preferred source address
	Metric  uint32     // optional
	Table   uint32     // routing table; 0 = main
	MTU     uint32     // from look-ups only: the path MTU if the route has one
}

func (rt Route) message(typ netlink.HeaderType, flags netlink.HeaderFlags) (netlink.Message, error) {
	dst := rt.Dst.Masked()
	hdr := make([]byte, unix.SizeofRtMsg)
	hdr[0] = family(dst.Addr())
	hdr[1] = uint8(dst.Bits())
	table := rt.Table
	if table == 0 {
		table = unix.RT_TABLE_MAIN
	}
	if table < 256 {
		hdr[4] = uint8(table)
	}
	hdr[5] = routeProtocol
	hdr[6] = unix.RT_SCOPE_UNIVERSE
	if !rt.Gateway.IsValid() {
		hdr[6] = unix.RT_SCOPE_LINK
	}
	hdr[7] = unix.RTN_UNICAST
	ae := netlink.NewAttributeEncoder()
	ae.Bytes(unix.RTA_DST, dst.Addr().AsSlice())
	ae.Uint32(unix.RTA_TABLE, table)
	if rt.IfIndex != 0 {
		ae.Uint32(unix.RTA_OIF, uint32(rt.IfIndex))
	}
	if rt.Gateway.IsValid() {
		ae.Bytes(unix.RTA_GATEWAY, rt.Gateway.AsSlice())
	}
	if rt.Src.IsValid() {
		ae.Bytes(unix.RTA_PREFSRC, rt.Src.AsSlice())
	}
	if rt.Metric != 0 {
		ae.Uint32(unix.RTA_PRIORITY, rt.Metric)
	}
	attrs, err := ae.Encode()
	if err != nil {
		return netlink.Message{}, err
	}
	return netlink.Message{
		Header: netlink.Header{Type: typ, Flags: flags},
		Data:   append(hdr, attrs...),
	}, nil
}

// AddRoute adds (or replaces) a route.
func (r *RTNL) AddRoute(rt Route) error {
	m, err := rt.message(unix.RTM_NEWROUTE, netlink.Request|netlink.Acknowledge|netlink.Create|netlink.Replace)
	return r.execute(m, err, "add route "+rt.Dst.String())
}

// DelRoute deletes a route added by AddRoute. A route that is already gone
// (its interface was removed) is not an error.
func (r *RTNL) DelRoute(rt Route) error {
	m, err := rt.message(unix.RTM_DELROUTE, netlink.Request|netlink.Acknowledge)
	return r.execute(m, err, "delete route "+rt.Dst.String(), unix.ESRCH, unix.ENODEV)
}

// execute sends m (unless building it failed with err) and waits for the
// kernel's acknowledgement. An answer among gone (the object is not there)
// is success; other errors say what was being done.
func (r *RTNL) execute(m netlink.Message, err error, what string, gone ...unix.Errno) error {
	if err != nil {
		return err
	}
	if _, err := r.c.Execute(m); err != nil {
		if oe, ok := errors.AsType[*netlink.OpError](err); ok && slices.ContainsFunc(gone, func(e unix.Errno) bool { return errors.Is(oe.Err, e) }) {
			return nil
		}
		return fmt.Errorf("rtnetlink: %s: %w", what, err)
	}
	return nil
}

// RouteGet asks the kernel how it would route a packet to dst carrying
// firewall mark (like `ip route get DST mark MARK`): outgoing interface,
// gateway and preferred source.
func (r *RTNL) RouteGet(dst netip.Addr, mark uint32) (Route, error) {
	hdr := make([]byte, unix.SizeofRtMsg)
	hdr[0] = family(dst)
	hdr[1] = uint8(dst.BitLen())
	ae := netlink.NewAttributeEncoder()
	ae.Bytes(unix.RTA_DST, dst.AsSlice())
	if mark != 0 {
		ae.Uint32(unix.RTA_MARK, mark)
	}
	attrs, err := ae.Encode()
	if err != nil {
		return Route{}, err
	}
	msgs, err := r.c.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_GETROUTE, Flags: netlink.Request},
		Data:   append(hdr, attrs...),
	})
	if err != nil {
		return Route{}, fmt.Errorf("rtnetlink: route get %s: %w", dst, err)
	}
	for _, m := range msgs {
		if m.Header.Type != unix.RTM_NEWROUTE || len(m.Data) < unix.SizeofRtMsg {
			continue
		}
		return parseRoute(m.Data)
	}
	return Route{}, fmt.Errorf("rtnetlink: no route to %s", dst)
}

func parseRoute(b []byte) (Route, error) {
	var rt Route
	bits := int(b[1])
	ad, err := netlink.NewAttributeDecoder(b[unix.SizeofRtMsg:])
	if err != nil {
		return rt, err
	}
	addr := func() netip.Addr { a, _ := netip.AddrFromSlice(ad.Bytes()); return a }
	for ad.Next() {
		switch ad.Type() {
		case unix.RTA_DST:
			rt.Dst = netip.PrefixFrom(addr(), bits)
		case unix.RTA_OIF:
			rt.IfIndex = int(ad.Uint32())
		case unix.RTA_GATEWAY:
			rt.Gateway = addr()
		case unix.RTA_PREFSRC:
			rt.Src = addr()
		case unix.RTA_PRIORITY:
			rt.Metric = ad.Uint32()
		case unix.RTA_METRICS:
			ad.Nested(func(nd *netlink.AttributeDecoder) error {
				for nd.Next() {
					if nd.Type() == unix.RTAX_MTU {
						rt.MTU = nd.Uint32()
					}
				}
				return nil
			})
		}
	}
	return rt, ad.Err()
}

// Addrs returns every address configured on the host, in every family.
func (r *RTNL) Addrs() ([]netip.Prefix, error) {
	hdr := make([]byte, unix.SizeofIfAddrmsg)
	msgs, err := r.c.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_GETADDR, Flags: netlink.Request | netlink.Dump},
		Data:   hdr,
	})
	if err != nil {
		return nil, fmt.Errorf("rtnetlink: list addresses: %w", err)
	}
	var out []netip.Prefix
	for _, m := range msgs {
		if m.Header.Type != unix.RTM_NEWADDR || len(m.Data) < unix.SizeofIfAddrmsg {
			continue
		}
		bits := int(m.Data[1])
		ad, err := netlink.NewAttributeDecoder(m.Data[unix.SizeofIfAddrmsg:])
		if err != nil {
			continue
		}
		var local, address netip.Addr
		for ad.Next() {
			a, _ := netip.AddrFromSlice(ad.Bytes())
			switch ad.Type() {
			case unix.IFA_LOCAL:
				local = a
			case unix.IFA_ADDRESS:
				address = a
			}
		}
		if local.IsValid() {
			address = local
		}
		if address.IsValid() {
			out = append(out, netip.PrefixFrom(address, bits))
		}
	}
	return out, nil
}

// PolicyRule is an `ip rule`: packets whose firewall mark is (or, with
// InvertMark, is not) Mark look up Table.
type PolicyRule struct {
	_          [0]func() // not comparable: no generated == function (flash)
	IPv6       bool
	Priority   uint32
	Table      uint32
	Mark       uint32
	InvertMark bool
}

func (pr PolicyRule) message(typ netlink.HeaderType, flags netlink.HeaderFlags) (netlink.Message, error) {
	hdr := make([]byte, 12) // struct fib_rule_hdr
	hdr[0] = unix.AF_INET
	if pr.IPv6 {
		hdr[0] = unix.AF_INET6
	}
	if pr.Table < 256 {
		hdr[4] = uint8(pr.Table)
	}
	hdr[7] = unix.FR_ACT_TO_TBL
	if pr.InvertMark {
		binary.NativeEndian.PutUint32(hdr[8:], unix.FIB_RULE_INVERT)
	}
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(unix.FRA_PRIORITY, pr.Priority)
	ae.Uint32(unix.FRA_TABLE, pr.Table)
	ae.Uint32(unix.FRA_FWMARK, pr.Mark)
	ae.Uint32(unix.FRA_FWMASK, 0xffffffff)
	ae.Uint8(unix.FRA_PROTOCOL, routeProtocol)
	attrs, err := ae.Encode()
	if err != nil {
		return netlink.Message{}, err
	}
	return netlink.Message{Header: netlink.Header{Type: typ, Flags: flags}, Data: append(hdr, attrs...)}, nil
}

// AddRule adds a policy routing rule, first removing an identical one left
// behind by an earlier run.
func (r *RTNL) AddRule(pr PolicyRule) error {
	_ = r.DelRule(pr)
	m, err := pr.message(unix.RTM_NEWRULE, netlink.Request|netlink.Acknowledge|netlink.Create|netlink.Excl)
	return r.execute(m, err, pr.what("add"))
}

// DelRule deletes a policy routing rule; a missing rule is not an error.
func (r *RTNL) DelRule(pr PolicyRule) error {
	m, err := pr.message(unix.RTM_DELRULE, netlink.Request|netlink.Acknowledge)
	return r.execute(m, err, pr.what("delete"), unix.ENOENT, unix.ESRCH)
}

func (pr PolicyRule) what(verb string) string {
	return verb + " rule (table " + strconv.Itoa(int(pr.Table)) + ")"
}
