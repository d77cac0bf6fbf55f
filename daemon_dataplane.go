package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"

	"tinyipsec/acl"
	"tinyipsec/conf"
	"tinyipsec/esp"
	"tinyipsec/tun"
)

// dataplane is the running packet machinery: the TUN device with its
// routes, the raw ESP/AH sockets, the IKE UDP sockets, the inbound
// cleartext policy and the esp engine with its loops. IKE attaches to it
// through Engine() and UDP().
type dataplane struct {
	log    *slog.Logger
	cfg    *conf.Config
	maps   []*conf.CryptoMap // policy entry i is maps[i]
	lists  []*acl.List
	dev    *tun.Device
	ip     *tun.IPConn
	bypass *tun.Bypass // cleartext out for traffic no crypto ACL permits
	udp    *tun.UDP
	wire   *swappableWire // the engine's sender
	rtnl   *tun.RTNL
	engine *esp.Engine
	policy *tun.CleartextPolicy

	routes []tun.Route      // routes into the TUN (in tunTable)
	rules  []tun.PolicyRule // rules that consult tunTable

	// manual are the installed pairs of keying = "manual" crypto maps, by
	// crypto map ID: a reload replaces those whose map changed.
	manual map[string]*esp.Pair

	// ra are the leases of remote-access client maps, by crypto map ID
	// (daemon_ra.go); raMu orders ApplyLease (IKE's goroutine) against
	// reloads.
	raMu sync.Mutex
	ra   map[string]*raLease

	wg        sync.WaitGroup
	closeOnce sync.Once
}

// Routing loops: a peer whose address lies inside a protected prefix
// (always the case in transport mode, where the crypto ACL names the two
// hosts) would have its own ESP, AH and IKE packets routed back into the
// TUN. The routes into the TUN therefore live in their own table, consulted
// by a policy rule for every packet that does NOT carry bypassMark; the raw
// ESP/AH sockets and the IKE sockets set bypassMark (SO_MARK), so their
// packets skip that table and follow the main table to the WAN, wherever the
// WAN route points now or later. (A host route to each peer would also work
// for tunnel mode, but collides with the TUN route in transport mode and
// goes stale when the WAN gateway changes.)
const (
	tunTable     = 0x7a  // routing table with the routes into the TUN
	bypassMark   = 0x7a1 // SO_MARK of our own ESP/AH/IKE sockets
	rulePriority = 0x4c4 // ip rule preference, before "lookup main" (32766)
)

// selectors is the inbound policy check of a manually keyed SA: the
// decrypted packet must be traffic the crypto ACL protects, mirrored
// (remote side to local side).
type selectors []acl.Selector

func (s selectors) MatchesPacket(pkt []byte, inbound bool) bool {
	for i := range s {
		if s[i].MatchesPacket(pkt, inbound) {
			return true
		}
	}
	return false
}

// startDataplane builds the data plane for cfg: the TUN (cfg.Global.Tun,
// cfg.Global.MTU), routes for the remote prefixes of every crypto ACL, the
// sockets, the inbound cleartext policy, and the SAs of keying = "manual"
// crypto maps; then it starts the packet loops. Policy entry i of the
// engine is cfg.CryptoMaps[i]. Close undoes everything; ctx cancellation
// closes it too.
func startDataplane(ctx context.Context, cfg *conf.Config, logger *slog.Logger) (_ *dataplane, err error) {
	d := &dataplane{log: logger, cfg: cfg, maps: cfg.CryptoMaps, manual: map[string]*esp.Pair{}}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	var ids []string
	d.lists, ids = compileACLs(d.maps)
	if d.rtnl, err = tun.DialRTNL(); err != nil {
		return nil, err
	}
	// The path the encrypted packets take: with the bypass mark, as the
	// raw sockets send them.
	peerPaths := map[netip.Addr]tun.Route{}
	for _, m := range d.maps {
		if m.PeerAddr.IsValid() {
			if rt, err := d.rtnl.RouteGet(m.PeerAddr, bypassMark); err == nil {
				peerPaths[m.PeerAddr] = rt
			} else {
				logger.Warn("no route to peer", "crypto_map", m.ID(), "peer", m.PeerAddr, "err", err)
			}
		}
	}
	if d.dev, err = tun.Open(cfg.Global.Tun, cfg.Global.MTU); err != nil {
		return nil, err
	}
	if d.ip, err = tun.ListenIP(); err != nil {
		return nil, err
	}
	if err := d.ip.SetMark(bypassMark); err != nil {
		return nil, err
	}
	// Packets routed into the TUN that no crypto map entry permits (a
	// deny line) leave in cleartext by the main table, as on IOS.
	if d.bypass, err = tun.ListenBypass(bypassMark); err != nil {
		return nil, err
	}
	// The IKE ports are only bound when some crypto map is keyed by IKE:
	// a manually keyed setup leaves them to other software on the router.
	if needsIKE(cfg) {
		if d.udp, err = tun.ListenUDP(cfg.Global.Listen); err != nil {
			return nil, err
		}
		if err := d.udp.SetMark(bypassMark); err != nil {
			return nil, err
		}
	}
	d.engine, err = esp.NewEngine(esp.EngineConfig{
		Device:     d.dev,
		Sender:     d.newWire(),
		Bypass:     d.bypass,
		Classifier: acl.NewClassifier(d.lists),
		Entries:    ids,
		MaxPacket:  max(2048, cfg.Global.MTU+256),
		// A batch takes most of a 64 KB TSO super-packet's segments, and
		// the TUN writes merge up to a batch of decrypted segments.
		Batch:   64,
		PathMTU: d.peerMTU,
	})
	if err != nil {
		return nil, err
	}
	if err := d.addRoutes(); err != nil {
		return nil, err
	}
	if d.policy, err = tun.InstallCleartextPolicy(tun.DefaultCleartextTable, d.dev.Name(), bypassMark, d.cleartextRules()); err != nil {
		return nil, err
	}
	for i, m := range d.maps {
		if m.IKEKeyed() || m.Manual == nil {
			continue
		}
		if err := d.installManual(i, m, peerPaths[m.PeerAddr]); err != nil {
			return nil, fmt.Errorf("crypto map %s: %w", m.ID(), err)
		}
	}
	d.startLoops()
	go func() {
		<-ctx.Done()
		d.Close()
	}()
	logger.Info("data plane up", "tun", d.dev.Name(), "mtu", d.dev.MTU(), "routes", len(d.routes), "entries", len(d.maps))
	return d, nil
}

// compileACLs compiles the crypto ACL of every map (nil for a map without
// one) and lists the maps' IDs: policy entry i of the engine is maps[i].
func compileACLs(maps []*conf.CryptoMap) (lists []*acl.List, ids []string) {
	for _, m := range maps {
		var l *acl.List
		if m.ACL != nil {
			l = acl.Compile(m.ACL.Rules)
		}
		lists = append(lists, l)
		ids = append(ids, m.ID())
	}
	return lists, ids
}

// Engine is the SA table and packet paths, for IKE: its entries are the
// crypto maps, by ID (InstallPairFor).
func (d *dataplane) Engine() *esp.Engine { return d.engine }

// UDP is the IKE socket set (ports 500 and 4500); nil when no crypto map
// is keyed by IKE.
func (d *dataplane) UDP() *tun.UDP { return d.udp }

// needsIKE reports whether any crypto map is keyed by IKE.
func needsIKE(cfg *conf.Config) bool {
	for _, m := range cfg.CryptoMaps {
		if m.IKEKeyed() {
			return true
		}
	}
	return false
}

// Stats is a snapshot of the engine's counters.
func (d *dataplane) Stats() esp.EngineStats { return d.engine.Stats() }

func (d *dataplane) startLoops() {
	run := func(name string, f func() error) {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			if err := f(); err != nil {
				d.log.Error("packet loop stopped", "loop", name, "err", err)
			}
		}()
	}
	run("outbound", d.engine.RunOutbound)
	for _, r := range d.ip.Readers() {
		run("inbound", func() error { return d.engine.RunInbound(r) })
	}
	if d.udp != nil {
		d.udp.SetESPHandler(d.engine.ReceiveUDP)
		d.udp.SetESPBatch(func() tun.ESPBatch { return d.engine.NewUDPBatch() })
		d.udp.Start()
	}
}

// addRoutes routes every crypto ACL's remote prefix into the TUN (in
// tunTable, see bypassMark), with a preferred source address when the host
// has an address inside the ACL's local prefix, so that locally originated
// traffic matches the ACL.
func (d *dataplane) addRoutes() error {
	routes, err := d.routesFor()
	if err != nil {
		return err
	}
	for _, rt := range routes {
		if err := d.rtnl.AddRoute(rt); err != nil {
			return err
		}
		d.routes = append(d.routes, rt)
	}
	for _, v6 := range []bool{false, true} {
		pr := tun.PolicyRule{IPv6: v6, Priority: rulePriority, Table: tunTable, Mark: bypassMark, InvertMark: true}
		if err := d.rtnl.AddRule(pr); err != nil {
			if v6 {
				d.log.Warn("no IPv6 policy rule; IPv6 crypto ACLs will not be routed", "err", err)
				continue
			}
			return err
		}
		d.rules = append(d.rules, pr)
	}
	return nil
}

// routesFor lists the routes into the TUN for the current crypto ACLs,
// one per remote prefix of a permit line.
func (d *dataplane) routesFor() ([]tun.Route, error) {
	addrs, err := d.rtnl.Addrs()
	if err != nil {
		return nil, err
	}
	var routes []tun.Route
	seen := map[netip.Prefix]bool{}
	for i, m := range d.maps {
		if rs, ok := d.raRoutes(m); ok {
			for _, rt := range rs {
				if !seen[rt.Dst] {
					seen[rt.Dst] = true
					routes = append(routes, rt)
				}
			}
			continue
		}
		l := d.lists[i]
		if l == nil {
			continue
		}
		for _, r := range l.Rules() {
			if !r.Permit {
				continue
			}
			if r.DstAny || !r.Dst.IsValid() || r.Dst.Bits() == 0 {
				d.log.Warn("crypto ACL line with destination any: no route into the TUN; add routes for the remote networks yourself",
					"crypto_map", m.ID(), "rule", r.Text)
				continue
			}
			dst := r.Dst.Masked()
			if seen[dst] {
				continue
			}
			seen[dst] = true
			rt := tun.Route{Dst: dst, IfIndex: d.dev.Index(), Table: tunTable}
			if !r.SrcAny && r.Src.IsValid() {
				for _, a := range addrs {
					if r.Src.Contains(a.Addr()) {
						rt.Src = a.Addr()
						break
					}
				}
			}
			routes = append(routes, rt)
		}
	}
	return routes, nil
}

// cleartextRules mirrors every crypto ACL for the inbound cleartext policy.
func (d *dataplane) cleartextRules() [][]tun.CleartextRule {
	var out [][]tun.CleartextRule
	for _, l := range d.lists {
		var rules []tun.CleartextRule
		if l != nil {
			for _, r := range l.Rules() {
				c := tun.CleartextRule{Drop: r.Permit, Proto: r.Proto}
				if !r.DstAny {
					c.Src = r.Dst
				}
				if !r.SrcAny {
					c.Dst = r.Src
				}
				if !r.DstPorts.Any() {
					c.SrcPortLo, c.SrcPortHi = r.DstPorts.Lo, max(r.DstPorts.Hi, r.DstPorts.Lo)
				}
				if !r.SrcPorts.Any() {
					c.DstPortLo, c.DstPortHi = r.SrcPorts.Lo, max(r.SrcPorts.Hi, r.SrcPorts.Lo)
				}
				rules = append(rules, c)
			}
		}
		out = append(out, rules)
	}
	return out
}

// installManual installs the SA pair of a keying = "manual" crypto map.
func (d *dataplane) installManual(entry int, m *conf.CryptoMap, path tun.Route) error {
	if len(m.TransformSets) != 1 {
		return errors.New("manual keying needs exactly one transform set")
	}
	ts := m.TransformSets[0]
	mk := m.Manual
	local := m.Local
	if !local.IsValid() {
		local = path.Src
	}
	if !local.IsValid() || !m.PeerAddr.IsValid() {
		return fmt.Errorf("cannot tell the local address towards peer %s; set local", m.Peer)
	}
	var proto esp.Proto
	switch {
	case ts.ESP != "" && ts.AH != "":
		proto = esp.ProtoAHESP
	case ts.AH != "":
		proto = esp.ProtoAH
	default:
		proto = esp.ProtoESP
	}
	mode := esp.Tunnel
	if ts.Mode == "transport" {
		mode = esp.Transport
	}
	var sel selectors
	if l := d.lists[entry]; l != nil {
		sel = l.ProxyIDs()
	}
	base := esp.Params{
		Proto: proto, Mode: mode, Cipher: ts.ESP, Integ: ts.ESPAuth, AHInteg: ts.AH,
		Local: local, Remote: m.PeerAddr, ESN: m.ESN, ReplayWindow: m.ReplayWindow,
	}
	in, out := base, base
	in.SPI, in.AHSPI = mk.SPIIn, mk.AHSPIIn
	in.EncKey, in.AuthKey, in.AHKey = mk.ESPKeyIn, mk.ESPAuthKeyIn, mk.AHKeyIn
	in.Selector = sel
	out.SPI, out.AHSPI = mk.SPIOut, mk.AHSPIOut
	out.EncKey, out.AuthKey, out.AHKey = mk.ESPKeyOut, mk.ESPAuthKeyOut, mk.AHKeyOut
	inSA, err := esp.NewInbound(in)
	if err != nil {
		return err
	}
	outSA, err := esp.NewOutbound(out)
	if err != nil {
		inSA.Close()
		return err
	}
	info := esp.PairInfo{
		CryptoMap: m.ID(), Peer: m.PeerAddr, Local: local,
		Protocol: proto, Mode: mode,
		SPIIn: mk.SPIIn, SPIOut: mk.SPIOut, AHSPIIn: mk.AHSPIIn, AHSPIOut: mk.AHSPIOut,
		Encryption: ts.ESP.String(), Integrity: integrityName(ts), Keying: "manual",
		PathMTU: pathMTU(path),
	}
	var ls, rs []string
	for _, s := range sel {
		ls = append(ls, s.Local.String())
		rs = append(rs, s.Remote.String())
	}
	info.LocalSelector, info.RemoteSelector = strings.Join(ls, ","), strings.Join(rs, ",")
	if info.PathMTU > 0 && outSA.WireLen(d.dev.MTU()) > info.PathMTU {
		d.log.Info("TUN MTU leaves no room for this transform towards the peer: larger packets are fragmented before encryption, or answered with ICMP fragmentation needed when DF is set",
			"crypto_map", m.ID(), "tun_mtu", d.dev.MTU(), "path_mtu", info.PathMTU, "max_inner", outSA.MaxInner(info.PathMTU))
	}
	pair, err := d.engine.InstallPairFor(m.ID(), inSA, outSA, info)
	if err != nil {
		inSA.Close()
		outSA.Close()
		return err
	}
	d.manual[m.ID()] = pair
	d.log.Info("manual SA installed", "crypto_map", m.ID(), "peer", m.PeerAddr, "local", local,
		"protocol", proto, "mode", mode, "spi_in", fmt.Sprintf("0x%08x", mk.SPIIn), "spi_out", fmt.Sprintf("0x%08x", mk.SPIOut))
	return nil
}

// peerMTU is the MTU towards peer, for SAs installed by IKE.
func (d *dataplane) peerMTU(peer netip.Addr) int {
	rt, err := d.rtnl.RouteGet(peer, bypassMark)
	if err != nil {
		return 0
	}
	return pathMTU(rt)
}

// pathMTU is the MTU of the interface the peer is reached through (or the
// route's own MTU), 0 when unknown.
func pathMTU(rt tun.Route) int {
	if rt.MTU != 0 {
		return int(rt.MTU)
	}
	if rt.IfIndex == 0 {
		return 0
	}
	ifi, err := net.InterfaceByIndex(rt.IfIndex)
	if err != nil {
		return 0
	}
	return ifi.MTU
}

// Close stops the loops, wipes every SA and removes the routes, the
// cleartext policy and the TUN device.
func (d *dataplane) Close() error {
	d.closeOnce.Do(func() {
		if d.engine != nil {
			d.engine.Close()
		}
		if d.udp != nil {
			d.udp.Close()
		}
		if d.ip != nil {
			d.ip.Close()
		}
		if d.bypass != nil {
			d.bypass.Close()
		}
		if d.dev != nil {
			d.dev.Close()
		}
		d.wg.Wait()
		if d.engine != nil {
			d.engine.Wait()
		}
		if d.policy != nil {
			if err := d.policy.Remove(); err != nil {
				d.log.Warn("removing the cleartext policy", "err", err)
			}
		}
		if d.rtnl != nil {
			// The routes into the TUN left with the device.
			for _, pr := range d.rules {
				if err := d.rtnl.DelRule(pr); err != nil {
					d.log.Warn("removing policy rule", "err", err)
				}
			}
			d.rtnl.Close()
		}
	})
	return nil
}

// The daemon's component interface.

func (d *dataplane) close() { d.Close() }

func (d *dataplane) addStatus(r *statusReport) {
	st := d.engine.Stats()
	r.Bypassed += st.Bypassed
	if len(st.Drops) > 0 {
		if r.Drops == nil {
			r.Drops = map[string]uint64{}
		}
		for k, v := range st.Drops {
			r.Drops[k] += v
		}
	}
	for _, e := range st.Entries {
		for k, v := range e.Drops {
			if r.Drops == nil {
				r.Drops = map[string]uint64{}
			}
			r.Drops[k] += v
		}
	}
	d.addKernelDrops(r)
	for _, p := range st.Pairs {
		s := ipsecSAStatus{
			Peer: p.Peer.String(), CryptoMap: p.CryptoMap,
			LocalSelector: p.LocalSelector, RemoteSelector: p.RemoteSelector,
			Protocol: p.Protocol.String(), Mode: p.Mode.String(),
			SPIIn: fmt.Sprintf("0x%08x", p.SPIIn), SPIOut: fmt.Sprintf("0x%08x", p.SPIOut),
			Encryption: p.Encryption, Integrity: p.Integrity, Keying: p.Keying,
			LifetimeLeftS: int64(p.LifetimeLeft.Seconds()),
			PktsIn:        p.PktsIn, PktsOut: p.PktsOut, BytesIn: p.BytesIn, BytesOut: p.BytesOut,
			Drops: p.Drops,
		}
		if p.LifetimeLeft < 0 {
			s.LifetimeLeftS = -1
		}
		if p.Local.IsValid() {
			s.Local = p.Local.String()
		}
		r.IPsecSAs = append(r.IPsecSAs, s)
	}
}

// addKernelDrops adds what the kernel dropped on the data plane's sockets
// and TUN: losses the engine's own counters cannot see.
func (d *dataplane) addKernelDrops(r *statusReport) {
	add := func(k string, v uint64) {
		if v == 0 {
			return
		}
		if r.KernelDrops == nil {
			r.KernelDrops = map[string]uint64{}
		}
		r.KernelDrops[k] += v
	}
	rx, tx := d.dev.KernelDrops()
	add("tun_tx", tx)
	add("tun_rx", rx)
	add("esp_socket", d.ip.KernelDrops())
	if d.udp != nil {
		add("udp_socket", d.udp.KernelDrops())
	}
}

// integrityName shows the integrity transforms, e.g. "sha256" or
// "sha256 ah-sha256" for an AH+ESP bundle.
func integrityName(ts *conf.TransformSet) string {
	var parts []string
	if ts.ESPAuth != "" {
		parts = append(parts, ts.ESPAuth.String())
	}
	if ts.AH != "" {
		parts = append(parts, "ah-"+ts.AH.String())
	}
	return strings.Join(parts, " ")
}
