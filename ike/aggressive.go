package ike

import (
	"time"
)

// Aggressive Mode (RFC 2409 section 5), three messages:
//
//	AM1 I->R  SA KE Ni IDii [CR] VID...
//	AM2 R->I  SA KE Nr IDir [CERT] HASH_R|SIG_R [CR] VID... NAT-D NAT-D
//	AM3 I->R  encrypted: [CERT] HASH_I|SIG_I NAT-D NAT-D [N(INITIAL-CONTACT)]  (from 4500 after a NAT)
//
// The identities travel in clear, and all offered transforms must share
// the DH group of the KE payload.

// Aggressive Mode's tables (phase1_table.go). AM3 comes encrypted from
// some peers and in clear from others; only an encrypted one can carry
// INITIAL-CONTACT (noteInitialContact).
var (
	aggressiveInitiator = phase1Table{
		{name: "AM2", from: StateAMWaitMsg2, to: StateAMActive, crypt: inClear,
			required: payloads(withSA, withKENonce, withID), allowed: payloads(withAuth, withCR, withNATD), handle: (*Phase1).amI2},
	}
	aggressiveResponder = phase1Table{
		{name: "AM1", from: StateNone, to: StateAMWaitMsg3, crypt: inClear,
			required: payloads(withSA, withKENonce, withID), allowed: payloads(withCR), handle: (*Phase1).amR1},
		{name: "AM3", from: StateAMWaitMsg3, to: StateAMActive, crypt: eitherWay,
			allowed: payloads(withAuth, withNATD), handle: (*Phase1).amR3},
	}
)

func (p *Phase1) amI1() (*Result, error) {
	sa := p.saPayload()
	p.saiB = payloadBody(sa)
	// Until the responder chooses, the first policy stands for all: they
	// share the group, and its method decides the default identity.
	p.policy = p.policies[0]
	var err error
	if k := p.cfg.dhKey; k != nil && k.Group == p.policy.Group {
		p.dh, p.cfg.dhKey = k, nil // made ahead (dh_pool.go)
	} else if p.dh, err = p.policy.Group.GenerateKey(p.rand); err != nil {
		return nil, err
	}
	p.gxi = p.dh.Public()
	if p.ni, err = p.random(nonceLen); err != nil {
		return nil, err
	}
	p.localID = p.localIdentity()
	ps := []Payload{sa, &KE{Data: p.gxi}, &Nonce{Data: p.ni}, p.localID}
	ps = append(ps, p.certRequest()...)
	return p.sendPlain(append(ps, p.vendorPayloads()...), StateAMWaitMsg2)
}

func (p *Phase1) amI2(m *Message, pkt Packet, now time.Time) (*Result, error) {
	if m.CookieR.IsZero() {
		return nil, malformed("AM2 without responder cookie")
	}
	p.ckyR = m.CookieR
	if err := p.acceptChoice(m); err != nil {
		return nil, err
	}
	p.noteVendors(m)
	gxr, nr, err := p.keAndNonce(m)
	if err != nil {
		return nil, err
	}
	p.gxr, p.nr = gxr, nr
	p.checkNATD(m, pkt)
	if err := p.computeKeys(); err != nil {
		return nil, err
	}
	if err := p.verifyPeer(Find[*ID](m), m, now); err != nil {
		return nil, err
	}
	r := &Result{}
	if p.natDetected() && !p.floated {
		p.float()
		r.Float = true
	}
	auth, err := p.authPayloads(p.localID.Body())
	if err != nil {
		return nil, err
	}
	// AM3's NAT-D hashes already use the floated ports.
	natd, err := p.natdPayloads()
	if err != nil {
		return nil, err
	}
	ps := append(auth, natd...)
	ps = append(ps, p.initialContact()...)
	b, err := p.marshalEncrypted(ps)
	if err != nil {
		return nil, err
	}
	r.Send = [][]byte{b}
	r.Done = p.finish(StateAMActive, now)
	return r, nil
}

func (p *Phase1) amR1(m *Message, pkt Packet, now time.Time) (*Result, error) {
	sa, id := Find[*SA](m), Find[*ID](m)
	p.noteEndpoints(pkt)
	if err := p.pickResponderCookie(); err != nil {
		return nil, err
	}
	p.saiB = rawBodyOf(m, PayloadSA)
	reply, chosen, lifeNotify, err := p.selectProposal(sa, offeredGroup(sa))
	if err != nil {
		return nil, err
	}
	p.policy, p.lifetime = chosen, chosen.Lifetime
	p.noteVendors(m)
	gxi, ni, err := p.keAndNonce(m)
	if err != nil {
		return nil, err
	}
	p.gxi, p.ni = gxi, ni
	if p.cfg.RemoteID != nil && !IDEqual(id, p.cfg.RemoteID) {
		return nil, fail(FailInvalidID, NotifyInvalidIDInformation, "peer ID %v, want %v", id, p.cfg.RemoteID)
	}
	p.peerID = &ID{IDType: id.IDType, Protocol: id.Protocol, Port: id.Port, Data: append([]byte(nil), id.Data...)}
	if f := p.pskForPeerID(p.peerID); f != nil {
		return nil, f
	}
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
	p.localID = p.localIdentity()
	auth, err := p.authPayloads(p.localID.Body())
	if err != nil {
		return nil, err
	}
	ps := []Payload{reply}
	if lifeNotify != nil {
		ps = append(ps, lifeNotify)
	}
	ps = append(ps, &KE{Data: p.gxr}, &Nonce{Data: p.nr}, p.localID)
	ps = append(ps, auth...)
	ps = append(ps, p.certRequest()...)
	ps = append(ps, p.vendorPayloads()...)
	return p.sendPlainWithNATD(ps, StateAMWaitMsg3)
}

func (p *Phase1) amR3(m *Message, pkt Packet, now time.Time) (*Result, error) {
	p.noteEndpoints(pkt)
	p.checkNATD(m, pkt)
	if err := p.verifyPeer(p.peerID, m, now); err != nil {
		return nil, err
	}
	p.noteInitialContact(m)
	return &Result{Done: p.finish(StateAMActive, now)}, nil
}
