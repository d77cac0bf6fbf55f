package ike

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// State is a phase 1 state, named as Cisco ASA's "show crypto isakmp sa"
// shows them.
type State uint8

// Phase 1 states. The initiator of Main Mode goes MM_WAIT_MSG2 ->
// MM_WAIT_MSG4 -> MM_WAIT_MSG6 -> MM_ACTIVE, the responder MM_NO_STATE ->
// MM_WAIT_MSG3 -> MM_WAIT_MSG5 -> MM_ACTIVE. Aggressive Mode: initiator
// AM_WAIT_MSG2 -> AM_ACTIVE, responder MM_NO_STATE -> AM_WAIT_MSG3 ->
// AM_ACTIVE.
const (
	StateNone State = iota // MM_NO_STATE
	StateMMWaitMsg2
	StateMMWaitMsg3
	StateMMWaitMsg4
	StateMMWaitMsg5
	StateMMWaitMsg6
	StateMMActive
	StateAMWaitMsg2
	StateAMWaitMsg3
	StateAMActive
	StateFailed
)

var stateNames = [...]string{"MM_NO_STATE", "MM_WAIT_MSG2", "MM_WAIT_MSG3", "MM_WAIT_MSG4", "MM_WAIT_MSG5",
	"MM_WAIT_MSG6", "MM_ACTIVE", "AM_WAIT_MSG2", "AM_WAIT_MSG3", "AM_ACTIVE", "FAILED"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("STATE(%d)", uint8(s))
}

// Active reports whether phase 1 is complete.
func (s State) Active() bool { return s == StateMMActive || s == StateAMActive }

// FailReason classifies why a phase 1 negotiation ended; status output and
// counters use the string form.
type FailReason string

// Failure reasons.
const (
	FailNoProposal  FailReason = "no-proposal-chosen"
	FailAuth        FailReason = "authentication-failed"
	FailInvalidID   FailReason = "invalid-id"
	FailCert        FailReason = "certificate-invalid"
	FailKeyExchange FailReason = "invalid-key-exchange"
	FailMalformed   FailReason = "malformed"
	FailPeerNotify  FailReason = "peer-notify"
	FailConfig      FailReason = "configuration"
	FailInternal    FailReason = "internal"
)

// Phase1Failure says why a negotiation failed. Notify is the ISAKMP
// notify type sent or received, if any.
type Phase1Failure struct {
	Reason FailReason
	Notify uint16
	Err    error
}

func (f *Phase1Failure) Error() string {
	return fmt.Sprintf("phase 1 failed: %s: %v", f.Reason, f.Err)
}

func (f *Phase1Failure) Unwrap() error { return f.Err }

func fail(reason FailReason, notify uint16, format string, args ...any) *Phase1Failure {
	return &Phase1Failure{Reason: reason, Notify: notify, Err: fmt.Errorf(format, args...)}
}

// Phase1Done is the outcome of a successful phase 1: everything Quick Mode,
// Informational exchanges, DPD and status need.
type Phase1Done struct {
	Initiator        bool
	Exchange         ExchangeType
	CookieI, CookieR Cookie
	Policy           Policy        // the negotiated suite
	Lifetime         time.Duration // the lower of both sides' lifetimes
	Keys             *Phase1Keys   // Keys.IV is the last phase 1 IV (input of Phase2IV)
	Block            cipher.Block  // the phase 1 cipher keyed with Ka
	LocalID, PeerID  *ID
	PeerCert         *x509.Certificate // nil with PSK
	Peer             PeerVendors
	// NATT is the NAT-T flavour both sides announced (NATTNone: no NAT-T).
	// LocalNAT / PeerNAT: a NAT was detected in front of us / the peer
	// (including a peer that fakes one to force encapsulation).
	NATT              NATTVariant
	LocalNAT, PeerNAT bool
	// Floated: the exchange moved to UDP 4500 (ESP must be UDP-encapsulated).
	Floated       bool
	Local, Remote netip.AddrPort
	Established   time.Time
	// PeerInitialContact: the peer's MM5, MM6 or AM3 carried INITIAL-CONTACT
	// (RFC 2407 4.6.3.3): it (re)started and holds no other SA with us.
	PeerInitialContact bool
}

// Packet is one received datagram: its ISAKMP bytes (non-ESP marker already
// removed on port 4500) and the endpoints it travelled between.
type Packet struct {
	Data          []byte
	Local, Remote netip.AddrPort
}

// Result is what one step of the state machine asks the caller to do.
type Result struct {
	// Send are datagrams for the peer, in order (no non-ESP marker: with
	// Float or after an earlier Float, the caller adds it and uses 4500).
	Send [][]byte
	// Float: from this message on, use UDP 4500 on both ends (RFC 3947).
	Float bool
	// Done is set once phase 1 has completed.
	Done *Phase1Done
	// Failed is set when the negotiation is over without success.
	Failed *Phase1Failure
}

// Phase1 is one IKEv1 phase 1 negotiation, in either role. It is a pure
// state machine: no sockets, no timers, no goroutines. Retransmission is
// the caller's job: resend LastSent while waiting.
type Phase1 struct {
	cfg       Phase1Config
	rand      io.Reader
	initiator bool
	exchange  ExchangeType
	state     State
	table     phase1Table

	ckyI, ckyR    Cookie
	local, remote netip.AddrPort

	policies []Policy // ours, ECDSA methods resolved to the key's curve
	policy   Policy   // negotiated
	lifetime time.Duration
	saiB     []byte // body of the initiator's SA payload

	dh       *DHKey
	gxi, gxr []byte
	ni, nr   []byte
	keys     *Phase1Keys
	blk      cipher.Block
	iv       []byte

	localID, peerID *ID
	peerCert        *x509.Certificate

	peer              PeerVendors
	natt              NATTVariant
	localNAT, peerNAT bool
	floated           bool

	peerInitialContact bool

	lastIn     [32]byte // hash of the last accepted datagram (retransmit detection)
	lastAnswer [][]byte // what that datagram made us send (nil: it ended an exchange)
	lastSent   [][]byte
	frags      Reassembler
	fragID     uint16 // of the last message we fragmented
	done       *Phase1Done
	failure    *Phase1Failure
}

func newPhase1(cfg *Phase1Config, initiator bool) (*Phase1, error) {
	if cfg == nil {
		return nil, errors.New("ike: nil phase 1 config")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p := &Phase1{cfg: *cfg, initiator: initiator, local: cfg.Local, remote: cfg.Remote, rand: cfg.Rand}
	if p.rand == nil {
		p.rand = rand.Reader
	}
	for _, pol := range cfg.Policies {
		if pol.Auth.IsECDSA() {
			m, ok := ECDSAMethodFor(cfg.Creds.Key.Public())
			if !ok {
				return nil, errors.New("ike: ecdsa-sig policy but the key is not ECDSA")
			}
			pol.Auth = m
		}
		if pol.Lifetime <= 0 {
			pol.Lifetime = DefaultPhase1Lifetime
		}
		p.policies = append(p.policies, pol)
	}
	return p, nil
}

// NewInitiator prepares a phase 1 negotiation towards cfg.Remote; Start
// produces the first message.
func NewInitiator(cfg *Phase1Config) (*Phase1, error) {
	p, err := newPhase1(cfg, true)
	if err != nil {
		return nil, err
	}
	p.exchange = cfg.Exchange
	switch p.exchange {
	case 0, ExchangeMain:
		p.exchange, p.table = ExchangeMain, mainModeInitiator
	case ExchangeAggressive:
		p.table = aggressiveInitiator
		// Aggressive Mode sends KE with the first message, so every offered
		// transform must use the first policy's group.
		var same []Policy
		for _, pol := range p.policies {
			if pol.Group == p.policies[0].Group {
				same = append(same, pol)
			}
		}
		p.policies = same
	default:
		return nil, fmt.Errorf("ike: phase 1 exchange %v", p.exchange)
	}
	if _, err := io.ReadFull(p.rand, p.ckyI[:]); err != nil {
		return nil, err
	}
	return p, nil
}

// NewResponder prepares the answer to a first message (MM1 or AM1) that
// arrived from cfg.Remote; feed that message to Handle.
func NewResponder(cfg *Phase1Config) (*Phase1, error) {
	return newPhase1(cfg, false)
}

// Start sends the initiator's first message.
func (p *Phase1) Start(now time.Time) (Result, error) {
	if !p.initiator || p.state != StateNone {
		return Result{}, errors.New("ike: Start on a responder or a started negotiation")
	}
	var r *Result
	var err error
	if p.exchange == ExchangeMain {
		r, err = p.mmI1()
	} else {
		r, err = p.amI1()
	}
	if err != nil {
		return p.failWith(err), nil
	}
	p.lastSent = r.Send
	return *r, nil
}

// State returns the current state.
func (p *Phase1) State() State { return p.state }

// Initiator reports the role.
func (p *Phase1) Initiator() bool { return p.initiator }

// Exchange is ExchangeMain or ExchangeAggressive (0 for a responder that
// has not seen the first message).
func (p *Phase1) Exchange() ExchangeType { return p.exchange }

// Cookies returns the IKE SA's cookies (CookieR is zero until known).
func (p *Phase1) Cookies() (Cookie, Cookie) { return p.ckyI, p.ckyR }

// LastSent returns the datagrams last sent, for retransmission.
func (p *Phase1) LastSent() [][]byte { return p.lastSent }

// Floated reports whether the exchange moved to UDP 4500.
func (p *Phase1) Floated() bool { return p.floated }

// Remote returns the peer endpoint currently in use.
func (p *Phase1) Remote() netip.AddrPort { return p.remote }

// Done returns the result once the state is active.
func (p *Phase1) Done() *Phase1Done { return p.done }

// Failure returns why the negotiation failed, if it did.
func (p *Phase1) Failure() *Phase1Failure { return p.failure }

// Wipe forgets every secret (call when the IKE SA dies; Done().Keys are
// wiped too).
func (p *Phase1) Wipe() {
	p.dh.Wipe()
	p.keys.Wipe()
	Wipe(p.ni, p.nr)
}

func (p *Phase1) failWith(err error) Result {
	var f *Phase1Failure
	if !errors.As(err, &f) {
		f = &Phase1Failure{Reason: FailInternal, Err: err}
	}
	p.state, p.failure = StateFailed, f
	p.dh.Wipe()
	r := Result{Failed: f}
	// Tell the peer about failures it can act on (Cisco and strongSwan log
	// them): in clear before keys exist, encrypted and hashed after.
	// With pre-shared keys a failed HASH means the keys differ: the peer
	// could not read an encrypted notify.
	pskMismatch := f.Reason == FailAuth && p.policy.Auth.PreShared()
	if f.Notify != 0 && f.Reason != FailPeerNotify && !(p.keys != nil && pskMismatch) {
		var b []byte
		var err error
		if p.keys == nil {
			b, err = p.plainNotify(f.Notify)
		} else {
			b, err = p.sealedNotify(f.Notify)
		}
		if err == nil {
			r.Send = [][]byte{b}
		}
	}
	return r
}

// plainNotify builds an unencrypted Informational with one notification.
func (p *Phase1) plainNotify(t uint16) ([]byte, error) {
	var mid [4]byte
	if _, err := io.ReadFull(p.rand, mid[:]); err != nil {
		return nil, err
	}
	m := &Message{
		Header: Header{CookieI: p.ckyI, CookieR: p.ckyR, Exchange: ExchangeInformational,
			MessageID: uint32(mid[0])<<24 | uint32(mid[1])<<16 | uint32(mid[2])<<8 | uint32(mid[3])},
		Payloads: []Payload{&Notify{DOI: DOIIPsec, Protocol: ProtoISAKMP, NotifyType: t,
			SPI: append(append([]byte(nil), p.ckyI[:]...), p.ckyR[:]...)}},
	}
	return m.Marshal()
}

// Handle processes one received datagram. A returned error means the
// datagram was dropped (malformed, unexpected, retransmission noise) and
// the state is unchanged; a negotiation that ends says so in
// Result.Failed.
func (p *Phase1) Handle(pkt Packet, now time.Time) (Result, error) {
	if p.state == StateFailed {
		return Result{}, errors.New("ike: negotiation already failed")
	}
	h, err := ParseHeader(pkt.Data)
	if err != nil {
		return Result{}, err
	}
	sum := sha256.Sum256(pkt.Data)
	if p.state != StateNone && sum == p.lastIn {
		// The peer retransmitted: our answer got lost. A repeated final
		// message (MM6, AM3) needs no answer; answering it would start a
		// retransmission ping-pong.
		return Result{Send: p.lastAnswer}, nil
	}
	if h.CookieI != p.ckyI && !(p.state == StateNone && !p.initiator) {
		return Result{}, errors.New("ike: initiator cookie mismatch")
	}
	if !p.ckyR.IsZero() && h.CookieR != p.ckyR {
		return Result{}, errors.New("ike: responder cookie mismatch")
	}
	if h.NextPayload == PayloadFragment && !h.Encrypted() {
		m, err := Unmarshal(pkt.Data)
		if err != nil {
			return Result{}, err
		}
		f := Find[*Fragment](m)
		if f == nil {
			return Result{}, malformed("fragment message without fragment")
		}
		full, err := p.frags.Add(f)
		if err != nil || full == nil {
			return Result{}, err
		}
		pkt.Data = full
		return p.Handle(pkt, now)
	}
	if h.Exchange == ExchangeInformational {
		return p.handleInformational(h, pkt)
	}
	if p.state.Active() {
		return Result{}, fmt.Errorf("ike: %v message in %v", h.Exchange, p.state)
	}
	if p.state == StateNone && !p.initiator {
		switch {
		case h.Exchange == ExchangeMain:
			p.exchange, p.table = ExchangeMain, mainModeResponder
		case h.Exchange == ExchangeAggressive && !p.cfg.NoAggressive:
			p.exchange, p.table = ExchangeAggressive, aggressiveResponder
		default:
			return Result{}, fmt.Errorf("ike: unexpected first exchange %v", h.Exchange)
		}
		if !h.CookieR.IsZero() || h.MessageID != 0 {
			return Result{}, malformed("first message with responder cookie or message ID")
		}
		p.ckyI = h.CookieI
	}
	if h.Exchange != p.exchange {
		return Result{}, fmt.Errorf("ike: %v message during %v mode", h.Exchange, p.exchange)
	}
	if h.MessageID != 0 {
		return Result{}, malformed("phase 1 message with message ID %#x", h.MessageID)
	}
	var m *Message
	var nextIV []byte
	if h.Encrypted() {
		if p.blk == nil {
			return Result{}, errors.New("ike: encrypted message before keys")
		}
		m, nextIV, err = Open(pkt.Data, p.blk, p.iv)
		if errors.Is(err, ErrMalformed) && p.keys != nil && p.table.row(p.state) != nil {
			// Garbage after decryption: the keys differ, which with
			// pre-shared keys means the secrets differ (Cisco logs
			// "probable pre-shared key mismatch").
			return p.failWith(fail(FailAuth, 0, "decryption failed, probable pre-shared key mismatch: %v", err)), nil
		}
	} else {
		m, err = Unmarshal(pkt.Data)
	}
	if err != nil {
		return Result{}, err
	}
	row, err := p.table.admit(p.state, m)
	if err != nil {
		return Result{}, err
	}
	savedIV := p.iv
	if nextIV != nil {
		p.iv = nextIV
	}
	r, err := row.handle(p, m, pkt, now)
	if err != nil {
		var f *Phase1Failure
		if errors.As(err, &f) {
			return p.failWith(f), nil
		}
		p.iv = savedIV
		return Result{}, err
	}
	if p.state != row.to {
		return p.failWith(fmt.Errorf("ike: %s left %v, its row says %v", row.name, p.state, row.to)), nil
	}
	if r.Send, err = p.fragment(r.Send); err != nil {
		return p.failWith(err), nil
	}
	p.lastIn, p.lastAnswer = sum, r.Send
	if len(r.Send) > 0 {
		p.lastSent = r.Send
	}
	return *r, nil
}

func (p *Phase1) handleInformational(h Header, pkt Packet) (Result, error) {
	var m *Message
	var err error
	switch {
	case h.Encrypted() && p.keys != nil:
		// A peer that rejects our MM5/AM3 tells us why in an encrypted,
		// hashed notification (its IV derives from the phase 1 chain).
		if m, err = p.openInformational(pkt.Data, h.MessageID); err != nil {
			return Result{}, err
		}
	case h.Encrypted():
		return Result{}, errors.New("ike: encrypted informational before keys")
	case p.keys != nil:
		// Once keys exist an unauthenticated notify could be forged.
		return Result{}, errors.New("ike: unencrypted informational after key exchange")
	default:
		// Before keys nothing authenticates a notify: anyone who saw our
		// first message could have sent it, with any responder cookie.
		// It changes nothing; the caller may show it as a hint.
		if m, err = Unmarshal(pkt.Data); err != nil {
			return Result{}, err
		}
		return Result{}, cleartextNoticeOf(m)
	}
	if d := Find[*Delete](m); d != nil && d.Protocol == ProtoISAKMP {
		return p.failWith(fail(FailPeerNotify, 0, "peer deleted the ISAKMP SA")), nil
	}
	n := Find[*Notify](m)
	if n == nil || n.NotifyType >= NotifyConnected {
		return Result{}, errors.New("ike: informational without error notify")
	}
	f := fail(FailPeerNotify, n.NotifyType, "peer sent notify %d", n.NotifyType)
	return p.failWith(f), nil
}

// CleartextNotice is an unauthenticated Informational received during
// phase 1 before keys: dropped, never acted upon.
type CleartextNotice struct {
	Notify uint16 // 0: a Delete or no error notify
	Delete bool
}

func (c *CleartextNotice) Error() string {
	if c.Delete {
		return "ike: unauthenticated Delete during phase 1 ignored"
	}
	return fmt.Sprintf("ike: unauthenticated notify %d during phase 1 ignored", c.Notify)
}

func cleartextNoticeOf(m *Message) *CleartextNotice {
	c := &CleartextNotice{}
	if d := Find[*Delete](m); d != nil && d.Protocol == ProtoISAKMP {
		c.Delete = true
	}
	if n := Find[*Notify](m); n != nil && n.NotifyType < NotifyConnected {
		c.Notify = n.NotifyType
	}
	return c
}

// openInformational decrypts an Informational exchange message during
// phase 1 and checks its HASH; the phase 1 IV chain is left untouched.
func (p *Phase1) openInformational(b []byte, mid uint32) (*Message, error) {
	iv := Phase2IV(p.policy.Hash, p.iv, mid, p.blk.BlockSize())
	m, _, err := Open(b, p.blk, iv)
	if err != nil {
		return nil, err
	}
	hp, ok := m.Payloads[0].(*Hash)
	if !ok || len(m.Payloads) < 2 {
		return nil, malformed("informational without leading HASH")
	}
	var rest []byte
	for _, r := range m.Raw[1:] {
		rest = append(rest, r...)
	}
	if !hmacEqual(hp.Data, QuickHash1(p.policy.Hash, p.keys.SKEYIDa, mid, rest)) {
		return nil, errors.New("ike: informational HASH mismatch")
	}
	return m, nil
}

// sealedNotify builds an encrypted, hashed Informational with one
// notification about the ISAKMP SA.
func (p *Phase1) sealedNotify(t uint16) ([]byte, error) {
	midb, err := p.random(4)
	if err != nil {
		return nil, err
	}
	mid := uint32(midb[0])<<24 | uint32(midb[1])<<16 | uint32(midb[2])<<8 | uint32(midb[3])
	n := &Notify{DOI: DOIIPsec, Protocol: ProtoISAKMP, NotifyType: t,
		SPI: append(append([]byte(nil), p.ckyI[:]...), p.ckyR[:]...)}
	rest, err := MarshalPayloads([]Payload{n})
	if err != nil {
		return nil, err
	}
	hash := QuickHash1(p.policy.Hash, p.keys.SKEYIDa, mid, rest)
	m := &Message{Header: Header{CookieI: p.ckyI, CookieR: p.ckyR, Exchange: ExchangeInformational, MessageID: mid},
		Payloads: []Payload{&Hash{Data: hash}, n}}
	out, _, err := m.Seal(p.blk, Phase2IV(p.policy.Hash, p.iv, mid, p.blk.BlockSize()))
	return out, err
}

// random returns n bytes from the configured source.
func (p *Phase1) random(n int) ([]byte, error) {
	b := make([]byte, n)
	_, err := io.ReadFull(p.rand, b)
	return b, err
}

// nonceLen is the nonce size sent (RFC 2409 allows 8..256).
const nonceLen = 32

// header returns a header for the next phase 1 message.
func (p *Phase1) header() Header {
	return Header{CookieI: p.ckyI, CookieR: p.ckyR, Exchange: p.exchange}
}

// marshalPlain encodes an unencrypted phase 1 message.
func (p *Phase1) marshalPlain(ps []Payload) ([]byte, error) {
	m := &Message{Header: p.header(), Payloads: ps}
	return m.Marshal()
}

// sendPlain sends the unencrypted message ps (MM1, MM2, AM1) and moves to
// the state next.
func (p *Phase1) sendPlain(ps []Payload, next State) (*Result, error) {
	b, err := p.marshalPlain(ps)
	if err != nil {
		return nil, err
	}
	p.state = next
	return &Result{Send: [][]byte{b}}, nil
}

// sendPlainWithNATD is sendPlain with our NAT-D payloads appended (MM3,
// MM4, AM2).
func (p *Phase1) sendPlainWithNATD(ps []Payload, next State) (*Result, error) {
	natd, err := p.natdPayloads()
	if err != nil {
		return nil, err
	}
	return p.sendPlain(append(ps, natd...), next)
}

// marshalEncrypted encodes an encrypted phase 1 message, advancing the IV.
func (p *Phase1) marshalEncrypted(ps []Payload) ([]byte, error) {
	m := &Message{Header: p.header(), Payloads: ps}
	b, next, err := m.Seal(p.blk, p.iv)
	if err != nil {
		return nil, err
	}
	p.iv = next
	return b, nil
}

// saPayload builds the initiator's offer: one proposal with one transform
// per policy, in priority order.
func (p *Phase1) saPayload() *SA {
	pr := Proposal{Number: 1, Protocol: ProtoISAKMP}
	for i, pol := range p.policies {
		pr.Transforms = append(pr.Transforms, pol.transform(uint8(i+1)))
	}
	return &SA{DOI: DOIIPsec, Situation: SituationIdentityOnly, Proposals: []Proposal{pr}}
}

// selectProposal is the responder's choice, Cisco style: the first of our
// policies (in priority order) that matches any transform offered; the
// lifetime is the lower of the two. group, when nonzero, restricts the
// match (Aggressive Mode: the KE payload already fixed it).
func (p *Phase1) selectProposal(sa *SA, group Group) (*SA, Policy, *Notify, error) {
	var offered []Policy
	var raw []Transform
	var propNum uint8
	for _, pr := range sa.Proposals {
		if pr.Protocol != ProtoISAKMP {
			continue
		}
		for _, t := range pr.Transforms {
			if pol, ok := policyFromTransform(t); ok {
				offered = append(offered, pol)
				raw = append(raw, t)
			}
		}
		propNum = pr.Number
		break // phase 1 has a single proposal
	}
	for _, ours := range p.policies {
		if group != 0 && ours.Group != group {
			continue
		}
		for i, theirs := range offered {
			if !ours.sameSuite(theirs) {
				continue
			}
			chosen := ours
			chosen.Lifetime = theirs.Lifetime
			var n *Notify
			if theirs.Lifetime == 0 || ours.Lifetime < theirs.Lifetime {
				chosen.Lifetime = ours.Lifetime
				// Tell the initiator we lowered its lifetime.
				b := attributeBytes(Attributes{AttrTV(AttrLifeType, uint16(LifeSeconds)),
					AttrUint(AttrLifeDuration, uint64(ours.Lifetime/time.Second))})
				n = &Notify{DOI: DOIIPsec, Protocol: ProtoISAKMP, NotifyType: NotifyResponderLifetime,
					SPI: append(append([]byte(nil), p.ckyI[:]...), p.ckyR[:]...), Data: b}
			}
			reply := &SA{DOI: DOIIPsec, Situation: SituationIdentityOnly, Proposals: []Proposal{
				{Number: propNum, Protocol: ProtoISAKMP, Transforms: []Transform{raw[i]}}}}
			return reply, chosen, n, nil
		}
	}
	return nil, Policy{}, nil, fail(FailNoProposal, NotifyNoProposalChosen, "no ISAKMP policy matches the %d transforms offered", len(offered))
}

// acceptChoice checks the responder's answer against our offer (the
// initiator side).
func (p *Phase1) acceptChoice(m *Message) error {
	sa := Find[*SA](m)
	if sa == nil {
		return fail(FailMalformed, NotifyPayloadMalformed, "no SA payload in the reply")
	}
	if len(sa.Proposals) != 1 || len(sa.Proposals[0].Transforms) != 1 {
		return fail(FailNoProposal, NotifyBadProposalSyntax, "reply must hold exactly one transform")
	}
	theirs, ok := policyFromTransform(sa.Proposals[0].Transforms[0])
	if !ok {
		return fail(FailNoProposal, NotifyBadProposalSyntax, "unacceptable transform in the reply")
	}
	for _, ours := range p.policies {
		if ours.sameSuite(theirs) {
			p.policy = ours
			p.lifetime = ours.Lifetime
			if theirs.Lifetime > 0 && theirs.Lifetime < p.lifetime {
				p.lifetime = theirs.Lifetime
			}
			for _, n := range FindAll[*Notify](m) {
				if n.NotifyType == NotifyResponderLifetime {
					if as, err := parseAttributes(n.Data); err == nil {
						if lt, ok := as.Uint(AttrLifeType); ok && lt == LifeSeconds {
							if d, ok := as.Uint(AttrLifeDuration); ok && d > 0 && time.Duration(d)*time.Second < p.lifetime {
								p.lifetime = time.Duration(d) * time.Second
							}
						}
					}
				}
			}
			return nil
		}
	}
	return fail(FailNoProposal, NotifyNoProposalChosen, "the responder chose a transform we did not offer")
}

// localIdentity fixes our ID payload for this negotiation.
func (p *Phase1) localIdentity() *ID {
	if p.cfg.LocalID != nil {
		id := *p.cfg.LocalID
		return &id
	}
	if p.policy.Auth.UsesSignatures() {
		return IDFromDN(p.cfg.Creds.Cert.RawSubject)
	}
	return IDFromAddr(p.local.Addr())
}

// vendorPayloads are our capability VIDs (NAT-T ones unless disabled,
// fragmentation when enabled).
func (p *Phase1) vendorPayloads() []Payload {
	var out []Payload
	for _, v := range OurVendorIDs() {
		d := v.(*VendorID).Data
		if p.cfg.NATT == NATTOff && !bytes.Equal(d, VendorDPD) {
			continue
		}
		out = append(out, v)
	}
	if p.cfg.Fragmentation {
		out = append(out, &VendorID{Data: vendorFragmentationOut})
	}
	if p.cfg.RemoteAccess {
		out = append(out, &VendorID{Data: VendorXAuth}, &VendorID{Data: VendorUnity})
	}
	return out
}

// fragment splits large outgoing datagrams when both sides announced
// IKEv1 fragmentation.
func (p *Phase1) fragment(bs [][]byte) ([][]byte, error) {
	if !p.cfg.Fragmentation || !p.peer.Fragmentation {
		return bs, nil
	}
	var out [][]byte
	for _, b := range bs {
		if len(b) <= fragmentDataLen+HeaderLen+8 {
			out = append(out, b)
			continue
		}
		p.fragID++
		fs, err := FragmentDatagram(b, p.fragID)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	return out, nil
}

// noteVendors records the peer's VIDs and the NAT-T flavour both speak.
func (p *Phase1) noteVendors(m *Message) {
	p.peer.ScanVendors(m)
	if p.cfg.NATT != NATTOff {
		p.natt = p.peer.NATT
	}
}

// natdPayloads builds our two NAT-D payloads: the peer's address as we
// send to it, then our own. With NATTForce our own hash is random, so
// the peer sees a NAT and both sides encapsulate ESP in UDP.
func (p *Phase1) natdPayloads() ([]Payload, error) {
	if p.natt == NATTNone {
		return nil, nil
	}
	h := p.policy.Hash
	draft := p.natt.Draft()
	dst := NATDHash(h, p.ckyI, p.ckyR, p.remote)
	src := NATDHash(h, p.ckyI, p.ckyR, p.local)
	if p.cfg.NATT == NATTForce {
		r, err := p.random(len(src))
		if err != nil {
			return nil, err
		}
		src = r
	}
	return []Payload{&NATD{Data: dst, Draft: draft}, &NATD{Data: src, Draft: draft}}, nil
}

// checkNATD compares the peer's NAT-D payloads with the endpoints the
// datagram really used (RFC 3947 section 3.2).
func (p *Phase1) checkNATD(m *Message, pkt Packet) {
	ds := FindAll[*NATD](m)
	if p.natt == NATTNone || len(ds) < 2 {
		return
	}
	h := p.policy.Hash
	local := pkt.Local
	if !local.IsValid() {
		local = p.local
	}
	remote := pkt.Remote
	if !remote.IsValid() {
		remote = p.remote
	}
	me := NATDHash(h, p.ckyI, p.ckyR, local)
	them := NATDHash(h, p.ckyI, p.ckyR, remote)
	p.localNAT = !bytes.Equal(ds[0].Data, me)
	p.peerNAT = true
	for _, d := range ds[1:] {
		if bytes.Equal(d.Data, them) {
			p.peerNAT = false
		}
	}
	if p.cfg.NATT == NATTForce {
		p.localNAT = true
	}
}

// natDetected reports whether ESP and the rest of IKE must move to 4500.
func (p *Phase1) natDetected() bool {
	return p.natt != NATTNone && (p.localNAT || p.peerNAT)
}

// float moves the exchange to UDP 4500 on both ends.
func (p *Phase1) float() {
	p.floated = true
	p.local = netip.AddrPortFrom(p.local.Addr(), 4500)
	p.remote = netip.AddrPortFrom(p.remote.Addr(), 4500)
}

// computeKeys derives SKEYID and the rest once both KE and nonces are
// known.
func (p *Phase1) computeKeys() error {
	peerPub := p.gxr
	if !p.initiator {
		peerPub = p.gxi
	}
	gxy, err := p.dh.SharedSecret(peerPub)
	if err != nil {
		return fail(FailKeyExchange, NotifyInvalidKeyInformation, "%v", err)
	}
	defer Wipe(gxy)
	p.dh.Wipe()
	h := p.policy.Hash
	var skeyid []byte
	if p.policy.Auth.PreShared() {
		skeyid = SKEYIDPSK(h, p.cfg.PSK, p.ni, p.nr)
	} else {
		skeyid = SKEYIDSig(h, p.ni, p.nr, gxy)
	}
	kl, err := p.policy.Cipher.KeyLen(p.policy.KeyBits)
	if err != nil {
		return fail(FailConfig, 0, "%v", err)
	}
	p.keys, err = DerivePhase1Keys(h, p.policy.Cipher, kl, skeyid, gxy, p.gxi, p.gxr, p.ckyI, p.ckyR)
	if err != nil {
		return err
	}
	p.blk, err = p.policy.Cipher.NewBlock(p.keys.Ka)
	if err != nil {
		return err
	}
	p.iv = p.keys.IV
	return nil
}

// authPayloads returns our [CERT...] HASH or SIG for HASH_I (initiator) or
// HASH_R (responder), computed over our ID body.
func (p *Phase1) authPayloads(idBody []byte) ([]Payload, error) {
	h := p.myHash(idBody)
	if p.policy.Auth.PreShared() {
		return []Payload{&Hash{Data: h}}, nil
	}
	sig, err := SignHash(p.rand, p.policy.Auth, p.cfg.Creds.Key, h)
	if err != nil {
		return nil, fail(FailConfig, 0, "signing: %v", err)
	}
	ps := []Payload{&Cert{Encoding: CertX509Sig, Data: p.cfg.Creds.Cert.Raw}}
	for _, c := range p.cfg.Creds.Intermediates {
		ps = append(ps, &Cert{Encoding: CertX509Sig, Data: c.Raw})
	}
	return append(ps, &Sig{Data: sig}), nil
}

// authHash is the PRF of HASH_I/HASH_R. With the RFC 4754 methods it is
// the HMAC matching the ECDSA curve (SHA-256/384/512), whatever hash the
// suite negotiated; strongSwan computes it that way too.
func (p *Phase1) authHash() HashAlg {
	switch p.policy.Auth {
	case AuthECDSA256:
		return HashSHA256
	case AuthECDSA384:
		return HashSHA384
	case AuthECDSA521:
		return HashSHA512
	}
	return p.policy.Hash
}

func (p *Phase1) myHash(idBody []byte) []byte {
	if p.initiator {
		return HashI(p.authHash(), p.keys.SKEYID, p.gxi, p.gxr, p.ckyI, p.ckyR, p.saiB, idBody)
	}
	return HashR(p.authHash(), p.keys.SKEYID, p.gxi, p.gxr, p.ckyI, p.ckyR, p.saiB, idBody)
}

func (p *Phase1) peerHash(idBody []byte) []byte {
	if p.initiator {
		return HashR(p.authHash(), p.keys.SKEYID, p.gxi, p.gxr, p.ckyI, p.ckyR, p.saiB, idBody)
	}
	return HashI(p.authHash(), p.keys.SKEYID, p.gxi, p.gxr, p.ckyI, p.ckyR, p.saiB, idBody)
}

// verifyPeer authenticates the peer from its ID and HASH/SIG (+CERT)
// payloads in m, at time now (certificate validity).
func (p *Phase1) verifyPeer(id *ID, m *Message, now time.Time) error {
	if id == nil {
		return fail(FailInvalidID, NotifyInvalidIDInformation, "no ID payload")
	}
	if p.cfg.RemoteID != nil && !IDEqual(id, p.cfg.RemoteID) {
		return fail(FailInvalidID, NotifyInvalidIDInformation, "peer ID %v, want %v", id, p.cfg.RemoteID)
	}
	want := p.peerHash(id.Body())
	if p.policy.Auth.PreShared() {
		hp := Find[*Hash](m)
		if hp == nil {
			return fail(FailAuth, NotifyInvalidHashInformation, "no HASH payload")
		}
		if !hmacEqual(hp.Data, want) {
			return fail(FailAuth, NotifyAuthenticationFailed, "HASH mismatch (pre-shared key differs?)")
		}
	} else {
		certs, err := certsFromPayloads(m)
		if err != nil {
			return fail(FailCert, NotifyInvalidCertificate, "%v", err)
		}
		if err := p.cfg.Creds.VerifyPeerCert(certs, now); err != nil {
			return fail(FailCert, NotifyInvalidCertificate, "%v", err)
		}
		if !IDMatchesCert(id, certs[0]) {
			return fail(FailInvalidID, NotifyInvalidIDInformation, "peer ID %v is not in its certificate %v", id, certs[0].Subject)
		}
		sp := Find[*Sig](m)
		if sp == nil {
			return fail(FailAuth, NotifyInvalidSignature, "no SIG payload")
		}
		if err := VerifyHash(p.policy.Auth, certs[0].PublicKey, want, sp.Data); err != nil {
			return fail(FailAuth, NotifyInvalidSignature, "%v", err)
		}
		p.peerCert = certs[0]
	}
	p.peerID = id
	return nil
}

// certRequest is our CR payloads (one per CA subject) when the chosen
// (in AM1: the first offered) policy authenticates with signatures.
func (p *Phase1) certRequest() []Payload {
	if !p.policy.Auth.UsesSignatures() || p.cfg.Creds == nil {
		return nil
	}
	var out []Payload
	for _, ca := range p.cfg.Creds.CAs {
		out = append(out, &CertRequest{Encoding: CertX509Sig, Authority: ca.RawSubject})
	}
	return out
}

// finish builds the Done event and enters the active state.
func (p *Phase1) finish(active State, now time.Time) *Phase1Done {
	p.keys.IV = append([]byte(nil), p.iv...)
	p.state = active
	p.policy.Lifetime = p.lifetime
	p.done = &Phase1Done{
		Initiator: p.initiator, Exchange: p.exchange, CookieI: p.ckyI, CookieR: p.ckyR,
		Policy: p.policy, Lifetime: p.lifetime, Keys: p.keys, Block: p.blk,
		LocalID: p.localID, PeerID: p.peerID, PeerCert: p.peerCert, Peer: p.peer,
		NATT: p.natt, LocalNAT: p.localNAT, PeerNAT: p.peerNAT, Floated: p.floated,
		Local: p.local, Remote: p.remote, Established: now, PeerInitialContact: p.peerInitialContact,
	}
	Wipe(p.ni, p.nr)
	return p.done
}

// noteEndpoints adopts the endpoints of a received datagram (the peer may
// have floated, or sit behind a NAT that rewrote its port).
func (p *Phase1) noteEndpoints(pkt Packet) {
	if pkt.Remote.IsValid() {
		p.remote = pkt.Remote
	}
	if pkt.Local.IsValid() {
		p.local = pkt.Local
	}
	if p.remote.Port() == 4500 || p.local.Port() == 4500 {
		p.floated = true
	}
}
