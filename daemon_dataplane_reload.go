package main

import (
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"

	"tinyipsec/acl"
	"tinyipsec/conf"
	"tinyipsec/tun"
)

// reload switches the data plane to next's crypto maps without a restart
// (the daemon has already put the running values of the restart-only
// [global] settings into next):
//
//   - the engine gets the new classifier and entry list in one swap;
//     entries are matched by crypto map ID, so unchanged maps keep their
//     SAs and lose no packet, removed maps lose theirs;
//   - manually keyed maps that changed get their new SA pair, new ones
//     theirs (changed IKE-keyed maps are IKE's to renegotiate);
//   - routes into the TUN for new remote prefixes are added before those
//     no longer needed are deleted, so traffic of unchanged maps never
//     falls out of the TUN;
//   - the inbound cleartext policy is replaced atomically.
//
// A failing step is reported but does not stop the others: the running
// configuration is then as close to next as the system allowed.
func (d *dataplane) reload(old, next *conf.Config) error {
	prev := map[string]*conf.CryptoMap{}
	for _, m := range d.maps {
		prev[m.ID()] = m
	}
	d.raMu.Lock()
	defer d.raMu.Unlock()
	lists, ids := compileACLs(next.CryptoMaps)

	// Manual pairs whose crypto map changed or left go first: a changed
	// map may reuse its SPIs, which the engine refuses twice.
	for _, m := range next.CryptoMaps {
		if p := d.manual[m.ID()]; p != nil && !sameMap(prev[m.ID()], m) {
			d.engine.Remove(p)
			delete(d.manual, m.ID())
			d.log.Info("manual SA removed: crypto map changed", "crypto_map", m.ID())
		}
	}
	// Remote-access clients keep the ACL their lease gave them.
	d.maps = next.CryptoMaps
	d.applyRALists(lists)
	removed, err := d.engine.Reconfigure(acl.NewClassifier(lists), ids)
	if err != nil {
		return fmt.Errorf("data plane: %w", err)
	}
	for _, p := range removed {
		d.log.Info("IPsec SA removed: crypto map removed", "crypto_map", p.Info.CryptoMap,
			"spi_in", fmt.Sprintf("0x%08x", p.Info.SPIIn), "spi_out", fmt.Sprintf("0x%08x", p.Info.SPIOut))
		if d.manual[p.Info.CryptoMap] == p {
			delete(d.manual, p.Info.CryptoMap)
		}
	}
	d.cfg, d.maps, d.lists = next, next.CryptoMaps, lists

	var errs []error
	if err := d.replaceRoutes(); err != nil {
		errs = append(errs, err)
	}
	if p, err := tun.InstallCleartextPolicy(tun.DefaultCleartextTable, d.dev.Name(), bypassMark, d.cleartextRules()); err != nil {
		errs = append(errs, fmt.Errorf("cleartext policy: %w", err))
	} else {
		d.policy = p
	}
	for i, m := range d.maps {
		if m.IKEKeyed() || m.Manual == nil || d.manual[m.ID()] != nil {
			continue
		}
		var path tun.Route
		if m.PeerAddr.IsValid() {
			path, _ = d.rtnl.RouteGet(m.PeerAddr, bypassMark)
		}
		if err := d.installManual(i, m, path); err != nil {
			errs = append(errs, fmt.Errorf("crypto map %s: %w", m.ID(), err))
		}
	}
	if d.udp == nil && needsIKE(next) {
		if err := d.openIKE(); err != nil {
			errs = append(errs, fmt.Errorf("IKE sockets for the first IKE-keyed crypto map: %w", err))
		}
	}
	return errors.Join(errs...)
}

// openIKE opens the IKE sockets (UDP 500 and 4500) after the start, when
// a reload brings the first IKE-keyed crypto map; the engine's sender
// switches to a wire that carries ESP in UDP over them.
func (d *dataplane) openIKE() error {
	udp, err := tun.ListenUDP(d.cfg.Global.Listen)
	if err != nil {
		return err
	}
	if err := udp.SetMark(bypassMark); err != nil {
		udp.Close()
		return err
	}
	d.udp = udp
	d.wire.p.Store(&tun.Wire{IP: d.ip, UDP: udp})
	udp.SetESPHandler(d.engine.ReceiveUDP)
	udp.Start()
	return nil
}

// swappableWire is the engine's sender. It exists because the IKE
// sockets, which carry ESP in UDP, may open while the engine runs
// (openIKE): the packet paths load the current wire with one atomic read,
// without a lock or an allocation.
type swappableWire struct{ p atomic.Pointer[tun.Wire] }

func (w *swappableWire) Send(bufs [][]byte, offset int) error { return w.p.Load().Send(bufs, offset) }

// newWire makes the engine's sender over the current sockets.
func (d *dataplane) newWire() *swappableWire {
	d.wire = &swappableWire{}
	d.wire.p.Store(&tun.Wire{IP: d.ip, UDP: d.udp})
	return d.wire
}

// sameMap reports whether a crypto map kept its settings across a reload.
func sameMap(a, b *conf.CryptoMap) bool {
	return a != nil && b != nil && a.ID() == b.ID() && a.Fingerprint() == b.Fingerprint()
}

// replaceRoutes makes the routes into the TUN those of the current crypto
// ACLs: new ones are added (or updated in place) first, then the ones no
// ACL needs any more are deleted. Routes are identified by destination;
// AddRoute replaces a route with the same destination.
func (d *dataplane) replaceRoutes() error {
	want, err := d.routesFor()
	if err != nil {
		return fmt.Errorf("routes: %w", err)
	}
	var errs []error
	keep := map[netip.Prefix]bool{}
	var now []tun.Route
	for _, rt := range want {
		if err := d.rtnl.AddRoute(rt); err != nil {
			errs = append(errs, err)
			continue
		}
		keep[rt.Dst] = true
		now = append(now, rt)
	}
	for _, rt := range d.routes {
		if keep[rt.Dst] {
			continue
		}
		if err := d.rtnl.DelRoute(rt); err != nil {
			errs = append(errs, err)
			now = append(now, rt) // still there: forget it only once it is gone
		}
	}
	d.routes = now
	return errors.Join(errs...)
}
