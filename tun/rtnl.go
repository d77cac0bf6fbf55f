package tun

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// request is the body of an rtnetlink request: its fixed header (rtmsg,
// ifaddrmsg or fib_rule_hdr) followed by attributes. The attributes are
// written here rather than with netlink's AttributeEncoder and read with
// attrs rather than its AttributeDecoder: the few fixed-size values
// rtnetlink needs take a few lines, and the generic coders linked about
// 5 KB of code (flash).
type request []byte

// attr appends one attribute (struct rtattr: length, type, the value
// padded to 4 bytes). Not inlined: this is set-up code, and each inlined
// copy would cost flash.
//
//go:noinline
func (q request) attr(typ uint16, v []byte) request {
	q = binary.NativeEndian.AppendUint16(q, uint16(unix.SizeofRtAttr+len(v)))
	q = binary.NativeEndian.AppendUint16(q, typ)
	q = append(q, v...)
	for len(q)%unix.RTA_ALIGNTO != 0 {
		q = append(q, 0)
	}
	return q
}

func (q request) u32(typ uint16, v uint32) request {
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], v)
	return q.attr(typ, b[:])
}

// attrs files the attributes of b by type (without the nested and
// byte-order flags) into tab, for the types below len(tab); a later
// attribute of a type replaces an earlier one. It reports whether b
// ended with a whole attribute. One table filled here rather than a loop
// and a switch at each reader (flash).
func attrs(b []byte, tab [][]byte) bool {
	for len(b) >= unix.SizeofRtAttr {
		n := int(binary.NativeEndian.Uint16(b))
		if n < unix.SizeofRtAttr || n > len(b) {
			return false
		}
		if typ := int(binary.NativeEndian.Uint16(b[2:]) &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)); typ < len(tab) {
			tab[typ] = b[unix.SizeofRtAttr:n]
		}
		n = (n + unix.RTA_ALIGNTO - 1) &^ (unix.RTA_ALIGNTO - 1)
		b = b[min(n, len(b)):]
	}
	return len(b) == 0
}

// attrU32 reads a 32-bit attribute value (0 when it is shorter).
func attrU32(v []byte) uint32 {
	if len(v) < 4 {
		return 0
	}
	return binary.NativeEndian.Uint32(v)
}

// attrAddr reads an address attribute (invalid unless 4 or 16 bytes).
//
//go:noinline
func attrAddr(v []byte) netip.Addr {
	a, _ := netip.AddrFromSlice(v)
	return a
}

// prefixFrom is netip.PrefixFrom out of line: each inlined copy is half a
// kilobyte of 128-bit code on a 32-bit router (flash).
//
//go:noinline
func prefixFrom(a netip.Addr, bits int) netip.Prefix { return netip.PrefixFrom(a, bits) }

// routeProtocol marks the routes tinyipsec installs (rtm_protocol), so that
// `ip route show proto 0x7a` lists them and a crashed daemon's leftovers are
// recognisable.
const routeProtocol = 0x7a

// RTNL is a small rtnetlink client for the few requests the daemon needs:
// addresses, routes and route look-ups. It is safe for concurrent use.
type RTNL struct {
	_  [0]func()  // not comparable: no generated == function (flash)
	mu sync.Mutex // one request and its answer at a time
	s  nlSocket
}

// DialRTNL opens a NETLINK_ROUTE socket in the caller's network namespace
// (nlSocket: plain system calls) and binds it; the kernel picks its port
// ID, which answers are checked against.
func DialRTNL() (*RTNL, error) {
	// The steps in one chain with one error exit; op names the system
	// call that failed.
	op := "socket"
	var sa syscall.Sockaddr
	fd, err := socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err == nil {
		op = "bind"
		if err = syscall.Bind(fd, &syscall.SockaddrNetlink{Family: unix.AF_NETLINK}); err == nil {
			op = "getsockname"
			sa, err = syscall.Getsockname(fd)
		}
		if err != nil {
			syscall.Close(fd)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("rtnetlink: %w", os.NewSyscallError(op, err))
	}
	return &RTNL{s: nlSocket{fd: fd, pid: sa.(*syscall.SockaddrNetlink).Pid}}, nil
}

// Close closes the socket.
func (r *RTNL) Close() error { return r.s.Close() }

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

func (rt Route) message() request {
	dst := rt.Dst.Masked()
	q := make(request, unix.SizeofRtMsg, 64)
	q[0] = family(dst.Addr())
	q[1] = uint8(dst.Bits())
	table := rt.Table
	if table == 0 {
		table = unix.RT_TABLE_MAIN
	}
	if table < 256 {
		q[4] = uint8(table)
	}
	q[5] = routeProtocol
	q[6] = unix.RT_SCOPE_UNIVERSE
	if !rt.Gateway.IsValid() {
		q[6] = unix.RT_SCOPE_LINK
	}
	q[7] = unix.RTN_UNICAST
	q = q.attr(unix.RTA_DST, dst.Addr().AsSlice())
	q = q.u32(unix.RTA_TABLE, table)
	if rt.IfIndex != 0 {
		q = q.u32(unix.RTA_OIF, uint32(rt.IfIndex))
	}
	if rt.Gateway.IsValid() {
		q = q.attr(unix.RTA_GATEWAY, rt.Gateway.AsSlice())
	}
	if rt.Src.IsValid() {
		q = q.attr(unix.RTA_PREFSRC, rt.Src.AsSlice())
	}
	if rt.Metric != 0 {
		q = q.u32(unix.RTA_PRIORITY, rt.Metric)
	}
	return q
}

// AddRoute adds (or replaces) a route.
func (r *RTNL) AddRoute(rt Route) error {
	_, err := r.execute(unix.RTM_NEWROUTE, netlink.Acknowledge|netlink.Create|netlink.Replace, rt.message(), "add route "+rt.Dst.String())
	return err
}

// DelRoute deletes a route added by AddRoute. A route that is already gone
// (its interface was removed) is not an error.
func (r *RTNL) DelRoute(rt Route) error {
	_, err := r.execute(unix.RTM_DELROUTE, netlink.Acknowledge, rt.message(), "delete route "+rt.Dst.String(), unix.ESRCH, unix.ENODEV)
	return err
}

// execute sends the request q of type typ (with flags beside Request:
// Acknowledge to have the kernel confirm a change) and returns the
// answer. An error among gone (the object is not there) is success,
// without an answer; other errors say what was being done.
func (r *RTNL) execute(typ netlink.HeaderType, flags netlink.HeaderFlags, q request, what string, gone ...unix.Errno) ([]netlink.Message, error) {
	r.mu.Lock()
	msgs, err := r.s.execute(typ, flags, q)
	r.mu.Unlock()
	if err != nil {
		// Every error of the exchange is a netlink.OpError, which
		// errors.Is looks through.
		for _, e := range gone {
			if errors.Is(err, e) {
				return nil, nil
			}
		}
		return nil, fmt.Errorf("rtnetlink: %s: %w", what, err)
	}
	return msgs, nil
}

// RouteGet asks the kernel how it would route a packet to dst carrying
// firewall mark (like `ip route get DST mark MARK`): outgoing interface,
// gateway and preferred source.
func (r *RTNL) RouteGet(dst netip.Addr, mark uint32) (Route, error) {
	q := make(request, unix.SizeofRtMsg, 40)
	q[0] = family(dst)
	q[1] = uint8(dst.BitLen())
	q = q.attr(unix.RTA_DST, dst.AsSlice())
	if mark != 0 {
		q = q.u32(unix.RTA_MARK, mark)
	}
	msgs, err := r.execute(unix.RTM_GETROUTE, 0, q, "route get "+dst.String())
	if err != nil {
		return Route{}, err
	}
	for i := range msgs {
		if m := &msgs[i]; m.Header.Type == unix.RTM_NEWROUTE && len(m.Data) >= unix.SizeofRtMsg {
			return parseRoute(m.Data)
		}
	}
	return Route{}, fmt.Errorf("rtnetlink: no route to %s", dst)
}

func parseRoute(b []byte) (Route, error) {
	var a [unix.RTA_METRICS + 1][]byte
	var m [unix.RTA_METRICS + 1][]byte // one array type for every table
	ok := attrs(b[unix.SizeofRtMsg:], a[:])
	attrs(a[unix.RTA_METRICS], m[:])
	rt := Route{
		Dst:     prefixFrom(attrAddr(a[unix.RTA_DST]), int(b[1])),
		IfIndex: int(attrU32(a[unix.RTA_OIF])),
		Gateway: attrAddr(a[unix.RTA_GATEWAY]),
		Src:     attrAddr(a[unix.RTA_PREFSRC]),
		Metric:  attrU32(a[unix.RTA_PRIORITY]),
		MTU:     attrU32(m[unix.RTAX_MTU]),
	}
	if !ok {
		return rt, errors.New("rtnetlink: malformed route attributes")
	}
	return rt, nil
}

// Addrs returns every address configured on the host, in every family.
func (r *RTNL) Addrs() ([]netip.Prefix, error) {
	msgs, err := r.execute(unix.RTM_GETADDR, netlink.Dump, make(request, unix.SizeofIfAddrmsg), "list addresses")
	if err != nil {
		return nil, err
	}
	var out []netip.Prefix
	for i := range msgs {
		m := &msgs[i]
		if m.Header.Type != unix.RTM_NEWADDR || len(m.Data) < unix.SizeofIfAddrmsg {
			continue
		}
		var a [unix.RTA_METRICS + 1][]byte
		attrs(m.Data[unix.SizeofIfAddrmsg:], a[:])
		// The local address where it differs (point-to-point links).
		address := attrAddr(a[unix.IFA_LOCAL])
		if !address.IsValid() {
			address = attrAddr(a[unix.IFA_ADDRESS])
		}
		if address.IsValid() {
			out = append(out, prefixFrom(address, int(m.Data[1])))
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

func (pr PolicyRule) message() request {
	q := make(request, 12, 64) // struct fib_rule_hdr
	q[0] = unix.AF_INET
	if pr.IPv6 {
		q[0] = unix.AF_INET6
	}
	if pr.Table < 256 {
		q[4] = uint8(pr.Table)
	}
	q[7] = unix.FR_ACT_TO_TBL
	if pr.InvertMark {
		binary.NativeEndian.PutUint32(q[8:], unix.FIB_RULE_INVERT)
	}
	q = q.u32(unix.FRA_PRIORITY, pr.Priority)
	q = q.u32(unix.FRA_TABLE, pr.Table)
	q = q.u32(unix.FRA_FWMARK, pr.Mark)
	q = q.u32(unix.FRA_FWMASK, 0xffffffff)
	return q.attr(unix.FRA_PROTOCOL, []byte{routeProtocol})
}

// AddRule adds a policy routing rule, first removing an identical one left
// behind by an earlier run.
func (r *RTNL) AddRule(pr PolicyRule) error {
	_ = r.DelRule(pr)
	_, err := r.execute(unix.RTM_NEWRULE, netlink.Acknowledge|netlink.Create|netlink.Excl, pr.message(), pr.what("add"))
	return err
}

// DelRule deletes a policy routing rule; a missing rule is not an error.
func (r *RTNL) DelRule(pr PolicyRule) error {
	_, err := r.execute(unix.RTM_DELRULE, netlink.Acknowledge, pr.message(), pr.what("delete"), unix.ENOENT, unix.ESRCH)
	return err
}

func (pr PolicyRule) what(verb string) string {
	return verb + " rule (table " + strconv.Itoa(int(pr.Table)) + ")"
}
