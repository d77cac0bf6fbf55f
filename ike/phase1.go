package ike

import (
	"crypto/cipher"
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

func (s State) String() string { return nameIn(stateNames[:], int(s), "STATE(%d)") }

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
	_      [0]func() // not comparable: no generated == function (flash)
	Reason FailReason
	Notify uint16
	Err    error
}

func (f *Phase1Failure) Error() string {
	return "phase 1 failed: " + string(f.Reason) + ": " + f.Err.Error()
}

func (f *Phase1Failure) Unwrap() error { return f.Err }

func fail(reason FailReason, notify uint16, format string, args ...any) *Phase1Failure {
	return &Phase1Failure{Reason: reason, Notify: notify, Err: fmt.Errorf(format, args...)}
}

// Phase1Done is the outcome of a successful phase 1: everything Quick Mode,
// Informational exchanges, DPD and status need.
type Phase1Done struct {
	_                [0]func() // not comparable: no generated == function (flash)
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
//
// Each role's handlers read top to bottom through Main Mode, then
// Aggressive Mode, in a file of their own, as crypto/tls's client and
// server handshakes are: phase1_initiator.go and phase1_responder.go.
// Handle does what is common to every message and hands the rest to the
// role's table (phase1Step). One type for both roles, not a type per
// role around a shared one: each type's method table would list every
// shared method again (flash).
//
// Its fields are grouped by job, each group filled by the file its
// comment names (plain fields: a named type per group cost its type
// descriptors, flash).
type Phase1 struct {
	cfg   Phase1Config
	rand  io.Reader
	state State
	// The role, and its table for the exchange (a responder's is nil
	// until the first message picks Main or Aggressive Mode).
	initiator bool
	table     phase1Table

	// out is what the negotiation establishes, filled as it goes and
	// handed out by finish as Result.Done: the exchange, the cookies and
	// the endpoints (here and in Handle), the negotiated policy and
	// lifetime (start and choose, acceptChoice in phase1_proposal.go),
	// the keys and the phase 1 cipher (phase1_keys.go), the two
	// identities, the peer's certificate and INITIAL-CONTACT
	// (phase1_auth.go), the peer's vendor IDs and what NAT-D found
	// (phase1_natt.go). One struct rather than the same fields twice:
	// finish copies nothing, and the type descriptor lists them once
	// (flash).
	out Phase1Done
	// now is when the message being handled arrived (certificate
	// validity, Established): kept here instead of passed to every step
	// (five words on 32-bit, copied at each call).
	now time.Time

	// What was offered (start for the initiator, choose for the
	// responder).
	policies []Policy // ours, ECDSA methods resolved to the key's curve
	saiB     []byte   // body of the initiator's SA payload (input of HASH_I/R)

	// The Diffie-Hellman exchange (phase1_keys.go).
	dh       *DHKey
	gxi, gxr []byte
	ni, nr   []byte
	iv       []byte // the phase 1 CBC IV chain

	floated bool // the exchange moved to UDP 4500 (phase1_natt.go)

	// The datagram bookkeeping: retransmissions and fragments (Handle).
	lastIn     [32]byte // hash of the last accepted datagram (retransmit detection)
	lastAnswer [][]byte // what that datagram made us send (nil: it ended an exchange)
	lastSent   [][]byte
	frags      Reassembler
	fragID     uint16 // of the last message we fragmented

	done    *Phase1Done
	failure *Phase1Failure
}

// Start sends the initiator's first message.
func (p *Phase1) Start(now time.Time) (Result, error) {
	if !p.initiator || p.state != StateNone {
		return Result{}, errorText("ike: Start on a responder or a started negotiation")
	}
	r, err := p.start()
	if err != nil {
		return *p.failWith(err), nil
	}
	p.lastSent = r.Send
	return *r, nil
}

// LastSent returns the datagrams last sent, for retransmission.
func (p *Phase1) LastSent() [][]byte { return p.lastSent }

// Wipe forgets every secret (call when the IKE SA dies; the keys handed
// out as Phase1Done.Keys are wiped too).
func (p *Phase1) Wipe() {
	p.dh.Wipe()
	if k := p.out.Keys; k != nil {
		Wipe(k.SKEYID, k.SKEYIDd, k.SKEYIDa, k.SKEYIDe, k.Ka)
	}
	Wipe(p.ni, p.nr)
}

// Handle processes one received datagram. A returned error means the
// datagram was dropped (malformed, unexpected, retransmission noise) and
// the state is unchanged; a negotiation that ends says so in
// Result.Failed.
func (p *Phase1) Handle(pkt Packet, now time.Time) (Result, error) {
	p.now = now
	r, err := p.handle(&pkt)
	if r == nil {
		return Result{}, err
	}
	return *r, err
}

// handle is Handle with the datagram and the outcome passed by pointer
// (a Result and a Packet are several words, copied at every return and
// call on 32-bit: flash).
func (p *Phase1) handle(pkt *Packet) (*Result, error) {
	if p.state == StateFailed {
		return nil, errorText("ike: negotiation already failed")
	}
	var h Header // filled in place: ParseHeader returns a copy
	if err := h.parse(pkt.Data); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(pkt.Data)
	if p.state != StateNone && sum == p.lastIn {
		// The peer retransmitted: our answer got lost. A repeated final
		// message (MM6, AM3) needs no answer; answering it would start a
		// retransmission ping-pong.
		return &Result{Send: p.lastAnswer}, nil
	}
	// A responder learns the initiator's cookie from the first message
	// (below); an initiator has left StateNone once Start sent its
	// cookie.
	if h.CookieI != p.out.CookieI && p.state != StateNone {
		return nil, errorText("ike: initiator cookie mismatch")
	}
	if !p.out.CookieR.IsZero() && h.CookieR != p.out.CookieR {
		return nil, errorText("ike: responder cookie mismatch")
	}
	if h.NextPayload == PayloadFragment && !h.Encrypted() {
		m, err := Unmarshal(pkt.Data)
		if err != nil {
			return nil, err
		}
		f := m.opaque(PayloadFragment)
		if f == nil {
			return nil, malformed("fragment message without fragment")
		}
		full, err := p.frags.Add(f)
		if err != nil || full == nil {
			return nil, err
		}
		pkt.Data = full
		return p.handle(pkt)
	}
	if h.Exchange == ExchangeInformational {
		return p.handleInformational(&h, pkt)
	}
	if p.state.Active() {
		return nil, fmt.Errorf("ike: %v message in %v", h.Exchange, p.state)
	}
	if !p.initiator && p.state == StateNone {
		// A responder's first message: its exchange picks the table
		// (Aggressive Mode only if allowed), and its cookie becomes ours
		// to answer with.
		switch {
		case h.Exchange == ExchangeMain:
			p.out.Exchange, p.table = ExchangeMain, mainModeResponder
		case h.Exchange == ExchangeAggressive && !p.cfg.NoAggressive:
			p.out.Exchange, p.table = ExchangeAggressive, aggressiveResponder
		default:
			return nil, fmt.Errorf("ike: unexpected first exchange %v", h.Exchange)
		}
		if !h.CookieR.IsZero() || h.MessageID != 0 {
			return nil, malformed("first message with responder cookie or message ID")
		}
		p.out.CookieI = h.CookieI
	}
	r, err := phase1Step(p, &h, pkt)
	if err != nil {
		if f, ok := errors.AsType[*Phase1Failure](err); ok {
			return p.failWith(f), nil
		}
		return nil, err
	}
	// Large datagrams go as fragments when both sides announced IKEv1
	// fragmentation.
	if p.cfg.Fragmentation && p.out.Peer.Fragmentation {
		var out [][]byte
		for _, b := range r.Send {
			if len(b) <= fragmentDataLen+HeaderLen+8 {
				out = append(out, b)
				continue
			}
			p.fragID++
			fs, err := FragmentDatagram(b, p.fragID)
			if err != nil {
				return p.failWith(err), nil
			}
			out = append(out, fs...)
		}
		r.Send = out
	}
	p.lastIn, p.lastAnswer = sum, r.Send
	if len(r.Send) > 0 {
		p.lastSent = r.Send
	}
	return r, nil
}

// finish builds the Done event and enters the active state.
func (p *Phase1) finish(active State) *Phase1Done {
	p.out.Keys.IV = append([]byte(nil), p.iv...)
	p.state = active
	d := &p.out
	d.Policy.Lifetime = d.Lifetime
	d.Initiator, d.Floated, d.Established = p.initiator, p.floated, p.now
	p.done = d
	Wipe(p.ni, p.nr)
	return d
}
