package main

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"tinyipsec/conf"
	"tinyipsec/esp"
	"tinyipsec/ike"
)

// ikeDaemon runs the IKEv1 manager for the crypto maps with keying =
// "isakmp" and installs what it negotiates into the data plane's engine.
type ikeDaemon struct {
	log     *slog.Logger
	mgr     *ike.Manager
	plane   *espPlane
	enabled bool
}

// hasISAKMPMaps reports whether any crypto map is keyed by IKE.
func hasISAKMPMaps(cfg *conf.Config) bool {
	for _, m := range cfg.CryptoMaps {
		if m.Keying == "" || m.Keying == "isakmp" {
			return true
		}
	}
	return false
}

// startIKE starts IKE on the data plane's sockets. Without IKE-keyed
// crypto maps it returns a component that does nothing, so that the IKE
// ports only answer when there is something to negotiate.
func startIKE(cfg *conf.Config, dp *dataplane, logger *slog.Logger) (*ikeDaemon, error) {
	d := &ikeDaemon{log: logger}
	if !hasISAKMPMaps(cfg) {
		return d, nil
	}
	d.plane = newESPPlane(cfg, dp.Engine())
	mgr, err := ike.NewManager(ike.Config{
		Conf:      cfg,
		Transport: dp.UDP(),
		DataPlane: d.plane,
		Log:       logger.With("part", "ike"),
	})
	if err != nil {
		return nil, err
	}
	d.mgr, d.enabled = mgr, true
	dp.UDP().SetIKEHandler(mgr.HandlePacket)
	dp.Engine().SetAcquire(d.Acquire)
	dp.Engine().SetExpire(func(p *esp.Pair, hard bool) { mgr.Expired(p, hard) })
	mgr.Start()
	return d, nil
}

// Acquire is the engine's on-traffic hook: entry i is cfg.CryptoMaps[i].
// It must not block; the manager hands the work to its own goroutine.
func (d *ikeDaemon) Acquire(entry int, pkt []byte) {
	if !d.enabled || entry < 0 || entry >= len(d.plane.maps) {
		return
	}
	d.mgr.Acquire(d.plane.maps[entry].ID(), pkt)
}

func (d *ikeDaemon) addStatus(r *statusReport) {
	if !d.enabled {
		return
	}
	for _, s := range d.mgr.Status() {
		r.IKESAs = append(r.IKESAs, ikeSAStatus(s))
	}
}

// reload keeps running when no IKE-keyed crypto map changed; otherwise a
// restart is needed (the data plane asks for one in that case too).
func (d *ikeDaemon) reload(old, new *conf.Config) error {
	fp := func(c *conf.Config) map[string]string {
		m := map[string]string{}
		for _, cm := range c.CryptoMaps {
			if cm.Keying == "" || cm.Keying == "isakmp" {
				m[cm.ID()] = cm.Fingerprint()
			}
		}
		return m
	}
	a, b := fp(old), fp(new)
	if len(a) != len(b) {
		return errors.New("ike: crypto maps changed; restart needed")
	}
	for k, v := range a {
		if b[k] != v {
			return fmt.Errorf("ike: crypto map %s changed; restart needed", k)
		}
	}
	if !policiesEqual(old.Policies, new.Policies) || old.Global.AllowWeak != new.Global.AllowWeak {
		return errors.New("ike: ISAKMP policies changed; restart needed")
	}
	return nil
}

func policiesEqual(a, b []conf.ISAKMPPolicy) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// close sends Delete for every SA and removes them from the engine.
func (d *ikeDaemon) close() {
	if d.enabled {
		d.plane.engine.SetAcquire(nil)
		d.plane.engine.SetExpire(nil)
		d.mgr.Close()
	}
}

// espPlane adapts *esp.Engine to ike.DataPlane.
type espPlane struct {
	engine *esp.Engine
	maps   []*conf.CryptoMap // engine entry i
}

func newESPPlane(cfg *conf.Config, e *esp.Engine) *espPlane {
	return &espPlane{engine: e, maps: cfg.CryptoMaps}
}

func (p *espPlane) entryOf(cm *conf.CryptoMap) (int, error) {
	for i, m := range p.maps {
		if m == cm || m.ID() == cm.ID() {
			return i, nil
		}
	}
	return -1, fmt.Errorf("crypto map %s is not a data plane entry", cm.ID())
}

// lifetimeSlack lets the engine's hard limit trail IKE's own expiry, so
// that the manager, which rekeys and deletes in time, stays in charge.
const lifetimeSlack = 30 * time.Second

// InstallChild builds both directions and installs the pair.
func (p *espPlane) InstallChild(c *ike.ChildSA) (ike.ChildHandle, error) {
	entry, err := p.entryOf(c.CryptoMap)
	if err != nil {
		return nil, err
	}
	var proto esp.Proto
	switch c.Protocol {
	case "ah+esp":
		proto = esp.ProtoAHESP
	case "ah":
		proto = esp.ProtoAH
	default:
		proto = esp.ProtoESP
	}
	mode := esp.Tunnel
	if c.Mode == "transport" {
		mode = esp.Transport
	}
	base := esp.Params{
		Proto: proto, Mode: mode, Cipher: c.Encryption, Integ: c.Integrity, AHInteg: c.AHIntegrity,
		Local: c.Local.Addr(), Remote: c.Remote.Addr(), ESN: c.ESN, ReplayWindow: c.CryptoMap.ReplayWindow,
	}
	if c.Encap {
		base.LocalPort, base.RemotePort = c.Local.Port(), c.Remote.Port()
	}
	if c.Lifetime > 0 {
		base.HardTime = c.Lifetime + lifetimeSlack
	}
	if c.LifetimeKB > 0 {
		// Volume lifetimes are the engine's to count: it reports the soft
		// limit (90 %) so that IKE rekeys before the hard one.
		base.HardBytes = c.LifetimeKB * 1024
		base.SoftBytes = base.HardBytes / 10 * 9
	}
	in, out := base, base
	switch proto {
	case esp.ProtoAH:
		in.SPI, out.SPI = c.AHIn.SPI, c.AHOut.SPI
		in.AHKey, out.AHKey = c.AHIn.AuthKey, c.AHOut.AuthKey
	default:
		in.SPI, out.SPI = c.ESPIn.SPI, c.ESPOut.SPI
		in.EncKey, out.EncKey = c.ESPIn.EncKey, c.ESPOut.EncKey
		in.AuthKey, out.AuthKey = c.ESPIn.AuthKey, c.ESPOut.AuthKey
		if proto == esp.ProtoAHESP {
			in.AHSPI, out.AHSPI = c.AHIn.SPI, c.AHOut.SPI
			in.AHKey, out.AHKey = c.AHIn.AuthKey, c.AHOut.AuthKey
		}
	}
	in.Selector = selectors{c.Selector}
	inSA, err := esp.NewInbound(in)
	if err != nil {
		return nil, err
	}
	outSA, err := esp.NewOutbound(out)
	if err != nil {
		inSA.Close()
		return nil, err
	}
	integ := c.Integrity
	if c.AHIntegrity != "" {
		if integ != "" {
			integ += " "
		}
		integ += "ah-" + c.AHIntegrity
	}
	info := esp.PairInfo{
		ForRule: true, Rule: c.Rule,
		CryptoMap: c.CryptoMap.ID(), Peer: c.Remote.Addr(), Local: c.Local.Addr(),
		LocalSelector: c.Selector.Local.String(), RemoteSelector: c.Selector.Remote.String(),
		Protocol: proto, Mode: mode,
		SPIIn: in.SPI, SPIOut: out.SPI, AHSPIIn: in.AHSPI, AHSPIOut: out.AHSPI,
		Encryption: c.Encryption, Integrity: integ, Keying: "isakmp",
		Lifetime: c.Lifetime, LifetimeKB: c.LifetimeKB,
	}
	pair, err := p.engine.InstallPair(entry, inSA, outSA, info)
	if err != nil {
		inSA.Close()
		outSA.Close()
		return nil, err
	}
	return pair, nil
}

// RemoveChild takes a pair out of the engine (keys wiped once no packet
// loop still uses them).
func (p *espPlane) RemoveChild(h ike.ChildHandle) {
	if pair, ok := h.(*esp.Pair); ok {
		p.engine.Remove(pair)
	}
}
