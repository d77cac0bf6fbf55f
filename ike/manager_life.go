package ike

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"
	"tinyipsec/internal/logx"

	"tinyipsec/acl"
	"tinyipsec/conf"
)

// SA lifecycle: creation, establishment, child installation, rekeying,
// deletion.

// newResponder starts a phase 1 responder for a first message from a
// peer that matches one or more crypto maps.
func (m *Manager) newResponder(in *inbound) {
	pkt, h, remote, now := in.pkt, &in.h, &in.remote, in.now
	var cands []*mapState
	for _, ms := range m.maps {
		if hostIs(remote, &ms.cm.PeerAddr) || ms.cm.Dynamic {
			push(&cands, ms)
		}
	}
	if len(cands) == 0 {
		m.drop(DropNoCryptoMap, "IKE from a peer without a crypto map", "peer", remote)
		return
	}
	aggressive := h.Exchange == ExchangeAggressive
	if aggressive {
		// Room for an Aggressive Mode responder from this address: at
		// most HalfOpenPerSource from it, and the oldest of all goes
		// beyond maxAggressiveHalfOpen (manager_halfopen.go).
		var oldest *ikeSA
		n, fromAddr := 0, 0
		for _, sa := range m.sas {
			if !sa.unproven || sa.dead() {
				continue
			}
			n++
			if sameHost(&sa.remote, remote) {
				fromAddr++
			}
			if oldest == nil || sa.created < oldest.created {
				oldest = sa
			}
		}
		if fromAddr >= m.cfg.HalfOpenPerSource {
			m.drop(DropAggressiveBusy, "too many Aggressive Mode negotiations from one address", "peer", remote)
			return
		}
		if n >= maxAggressiveHalfOpen && oldest != nil {
			m.removeSA(oldest)
		}
	}
	laddr := in.local.Addr()
	if !laddr.IsValid() || laddr.IsUnspecified() {
		if a, err := localAddrFor(cands[0].cm, remote.Addr()); err == nil {
			laddr = a
		}
	}
	sa := &ikeSA{cookieI: h.CookieI, cookieR: cookieFrom(&m.cookies.cur, &h.CookieI, remote), local: netip.AddrPortFrom(laddr, in.local.Port()),
		remote: *remote, created: now, unproven: aggressive}
	in.local = sa.local // the exchange's endpoints: in.adopt is then a no-op
	a, err := newPhase1Responder(m, cands, sa, pkt)
	if err == nil && aggressive {
		// Aggressive Mode: AM1 already needs our Diffie-Hellman work and
		// authentication, computed outside the lock (manager_compute.go).
		sa.p1 = a
		m.addSA(sa, now)
		m.computePhase1(sa, in, StateNone.String())
		return
	}
	var out []byte
	if err == nil {
		out, err = a.handle(in)
		for _, b := range a.pending {
			m.send(sa, b)
		}
		a.pending = nil
	}
	if err != nil {
		m.drop(DropRefused, "phase 1 refused", "peer", &sa.remote, "err", err)
		notePhase1Failure(sa, "MM_NO_STATE", err.Error(), now) // a responder's: no backoff
		return
	}
	{
		// Main Mode: keep the few values MM3 needs until the peer proves
		// its address; no retransmission (the initiator repeats MM1).
		rec := a.p.record()
		a.p.Wipe()
		if rec == nil || out == nil {
			return
		}
		ev, evs := m.halfOpen.evicted, m.halfOpen.evictedPerSource
		m.halfOpen.add(hoKeyOf(&rec.ckyI, &rec.ckyR), &hoEntry{rec: rec, ms: sa.ms, created: now})
		if n := m.halfOpen.evicted - ev; n > 0 {
			m.drops.counts[DropHalfOpenEvicted].Add(n - 1)
			m.drop(DropHalfOpenEvicted, "half-open pool full (a flood of first messages?): evicting the oldest unproven negotiations",
				"records", len(m.halfOpen.entries), "bytes", m.halfOpen.bytes)
		}
		if m.halfOpen.evictedPerSource != evs {
			m.drop(DropHalfOpenPerSource, "too many unproven negotiations from one address: evicting its oldest", "peer", remote)
		}
		m.send(sa, out)
	}
}

// mayUse reports whether the map's Quick Modes may go on IKE SA sa (or
// must wait for its phase 1): a live SA with the map's peer, and from the
// map's outer address if it names one (the IPsec SAs inherit the IKE SA's
// endpoints).
func (ms *mapState) mayUse(sa *ikeSA) bool {
	return hostIs(&sa.remote, &ms.cm.PeerAddr) && !sa.dead() && sa.replacedBy == nil &&
		(!ms.cm.Local.IsValid() || hostIs(&sa.local, &ms.cm.Local))
}

// initiateRule makes sure ACL line r of the crypto map gets an IPsec SA:
// on sa, the first of m.sas the map may use, once it is established, or
// by starting phase 1 when there is none (the Quick Modes follow once it
// is up). The line stays wanted until its SA is installed.
func (m *Manager) initiateRule(ms *mapState, r *proxyRule, sa *ikeSA, now mono) {
	ms.wanted[r.index] = true
	if now < ms.nextTry || !ms.cm.PeerAddr.IsValid() {
		return
	}
	if sa == nil {
		m.startPhase1(ms, now)
		return
	}
	if sa.life != lifeActive {
		// Phase 1 (or XAUTH and Mode-Config) in progress with this peer, for this map or
		// another one: its Quick Modes follow once it is up. (A
		// second phase 1 would make the responder, which binds both
		// to its first matching map, take it for a rekey and delete
		// the first one with the SAs on it.)
		return
	}
	for _, qs := range sa.qms {
		if qs.ms == ms && qs.rule.index == r.index && qs.doneAt == 0 {
			return // Quick Mode in progress
		}
	}
	if !quickSlotFree(sa, now) {
		return // a later tick starts it (quickSlotFree)
	}
	m.startQuick(sa, ms, r, nil, now)
}

// startPhase1 begins Main or Aggressive Mode towards the map's peer.
func (m *Manager) startPhase1(ms *mapState, now mono) *ikeSA {
	peer := ms.cm.PeerAddr
	laddr, err := localAddrFor(ms.cm, peer)
	if err != nil {
		m.log.Warn("no route to the peer", "peer", &ms.cm.PeerAddr, "err", err)
		ms.failed(now)
		return nil
	}
	sa := &ikeSA{ms: ms, initiator: true, local: netip.AddrPortFrom(laddr, IKEPort),
		remote: netip.AddrPortFrom(peer, IKEPort), created: now}
	// The exchange and its first message (written here, at the one
	// caller; flash). Each failure delays the map's next attempt.
	cfg, err := m.phase1ConfigFor(sa, false)
	if err == nil && cfg.Exchange == ExchangeAggressive && len(cfg.Policies) > 0 && !m.inlineCompute {
		// Aggressive Mode's first message carries our DH value: its key
		// pair is made off the lock (dh_pool.go); without one ready, a
		// later tick starts the exchange, with the key made meanwhile.
		if cfg.dhKey = dhKeys.take(cfg.Policies[0].Group); cfg.dhKey == nil {
			return nil
		}
	}
	var p *Phase1
	var out []byte
	if err == nil {
		p, err = NewInitiator(cfg)
	}
	if err == nil {
		var r Result
		if r, err = p.Start(time.Now()); err == nil && r.Failed != nil {
			err = r.Failed
		} else if err == nil && len(r.Send) == 0 {
			err = errors.New("phase 1 produced no first message")
		} else if err == nil {
			out = r.Send[0]
		}
	}
	if err != nil {
		m.log.Warn("cannot start phase 1", "crypto_map", ms, "err", err)
		ms.failed(now)
		return nil
	}
	sa.p1 = &p1Adapter{p: p}
	var h Header
	h.parse(out)
	sa.cookieI = h.CookieI
	m.addSA(sa, now)
	m.log.Info("initiating phase 1", "crypto_map", ms, "peer", &sa.remote, "exchange", exchangeName(ms.cm))
	m.send(sa, out)
	sa.p1Last = out
	sa.p1Retx.arm(out, now)
	return sa
}

func exchangeName(cm *conf.CryptoMap) string {
	if cm.Exchange == conf.ExchangeAggressive {
		return "aggressive"
	}
	return "main"
}

// established finishes phase 1: timers, DPD, and the pending child.
func (m *Manager) established(sa *ikeSA, now mono) {
	out := sa.p1.outcome()
	sa.out = out
	m.settle.unsettled = true // manager_settle.go
	if !sa.dead() {
		m.settle.negotiating--
	}
	sa.unproven = false
	// The finished state machine (DH values, nonces, messages, the peer's
	// certificate: about 3 kB per IKE SA) is not needed any more: the
	// outcome holds its own copy of the keys and what status shows, and a
	// repeat of the peer's last message is answered from p1In/p1Last.
	sa.p1.p.Wipe()
	sa.p1 = nil
	remoteAccess := out.auth == "xauth-pre-share" && sa.ms != nil &&
		(sa.ms.cm.RemoteAccessGateway() || sa.ms.cm.RemoteAccessClient())
	if remoteAccess {
		m.setLife(sa, lifeConfiguring) // raStart below
	} else {
		m.setLife(sa, lifeActive)
	}
	if sa.cookieR == (Cookie{}) {
		sa.cookieR = out.sec.CookieR
	}
	lt := out.lifetime
	if lt <= 0 {
		lt = conf.DefaultP1Lifetime
	}
	sa.established = now
	sa.expires = now + mono(lt)
	sa.rekeyAt = now + mono(rekeyAfter(lt, sa.initiator))
	if sa.ms != nil && sa.ms.cm.DPDDelay > 0 {
		// DPD (dpd.go), its probes numbered from a random start; the
		// timeout is 30 s unless the map sets one.
		d := &dpdState{Delay: sa.ms.cm.DPDDelay, Timeout: sa.ms.cm.DPDTimeout, lastHeard: now, seq: rand.Uint32()}
		if d.Timeout <= 0 {
			d.Timeout = 30 * time.Second
		}
		sa.dpd = d
	}
	if out.behindNAT {
		sa.nextKA = now + mono(nattKeepaliveInterval)
	}
	m.log.Info("phase 1 established", "peer", &sa.remote, "state", sa.stateName(), "exchange", out.exchange,
		"encryption", out.encryption, "hash", out.hash, "group", out.group, "nat_t", out.natDetected)
	if sa.ms != nil {
		sa.ms.nextTry = 0
		sa.ms.clearFailure(hostString(&sa.remote))
	}
	// A rekeyed IKE SA replaces the old one (make-before-break); the
	// old one is deleted by the timer once its exchanges are over.
	if old := sa.replaces; old != nil && !old.dead() {
		old.replacedBy = sa
		m.schedule(old, now)
	}
	// The link back is needed no longer, and kept it would chain every
	// IKE SA this peer ever rekeyed to the live one, each with its last
	// Quick Mode records and through them the data plane's pairs they
	// rekeyed (about 4 KiB per phase 2 rekey, found by the rekey soak).
	sa.replaces = nil
	// As responder, a new IKE SA with a peer identity we already have one
	// with on the same crypto map is the peer's rekey (or
	// reauthentication): the older one hands its children over when it
	// goes. Another identity at the same address is another peer.
	// (Not for a remote-access gateway: its clients share the group
	// identity and often one NAT address; a client's new IKE SA takes
	// over once XAUTH names the same user, see raGatewayLease.)
	if !sa.initiator && (sa.ms == nil || !sa.ms.cm.RemoteAccessGateway()) {
		for _, old := range m.sas {
			if old != sa && !old.dead() && old.replacedBy == nil && old.ms == sa.ms && samePeer(old, sa) {
				old.replacedBy = sa
				m.schedule(old, now)
			}
		}
	}
	if out.initialContact {
		m.initialContact(sa, now)
	} else {
		m.adoptOrphans(sa)
		m.schedule(sa, now)
	}
	if remoteAccess {
		m.raStart(sa, now)
	}
	m.tickMaps(sa, now)
}

// offerFor builds the Quick Mode offer of a crypto map on an IKE SA.
func offerFor(ms *mapState, sa *ikeSA) *childOffer {
	cm := ms.cm
	o := &childOffer{Sets: cm.TransformSets, PFS: cm.PFS, Lifetime: cm.Lifetime, LifetimeKB: cm.LifetimeKB, ESN: cm.ESN}
	// ESP in UDP once phase 1 found a NAT, with the RFC's or the draft's
	// attribute values depending on what the peer announced.
	if sa.out.natDetected {
		o.Encap = EncapUDPTunnel
		if sa.out.natt.Draft() {
			o.Encap = EncapUDPTunnelDraft
		}
	}
	return o
}

// startQuick begins a Quick Mode for ACL line r of the map (a rekey of
// old when set, with old's selector). Every return schedules sa (not
// deferred: a deferred call costs a wrapper function; flash).
func (m *Manager) startQuick(sa *ikeSA, ms *mapState, r *proxyRule, old *child, now mono) {
	sel := &r.sel // by pointer: a selector is many words on 32-bit (flash)
	if old != nil {
		sel = &old.rule.sel
	}
	// IDci (local) and IDcr (remote).
	local, remote := idFromSide(sel.Local, sel.Proto, sel.LocalPorts), idFromSide(sel.Remote, sel.Proto, sel.RemotePorts)
	offer := offerFor(ms, sa)
	if offer.PFS != 0 && !m.inlineCompute {
		// The PFS key pair is made off the lock: when none is ready, a
		// later tick starts the exchange (the rule stays wanted, the
		// child due for its rekey).
		k := dhKeys.take(Group(offer.PFS))
		if k == nil {
			m.schedule(sa, now)
			return
		}
		offer.pfsKey = k
	}
	qs := &qmState{sel: *sel, ms: ms, rule: *r, rekeyOf: old}
	q, out, err := newQuickInitiator(sa.out.sec, offer, local, remote, func() uint32 { return m.reserveSPI(qs) })
	if err != nil {
		m.releaseSPIs(qs)
		if k, ok := offer.pfsKey.(*DHKey); ok {
			k.Wipe()
		}
		m.log.Warn("cannot start Quick Mode", "crypto_map", ms, "err", err)
		m.schedule(sa, now)
		return
	}
	if m.log.Enabled(logx.LevelDebug) {
		// What a peer that cannot decrypt our QM1 needs compared: the
		// IKE SA (cookies), the message ID and the exchange's first IV
		// (derived from public values: not a secret).
		sec := sa.out.sec
		inFlight := 0
		for _, qs := range sa.qms {
			if qs.doneAt == 0 {
				inFlight++
			}
		}
		m.log.Debug("Quick Mode started", "peer", &sa.remote, "icookie", hex.EncodeToString(sec.CookieI[:]),
			"rcookie", hex.EncodeToString(sec.CookieR[:]), "mid", q.mid, "iv", hex.EncodeToString(sec.exchangeIV(q.mid)),
			"in_flight", inFlight)
	}
	qs.q = q
	m.addQM(sa, qs)
	if old != nil {
		old.rekeying = true
	}
	m.send(sa, out)
	qs.retx.arm(out, now)
	m.schedule(sa, now)
}

// responderOffer picks the crypto map for the proxy IDs a peer proposed.
func (m *Manager) responderOffer(sa *ikeSA, qs *qmState, peerLocal, peerRemote *ID) (*childOffer, error) {
	var sel acl.Selector
	if peerLocal == nil {
		// The implicit proxy ID of a Quick Mode without IDs: the two IKE
		// peers' addresses.
		local, remote := sa.local.Addr(), sa.remote.Addr()
		sel = acl.Selector{Local: netip.PrefixFrom(local, local.BitLen()), Remote: netip.PrefixFrom(remote, remote.BitLen()),
			LocalPorts: acl.AnyPort, RemotePorts: acl.AnyPort}
	} else {
		// Our view of the proxy IDs the peer proposed: local = its IDcr,
		// remote = its IDci.
		var err error
		if sel.Remote, sel.RemotePorts, err = sideFromID(peerLocal); err == nil {
			sel.Local, sel.LocalPorts, err = sideFromID(peerRemote)
		}
		if err == nil && peerLocal.Protocol != peerRemote.Protocol {
			err = fmt.Errorf("IDci protocol %d differs from IDcr protocol %d", peerLocal.Protocol, peerRemote.Protocol)
		}
		if err != nil {
			return nil, err
		}
		sel.Proto = peerLocal.Protocol
	}
	if sa.ra != nil {
		return m.raOffer(sa, qs, sel)
	}
	for _, ms := range m.maps {
		if sa.ms != nil && ms != sa.ms && !(hostIs(&sa.remote, &ms.cm.PeerAddr) || ms.cm.Dynamic) {
			continue
		}
		if ms.acl == nil {
			continue
		}
		if i, ok := ms.acl.FindProxyID(sel); ok {
			qs.sel, qs.ms, qs.rule = sel, ms, proxyRule{index: i, sel: sel}
			return offerFor(ms, sa), nil
		}
	}
	return nil, fmt.Errorf("proxy IDs %s do not match any crypto map ACL of this peer (mirror image needed)", sel)
}

// installChild hands a finished Quick Mode to the data plane.
func (m *Manager) installChild(sa *ikeSA, qs *qmState, res *quickResult, now mono) {
	ch := res.Choice
	c := &ChildSA{CryptoMap: qs.ms.cm, Rule: qs.rule.index, Local: sa.local, Remote: sa.remote, Encap: ch.EncapMode != EncapTunnel && ch.EncapMode != EncapTransport,
		Mode: ch.Mode, Selector: qs.sel, Lifetime: ch.Lifetime, LifetimeKB: ch.LifetimeKB, ESN: ch.ESN, PFSGroup: ch.PFS}
	// Hold the outbound half: as responder until QM3, as initiator of a
	// rekey until the peer shows it installed the SA (see OutboundHolder).
	if m.holder != nil {
		c.HoldOutbound = (!qs.q.initiator && qs.q.state != QMIdle) || (qs.q.initiator && qs.rekeyOf != nil)
	}
	switch {
	case ch.ESP != nil && ch.AH != nil:
		c.Protocol = "ah+esp"
	case ch.AH != nil:
		c.Protocol = "ah"
	default:
		c.Protocol = "esp"
	}
	if ch.ESP != nil {
		c.Encryption, c.Integrity = ch.ESP.Encryption, ch.ESP.Integrity
		c.ESPIn, c.ESPOut = ChildKeys(res.ESPIn), ChildKeys(res.ESPOut)
	}
	if ch.AH != nil {
		c.AHIntegrity = ch.AH.Integrity
		c.AHIn, c.AHOut = ChildKeys(res.AHIn), ChildKeys(res.AHOut)
	}
	h, err := m.cfg.DataPlane.InstallChild(c)
	if err != nil {
		m.log.Error("installing the IPsec SA failed", "crypto_map", qs.ms, "err", err)
		res.wipe()
		return
	}
	lt := c.Lifetime
	if lt <= 0 {
		lt = conf.DefaultP2Lifetime
	}
	// The pair's rule carries the selector it was negotiated with, which
	// its rekeys propose again.
	nc := &child{ms: qs.ms, rule: proxyRule{index: qs.rule.index, sel: qs.sel}, handle: h, initiator: qs.q.initiator,
		rekeyAt: now + mono(rekeyAfter(lt, qs.q.initiator)), expires: now + mono(lt),
		espIn: c.ESPIn.SPI, espOut: c.ESPOut.SPI, ahIn: c.AHIn.SPI, ahOut: c.AHOut.SPI}
	m.releaseSPIs(qs, nc.espIn, nc.ahIn) // the offers not chosen
	// Keys now live in the data plane only.
	for _, k := range []*ChildKeys{&c.ESPIn, &c.ESPOut, &c.AHIn, &c.AHOut} {
		k.EncKey, k.AuthKey = nil, nil
	}
	// Older pairs of this peer for the same traffic are superseded: they
	// stay (the peer may still send on them) until deleted or expired, but
	// are not rekeyed again. Other spokes' pairs on the same ACL line are
	// not: their selectors differ, or their identity does.
	for _, s := range m.sas {
		if s != sa && !samePeer(s, sa) {
			continue
		}
		for _, c := range s.children {
			if c.ms == qs.ms && c.rule.index == nc.rule.index && c.rule.sel == nc.rule.sel {
				c.rekeying = true
				if now < c.doubtfulUntil && c.removeAt == 0 && c != qs.rekeyOf {
					c.removeAt = now // the peer did restart after all
				}
			}
		}
	}
	push(&sa.children, nc)
	if c.HoldOutbound && !qs.q.initiator {
		qs.held = nc
	} else if c.HoldOutbound {
		// Released well before the old pair goes (rekeyGrace).
		nc.releaseAt = now + mono(min(initiatorHold, rekeyGrace/2))
	}
	m.settle.unsettled = true // an IPsec SA pair came or went
	sa.p2Error = ""
	delete(qs.ms.wanted, qs.rule.index)
	qs.ms.nextTry, qs.ms.failures = 0, 0 // the backoff starts over
	m.log.Info("IPsec SA installed", "crypto_map", qs.ms, "peer", &sa.remote, "selector", &c.Selector,
		"protocol", c.Protocol, "spi_in", spiHex(c.ESPIn.SPI, c.AHIn.SPI), "spi_out", spiHex(c.ESPOut.SPI, c.AHOut.SPI),
		"encryption", c.Encryption, "integrity", c.Integrity, "pfs", c.PFSGroup, "lifetime", c.Lifetime)
	if old := qs.rekeyOf; old != nil {
		old.removeAt = now + mono(rekeyGrace)
	}
	if sa.dpd != nil {
		sa.dpd.heard(now)
	}
	res.wipe()
}

// releaseChild lets a pair whose outbound half the initiator held carry
// outbound traffic.
func (m *Manager) releaseChild(c *child) {
	if c.releaseAt != 0 {
		c.releaseAt = 0
		m.holder.ReleaseOutbound(c.handle)
	}
}

// removeChild takes a pair out of the data plane, telling the peer when
// notify is set.
func (m *Manager) removeChild(sa *ikeSA, c *child, notify bool) {
	for i, x := range sa.children {
		if x == c {
			sa.children[i] = nil
			sa.children = withoutNil(sa.children)
			m.settle.unsettled = true // an IPsec SA pair came or went
			break
		}
	}
	// On an IKE SA that a newer one replaces, the Delete goes over the
	// newer one: strongSwan moves the IPsec SAs to the new IKE SA as
	// soon as it is up, and looks a Delete up among the SAs of the IKE SA
	// it came on ("CHILD_SA not found": the pair would stay on its side).
	via := sa
	if h := sa.heir(); h != nil && h.out != nil {
		via = h
	}
	if notify && via.out != nil && !via.dead() {
		// At most two Deletes, in an array rather than appended (each
		// append is a growth path of its own; flash).
		var ps [2]Payload
		n := 0
		if c.espIn != 0 {
			ps[n], n = deleteChild(ProtoESP, c.espIn), n+1
		}
		if c.ahIn != 0 {
			ps[n], n = deleteChild(ProtoAH, c.ahIn), n+1
		}
		if pkt, err := sealInfo(via.out.sec, ps[:n]...); err == nil {
			m.send(via, pkt)
		}
	}
	m.cfg.DataPlane.RemoveChild(c.handle)
	delete(m.used, c.espIn)
	delete(m.used, c.ahIn)
	// Its successor (on this IKE SA or a newer one) must not stay held
	// once it is the only one left.
	for _, s := range m.sas {
		if s != sa && !samePeer(s, sa) {
			continue
		}
		for _, n := range s.children {
			if n.ms == c.ms && n.rule.index == c.rule.index {
				m.releaseChild(n)
			}
		}
	}
}

// deleteIKE ends an IKE SA: its children too when it is not replaced by a
// newer IKE SA; notify sends Delete payloads first.
func (m *Manager) deleteIKE(sa *ikeSA, notify bool, why string) {
	if heir := sa.heir(); heir != nil && !m.closed {
		for _, c := range sa.children {
			push(&heir.children, c) // the list instantiation (flash)
		}
		sa.children = nil
	}
	for _, c := range snapshot(sa.children) {
		m.removeChild(sa, c, notify)
	}
	if notify && sa.out != nil && !sa.dead() {
		if pkt, err := sealInfo(sa.out.sec, sa.out.sec.deleteIKE()); err == nil {
			m.send(sa, pkt)
		}
	}
	if sa.out != nil {
		m.log.Info("IKE SA deleted", "peer", &sa.remote, "reason", why)
	}
	m.setLife(sa, lifeDead)
	if sa.tqIndex >= 0 && sa.tqIndex < len(m.timers) && m.timers[sa.tqIndex] == sa {
		m.timers.remove(sa.tqIndex)
	}
	m.removeSA(sa)
}

// wipeSecrets wipes an IKE SA's phase 1 keys.
func wipeSecrets(sa *ikeSA) {
	if sa.out != nil {
		wipeBytes(sa.out.sec.SKEYIDd)
		wipeBytes(sa.out.sec.SKEYIDa)
		wipeBytes(sa.out.sec.Ka)
	}
}

// removeSA forgets an IKE SA (its children must be gone or moved).
func (m *Manager) removeSA(sa *ikeSA) {
	// withoutNil clears the freed slot (no pointer kept reachable); one
	// instantiation serves every list of pointers, where slices.Delete
	// took one per list (flash).
	n := len(m.sas)
	for i, x := range m.sas {
		if x == sa {
			m.sas[i] = nil
			m.sas = withoutNil(m.sas)
			break
		}
	}
	if len(m.sas) < n {
		// A live SA left m.sas with what it was negotiating
		// (manager_settle.go).
		m.settle.unsettled = true
		if sa.out == nil {
			m.settle.negotiating--
		}
		for _, qs := range sa.qms {
			if qs.doneAt == 0 {
				m.settle.negotiating--
			}
		}
	}
	m.setLife(sa, lifeDead)
	m.raRelease(sa)
	sa.replaces = nil // a rekey that never completed: see established
	for _, qs := range sa.qms {
		m.releaseSPIs(qs) // none of its Quick Modes will install a pair now
	}
	if sa.graveUntil == 0 && sa.computing == 0 {
		// A grave's keys go when it is buried (manager_orphan.go); keys
		// in use by a Quick Mode computation when it ends
		// (manager_compute.go).
		wipeSecrets(sa)
	}
	// A busy SA's state machine is still in use: the computation wipes
	// it when it finds the SA dead.
	if sa.p1 != nil && !sa.busy {
		sa.p1.p.Wipe()
	}
}
