package ike

import (
	"time"
)

// Main Mode (RFC 2409 section 5), six messages:
//
//	MM1 I->R  SA VID...
//	MM2 R->I  SA [N(RESPONDER-LIFETIME)] VID...
//	MM3 I->R  KE Ni [CR] NAT-D NAT-D
//	MM4 R->I  KE Nr [CR] NAT-D NAT-D
//	MM5 I->R  encrypted: IDii [CERT] HASH_I|SIG_I [N(INITIAL-CONTACT)]  (from 4500 after a NAT)
//	MM6 R->I  encrypted: IDir [CERT] HASH_R|SIG_R

// Main Mode's tables (phase1_table.go): the messages each role receives.
// VID and N payloads are allowed in every message.
var (
	mainModeInitiator = phase1Table{
		{name: "MM2", from: StateMMWaitMsg2, to: StateMMWaitMsg4, crypt: inClear,
			required: payloads(withSA), allowed: payloads(withCR), handle: (*Phase1).mmI2},
		{name: "MM4", from: StateMMWaitMsg4, to: StateMMWaitMsg6, crypt: inClear,
			required: payloads(withKENonce), allowed: payloads(withCR, withNATD), handle: (*Phase1).mmI4},
		{name: "MM6", from: StateMMWaitMsg6, to: StateMMActive, crypt: encrypted,
			required: payloads(withID), allowed: payloads(withAuth, withCR), handle: (*Phase1).mmI6},
	}
	mainModeResponder = phase1Table{
		{name: "MM1", from: StateNone, to: StateMMWaitMsg3, crypt: inClear,
			required: payloads(withSA), allowed: payloads(withCR), handle: (*Phase1).mmR1},
		{name: "MM3", from: StateMMWaitMsg3, to: StateMMWaitMsg5, crypt: inClear,
			required: payloads(withKENonce), allowed: payloads(withCR, withNATD), handle: (*Phase1).mmR3},
		{name: "MM5", from: StateMMWaitMsg5, to: StateMMActive, crypt: encrypted,
			required: payloads(withID), allowed: payloads(withAuth, withCR), handle: (*Phase1).mmR5},
	}
)

func (p *Phase1) mmI1() (*Result, error) {
	sa := p.saPayload()
	p.saiB = payloadBody(sa)
	return p.sendPlain(append([]Payload{sa}, p.vendorPayloads()...), StateMMWaitMsg2)
}

func (p *Phase1) mmI2(m *Message, pkt Packet, now time.Time) (*Result, error) {
	if m.CookieR.IsZero() {
		return nil, malformed("MM2 without responder cookie")
	}
	p.ckyR = m.CookieR
	if err := p.acceptChoice(m); err != nil {
		return nil, err
	}
	p.noteVendors(m)
	var err error
	if p.dh, err = p.policy.Group.GenerateKey(p.rand); err != nil {
		return nil, err
	}
	p.gxi = p.dh.Public()
	if p.ni, err = p.random(nonceLen); err != nil {
		return nil, err
	}
	ps := []Payload{&KE{Data: p.gxi}, &Nonce{Data: p.ni}}
	ps = append(ps, p.certRequest()...)
	return p.sendPlainWithNATD(ps, StateMMWaitMsg4)
}

func (p *Phase1) mmI4(m *Message, pkt Packet, now time.Time) (*Result, error) {
	gxr, nr, err := p.keAndNonce(m)
	if err != nil {
		return nil, err
	}
	p.gxr, p.nr = gxr, nr
	p.checkNATD(m, pkt)
	if err := p.computeKeys(); err != nil {
		return nil, err
	}
	r := &Result{}
	if p.natDetected() && !p.floated {
		p.float()
		r.Float = true
	}
	p.localID = p.localIdentity()
	auth, err := p.authPayloads(p.localID.Body())
	if err != nil {
		return nil, err
	}
	ps := append([]Payload{p.localID}, auth...)
	ps = append(ps, p.initialContact()...)
	b, err := p.marshalEncrypted(ps)
	if err != nil {
		return nil, err
	}
	p.state = StateMMWaitMsg6
	r.Send = [][]byte{b}
	return r, nil
}

func (p *Phase1) mmI6(m *Message, pkt Packet, now time.Time) (*Result, error) {
	if err := p.verifyPeer(Find[*ID](m), m, now); err != nil {
		return nil, err
	}
	p.noteInitialContact(m)
	return &Result{Done: p.finish(StateMMActive, now)}, nil
}

func (p *Phase1) mmR1(m *Message, pkt Packet, now time.Time) (*Result, error) {
	sa := Find[*SA](m)
	p.noteEndpoints(pkt)
	if err := p.pickResponderCookie(); err != nil {
		return nil, err
	}
	p.saiB = rawBodyOf(m, PayloadSA)
	reply, chosen, lifeNotify, err := p.selectProposal(sa, 0)
	if err != nil {
		return nil, err
	}
	p.policy, p.lifetime = chosen, chosen.Lifetime
	p.noteVendors(m)
	ps := []Payload{reply}
	if lifeNotify != nil {
		ps = append(ps, lifeNotify)
	}
	return p.sendPlain(append(ps, p.vendorPayloads()...), StateMMWaitMsg3)
}

func (p *Phase1) mmR3(m *Message, pkt Packet, now time.Time) (*Result, error) {
	gxi, ni, err := p.keAndNonce(m)
	if err != nil {
		return nil, err
	}
	p.gxi, p.ni = gxi, ni
	p.checkNATD(m, pkt)
	if p.dh, err = p.policy.Group.GenerateKey(p.rand); err != nil {
		return nil, err
	}
	p.gxr = p.dh.Public()
	if p.nr, err = p.random(nonceLen); err != nil {
		return nil, err
	}
	if err := p.computeKeys(); err != nil {
		return nil, err
	}
	ps := []Payload{&KE{Data: p.gxr}, &Nonce{Data: p.nr}}
	ps = append(ps, p.certRequest()...)
	return p.sendPlainWithNATD(ps, StateMMWaitMsg5)
}

func (p *Phase1) mmR5(m *Message, pkt Packet, now time.Time) (*Result, error) {
	if err := p.verifyPeer(Find[*ID](m), m, now); err != nil {
		return nil, err
	}
	p.noteInitialContact(m)
	p.noteEndpoints(pkt)
	p.localID = p.localIdentity()
	auth, err := p.authPayloads(p.localID.Body())
	if err != nil {
		return nil, err
	}
	b, err := p.marshalEncrypted(append([]Payload{p.localID}, auth...))
	if err != nil {
		return nil, err
	}
	return &Result{Send: [][]byte{b}, Done: p.finish(StateMMActive, now)}, nil
}
