package main

import (
	"log/slog"
	"strings"
	"sync"
	"time"
	"tinyipsec/internal/status"

	"tinyipsec/conf"
	"tinyipsec/esp"
	"tinyipsec/ike"
)

// ikeDaemon runs the IKEv1 manager for the crypto maps with keying =
// "isakmp" and installs what it negotiates into the data plane's engine.
type ikeDaemon struct {
	log     *slog.Logger
	dp      *dataplane // for a reload that brings the first IKE-keyed map
	mgr     *ike.Manager
	plane   *espPlane
	enabled bool
}

// startIKE starts IKE on the data plane's sockets. Without IKE-keyed
// crypto maps it returns a component that does nothing, so that the IKE
// ports only answer when there is something to negotiate.
func startIKE(cfg *conf.Config, dp *dataplane, logger *slog.Logger) (*ikeDaemon, error) {
	d := &ikeDaemon{log: logger, dp: dp}
	if !cfg.IKEKeyed() {
		return d, nil
	}
	d.plane = &espPlane{engine: dp.Engine()}
	mgr, err := ike.NewManager(ike.Config{
		Conf:      cfg,
		Transport: dp.UDP(),
		DataPlane: d.plane,
		Log:       logger.With("part", "ike"),

		RemoteAccess: dp,
	})
	if err != nil {
		return nil, err
	}
	d.mgr, d.enabled = mgr, true
	dp.UDP().SetIKEHandler(mgr.HandlePacket)
	// By crypto map ID: entry indexes move when a reload reorders maps.
	dp.Engine().SetAcquireByID(mgr.Acquire)
	dp.Engine().SetExpire(func(p *esp.Pair, hard bool) { mgr.Expired(p, hard) })
	mgr.Start()
	return d, nil
}

func (d *ikeDaemon) addStatus(r *status.Report) {
	if !d.enabled {
		return
	}
	for _, s := range d.mgr.Status() {
		r.IKESAs = append(r.IKESAs, s)
	}
}

// reload hands the new configuration to the manager: unchanged crypto
// maps keep their SAs, changed and removed ones are deleted (with Delete
// notifications) and new ones start. The data plane has already switched
// its entries (see dataplane.reload).
func (d *ikeDaemon) reload(old, next *conf.Config) error {
	if !d.enabled {
		if !next.IKEKeyed() || d.dp.UDP() == nil {
			return nil // nothing to negotiate, or no IKE sockets (logged by the data plane)
		}
		// The first IKE-keyed crypto map: start IKE as at startup, on
		// the sockets the data plane has just opened.
		nd, err := startIKE(next, d.dp, d.log)
		if err != nil {
			return err
		}
		*d = *nd
		d.log.Info("IKE started for the first IKE-keyed crypto map")
		return nil
	}
	res, err := d.mgr.Reload(next)
	if err != nil {
		return err
	}
	d.log.Info("IKE crypto maps reloaded", "kept", strings.Join(res.Kept, " "), "changed", strings.Join(res.Changed, " "),
		"removed", strings.Join(res.Removed, " "), "added", strings.Join(res.Added, " "))
	return nil
}

// close sends Delete for every SA and removes them from the engine.
func (d *ikeDaemon) close() {
	if d.enabled {
		d.plane.engine.SetAcquire(nil)
		d.plane.engine.SetExpire(nil)
		d.mgr.Close()
	}
}

// espPlane adapts *esp.Engine to ike.DataPlane. Pairs go to the engine
// entry of their crypto map's ID, which a reload never makes stale.
type espPlane struct {
	engine *esp.Engine
	// keys are copies of the pairs' keys for "tinyipsec keys" (daemon_keys.go).
	mu   sync.Mutex
	keys map[*esp.Pair]pairKeys
}

// lifetimeSlack lets the engine's hard limit trail IKE's own expiry, so
// that the manager, which rekeys and deletes in time, stays in charge.
const lifetimeSlack = 30 * time.Second

// InstallChild builds both directions and installs the pair.
func (p *espPlane) InstallChild(c *ike.ChildSA) (ike.ChildHandle, error) {
	spec := esp.PairSpec{
		Shared: esp.Params{
			Proto: esp.ProtoOf(c.Encryption != "", c.AHIntegrity != ""), Mode: espMode(c.Mode),
			Cipher: c.Encryption, Integ: c.Integrity, AHInteg: c.AHIntegrity,
			Local: c.Local.Addr(), Remote: c.Remote.Addr(), ESN: c.ESN, ReplayWindow: c.CryptoMap.ReplayWindow,
			Selector: c.Selector,
		},
		In:  esp.Keys{SPI: c.ESPIn.SPI, AHSPI: c.AHIn.SPI, EncKey: c.ESPIn.EncKey, AuthKey: c.ESPIn.AuthKey, AHKey: c.AHIn.AuthKey},
		Out: esp.Keys{SPI: c.ESPOut.SPI, AHSPI: c.AHOut.SPI, EncKey: c.ESPOut.EncKey, AuthKey: c.ESPOut.AuthKey, AHKey: c.AHOut.AuthKey},
	}
	if c.Encap {
		spec.Shared.LocalPort, spec.Shared.RemotePort = c.Local.Port(), c.Remote.Port()
	}
	if c.Lifetime > 0 {
		spec.Shared.HardTime = c.Lifetime + lifetimeSlack
	}
	if c.LifetimeKB > 0 {
		// Volume lifetimes are the engine's to count: it reports the soft
		// limit (90 %) so that IKE rekeys before the hard one.
		spec.Shared.HardBytes = c.LifetimeKB * 1024
		spec.Shared.SoftBytes = spec.Shared.HardBytes / 10 * 9
	}
	inSA, outSA, err := esp.NewPair(spec)
	if err != nil {
		return nil, err
	}
	info := spec.Info()
	// The negotiated selectors, not the ACL line, choose the pair for
	// outbound packets: on a hub every spoke's pair sits on one line.
	info.ForRule, info.Rule, info.Traffic = true, c.Rule, c.Selector
	info.CryptoMap, info.Peer, info.Local, info.Keying = c.CryptoMap.ID(), c.Remote.Addr(), c.Local.Addr(), "isakmp"
	info.LocalSelector, info.RemoteSelector = c.Selector.Local.String(), c.Selector.Remote.String()
	info.Lifetime, info.LifetimeKB = c.Lifetime, c.LifetimeKB
	pair, err := p.engine.InstallPairFor(c.CryptoMap.ID(), inSA, outSA, info)
	if err != nil {
		inSA.Close()
		outSA.Close()
		return nil, err
	}
	p.rememberKeys(pair, &spec, c)
	return pair, nil
}

// PacketsIn tells DPD how many packets a pair has accepted.
func (p *espPlane) PacketsIn(h ike.ChildHandle) uint64 {
	if pair, ok := h.(*esp.Pair); ok {
		return pair.PacketsIn()
	}
	return 0
}

// RemoveChild takes a pair out of the engine (keys wiped once no packet
// loop still uses them).
func (p *espPlane) RemoveChild(h ike.ChildHandle) {
	if pair, ok := h.(*esp.Pair); ok {
		p.forgetKeys(pair)
		p.engine.Remove(pair)
	}
}
