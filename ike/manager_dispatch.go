package ike

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"slices"
	"time"
	"tinyipsec/internal/logx"
)

// HandlePacket processes one received IKE datagram (without the non-ESP
// marker): local is where it arrived, remote where it came from. It has
// the signature of tun.UDPHandler; pkt is not retained.
func (m *Manager) HandlePacket(pkt []byte, local, remote netip.AddrPort) {
	// The header is parsed in place (ParseHeader returns a copy).
	in := &inbound{local: local, remote: remote}
	if err := in.h.parse(pkt); err != nil {
		m.drop(DropMalformed, "dropping malformed IKE datagram", "from", &in.remote, "err", err)
		return
	}
	in.pkt, in.now = bytes.Clone(pkt), monoNow()
	m.mu.Lock()
	if !m.closed {
		// Whatever the message changes in the SA's timers, the next tick
		// looks at it (manager_timerq.go).
		m.schedule(m.dispatch(in), in.now)
	}
	m.mu.Unlock()
}

// dispatch hands a datagram to its IKE SA's exchange, or starts a
// responder for a first message (m.mu held). It returns the SA the
// message went to, nil if none.
func (m *Manager) dispatch(in *inbound) *ikeSA {
	h, now := &in.h, in.now
	var sa *ikeSA
	// Cookies compared with the zero Cookie, not by IsZero: its receiver
	// is a copy, made byte by byte at each call (flash).
	first := h.CookieR == Cookie{} // no responder cookie yet
	for _, s := range m.sas {
		if s.cookieI == h.CookieI && (s.cookieR == Cookie{} || first || s.cookieR == h.CookieR) {
			sa = s
			break
		}
	}
	if sa == nil && !first {
		// MM3 of an unproven Main Mode responder (manager_halfopen.go).
		k := hoKeyOf(&h.CookieI, &h.CookieR)
		if e := m.halfOpen.entries[k]; e != nil && h.Exchange == ExchangeMain && h.MessageID == 0 {
			if sa = m.promote(e, k, &in.remote, now); sa == nil {
				return nil
			}
		}
	}
	if sa == nil && len(m.graves) > 0 && h.Exchange == ExchangeInformational {
		// A retired IKE SA with these cookies (manager_orphan.go)?
		for _, g := range m.graves {
			if g.cookieI == h.CookieI && g.cookieR == h.CookieR && now < g.graveUntil {
				// Its rows for a dead SA decide what counts (only
				// Deletes of IPsec SAs: the orphans of the same peer
				// identity).
				if msg, items, ok := m.openInfoOnce(g, in.pkt, "Informational for a deleted IKE SA dropped"); ok {
					m.runInfo(infoTable, (*Manager).actOnInfo, g, msg, items, now)
				}
				return nil
			}
		}
	}
	if sa == nil {
		if first && h.MessageID == 0 && (h.Exchange == ExchangeMain || h.Exchange == ExchangeAggressive) {
			m.newResponder(in)
			return nil
		}
		if !first && !m.cookies.issued(&h.CookieI, &h.CookieR, &in.remote) {
			m.drop(DropForeignCookie, "IKE message with a responder cookie we did not issue", "from", &in.remote, "exchange", h.Exchange)
			return nil
		}
		m.drop(DropNoSA, "IKE message for no known SA", "from", &in.remote, "exchange", h.Exchange)
		return nil
	}
	// With wildcard sockets the arrival address is unspecified: use the
	// address the SA runs on (NAT-D hashes need the real one).
	if a := in.local.Addr(); !a.IsValid() || a.IsUnspecified() {
		port := in.local.Port()
		in.local = sa.local
		setPort(&in.local, port)
	}
	if r := routeFor(h.Exchange, sa.life); r != nil {
		r.handle(m, sa, in)
		return sa
	}
	switch {
	case h.Exchange == ExchangeQuick && sa.life == lifeConfiguring:
		m.drop(DropBeforeEstablished, "ignoring Quick Mode before XAUTH and Mode-Config completed", "peer", &in.remote)
	case sa.negotiating():
		// strongSwan may send QM1 right behind the last phase 1 message;
		// it retransmits it, so ignoring it here is enough.
		m.drop(DropBeforeEstablished, "ignoring message before phase 1 completed", "peer", &in.remote, "exchange", h.Exchange)
	default:
		m.drop(DropUnsupported, "unsupported exchange", "peer", &in.remote, "exchange", h.Exchange)
	}
	return sa
}

// inbound is a received datagram on its way to an exchange's handler.
type inbound struct {
	h             Header
	pkt           []byte
	local, remote netip.AddrPort
	now           mono
}

// adopt moves sa to the datagram's endpoints: the peer follows when it
// floats to 4500 or its NAT mapping changes. Only authenticated messages
// may move an SA, so the handlers call it once a message opened. Assigned
// unconditionally: the same endpoints are a no-op, and comparing first
// cost more code than it saves. (A method, not a closure made per
// datagram: a closure is a function of its own, and the handlers passed
// it on as one more argument; flash.)
func (in *inbound) adopt(sa *ikeSA) {
	sa.remote = in.remote
	setPort(&sa.local, in.local.Port())
}

// exchangeRoute is one row of the dispatcher's table: an exchange an IKE
// SA takes in some stages of its life (manager_salife.go), and its handler.
// The exchanges' own tables then check the message itself (phase1_table.go,
// phase1_info.go, quick.go, ra.go). Exchanges without a row are dropped.
type exchangeRoute struct {
	exchange ExchangeType
	lives    lifeSet
	name     string
	handle   func(m *Manager, sa *ikeSA, in *inbound)
}

// The rows' stages of life (a lifeSet, as the Informational table's rows
// have).
const (
	whileNegotiating lifeSet = 1 << lifeNegotiating
	onceEstablished  lifeSet = 1<<lifeConfiguring | 1<<lifeActive // phase 1 done
	whileActive      lifeSet = 1 << lifeActive
)

var exchangeRoutes = []exchangeRoute{
	{ExchangeMain, whileNegotiating, "phase 1", (*Manager).handlePhase1},
	{ExchangeAggressive, whileNegotiating, "phase 1", (*Manager).handlePhase1},
	{ExchangeInformational, whileNegotiating, "phase 1 informational", (*Manager).handlePhase1},
	{ExchangeTransaction, whileNegotiating, "early XAUTH request", (*Manager).routeEarlyTransaction},
	{ExchangeMain, onceEstablished, "phase 1 repeat", (*Manager).handlePhase1},
	{ExchangeAggressive, onceEstablished, "phase 1 repeat", (*Manager).handlePhase1},
	{ExchangeTransaction, onceEstablished, "XAUTH / Mode-Config", (*Manager).handleTransaction},
	{ExchangeInformational, onceEstablished, "informational", (*Manager).handleInfo},
	{ExchangeQuick, whileActive, "Quick Mode", (*Manager).handleQuick},
}

func routeFor(x ExchangeType, l ikeLife) *exchangeRoute {
	for i := range exchangeRoutes {
		if r := &exchangeRoutes[i]; r.exchange == x && r.lives&(1<<l) != 0 {
			return r
		}
	}
	return nil
}

// routeEarlyTransaction keeps a gateway's XAUTH request that overtook its
// last phase 1 message, for when phase 1 completes (raStart).
func (m *Manager) routeEarlyTransaction(sa *ikeSA, in *inbound) {
	if !sa.initiator || len(in.pkt) > 4096 {
		m.drop(DropBeforeEstablished, "ignoring message before phase 1 completed", "peer", &in.remote, "exchange", in.h.Exchange)
		return
	}
	sa.early = in.pkt
}

func (m *Manager) send(sa *ikeSA, pkt []byte) {
	if m.log.Enabled(logx.LevelDebug) {
		var h Header
		if h.parse(pkt) == nil && h.MessageID != 0 {
			// Exchanges after phase 1 by IKE SA and message ID: what a
			// peer's IV bookkeeping is compared with.
			m.log.Debug("sent", "peer", &sa.remote, "exchange", h.Exchange, "icookie", hex.EncodeToString(h.CookieI[:]),
				"rcookie", hex.EncodeToString(h.CookieR[:]), "mid", h.MessageID, "len", len(pkt))
		}
	}
	if err := m.cfg.Transport.SendIKE(pkt, sa.local, sa.remote); err != nil {
		m.log.Debug("send failed", "peer", &sa.remote, "err", err)
	}
}

// handlePhase1 feeds a Main/Aggressive Mode message to its exchange, or
// a notify about the negotiation (in clear, or encrypted under the phase
// 1 keys: its table decides); once established, a repeat of the peer's
// last phase 1 message is answered.
func (m *Manager) handlePhase1(sa *ikeSA, in *inbound) {
	pkt := in.pkt
	if sa.p1In != nil && bytes.Equal(pkt, sa.p1In) {
		// The peer did not get our answer: send it again.
		if sa.p1Last != nil {
			m.send(sa, sa.p1Last)
		}
		return
	}
	if !sa.negotiating() || sa.p1 == nil {
		return
	}
	if sa.busy {
		// The previous message is still being computed (and the state
		// machine is the computation's); the peer retransmits this one
		// if it matters.
		m.drop(DropBusy, "phase 1 message while the previous one is being computed", "peer", &sa.remote, "state", sa.busyState)
		return
	}
	before := sa.p1.p.state.String()
	// Until a message is authenticated (encrypted under the phase 1 keys,
	// or the Aggressive Mode message with HASH_I) it must come from the
	// endpoint the exchange runs on: a peer floats to 4500 (or its NAT
	// remaps it) only with an authenticated message.
	if in.remote != sa.remote && !in.h.Encrypted() && before != StateAMWaitMsg3.String() {
		m.drop(DropWrongEndpoint, "phase 1 message from another endpoint than the negotiation's", "peer", &sa.remote, "from", &in.remote)
		return
	}
	m.computePhase1(sa, in, before)
}

// phase1Step applies the outcome of one phase 1 message in (m.mu held).
func (m *Manager) phase1Step(sa *ikeSA, in *inbound, before string, out []byte, err error, now mono) {
	for _, b := range sa.p1.pending {
		m.send(sa, b)
	}
	sa.p1.pending = nil
	if err != nil {
		if before == StateNone.String() {
			// An Aggressive Mode first message that did not start an
			// exchange: nothing to keep.
			m.drop(DropRefused, "phase 1 refused", "peer", &sa.remote, "err", err)
			m.phase1Failed(sa, before, err.Error(), now) // a responder's: no backoff
			return
		}
		if !sa.p1.p.state.Active() {
			if cn, ok := errors.AsType[*CleartextNotice](err); ok {
				// Unauthenticated: it may be the peer's word, or anyone's.
				// Shown in status; the negotiation goes on.
				if cn.Notify != 0 {
					sa.p1Note = "the peer said " + notifyName(cn.Notify) + " (unauthenticated)"
				} else if cn.Delete {
					sa.p1Note = "the peer sent a Delete (unauthenticated)"
				}
				m.drop(DropCleartextNotify, "unauthenticated notify during phase 1 ignored", "peer", &sa.remote, "state", before, "note", sa.p1Note)
				return
			}
			// Errors after which the exchange cannot continue
			// (authentication failed, nothing acceptable offered).
			if _, ok := errors.AsType[*NotifyError](err); ok || errors.Is(err, ErrNoProposalChosen) || errors.Is(err, errPhase1Fatal) {
				m.drop(EventPhase1Failed, "phase 1 failed", "peer", &sa.remote, "state", before, "err", err)
				m.phase1Failed(sa, before, err.Error(), now)
				return
			}
		}
		m.drop(DropPhase1Rejected, "phase 1 message rejected", "peer", &sa.remote, "state", before, "err", err)
		return
	}
	// The responder's cookie is known once its answer was accepted
	// (never from any message that merely carries our cookie).
	if sa.cookieR == (Cookie{}) {
		sa.cookieR = in.h.CookieR
	}
	in.adopt(sa)
	sa.p1In = in.pkt
	sa.unproven = sa.unproven && !sa.p1.p.state.Active()
	if sa.initiator && sa.p1.p.floated && sa.local.Port() != NATTPort {
		setPort(&sa.local, NATTPort)
		setPort(&sa.remote, NATTPort)
	}
	if out != nil {
		m.send(sa, out)
		sa.p1Last = out
		if !sa.p1.p.state.Active() || !sa.initiator {
			sa.p1Retx.arm(out, now)
		}
	}
	if sa.p1.p.state.Active() {
		sa.p1Retx.clear()
		m.established(sa, now)
	}
}

// phase1Failed ends a negotiation and keeps what went wrong for status
// until the next attempt with the peer succeeds.
func (m *Manager) phase1Failed(sa *ikeSA, state, reason string, now mono) {
	notePhase1Failure(sa, state, reason, now)
	m.removeSA(sa)
}

// notePhase1Failure keeps what went wrong on sa for its map's status; a
// failure of ours also delays the map's next attempt (mapState.failed).
func notePhase1Failure(sa *ikeSA, state, reason string, now mono) {
	if sa.ms != nil {
		if sa.initiator {
			sa.ms.failed(now)
		}
		sa.ms.noteFailure(&phase1Failure{peer: hostString(&sa.remote), local: hostString(&sa.local),
			initiator: sa.initiator, state: state, reason: reason, at: now})
	}
}

// errPhase1Fatal wraps phase 1 failures that end the exchange.
var errPhase1Fatal = errors.New("phase 1 failed")

// handleQuick routes a Quick Mode message by its message ID.
func (m *Manager) handleQuick(sa *ikeSA, in *inbound) {
	pkt, mid := in.pkt, in.h.MessageID
	qs := sa.qms[mid]
	if qs != nil && qs.busy || qs == nil && slices.Contains(sa.qmPending, mid) {
		// Its previous message is being computed (manager_compute.go);
		// the peer retransmits this one if it matters.
		m.drop(DropBusy, "Quick Mode message while the previous one is being computed", "peer", &sa.remote)
		return
	}
	if qs != nil {
		// The last message we accepted again: the peer did not get our
		// answer, so we re-send it.
		if q := qs.q; q.lastIn != nil && bytes.Equal(pkt, q.lastIn) {
			if qs.q.lastOut != nil {
				m.send(sa, qs.q.lastOut)
			}
			return
		}
		if qs.doneAt != 0 {
			return
		}
		if qs.q.initiator {
			// QM2: with PFS, a Diffie-Hellman computation, outside the
			// lock (manager_compute.go).
			m.computeQuick(sa, qs, in)
			return
		}
		// QM3 for a responder (quick.go's tables).
		out, res, err := qs.q.handle(pkt)
		m.quickCompleted(sa, qs, out, res, err, in, in.now)
		return
	}
	// QM1: with PFS, key making and a Diffie-Hellman computation; the
	// offer lookup and the SPIs need the manager's state (locked).
	m.computeQuick(sa, &qmState{}, in)
}

// quickCompleted applies the message that completes a Quick Mode: QM2
// for an initiator, QM3 for a responder (m.mu held).
func (m *Manager) quickCompleted(sa *ikeSA, qs *qmState, out []byte, res *quickResult, err error, in *inbound, now mono) {
	if err != nil {
		// An error in an exchange we are part of.
		if errors.Is(err, errUnauthenticated) {
			m.drop(DropUnauthenticated, "Quick Mode message dropped", "peer", &sa.remote, "err", err)
			return
		}
		m.log.Warn("Quick Mode failed", "peer", &sa.remote, "err", err)
		sa.p2Error = "phase 2 failed: " + err.Error()
		if ne, ok := errors.AsType[*NotifyError](err); ok {
			m.sendNotify(sa, ne.Type)
		}
		m.abandonQM(sa, qs, now)
		return
	}
	in.adopt(sa)
	sa.phase1Confirmed()
	if out != nil {
		m.send(sa, out)
	}
	qs.retx.clear()
	// Finished: the record is kept 30 s to answer retransmissions, for
	// which its last messages are all it needs: the proposals,
	// identities, nonces and closures go at once (on a hub, a kilobyte
	// per spoke that connected in the last 30 s). It keeps its role,
	// message ID and state, and for an initiator its last messages; the
	// DH secret was wiped by result.
	//
	// An initiator finishes on QM2 and answers a repeated QM2 (the
	// responder missed our QM3) with QM3 again. A responder finishes on
	// QM3, which tells that the initiator has our QM2: nothing it could
	// still send in this exchange needs an answer, and handleQuick
	// ignores whatever comes for a finished exchange, so its messages go
	// at once (on a hub, a few hundred bytes per spoke that connected in
	// the last 30 s).
	if !sa.dead() && qs.doneAt == 0 {
		m.settle.negotiating-- // manager_settle.go
	}
	qs.doneAt = now
	q := qs.q
	qs.q = &quickMode{initiator: q.initiator, mid: q.mid, state: q.state, started: q.started, derived: q.derived}
	if q.initiator {
		qs.q.lastOut, qs.q.lastIn = q.lastOut, q.lastIn
	}
	m.settle.unsettled = true
	if held := qs.held; held != nil {
		// The initiator has the SA: our traffic may use it now.
		qs.held = nil
		m.holder.ReleaseOutbound(held.handle)
	} else if res != nil {
		m.installChild(sa, qs, res, now)
	}
	if qs.q.initiator {
		// Our Quick Modes go one at a time (quickSlotFree): the next ACL
		// line waiting for its first pair starts now, not at the next
		// tick (fifty maps towards one peer come up in one go).
		m.tickMaps(sa, now)
	}
}

// quickResponderStep applies the outcome of a peer's QM1 (m.mu held).
func (m *Manager) quickResponderStep(sa *ikeSA, qs *qmState, q *quickMode, out []byte, err error, in *inbound, now mono) {
	if err != nil {
		m.releaseSPIs(qs)
		if ne, ok := errors.AsType[*NotifyError](err); ok {
			// The message authenticated: tell the peer why we refuse.
			m.log.Warn("Quick Mode refused", "peer", &sa.remote, "err", err)
			sa.p2Error = "phase 2 refused: " + err.Error()
			m.sendNotify(sa, ne.Type)
			return
		}
		m.drop(dropReasonOf(err), "Quick Mode message dropped", "peer", &sa.remote, "err", err)
		return
	}
	in.adopt(sa)
	sa.phase1Confirmed()
	qs.q = q
	m.addQM(sa, qs)
	m.send(sa, out)
	qs.retx.arm(out, now)
	if sa.dpd != nil {
		sa.dpd.heard(now)
	}
	if m.holder != nil {
		// Inbound now: the initiator may send on the SA before its
		// third message reaches us (see OutboundHolder).
		m.installChild(sa, qs, q.result(), now)
	}
}

// abandonQM gives up a Quick Mode of an IKE SA that will not complete
// (it failed, timed out, or the peer refused it): a responder's pair
// held since QM2 goes, the pair it was to rekey may be rekeyed again,
// and the map waits before it tries anew.
func (m *Manager) abandonQM(sa *ikeSA, qs *qmState, now mono) {
	if c := qs.held; c != nil {
		// A responder's pair installed at QM2, without the initiator's
		// third message.
		qs.held = nil
		m.log.Info("Quick Mode ended before the initiator confirmed: removing its IPsec SA", "peer", &sa.remote,
			"spi_in", spiHex(c.espIn, c.ahIn))
		m.removeChild(sa, c, true)
	}
	if qs.rekeyOf != nil {
		qs.rekeyOf.rekeying = false
	}
	if qs.ms != nil {
		qs.ms.failed(now)
	}
	m.dropQM(sa, qs.q.mid)
}

// refusedQuick returns our Quick Mode in progress on sa that the error
// notify e refuses, or nil.
//
// A notify that names an IPsec protocol and an SPI (strongSwan sends the
// refused proposal's protocol and our SPI from it) picks the exchange
// whose offer carries that SPI, and no other. Without them, a refusal of a
// proposal (NO-PROPOSAL-CHOSEN, INVALID-ID-INFORMATION, ...) is taken for
// our Quick Mode if it is the only one in progress. An error about a
// message as such (PAYLOAD-MALFORMED, INVALID-PAYLOAD-TYPE,
// INVALID-HASH-INFORMATION, ...) names no exchange at all: strongSwan sends
// one when it cannot decrypt a retransmission of a message it had already
// answered, while that exchange goes on; ending our Quick Modes for it
// lost rekeys that were completing (and the traffic on the old pairs when
// they expired). Those end by their own answer or timeout.
func refusedQuick(sa *ikeSA, e *peerNotify) *qmState {
	var only *qmState
	n := 0
	for _, qs := range sa.qms {
		if qs.q == nil || !qs.q.initiator || qs.doneAt != 0 {
			continue
		}
		if (e.Protocol == ProtoESP || e.Protocol == ProtoAH) && len(e.SPI) == 4 {
			// Refused: the one whose QM1 offered that protocol with
			// that SPI.
			if ours := qs.q.ourSA; ours != nil {
				for i := range ours.Proposals {
					if p := &ours.Proposals[i]; p.Protocol == e.Protocol && string(p.SPI) == e.SPI {
						return qs
					}
				}
			}
			continue
		}
		only = qs
		n++
	}
	if n == 1 {
		// Notify types that answer a proposal (RFC 2408 section
		// 3.14.1) rather than the form of a message.
		switch e.Type {
		case NotifyDOINotSupported, NotifySituationNotSupported, NotifyInvalidProtocolID, NotifyInvalidSPI,
			NotifyInvalidTransformID, NotifyAttributesNotSupported, NotifyNoProposalChosen, NotifyBadProposalSyntax,
			NotifyInvalidKeyInformation, NotifyInvalidIDInformation:
			return only
		}
	}
	return nil
}

// sendNotify sends an error notify in a protected Informational exchange.
func (m *Manager) sendNotify(sa *ikeSA, t uint16) {
	pkt, err := sealInfo(sa.out.sec, &Notify{DOI: DOIIPsec, Protocol: ProtoISAKMP, NotifyType: t, SPI: sa.out.sec.cookieSPI()})
	if err == nil {
		m.send(sa, pkt)
	}
}

// dropReasonOf classifies a protected message that did not open.
func dropReasonOf(err error) DropReason {
	if errors.Is(err, errUnauthenticated) {
		return DropUnauthenticated
	}
	return DropMalformed
}

// infoDeleteChild removes the pair whose outbound SPI the peer deleted:
// one of this IKE SA's, or of an older IKE SA of the same peer identity
// (children move to the newest IKE SA on a phase 1 rekey); never one of
// another peer that shares the address.
func (m *Manager) infoDeleteChild(sa *ikeSA, d *childSPI) {
	for _, s := range m.sas {
		if s != sa && !samePeer(s, sa) {
			continue
		}
		for _, c := range s.children {
			if (d.Protocol == ProtoESP && c.espOut != 0 && c.espOut == d.SPI) ||
				(d.Protocol == ProtoAH && c.ahOut != 0 && c.ahOut == d.SPI) {
				m.log.Info("peer deleted an IPsec SA", "peer", &sa.remote, "spi_out", d.SPI)
				m.removeChild(s, c, false)
				return
			}
		}
	}
	for i, o := range m.orphans {
		c := o.c
		if !o.peer.is(&sa.out.peer) || !((d.Protocol == ProtoESP && c.espOut != 0 && c.espOut == d.SPI) ||
			(d.Protocol == ProtoAH && c.ahOut != 0 && c.ahOut == d.SPI)) {
			continue
		}
		m.log.Info("peer deleted an IPsec SA", "peer", &sa.remote, "spi_out", d.SPI)
		m.dropOrphan(o)
		m.orphans[i] = nil
	}
	m.orphans = withoutNil(m.orphans)
}

// initialContact: the peer (re)started and has no SAs with us except the
// one that just told us so: forget the older ones of the same
// authenticated identity (see manager_peer.go), telling it with Deletes
// in case it kept some after all. Other identities at the same address,
// and negotiations in progress, are not this peer's to clear.
func (m *Manager) initialContact(fresh *ikeSA, now mono) {
	for _, s := range snapshot(m.sas) {
		if s == fresh || s.dead() || !samePeer(s, fresh) {
			continue
		}
		// Remote-access clients share the group identity and often one
		// NAT address: they are told apart by their port.
		if fresh.ms != nil && fresh.ms.cm.RemoteAccessGateway() && s.remote != fresh.remote {
			continue
		}
		m.log.Info("INITIAL-CONTACT: dropping old SAs of the restarted peer", "peer", &fresh.remote,
			"id", &fresh.out.peer, "old_peer", &s.remote)
		// Not a rekey: the peer has none of the old IPsec SAs any more,
		// so the fresh SA (marked as the heir when it was established)
		// must not inherit them.
		s.replacedBy = nil
		m.deleteIKE(s, true, "peer restarted (INITIAL-CONTACT)")
	}
	// The orphans of the identity go too (of its address too for
	// remote-access gateways, whose clients share one identity), except
	// those the peer kept itself when it deleted their IKE SA less than
	// reauthWindow ago: fresh adopts them, doubtful, and drops them as
	// soon as the peer negotiates a new pair for the same traffic (see
	// installChild), which a peer that did restart does at once.
	for i, o := range m.orphans {
		if !o.peer.is(&fresh.out.peer) {
			continue
		}
		reauth := o.peerKept && o.ms == fresh.ms && time.Duration(now-o.since) < reauthWindow
		msg := "INITIAL-CONTACT: dropping an IPsec SA kept from the restarted peer's old IKE SA"
		if reauth {
			msg = "INITIAL-CONTACT moments after the peer deleted its old IKE SA alone: a re-authentication, the IPsec SA it kept stays until it negotiates a new one"
		}
		m.log.Info(msg, "peer", &fresh.remote, "spi_in", spiHex(o.c.espIn, o.c.ahIn))
		if reauth {
			o.c.doubtfulUntil = now + mono(reauthWindow)
			continue
		}
		m.dropOrphan(o)
		m.orphans[i] = nil
	}
	m.orphans = withoutNil(m.orphans)
	m.adoptOrphans(fresh)
	m.schedule(fresh, now)
}
