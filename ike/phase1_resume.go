package ike

import (
	"net/netip"
	"time"
)

// A Main Mode responder between MM2 and MM3 has done no expensive work
// yet, and its peer has not shown that it can receive our answers: the
// source address of MM1 may be forged. The manager therefore keeps such
// exchanges not as a *Phase1 but as the few values MM3 needs
// (responderRecord), and builds the state machine again when MM3 echoes
// our cookie.

// responderRecord is what a Main Mode responder in MM_WAIT_MSG3 must
// remember: about 100 bytes plus the initiator's SA payload.
type responderRecord struct {
	ckyI, ckyR    Cookie
	saiB          []byte
	policy        Policy
	lifetime      time.Duration
	peer          PeerVendors
	natt          NATTVariant
	local, remote netip.AddrPort
	floated       bool
}

// size is the record's approximate memory cost in bytes.
func (r *responderRecord) size() int { return 160 + cap(r.saiB) }

// record extracts the state of a Main Mode responder that has sent MM2;
// nil in any other state or role.
func (p *Phase1) record() *responderRecord {
	if p.initiator || p.out.Exchange != ExchangeMain || p.state != StateMMWaitMsg3 {
		return nil
	}
	return &responderRecord{ckyI: p.out.CookieI, ckyR: p.out.CookieR, saiB: p.saiB, policy: p.out.Policy, lifetime: p.out.Lifetime,
		peer: p.out.Peer, natt: p.out.NATT, local: p.out.Local, remote: p.out.Remote, floated: p.floated}
}

// resumeResponder rebuilds a Main Mode responder in MM_WAIT_MSG3 from its
// record; feed it MM3 with Handle.
func resumeResponder(cfg *Phase1Config, r *responderRecord) (*Phase1, error) {
	p, err := NewResponder(cfg)
	if err != nil {
		return nil, err
	}
	p.out.Exchange, p.table, p.state = ExchangeMain, mainModeResponder, StateMMWaitMsg3
	p.out.CookieI, p.out.CookieR, p.saiB = r.ckyI, r.ckyR, r.saiB
	p.out.Policy, p.out.Lifetime, p.out.Peer, p.out.NATT = r.policy, r.lifetime, r.peer, r.natt
	p.out.Local, p.out.Remote, p.floated = r.local, r.remote, r.floated
	return p, nil
}
