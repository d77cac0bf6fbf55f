package esp

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"
)

// SA pairs and the API IKE (and manual keying) uses to change them.
//
// A Pair is the inbound and outbound SA negotiated together for one policy
// entry. The engine keeps every installed pair's inbound SA in its SPI
// table. An outbound packet of the entry takes the most specific pair whose
// negotiated selectors (PairInfo.Traffic) contain it, and among pairs of
// the same selectors the most recently installed one (table_selectors.go);
// pairs without selectors serve their ACL line or the whole entry, newest
// first. A rekey is therefore make-before-break:
//
//	newPair, _ := e.InstallPairFor(id, in2, out2, info2) // old inbound still decrypts
//	...                                                 // later: peer's Delete, or a grace timer
//	e.Remove(oldPair)                                   // old keys wiped once no loop uses them
//
// Remove never breaks a packet in flight: the keys are wiped only after
// every loop has finished the batch it was processing.

// PairInfo describes a pair for status; the engine only reads Entry,
// PathMTU and Lifetime.
type PairInfo struct {
	_ [0]func() // not comparable: no generated == function (flash)
	// Entry is the policy entry index (Classifier's result) at install
	// time; Stats reports the current one, which a reload may move.
	Entry int
	// ForRule makes the pair carry only packets that matched ACL line Rule
	// of the entry (IKE: one SA per proxy ID); otherwise it carries every
	// packet of the entry that has no line-specific pair.
	ForRule bool
	Rule    int
	// Traffic, when set, is the pair's negotiated traffic selector in this
	// side's view (local = our side): the pair carries exactly the
	// outbound packets of its entry that Traffic contains, and is chosen
	// over the other pairs of the entry by specificity (see selIndex);
	// ForRule and Rule then only label it. IKE sets it, so that each spoke
	// of a hub gets its own traffic and nobody else's.
	Traffic   PairSelector
	CryptoMap string // "name/seq"
	Peer      netip.Addr
	Local     netip.Addr

	LocalSelector, RemoteSelector string // e.g. "10.1.0.0/24", or an ACL line
	Protocol                      Proto
	Mode                          Mode
	SPIIn, SPIOut                 uint32 // ESP SPIs (AH SPIs for AH-only SAs)
	AHSPIIn, AHSPIOut             uint32 // AH SPIs of an AH+ESP bundle
	Encryption, Integrity         string // algorithm names as configured
	Keying                        string // "isakmp" or "manual"

	Lifetime   time.Duration // 0 = no time limit (shown as lifetime left)
	LifetimeKB uint64

	// PathMTU is the MTU towards the peer; 0 uses EngineConfig.WireMTU.
	PathMTU int

	// HoldOutbound installs the inbound half only: the pair decrypts at
	// once but carries no outbound traffic until ReleaseOutbound. An IKEv1
	// Quick Mode responder needs this: the initiator may send on the new
	// SA as soon as it has our second message, before its third one
	// reaches us, while we must not send on it before that third message
	// says the initiator has installed it.
	HoldOutbound bool
}

// Pair is an installed SA pair. Its fields are the engine's; use the
// methods and Engine.Stats.
type Pair struct {
	_         [0]func() // not comparable: no generated == function (flash)
	Info      PairInfo
	ent       *entry       // the policy entry; kept across Reconfigure (by ID)
	sel       PairSelector // Info.Traffic, nil for pairs without selectors
	in        Verifier
	out       Protector
	maxInner  int // largest cleartext packet that fits the path MTU; 0 = no limit
	installed time.Time
	removed   atomic.Bool
	// held: installed with HoldOutbound and not released yet.
	held atomic.Bool
	// softNotified is set once Expire(p, false) was called.
	softNotified atomic.Bool

	// own holds the pair's counters when a half does not count its own
	// packets, bytes and drops; nil (the usual case, *InboundSA and
	// *OutboundSA do) saves 200 bytes per pair: status reads the SAs'.
	own *pairCounters
}

// saOf returns the SA state of a pair's half when it is one of ours
// (*InboundSA or *OutboundSA, which keep their own counters and
// lifetimes), nil for other implementations. A type switch rather than
// interfaces of Stats, CheckTime and Expired: a call through those made
// each SA type carry a wrapper function per method (flash). Not inlined:
// its callers are set-up and status code, and each inlined copy of the
// type switch cost flash.
//
//go:noinline
func saOf(half any) *saCommon {
	switch sa := half.(type) {
	case *InboundSA:
		return &sa.saCommon
	case *OutboundSA:
		return &sa.saCommon
	}
	return nil
}

type pairCounters struct {
	_                 [0]func() // not comparable: no generated == function (flash)
	pktsIn, bytesIn   atomic.Uint64
	pktsOut, bytesOut atomic.Uint64
	drops             dropCounters
}

func newPairCounters(in Verifier, out Protector) *pairCounters {
	if (in == nil || saOf(in) != nil) && (out == nil || saOf(out) != nil) {
		return nil
	}
	return &pairCounters{}
}

func (p *Pair) countDrop(err error) {
	if c := p.own; c != nil {
		c.drops.addErr(err)
	}
}

func (p *Pair) countIn(n int) {
	if c := p.own; c != nil {
		c.pktsIn.Add(1)
		c.bytesIn.Add(uint64(n))
	}
}

func (p *Pair) countOut(n int) {
	if c := p.own; c != nil {
		c.pktsOut.Add(1)
		c.bytesOut.Add(uint64(n))
	}
}

func (p *Pair) close() {
	if p.in != nil {
		p.in.Close()
	}
	if p.out != nil {
		p.out.Close()
	}
}

// ErrDuplicateSPI is returned by InstallPairFor when the inbound SPI is
// already installed.
var ErrDuplicateSPI = errors.New("esp: inbound SPI already installed")

// InstallPairFor installs a new pair for the entry named id (a crypto
// map's "name/seq"; unlike an index, the ID cannot go stale when a reload
// reorders the entries between looking the index up and installing): in
// joins the inbound table (beside any older pair's inbound SA), out becomes
// the entry's outbound SA, and packets waiting for an SA are sent through
// it. On success the engine owns both SAs and closes (wipes) them when the
// pair is removed; on error the caller still owns them. in or out may be
// nil for a one-directional install. When info.PathMTU is 0 it is filled
// in by EngineConfig.PathMTU.
//
// The entry is resolved under tableMu, which Reconfigure holds while it
// swaps the table.
func (e *Engine) InstallPairFor(id string, in Verifier, out Protector, info PairInfo) (*Pair, error) {
	if e.closed.Load() {
		return nil, errors.New("esp: engine closed")
	}
	if info.PathMTU == 0 && e.cfg.PathMTU != nil && info.Peer.IsValid() {
		info.PathMTU = e.cfg.PathMTU(info.Peer)
	}
	e.tableMu.Lock()
	pol := e.policy.Load()
	i, ok := pol.byID[id]
	if !ok {
		e.tableMu.Unlock()
		return nil, errors.New("esp: no such policy entry")
	}
	ent := pol.entries[i]
	info.Entry = int(ent.index.Load())
	p := &Pair{Info: info, ent: ent, sel: info.Traffic, in: in, out: out, installed: time.Now(), own: newPairCounters(in, out)}
	if mtu := e.pathMTU(&info); out != nil && mtu > 0 {
		p.maxInner = max(out.MaxInner(mtu), 1)
	}
	if in != nil {
		proto, spi := in.LookupKey()
		if e.lookupInbound(proto, spi) != nil {
			e.tableMu.Unlock()
			return nil, fmt.Errorf("%w: %s 0x%08x", ErrDuplicateSPI, proto, spi)
		}
		e.inbound.set(inKey{proto, spi}, p)
	}
	e.pairs = append(e.pairs, p)
	p.held.Store(out != nil && info.HoldOutbound)
	if out != nil && !info.HoldOutbound {
		p.ent.carry(p, true)
	}
	e.tableMu.Unlock()
	if out != nil && !info.HoldOutbound {
		e.flushPending(ent)
	}
	return p, nil
}

// carry makes p carry (on) or stop carrying (off) the entry's outbound
// traffic where its kind of pair does: among the entry's selector pairs,
// for its ACL line, or as the entry's one outbound pair. The engine's
// tableMu is held.
func (ent *entry) carry(p *Pair, on bool) {
	ent.mu.Lock()
	switch {
	case p.sel != nil && on:
		ent.sel.Store(ent.sel.Load().with(p))
	case p.sel != nil:
		ent.sel.Store(ent.sel.Load().without(p))
	case p.Info.ForRule && on:
		ent.setRule(p.Info.Rule, p, nil)
	case p.Info.ForRule:
		ent.setRule(p.Info.Rule, nil, p)
	case on:
		ent.out.Store(p)
	default:
		ent.out.CompareAndSwap(p, nil)
	}
	ent.mu.Unlock()
}

// flushPending sends what waited for an outbound SA of ent.
func (e *Engine) flushPending(ent *entry) {
	if ent.pending.Load() != 0 {
		// Installs are rare: the scratch for oversized packets is made
		// here rather than shared with a packet loop.
		big := e.newOversize()
		e.flush(ent, &big)
	}
}

// ReleaseOutbound lets a pair installed with HoldOutbound carry its
// outbound traffic. Releasing twice, or a removed pair, is harmless.
func (e *Engine) ReleaseOutbound(p *Pair) {
	if p == nil || p.out == nil {
		return
	}
	e.tableMu.Lock()
	if p.removed.Load() || !p.held.Swap(false) {
		e.tableMu.Unlock()
		return
	}
	p.ent.carry(p, true)
	e.tableMu.Unlock()
	e.flushPending(p.ent)
}

// Replace is InstallPairFor for a rekey of old: the new pair takes over old's
// entry, ACL line and selectors (when info has none) and carries the
// outbound traffic at once; old keeps decrypting until Remove(old).
func (e *Engine) Replace(old *Pair, in Verifier, out Protector, info PairInfo) (*Pair, error) {
	info.ForRule, info.Rule = old.Info.ForRule, old.Info.Rule
	if info.Traffic == nil {
		info.Traffic = old.Info.Traffic
	}
	return e.InstallPairFor(old.ent.id, in, out, info)
}

// Remove uninstalls p: its inbound SPI leaves the table, and if p is still
// its entry's outbound pair the entry has no SA until the next install
// (packets wait and Acquire is called). The keys are wiped once no loop can
// be using them. Removing twice is harmless.
func (e *Engine) Remove(p *Pair) {
	if p == nil || p.removed.Swap(true) {
		return
	}
	e.tableMu.Lock()
	if p.in != nil {
		proto, spi := p.in.LookupKey()
		if e.lookupInbound(proto, spi) == p {
			e.inbound.set(inKey{proto, spi}, nil)
		}
	}
	if i := slices.Index(e.pairs, p); i >= 0 {
		last := len(e.pairs) - 1
		e.pairs[i] = e.pairs[last]
		e.pairs[last] = nil
		e.pairs = e.pairs[:last]
	}
	if p.ent != nil {
		p.ent.carry(p, false)
	}
	e.tableMu.Unlock()
	// The keys are wiped once every loop has finished the batch it was
	// in now, so that no loop still uses the SAs.
	e.loopsMu.Lock()
	loops := make([]*loopState, len(e.loops))
	copy(loops, e.loops)
	e.loopsMu.Unlock()
	snap := make([]uint64, len(loops))
	for i, l := range loops {
		snap[i] = l.gen.Load()
	}
	go func() {
		t := time.NewTicker(2 * time.Millisecond)
		for busy := true; busy; {
			busy = false
			for i, l := range loops {
				if g := l.gen.Load(); g == snap[i] && g%2 == 1 {
					busy = true
				}
			}
			if !busy {
				p.close()
				break
			}
			select {
			case <-t.C:
			case <-e.done:
				// Wait wipes everything once the loops are gone.
				busy = false
			}
		}
		t.Stop()
	}()
}

// Pairs returns the installed pairs of entry, newest first.
func (e *Engine) Pairs(entry int) []*Pair {
	e.tableMu.Lock()
	defer e.tableMu.Unlock()
	pol := e.policy.Load()
	if entry < 0 || entry >= len(pol.entries) {
		return nil
	}
	var out []*Pair
	for _, p := range e.pairs {
		if p.ent == pol.entries[entry] {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *Pair) int { return b.installed.Compare(a.installed) }) // the pointer shape crypto/x509 links
	return out
}
