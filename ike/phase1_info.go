package ike

import (
	"errors"
	"fmt"
	"strconv"
)

// Informational messages during phase 1. Before the key exchange a notify
// or Delete is unauthenticated: anyone who saw our first message could
// have sent it, so it is only shown (CleartextNotice). After it, the peer's
// failure notify comes encrypted and hashed under the phase 1 keys and
// ends the negotiation. Ours go the same two ways (failWith).

// phase1Informational is the Informational exchange's table during phase
// 1, for both roles and both modes: in clear before the key exchange
// (unauthenticated: only shown), encrypted with a leading HASH after it
// (the peer's failure: the negotiation ends).
var phase1Informational = phase1Table{
	{name: "INFO", from: StateMMWaitMsg2, to: StateMMWaitMsg2, crypt: inClear, allowed: withDelete, handle: (*Phase1).infoInClear},
	{name: "INFO", from: StateMMWaitMsg3, to: StateMMWaitMsg3, crypt: inClear, allowed: withDelete, handle: (*Phase1).infoInClear},
	{name: "INFO", from: StateMMWaitMsg4, to: StateMMWaitMsg4, crypt: inClear, allowed: withDelete, handle: (*Phase1).infoInClear},
	{name: "INFO", from: StateAMWaitMsg2, to: StateAMWaitMsg2, crypt: inClear, allowed: withDelete, handle: (*Phase1).infoInClear},
	{name: "INFO*", from: StateMMWaitMsg5, to: StateFailed, crypt: encrypted,
		required: withHash, allowed: withDelete, handle: (*Phase1).infoFromPeer},
	{name: "INFO*", from: StateMMWaitMsg6, to: StateFailed, crypt: encrypted,
		required: withHash, allowed: withDelete, handle: (*Phase1).infoFromPeer},
	{name: "INFO*", from: StateAMWaitMsg3, to: StateFailed, crypt: encrypted,
		required: withHash, allowed: withDelete, handle: (*Phase1).infoFromPeer},
}

// handleInformational takes an Informational message during phase 1: it
// finds the row of the state, opens the message as the row says (an
// encrypted one with its own IV and its leading HASH(1) checked, the
// phase 1 IV chain left alone) and checks it against the row before the
// handler runs.
func (p *Phase1) handleInformational(h *Header, pkt *Packet) (*Result, error) {
	row := phase1Informational.row(p.state)
	switch {
	case row == nil:
		return nil, fmt.Errorf("ike: informational in %v", p.state)
	case h.Encrypted() && row.crypt != encrypted:
		return nil, errorText("ike: encrypted informational before keys")
	case !h.Encrypted() && row.crypt == encrypted:
		// Once keys exist an unauthenticated notify could be forged.
		return nil, errorText("ike: unencrypted informational after key exchange")
	}
	var m *Message
	var err error
	if h.Encrypted() {
		if p.out.Block == nil {
			return nil, errorText("ike: encrypted informational before keys")
		}
		sec := p.secrets()
		mid := h.MessageID
		if m, _, err = openHashed(sec, pkt.Data, sec.exchangeIV(mid), [][]byte{be32(mid)}, true, "Informational HASH(1)"); err != nil {
			return nil, err
		}
	} else if m, err = Unmarshal(pkt.Data); err != nil {
		return nil, err
	}
	if err := checkPayloads(row.name, row.required, row.allowed, m); err != nil {
		return nil, err
	}
	r, err := row.handle(p, m, pkt)
	if err != nil {
		if f, ok := errors.AsType[*Phase1Failure](err); ok {
			return p.failWith(f), nil
		}
		return nil, err
	}
	return r, nil
}

// infoInClear: before the key exchange nothing authenticates a notify:
// anyone who saw our first message could have sent it, with any
// responder cookie. It changes nothing; the caller may show it as a hint.
func (p *Phase1) infoInClear(m *Message, _ *Packet) (*Result, error) {
	c := &CleartextNotice{}
	if d := Find[*Delete](m); d != nil && d.Protocol == ProtoISAKMP {
		c.Delete = true
	}
	if n := Find[*Notify](m); n != nil && n.NotifyType < NotifyConnected {
		c.Notify = n.NotifyType
	}
	return nil, c
}

// infoFromPeer: a peer that rejects our MM5/AM3 (or MM6) tells us why in
// an encrypted, hashed notification; its Delete of the ISAKMP SA ends the
// negotiation too.
func (p *Phase1) infoFromPeer(m *Message, _ *Packet) (*Result, error) {
	if d := Find[*Delete](m); d != nil && d.Protocol == ProtoISAKMP {
		return nil, fail(FailPeerNotify, 0, "peer deleted the ISAKMP SA")
	}
	n := Find[*Notify](m)
	if n == nil || n.NotifyType >= NotifyConnected {
		return nil, errorText("ike: informational without error notify")
	}
	return nil, fail(FailPeerNotify, n.NotifyType, "peer sent notify %d", n.NotifyType)
}

// CleartextNotice is an unauthenticated Informational received during
// phase 1 before keys: dropped, never acted upon.
type CleartextNotice struct {
	_      [0]func() // not comparable: no generated == function (flash)
	Notify uint16    // 0: a Delete or no error notify
	Delete bool
}

func (c *CleartextNotice) Error() string {
	if c.Delete {
		return "ike: unauthenticated Delete during phase 1 ignored"
	}
	return "ike: unauthenticated notify " + strconv.Itoa(int(c.Notify)) + " during phase 1 ignored"
}

// secrets are the phase 1 keys as the Informational exchange needs them
// once they exist (sealInfo, openHashed): HASH(1) under SKEYID_a, and an
// IV of its own derived from the current phase 1 IV, which it leaves
// alone.
func (p *Phase1) secrets() *p1Secrets {
	return &p1Secrets{CookieI: p.out.CookieI, CookieR: p.out.CookieR, Hash: p.out.Policy.Hash,
		SKEYIDa: p.out.Keys.SKEYIDa, Block: p.out.Block, LastIV: p.iv}
}

// failWith ends the negotiation with err (a *Phase1Failure, or an
// internal failure) and tells the peer about failures it can act on
// (Cisco and strongSwan log them) in an Informational with one
// notification about the ISAKMP SA: in clear before the keys exist,
// encrypted and hashed (HASH(1)) after. With pre-shared keys a failed
// HASH means the keys differ: the peer could not read an encrypted
// notify.
func (p *Phase1) failWith(err error) *Result {
	f, ok := errors.AsType[*Phase1Failure](err)
	if !ok {
		f = &Phase1Failure{Reason: FailInternal, Err: err}
	}
	p.state, p.failure = StateFailed, f
	p.dh.Wipe()
	r := &Result{Failed: f}
	pskMismatch := f.Reason == FailAuth && p.out.Policy.Auth.PreShared()
	if f.Notify == 0 || f.Reason == FailPeerNotify || p.out.Keys != nil && pskMismatch {
		return r
	}
	n := isakmpNotify(&p.out.CookieI, &p.out.CookieR, f.Notify, nil)
	var b []byte
	if p.out.Keys == nil {
		m := &Message{Header: Header{CookieI: p.out.CookieI, CookieR: p.out.CookieR, Exchange: ExchangeInformational, MessageID: newMessageID()},
			Payloads: []Payload{n}}
		b, err = m.Marshal()
	} else {
		b, err = sealInfo(p.secrets(), n)
	}
	if err == nil {
		r.Send = [][]byte{b}
	}
	return r
}
