package dataplane

import (
	"bytes"
	"sync"
	"time"

	"tinyipsec/esp"
	"tinyipsec/ike"
	"tinyipsec/internal/algo"
	"tinyipsec/internal/wireshark"
	"tinyipsec/tun"
)

// IKEPlane adapts the engine to ike.DataPlane: it installs the IPsec SAs
// IKE negotiates. Pairs go to the engine entry of their crypto map's ID,
// which a reload never makes stale.
type IKEPlane struct {
	engine *esp.Engine
	// keys are copies of the pairs' keys for "tinyipsec keys" (ExportKeys).
	mu   sync.Mutex
	keys map[*esp.Pair]pairKeys
}

// IKEPlane is what IKE installs its SAs through.
func (d *Dataplane) IKEPlane() *IKEPlane { return &IKEPlane{engine: d.engine} }

// AttachIKE hands the manager what the packets bring: IKE datagrams
// from the sockets, acquires for traffic that has no SA yet, and SA
// expiries.
func (d *Dataplane) AttachIKE(m *ike.Manager) {
	// In batches: under a flood the manager sheds first messages itself
	// instead of leaving the kernel to drop at random. The batch receiver
	// takes every IKE datagram (tun's SetIKEBatch), so no per-datagram
	// handler is set beside it: m.HandlePacket as a func value would add
	// a method-value wrapper function (flash).
	d.udp.SetIKEBatch(func() tun.IKEBatch { return m.NewBatch() })
	// By crypto map ID: entry indexes move when a reload reorders maps.
	d.engine.SetAcquireByID(m.Acquire)
	d.engine.SetExpire(func(p *esp.Pair, hard bool) { m.Expired(p, hard) })
}

// DetachIKE stops the acquires and expiries before the manager closes.
func (d *Dataplane) DetachIKE() {
	d.engine.SetAcquireByID(nil)
	d.engine.SetExpire(nil)
}

// lifetimeSlack lets the engine's hard limit trail IKE's own expiry, so
// that the manager, which rekeys and deletes in time, stays in charge.
const lifetimeSlack = 30 * time.Second

// InstallChild builds both directions and installs the pair.
func (p *IKEPlane) InstallChild(c *ike.ChildSA) (ike.ChildHandle, error) {
	// Boxed once: the inbound SA's check and the pair's outbound choice
	// share the copy (one allocation per pair instead of two).
	var sel esp.PairSelector = c.Selector
	local, remote := c.Local.Addr(), c.Remote.Addr()
	spec := esp.PairSpec{
		Shared: esp.Params{
			Proto: esp.ProtoOf(c.Encryption != "", c.AHIntegrity != ""), Mode: espMode(c.Mode),
			Cipher: c.Encryption, Integ: c.Integrity, AHInteg: c.AHIntegrity,
			Local: local, Remote: remote, ESN: c.ESN, ReplayWindow: c.CryptoMap.ReplayWindow,
			Selector: sel,
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
	info.ForRule, info.Rule, info.Traffic = true, c.Rule, sel
	info.CryptoMap, info.Peer, info.Local, info.Keying = c.CryptoMap.ID(), remote, local, "isakmp"
	info.LocalSelector, info.RemoteSelector = c.Selector.Local.String(), c.Selector.Remote.String()
	info.Lifetime, info.LifetimeKB = c.Lifetime, c.LifetimeKB
	info.HoldOutbound = c.HoldOutbound
	pair, err := p.engine.InstallPairFor(info.CryptoMap, inSA, outSA, info)
	if err != nil {
		inSA.Close()
		outSA.Close()
		return nil, err
	}
	// The keys of a new ESP pair, kept for export (AH-only pairs encrypt
	// nothing, and Wireshark's table is for ESP).
	if spec.Shared.Proto != esp.ProtoAH {
		in, out := &spec.In, &spec.Out
		k := pairKeys{cipher: c.Encryption, integ: c.Integrity, encLen: uint8(len(in.EncKey)), authLen: uint8(len(in.AuthKey))}
		k.keys = make([]byte, 0, 2*(len(in.EncKey)+len(in.AuthKey)))
		// One append in a loop: four nested appends each brought their
		// own growth path (flash).
		for _, b := range [...][]byte{in.EncKey, in.AuthKey, out.EncKey, out.AuthKey} {
			k.keys = append(k.keys, b...)
		}
		p.mu.Lock() // unlocked without defer here and below (a deferred call costs a wrapper function: flash)
		if p.keys == nil {
			p.keys = map[*esp.Pair]pairKeys{}
		}
		p.keys[pair] = k
		p.mu.Unlock()
	}
	return pair, nil
}

// PacketsIn tells DPD how many packets a pair has accepted.
func (p *IKEPlane) PacketsIn(h ike.ChildHandle) uint64 {
	if pair, ok := h.(*esp.Pair); ok {
		return pair.PacketsIn()
	}
	return 0
}

// RemoveChild takes a pair out of the engine (keys wiped once no packet
// loop still uses them).
// ReleaseOutbound lets a pair installed with HoldOutbound carry outbound
// traffic (ike.OutboundHolder).
func (p *IKEPlane) ReleaseOutbound(h ike.ChildHandle) {
	if pair, ok := h.(*esp.Pair); ok {
		p.engine.ReleaseOutbound(pair)
	}
}

func (p *IKEPlane) RemoveChild(h ike.ChildHandle) {
	if pair, ok := h.(*esp.Pair); ok {
		p.mu.Lock()
		if k, ok := p.keys[pair]; ok {
			clear(k.keys)
			delete(p.keys, pair)
		}
		p.mu.Unlock()
		p.engine.Remove(pair)
	}
}

// pairKeys are copies of an ESP pair's keys, kept for export only and
// wiped when the pair is removed. A hub keeps one per spoke, so it holds
// only the key bytes, in one slice (inbound encryption and integrity keys,
// then outbound); addresses, SPIs and algorithms are read from the pair
// when the admin asks.
type pairKeys struct {
	cipher          algo.Cipher
	integ           algo.Hash
	encLen, authLen uint8
	keys            []byte
}

// ExportKeys returns copies of the live ESP pairs' keys, both directions,
// for "tinyipsec keys --wireshark"; the caller wipes them.
func (p *IKEPlane) ExportKeys() []wireshark.ESPSA {
	p.mu.Lock()
	var out []wireshark.ESPSA
	for pair, k := range p.keys {
		e, a := int(k.encLen), int(k.authLen)
		info := &pair.Info
		// Inbound, then outbound; one append in a loop rather than a
		// closure returning each 21-word row to be copied again (flash).
		src, dst, spi := &info.Peer, &info.Local, info.SPIIn
		for dir := range 2 {
			keys := k.keys[dir*(e+a):]
			out = append(out, wireshark.ESPSA{Src: *src, Dst: *dst, SPI: spi, Cipher: string(k.cipher),
				EncKey: bytes.Clone(keys[:e]), Integrity: string(k.integ), AuthKey: bytes.Clone(keys[e : e+a])})
			src, dst, spi = dst, src, info.SPIOut
		}
	}
	p.mu.Unlock()
	return out
}
