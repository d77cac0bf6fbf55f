// Package dataplane assembles the packet machinery of a running daemon
// from the configuration: the TUN device, the raw ESP/AH and IKE sockets,
// the kernel policy (tun.KernelPolicy) and the esp engine with its packet
// loops, plus the SA pairs of manually keyed crypto maps. It switches all
// of it to a new configuration on reload, applies remote-access leases,
// and installs the IPsec SAs IKE negotiates (IKEPlane). It decides no
// packet's fate itself: that is esp's, tun's and acl's.
package dataplane

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"tinyipsec/acl"
	"tinyipsec/conf"
	"tinyipsec/esp"
	"tinyipsec/internal/logx"
	"tinyipsec/internal/status"
	"tinyipsec/tun"
)

// Dataplane is the running packet machinery: the TUN device with its
// routes, the raw ESP/AH sockets, the IKE UDP sockets, the inbound
// cleartext policy and the esp engine with its loops. IKE attaches to it
// through Engine() and UDP().
type Dataplane struct {
	log    *logx.Logger
	cfg    *conf.Config
	maps   []*conf.CryptoMap // policy entry i is maps[i]
	lists  []*acl.List
	dev    *tun.Device
	ip     *tun.IPConn
	bypass *tun.Bypass // cleartext out for traffic no crypto ACL permits
	udp    *tun.UDP
	wire   *tun.Wire // the engine's sender
	rtnl   *tun.RTNL
	engine *esp.Engine
	kernel *tun.KernelPolicy // routes into the TUN, policy rules, cleartext policy

	// manual are the installed pairs of keying = "manual" crypto maps, by
	// crypto map ID: a reload replaces those whose map changed.
	manual map[string]*esp.Pair

	// ra are the leases of remote-access client maps, by crypto map ID
	// (daemon_ra.go); raMu orders ApplyLease (IKE's goroutine) against
	// reloads.
	raMu sync.Mutex
	ra   map[string]*raLease

	wg     sync.WaitGroup
	closed bool // Close ran
}

// Start builds the data plane for cfg: the TUN (cfg.Global.Tun,
// cfg.Global.MTU), routes for the remote prefixes of every crypto ACL, the
// sockets, the inbound cleartext policy, and the SAs of keying = "manual"
// crypto maps; then it starts the packet loops. Policy entry i of the
// engine is cfg.CryptoMaps[i]. Close undoes everything.
func Start(cfg *conf.Config, logger *logx.Logger) (*Dataplane, error) {
	d := &Dataplane{log: logger, cfg: cfg, maps: cfg.CryptoMaps, manual: map[string]*esp.Pair{}}
	if err := d.start(logger); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// start is Start after the Dataplane is made; on an error, Start closes
// what it opened.
func (d *Dataplane) start(logger *logx.Logger) (err error) {
	cfg := d.cfg
	var ids []string
	d.lists, ids = compileACLs(d.maps)
	if d.rtnl, err = tun.DialRTNL(); err != nil {
		return err
	}
	// The path the encrypted packets take: with the bypass mark, as the
	// raw sockets send them.
	peerPaths := map[netip.Addr]tun.Route{}
	for _, m := range d.maps {
		if m.PeerAddr.IsValid() {
			if rt, err := d.rtnl.PathTo(m.PeerAddr); err == nil {
				peerPaths[m.PeerAddr] = rt
			} else {
				logger.Warn("no route to peer", "crypto_map", m.ID(), "peer", &m.PeerAddr, "err", err)
			}
		}
	}
	if d.dev, err = tun.Open(cfg.Global.Tun, cfg.Global.MTU); err != nil {
		return err
	}
	if d.ip, err = tun.ListenIP(); err != nil {
		return err
	}
	if err := d.ip.SetMark(tun.BypassMark); err != nil {
		return err
	}
	// Packets routed into the TUN that no crypto map entry permits (a
	// deny line) leave in cleartext by the main table, as on IOS.
	if d.bypass, err = tun.ListenBypass(tun.BypassMark); err != nil {
		return err
	}
	// The IKE ports are only bound when some crypto map is keyed by IKE:
	// a manually keyed setup leaves them to other software on the router.
	if cfg.IKEKeyed() {
		if d.udp, err = tun.ListenUDP(cfg.Global.Listen); err != nil {
			return err
		}
		if err := d.udp.SetMark(tun.BypassMark); err != nil {
			return err
		}
	}
	d.wire = tun.NewWire(d.ip, d.udp)
	d.engine, err = esp.NewEngine(esp.EngineConfig{
		Device:     d.dev,
		Sender:     d.wire,
		Bypass:     d.bypass,
		Classifier: acl.NewClassifier(d.lists),
		Entries:    ids,
		MaxPacket:  max(2048, cfg.Global.MTU+256),
		// A batch takes most of a 64 KB TSO super-packet's segments, and
		// the TUN writes merge up to a batch of decrypted segments.
		Batch: 64,
		// The MTU towards a peer, for SAs installed by IKE. A closure,
		// not a method value, which would add a wrapper function (flash).
		PathMTU: func(peer netip.Addr) int {
			rt, err := d.rtnl.PathTo(peer)
			if err != nil {
				return 0
			}
			return d.rtnl.PathMTU(rt)
		},
	})
	if err != nil {
		return err
	}
	if d.kernel, err = tun.NewKernelPolicy(d.rtnl, d.dev, logger.Warn); err != nil {
		return err
	}
	if err := d.kernel.Apply(d.kernelEntries()); err != nil {
		return err
	}
	for i, m := range d.maps {
		if m.IKEKeyed() || m.Manual == nil {
			continue
		}
		if err := d.installManual(i, m, peerPaths[m.PeerAddr]); err != nil {
			return fmt.Errorf("crypto map %s: %w", m.ID(), err)
		}
	}
	// The packet loops: the outbound loop (i = -1) and one inbound loop
	// per raw socket reader, all from one closure: a helper closure
	// taking the loop as a func value added a closure per loop and a
	// method-value wrapper (flash).
	readers := d.ip.Readers()
	d.wg.Add(1 + len(readers))
	for i := -1; i < len(readers); i++ {
		go func() {
			name, err := "outbound", error(nil)
			if i < 0 {
				err = d.engine.RunOutbound()
			} else {
				name, err = "inbound", d.engine.RunInbound(readers[i])
			}
			if err != nil {
				d.log.Error("packet loop stopped", "loop", name, "err", err)
			}
			d.wg.Done()
		}()
	}
	if d.udp != nil {
		d.startUDP()
	}
	logger.Info("data plane up", "tun", d.dev.Name(), "mtu", d.dev.MTU(), "routes", d.kernel.Routes(), "entries", len(d.maps))
	return nil
}

// startUDP hands the IKE sockets' ESP-in-UDP to the engine, in batches
// (GRO) where the kernel coalesces, and starts their readers. One
// function for the start and for the reload that brings the first
// IKE-keyed crypto map, which had set only the single-datagram handler
// and so received ESP-in-UDP one datagram at a time.
func (d *Dataplane) startUDP() {
	d.udp.SetESPHandler(d.engine.ReceiveUDP)
	d.udp.SetESPBatch(func() tun.ESPBatch { return d.engine.NewUDPBatch() })
	d.udp.Start()
}

// compileACLs compiles the crypto ACL of every map (nil for a map without
// one) and lists the maps' IDs: policy entry i of the engine is maps[i].
func compileACLs(maps []*conf.CryptoMap) (lists []*acl.List, ids []string) {
	for _, m := range maps {
		var l *acl.List
		if m.ACL != nil {
			l = m.ACL.List()
		}
		lists = append(lists, l)
		ids = append(ids, m.ID())
	}
	return lists, ids
}

// UDP is the IKE socket set (ports 500 and 4500); nil when no crypto map
// is keyed by IKE.
func (d *Dataplane) UDP() *tun.UDP { return d.udp }

// kernelEntries is the kernel's share of every crypto map entry: its ACL
// lines, or the routes remote access gives it.
func (d *Dataplane) kernelEntries() []tun.Entry {
	entries := make([]tun.Entry, len(d.maps))
	for i, m := range d.maps {
		e := &entries[i]
		if rs, ok := d.raRoutes(m); ok {
			e.Routes, e.OwnRoutes = rs, true
		}
		l := d.lists[i]
		if l == nil {
			continue
		}
		// Each ACL line as tun takes it.
		rules := l.Rules()
		for j := range rules {
			r := &rules[j]
			t := tun.Line{Permit: r.Permit, Proto: r.Proto, Text: r.Text}
			if !r.SrcAny {
				t.Src = r.Src
			}
			if !r.DstAny {
				t.Dst = r.Dst
			}
			if !r.SrcPorts.Any() {
				t.SrcPorts = [2]uint16{r.SrcPorts.Lo, max(r.SrcPorts.Hi, r.SrcPorts.Lo)}
			}
			if !r.DstPorts.Any() {
				t.DstPorts = [2]uint16{r.DstPorts.Lo, max(r.DstPorts.Hi, r.DstPorts.Lo)}
			}
			e.Lines = append(e.Lines, t)
		}
	}
	return entries
}

// installManual installs the SA pair of a keying = "manual" crypto map.
func (d *Dataplane) installManual(entry int, m *conf.CryptoMap, path tun.Route) error {
	if len(m.TransformSets) != 1 {
		return errors.New("manual keying needs exactly one transform set")
	}
	ts, mk := m.TransformSets[0], m.Manual
	local := m.Local
	if !local.IsValid() {
		local = path.Src
	}
	if !local.IsValid() || !m.PeerAddr.IsValid() {
		return fmt.Errorf("cannot tell the local address towards peer %s; set local", m.Peer)
	}
	var sel acl.Selectors
	if l := d.lists[entry]; l != nil {
		sel = l.ProxyIDs()
	}
	spec := esp.PairSpec{
		Shared: esp.Params{
			Proto: esp.ProtoOf(ts.ESP != "", ts.AH != ""), Mode: espMode(ts.Mode),
			Cipher: ts.ESP, Integ: ts.ESPAuth, AHInteg: ts.AH,
			Local: local, Remote: m.PeerAddr, ESN: m.ESN, ReplayWindow: m.ReplayWindow, Selector: sel,
		},
		In:  esp.Keys{SPI: mk.SPIIn, AHSPI: mk.AHSPIIn, EncKey: mk.ESPKeyIn, AuthKey: mk.ESPAuthKeyIn, AHKey: mk.AHKeyIn},
		Out: esp.Keys{SPI: mk.SPIOut, AHSPI: mk.AHSPIOut, EncKey: mk.ESPKeyOut, AuthKey: mk.ESPAuthKeyOut, AHKey: mk.AHKeyOut},
	}
	inSA, outSA, err := esp.NewPair(spec)
	if err != nil {
		return err
	}
	id := m.ID()
	info := spec.Info()
	info.CryptoMap, info.Peer, info.Local, info.Keying = id, m.PeerAddr, local, "manual"
	info.PathMTU = d.rtnl.PathMTU(path)
	var ls, rs []string
	for _, s := range sel {
		ls = append(ls, s.Local.String())
		rs = append(rs, s.Remote.String())
	}
	info.LocalSelector, info.RemoteSelector = strings.Join(ls, ","), strings.Join(rs, ",")
	if info.PathMTU > 0 && outSA.WireLen(d.dev.MTU()) > info.PathMTU {
		d.log.Info("TUN MTU leaves no room for this transform towards the peer: larger packets are fragmented before encryption, or answered with ICMP fragmentation needed when DF is set",
			"crypto_map", id, "tun_mtu", d.dev.MTU(), "path_mtu", info.PathMTU, "max_inner", outSA.MaxInner(info.PathMTU))
	}
	pair, err := d.engine.InstallPairFor(id, inSA, outSA, info)
	if err != nil {
		inSA.Close()
		outSA.Close()
		return err
	}
	d.manual[id] = pair
	d.log.Info("manual SA installed", "crypto_map", id, "peer", &m.PeerAddr, "local", local,
		"protocol", info.Protocol, "mode", info.Mode, "spi_in", SPIText(mk.SPIIn), "spi_out", SPIText(mk.SPIOut))
	return nil
}

// SPIText is an SPI as status and the logs show it: one call at each
// site instead of fmt's with a boxed argument (flash).
func SPIText(spi uint32) string { return fmt.Sprintf("0x%08x", spi) }

// espMode is the esp package's name for a configured mode.
func espMode(m conf.Mode) esp.Mode {
	if m == conf.ModeTransport {
		return esp.Transport
	}
	return esp.Tunnel
}

// Close stops the loops, wipes every SA and removes the routes, the
// cleartext policy and the TUN device.
func (d *Dataplane) Close() error {
	// A flag rather than sync.Once: Once.Do would take the body as a
	// closure, a function of its own (flash). Start's error path and the
	// daemon's shutdown close it, from one goroutine.
	if d.closed {
		return nil
	}
	d.closed = true
	// The resolv files written for leases go: once the tunnel is down
	// their DNS servers are unreachable.
	d.raMu.Lock()
	for _, r := range d.ra {
		if r.resolv != "" {
			// syscall.Unlink, with os.Remove's error, rather than os.Remove,
			// linked for nothing else (flash).
			if err := syscall.Unlink(r.resolv); err != nil && err != syscall.ENOENT {
				d.log.Warn("removing the resolv file", "file", r.resolv, "err", &os.PathError{Op: "remove", Path: r.resolv, Err: err})
			}
		}
	}
	d.raMu.Unlock()
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
	if d.kernel != nil {
		if err := d.kernel.Close(); err != nil {
			d.log.Warn("removing the kernel policy", "err", err)
		}
	}
	if d.rtnl != nil {
		d.rtnl.Close()
	}
	return nil
}

// AddSummary counts the IPsec SA pairs into s.
func (d *Dataplane) AddSummary(s *status.Summary) { s.IPsecSAs += d.engine.PairCount() }

// AddStatus adds the IPsec SAs and the data plane's counters to r.
func (d *Dataplane) AddStatus(r *status.Report) {
	st := d.engine.Stats()
	r.Bypassed += st.Bypassed
	addCounts(&r.Drops, st.Drops)
	for _, e := range st.Entries {
		addCounts(&r.Drops, e.Drops)
	}
	// What the kernel dropped on the data plane's sockets and TUN: losses
	// the engine's own counters cannot see. A table and one loop rather
	// than a closure called per counter (a function of its own; flash).
	rx, tx := d.dev.KernelDrops()
	var udp uint64
	if d.udp != nil {
		udp = d.udp.KernelDrops()
	}
	for _, c := range [...]struct {
		key string
		n   uint64
	}{{"tun_tx", tx}, {"tun_rx", rx}, {"esp_socket", d.ip.KernelDrops()}, {"udp_socket", udp}} {
		if c.n == 0 {
			continue
		}
		if r.KernelDrops == nil {
			r.KernelDrops = map[string]uint64{}
		}
		r.KernelDrops[c.key] += c.n
	}
	for _, p := range st.Pairs {
		s := status.IPsecSA{
			Peer: p.Peer.String(), CryptoMap: p.CryptoMap,
			LocalSelector: p.LocalSelector, RemoteSelector: p.RemoteSelector,
			Protocol: p.Protocol.String(), Mode: p.Mode.String(),
			SPIIn: SPIText(p.SPIIn), SPIOut: SPIText(p.SPIOut),
			Encryption: p.Encryption, Integrity: p.Integrity, Keying: p.Keying,
			LifetimeLeftS: int64(p.LifetimeLeft / time.Second),
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

// addCounts adds the counters of src to *dst, making the map on first
// use.
func addCounts(dst *map[string]uint64, src map[string]uint64) {
	for k, v := range src {
		if *dst == nil {
			*dst = map[string]uint64{}
		}
		(*dst)[k] += v
	}
}
