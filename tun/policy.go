package tun

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"

	"tinyipsec/internal/errjoin"
	"tinyipsec/internal/netif"
)

// The kernel's side of the crypto maps: the routes that bring protected
// traffic into the TUN, the policy rules that keep our own packets out of
// it, and the nftables cleartext policy (cleartext.go).
//
// Routing loops: a peer whose address lies inside a protected prefix
// (always the case in transport mode, where the crypto ACL names the two
// hosts) would have its own ESP, AH and IKE packets routed back into the
// TUN. The routes into the TUN therefore live in their own table, consulted
// by a policy rule for every packet that does NOT carry BypassMark; the raw
// ESP/AH sockets and the IKE sockets set BypassMark (SO_MARK), so their
// packets skip that table and follow the main table to the WAN, wherever the
// WAN route points now or later. (A host route to each peer would also work
// for tunnel mode, but collides with the TUN route in transport mode and
// goes stale when the WAN gateway changes.)
const (
	Table        = 0x7a  // routing table with the routes into the TUN
	BypassMark   = 0x7a1 // SO_MARK of our own ESP/AH/IKE sockets
	RulePriority = 0x4c4 // ip rule preference, before "lookup main" (32766)
)

// Line is one crypto ACL line as the kernel's side needs it, in the
// sender's view (Src is our side). An invalid prefix means any address;
// a zero port range any port.
type Line struct {
	_                  [0]func() // not comparable: no generated == function (flash)
	Permit             bool
	Proto              uint8
	Src, Dst           netip.Prefix
	SrcPorts, DstPorts [2]uint16 // lo, hi (hi 0: any port)
	Text               string    // as configured, for messages
}

// Entry is one crypto map entry's share of the kernel policy.
type Entry struct {
	// Lines are the crypto ACL, mirrored into the cleartext policy and,
	// unless Routes is set, routed one route per permit line.
	Lines []Line
	// Routes, when not nil, replace the per-line routes (remote access:
	// the pool, or what the gateway assigned).
	Routes []Route
	// OwnRoutes makes Routes authoritative even when empty.
	OwnRoutes bool
}

// KernelPolicy is the installed kernel policy of a TUN: its routes (in
// Table), the two policy rules and the cleartext table.
type KernelPolicy struct {
	rtnl   *RTNL
	dev    *Device
	routes []Route
	rules  []PolicyRule
	clear  *CleartextPolicy
	// Warn reports what the admin should know and the policy cannot do.
	Warn func(msg string, args ...any)
}

// NewKernelPolicy adds the policy rules for dev's table. A missing IPv6
// rule is only warned about (hosts without IPv6).
func NewKernelPolicy(rtnl *RTNL, dev *Device, warn func(msg string, args ...any)) (*KernelPolicy, error) {
	k := &KernelPolicy{rtnl: rtnl, dev: dev, Warn: warn}
	for _, v6 := range []bool{false, true} {
		pr := PolicyRule{IPv6: v6, Priority: RulePriority, Table: Table, Mark: BypassMark, InvertMark: true}
		if err := rtnl.AddRule(pr); err != nil {
			if v6 {
				warn("no IPv6 policy rule; IPv6 crypto ACLs will not be routed", "err", err)
				continue
			}
			return nil, err
		}
		k.rules = append(k.rules, pr)
	}
	return k, nil
}

// Apply makes the routes and the cleartext policy those of entries: new
// routes are added (or updated in place) before the ones no entry needs
// any more are deleted, so traffic of unchanged entries never falls out of
// the TUN; the cleartext table is replaced atomically. A failing step
// does not stop the others.
func (k *KernelPolicy) Apply(entries []Entry) error {
	var errs []error
	addrs, err := k.rtnl.Addrs()
	if err != nil {
		errs = append(errs, fmt.Errorf("routes: %w", err))
	} else {
		// Routes are identified by destination; AddRoute replaces a
		// route with the same destination. The destinations kept are
		// found by a scan of the added routes rather than a map keyed
		// by prefix, whose hash function and map types cost flash; a
		// reload's few hundred routes at most make that a few thousand
		// comparisons.
		var now []Route
		for _, rt := range RoutesFor(entries, k.dev.Index(), addrs, k.Warn) {
			if err := k.rtnl.AddRoute(rt); err != nil {
				errs = append(errs, err)
				continue
			}
			now = append(now, rt)
		}
		added := now
		for _, rt := range k.routes {
			if hasRoute(added, rt.Dst) {
				continue
			}
			if err := k.rtnl.DelRoute(rt); err != nil {
				errs = append(errs, err)
				now = append(now, rt) // still there: forget it only once it is gone
			}
		}
		k.routes = now
	}
	p, err := InstallCleartextPolicy(DefaultCleartextTable, k.dev.Name(), BypassMark, entries)
	if err != nil {
		errs = append(errs, fmt.Errorf("cleartext policy: %w", err))
	} else {
		k.clear = p
	}
	return joinErrors(errs)
}

// joinErrors is errjoin.Join out of line: in this package the compiler
// would inline it, and each copy in these set-up paths cost flash.
//
//go:noinline
func joinErrors(errs []error) error { return errjoin.Join(errs) }

// Routes is the number of routes into the TUN.
func (k *KernelPolicy) Routes() int { return len(k.routes) }

// Close removes the cleartext table and the policy rules; the routes
// leave with the TUN device.
func (k *KernelPolicy) Close() error {
	var errs []error
	if err := k.clear.Remove(); err != nil {
		errs = append(errs, fmt.Errorf("removing the cleartext policy: %w", err))
	}
	for _, pr := range k.rules {
		if err := k.rtnl.DelRule(pr); err != nil {
			errs = append(errs, fmt.Errorf("removing policy rule: %w", err))
		}
	}
	return joinErrors(errs)
}

// RoutesFor lists the routes into the TUN ifIndex for entries: one per
// remote prefix of a permit line, with a preferred source address when
// the host has one (addrs) inside the line's local prefix, so that locally
// originated traffic matches the ACL; or the entry's own Routes. A line
// whose destination is any gets no route (warn says so): it would swallow
// the host's default route.
func RoutesFor(entries []Entry, ifIndex int, addrs []netip.Prefix, warn func(msg string, args ...any)) []Route {
	var routes []Route
	for _, e := range entries {
		// One loop over either the entry's own routes or its lines, so
		// that the duplicate check and the append are written once.
		own := e.OwnRoutes || e.Routes != nil
		n := len(e.Lines)
		if own {
			n = len(e.Routes)
		}
		for i := 0; i < n; i++ {
			var rt Route
			if own {
				rt = e.Routes[i]
			} else {
				l := &e.Lines[i]
				if !l.Permit {
					continue
				}
				if !l.Dst.IsValid() || l.Dst.Bits() == 0 {
					if warn != nil {
						warn("crypto ACL line with destination any: no route into the TUN; add routes for the remote networks yourself", "rule", l.Text)
					}
					continue
				}
				rt = Route{Dst: l.Dst.Masked(), IfIndex: ifIndex, Table: Table}
				if l.Src.IsValid() {
					for _, a := range addrs {
						if l.Src.Contains(a.Addr()) {
							rt.Src = a.Addr()
							break
						}
					}
				}
			}
			if !hasRoute(routes, rt.Dst) {
				routes = append(routes, rt)
			}
		}
	}
	return routes
}

// hasRoute reports whether routes has one to dst. Not inlined: its two
// callers' copies cost more flash than the call.
//
//go:noinline
func hasRoute(routes []Route, dst netip.Prefix) bool {
	for i := range routes {
		if routes[i].Dst == dst {
			return true
		}
	}
	return false
}

// PathTo is the route our own (marked) packets take to peer.
func (r *RTNL) PathTo(peer netip.Addr) (Route, error) { return r.RouteGet(peer, BypassMark) }

// PathMTU is the MTU of the route (its own, or its interface's), 0 when
// unknown. The interface's MTU is asked for each time (two ioctls): an MTU
// the admin changes is seen by the next SA pair installed.
func (r *RTNL) PathMTU(rt Route) int {
	if rt.MTU != 0 {
		return int(rt.MTU)
	}
	if rt.IfIndex == 0 {
		return 0
	}
	// The name first: SIOCGIFMTU takes the interface by name. An error
	// is an unknown MTU.
	ifr, _ := unix.NewIfreq("")
	ifr.SetUint32(uint32(rt.IfIndex))
	if netif.Ioctl(ifr, unix.SIOCGIFNAME, unix.SIOCGIFMTU) != nil {
		return 0
	}
	return int(ifr.Uint32())
}
