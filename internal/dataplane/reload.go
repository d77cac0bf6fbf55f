package dataplane

import (
	"fmt"

	"tinyipsec/acl"
	"tinyipsec/conf"
	"tinyipsec/internal/errjoin"
	"tinyipsec/tun"
)

// Reload switches the data plane to next's crypto maps without a restart
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
func (d *Dataplane) Reload(old, next *conf.Config) error {
	prev := map[string]*conf.CryptoMap{}
	for _, m := range d.maps {
		prev[m.ID()] = m
	}
	d.raMu.Lock()
	lists, ids := compileACLs(next.CryptoMaps)

	// Manual pairs whose crypto map changed or left go first: a changed
	// map may reuse its SPIs, which the engine refuses twice.
	for _, m := range next.CryptoMaps {
		id := m.ID()
		if p := d.manual[id]; p != nil && (prev[id] == nil || prev[id].Fingerprint() != m.Fingerprint()) {
			d.engine.Remove(p)
			delete(d.manual, id)
			d.log.Info("manual SA removed: crypto map changed", "crypto_map", id)
		}
	}
	// Remote-access clients keep the ACL their lease gave them. d.maps
	// stays the running list until the engine took the new one: on a
	// refusal, maps and lists must still match entry for entry.
	d.applyRALists(next.CryptoMaps, lists)
	removed, err := d.engine.Reconfigure(acl.NewClassifier(lists), ids)
	if err != nil {
		d.raMu.Unlock()
		return fmt.Errorf("data plane: %w", err)
	}
	for _, p := range removed {
		d.log.Info("IPsec SA removed: crypto map removed", "crypto_map", p.Info.CryptoMap,
			"spi_in", SPIText(p.Info.SPIIn), "spi_out", SPIText(p.Info.SPIOut))
		if d.manual[p.Info.CryptoMap] == p {
			delete(d.manual, p.Info.CryptoMap)
		}
	}
	d.cfg, d.maps, d.lists = next, next.CryptoMaps, lists

	var errs []error
	addErr(&errs, d.kernel.Apply(d.kernelEntries()))
	for i, m := range d.maps {
		if m.IKEKeyed() || m.Manual == nil || d.manual[m.ID()] != nil {
			continue
		}
		var path tun.Route
		if m.PeerAddr.IsValid() {
			path, _ = d.rtnl.PathTo(m.PeerAddr)
		}
		if err := d.installManual(i, m, path); err != nil {
			addErr(&errs, fmt.Errorf("crypto map %s: %w", m.ID(), err))
		}
	}
	if d.udp == nil && next.IKEKeyed() {
		// The IKE sockets (UDP 500 and 4500), after the start: the first
		// IKE-keyed crypto map; the engine's sender switches to a wire
		// that carries ESP in UDP over them.
		udp, err := tun.ListenUDP(d.cfg.Global.Listen)
		if err == nil {
			if err = udp.SetMark(tun.BypassMark); err != nil {
				udp.Close()
			}
		}
		if err != nil {
			addErr(&errs, fmt.Errorf("IKE sockets for the first IKE-keyed crypto map: %w", err))
		} else {
			d.udp = udp
			d.wire.SetUDP(udp)
			d.startUDP()
		}
	}
	d.raMu.Unlock() // not deferred (flash: see ApplyLease)
	return errjoin.Join(errs)
}
