package dataplane

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"tinyipsec/acl"
	"tinyipsec/conf"
	"tinyipsec/ike"
	"tinyipsec/internal/errjoin"
	"tinyipsec/tun"

	"golang.org/x/sys/unix"
)

// Remote access in the data plane. A client map's crypto ACL, the inner
// address on the TUN, its routes and the resolv file come from what the
// gateway assigned (Mode-Config); a gateway map's ACL is one line per pool
// address (conf builds it) and its routes cover the pool.

// raLease is what a client map got from its gateway.
type raLease struct {
	_      [0]func() // not comparable: no generated == function (flash)
	lease  *ike.Lease
	list   *acl.List
	resolv string // the resolv file written for it, removed at shutdown
}

// ApplyLease implements ike.RemoteAccessHost.
func (d *Dataplane) ApplyLease(cm *conf.CryptoMap, l *ike.Lease) error {
	// Unlocked at the end without defer: a deferred call costs a wrapper
	// function and a call at every return (flash); nothing recovers from
	// a panic here.
	d.raMu.Lock()
	if d.ra == nil {
		d.ra = map[string]*raLease{}
	}
	var errs []error
	id := cm.ID()
	old := d.ra[id]
	// The new address goes on before the old one leaves, so that the
	// routes find their preferred source.
	for _, a := range []netip.Addr{l.IP4, l.IP6} {
		if a.IsValid() {
			addErr(&errs, d.rtnl.AddAddrNoDAD(d.dev.Index(), netip.PrefixFrom(a, a.BitLen())))
		}
	}
	if old != nil {
		for _, a := range []netip.Addr{old.lease.IP4, old.lease.IP6} {
			if a.IsValid() && a != l.IP4 && a != l.IP6 {
				addErr(&errs, d.rtnl.DelAddr(d.dev.Index(), netip.PrefixFrom(a, a.BitLen())))
			}
		}
	}
	d.ra[id] = &raLease{lease: l, list: l.ACL(), resolv: cm.ResolvFile}
	d.applyRALists(d.maps, d.lists)
	ids := make([]string, len(d.maps))
	for i, m := range d.maps {
		ids[i] = m.ID()
	}
	if _, err := d.engine.Reconfigure(acl.NewClassifier(d.lists), ids); err != nil {
		addErr(&errs, fmt.Errorf("data plane: %w", err))
	}
	addErr(&errs, d.kernel.Apply(d.kernelEntries()))
	if cm.ResolvFile != "" {
		addErr(&errs, writeResolv(cm.ResolvFile, id, l.DNS))
	}
	d.log.Info("remote access: inner address on the TUN", "crypto_map", id, "address", &l.IP4, "address6", &l.IP6,
		"routes", d.kernel.Routes(), "resolv_file", cm.ResolvFile)
	d.raMu.Unlock()
	return errjoin.Join(errs)
}

// applyRALists puts the client maps' lease ACLs into lists (entry i is
// maps[i]); the configuration has none for them.
func (d *Dataplane) applyRALists(maps []*conf.CryptoMap, lists []*acl.List) {
	for i, m := range maps {
		if r := d.ra[m.ID()]; r != nil && m.RemoteAccessClient() {
			lists[i] = r.list
		}
	}
}

// raRoutes are the routes a remote-access map needs beyond one per ACL
// line: a client without split networks sends everything through the
// tunnel (two half-default routes, so the main table's default stays for
// everything marked as ours: IKE and ESP to the gateway keep their path);
// a gateway routes its pool.
func (d *Dataplane) raRoutes(m *conf.CryptoMap) (routes []tun.Route, handled bool) {
	switch {
	case m.RemoteAccessGateway():
		for _, p := range rangePrefixes(m.PoolFirst, m.PoolLast) {
			routes = append(routes, tun.Route{Dst: p, IfIndex: d.dev.Index(), Table: tun.Table})
		}
		return routes, true
	case m.RemoteAccessClient():
		r := d.ra[m.ID()]
		if r == nil {
			return nil, true
		}
		for _, a := range []netip.Addr{r.lease.IP4, r.lease.IP6} {
			if !a.IsValid() {
				continue
			}
			var dsts []netip.Prefix
			for _, p := range r.lease.Split {
				if p.Addr().Is4() == a.Is4() {
					dsts = append(dsts, p)
				}
			}
			if len(r.lease.Split) == 0 {
				// The two halves of a's family's space, 0.0.0.0/1 and
				// 128.0.0.0/1 or ::/1 and 8000::/1, from its /0: made, not
				// parsed (MustParsePrefix is linked for nothing else; flash).
				all, _ := a.Prefix(0)
				hi, _ := lastAddr(all).Prefix(1)
				dsts = []netip.Prefix{netip.PrefixFrom(all.Addr(), 1), hi}
			}
			for _, p := range dsts {
				routes = append(routes, tun.Route{Dst: p, IfIndex: d.dev.Index(), Table: tun.Table, Src: a})
			}
		}
		return routes, true
	}
	return nil, false
}

// rangePrefixes covers first..last with the fewest prefixes.
func rangePrefixes(first, last netip.Addr) []netip.Prefix {
	var out []netip.Prefix
	for a := first; a.IsValid() && !last.Less(a); {
		bits := a.BitLen()
		for bits > 0 {
			p := netip.PrefixFrom(a, bits-1).Masked()
			end := lastAddr(p)
			if p.Addr() != a || last.Less(end) {
				break
			}
			bits--
		}
		p := netip.PrefixFrom(a, bits)
		out = append(out, p)
		end := lastAddr(p)
		if end == last {
			break
		}
		a = end.Next()
	}
	return out
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// addErr adds err, when there is one, to the errors a step collects: one
// call at each site instead of an append with its own growth path (flash).
func addErr(errs *[]error, err error) {
	if err != nil {
		*errs = append(*errs, err)
	}
}

// writeResolv writes the pushed DNS servers in resolv.conf format, by
// rename so that a reader never sees half a file.
func writeResolv(path, mapID string, dns []netip.Addr) error {
	var b strings.Builder
	b.WriteString("# DNS servers of remote-access crypto map " + mapID + " (written by tinyipsec)\n")
	for _, a := range dns {
		b.WriteString("nameserver " + a.String() + "\n")
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("resolv_file: %w", err)
	}
	// unix.Rename rather than os.Rename, linked for nothing else (flash).
	if err := unix.Rename(tmp, path); err != nil {
		syscall.Unlink(tmp)
		return fmt.Errorf("resolv_file: rename %s %s: %w", tmp, path, err)
	}
	return nil
}
