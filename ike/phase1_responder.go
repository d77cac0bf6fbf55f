package ike

import "io"

// Phase 1 as the responder, top to bottom: the first message (MM1 or AM1)
// chooses the exchange (Handle), then each message of the initiator is
// one row of that exchange's table (the diagrams are in
// phase1_initiator.go). A Main Mode responder between MM2 and MM3 may
// also be rebuilt from a record (phase1_resume.go).

// NewResponder prepares the answer to a first message (MM1 or AM1) that
// arrived from cfg.Remote; feed that message to Handle.
func NewResponder(cfg *Phase1Config) (*Phase1, error) {
	p := &Phase1{}
	if err := p.setup(cfg); err != nil {
		return nil, err
	}
	return p, nil
}

// choose answers the initiator's offer (MM1, AM1): it adopts the
// datagram's endpoints, picks our cookie (the configured one, or a
// random one) and, Cisco style, the first of our policies (in priority
// order) that matches any transform offered; the lifetime is the lower
// of the two. In Aggressive Mode only the group of the first acceptable
// transform can be chosen: the KE payload already uses it. It sets the
// negotiated policy and lifetime and returns our SA payload, with
// RESPONDER-LIFETIME when we lowered the lifetime.
func (p *Phase1) choose(m *Message, pkt *Packet) ([]Payload, error) {
	p.noteEndpoints(pkt)
	p.out.CookieR = p.cfg.ResponderCookie
	if p.out.CookieR.IsZero() {
		if _, err := io.ReadFull(p.rand, p.out.CookieR[:]); err != nil {
			return nil, err
		}
	}
	// SAi_b as received (input of HASH_I/R).
	for i, pl := range m.Payloads {
		if pl.Type() == PayloadSA && i < len(m.Raw) {
			p.saiB = append([]byte(nil), m.Raw[i][4:]...)
			break
		}
	}
	sa := Find[*SA](m)
	var offered []Policy
	var raw []*Transform
	var propNum uint8
	for i := range sa.Proposals {
		pr := &sa.Proposals[i]
		if pr.Protocol != ProtoISAKMP {
			continue
		}
		for j := range pr.Transforms {
			t := &pr.Transforms[j]
			var pol Policy
			if policyFromTransform(t, &pol) {
				offered = append(offered, pol)
				raw = append(raw, t)
			}
		}
		propNum = pr.Number
		break // phase 1 has a single proposal
	}
	var group Group
	if p.out.Exchange == ExchangeAggressive && len(offered) > 0 {
		group = offered[0].Group
	}
	// Policies go by pointer: each is seven words on 32-bit.
	for i := range p.policies {
		ours := &p.policies[i]
		if group != 0 && ours.Group != group {
			continue
		}
		for j := range offered {
			theirs := &offered[j]
			if !ours.sameSuite(theirs) {
				continue
			}
			p.out.Policy = *ours
			ps := []Payload{&SA{DOI: DOIIPsec, Situation: SituationIdentityOnly, Proposals: []Proposal{
				{Number: propNum, Protocol: ProtoISAKMP, Transforms: []Transform{*raw[j]}}}}}
			if theirs.Lifetime == 0 || ours.Lifetime < theirs.Lifetime {
				// Tell the initiator we lowered its lifetime.
				var as Attributes
				as.addLife(AttrLifeType, ours.Lifetime, 0)
				ps = append(ps, isakmpNotify(&p.out.CookieI, &p.out.CookieR, NotifyResponderLifetime, attributeBytes(as)))
			} else {
				p.out.Policy.Lifetime = theirs.Lifetime
			}
			p.out.Lifetime = p.out.Policy.Lifetime
			// The peer's VIDs, and the NAT-T flavour both speak.
			p.out.Peer.ScanVendors(m)
			if p.cfg.NATT != NATTOff {
				p.out.NATT = p.out.Peer.NATT
			}
			return ps, nil
		}
	}
	return nil, fail(FailNoProposal, NotifyNoProposalChosen, "no ISAKMP policy matches the %d transforms offered", len(offered))
}

// Main Mode as the responder (phase1_table.go): the initiator's messages.
// VID and N payloads are allowed in every message.
var mainModeResponder = phase1Table{
	{name: "MM1", from: StateNone, to: StateMMWaitMsg3, crypt: inClear,
		required: withSA, allowed: withCR, handle: (*Phase1).mm1},
	{name: "MM3", from: StateMMWaitMsg3, to: StateMMWaitMsg5, crypt: inClear,
		required: withKENonce, allowed: withCR | withNATD, handle: (*Phase1).mm3},
	{name: "MM5", from: StateMMWaitMsg5, to: StateMMActive, crypt: encrypted,
		required: withID, allowed: withAuth | withCR, handle: (*Phase1).mm5},
}

// mm1 chooses one of the initiator's transforms and answers with MM2.
func (p *Phase1) mm1(m *Message, pkt *Packet) (*Result, error) {
	ps, err := p.choose(m, pkt)
	if err != nil {
		return nil, err
	}
	return p.sendPlain(append(ps, p.vendorPayloads()...), StateMMWaitMsg3)
}

// mm3 takes the initiator's KE and nonce, derives the keys and answers
// with MM4: ours.
func (p *Phase1) mm3(m *Message, pkt *Packet) (*Result, error) {
	if err := p.peerKE(m, pkt); err != nil {
		return nil, err
	}
	ps, err := p.ourKE()
	if err != nil {
		return nil, err
	}
	return p.sendPlainWithNATD(append(ps, p.certRequest()...), StateMMWaitMsg5)
}

// mm5 authenticates the initiator (its MM5 may come from 4500 now) and
// answers with MM6, our identity and proof: phase 1 is done.
func (p *Phase1) mm5(m *Message, pkt *Packet) (*Result, error) {
	if err := p.verifyPeer(Find[*ID](m), m); err != nil {
		return nil, err
	}
	p.noteInitialContact(m)
	p.noteEndpoints(pkt)
	p.out.LocalID = p.localIdentity()
	auth, err := p.ourProof()
	if err != nil {
		return nil, err
	}
	b, err := p.marshalEncrypted(append([]Payload{p.out.LocalID}, auth...))
	if err != nil {
		return nil, err
	}
	return &Result{Send: [][]byte{b}, Done: p.finish(StateMMActive)}, nil
}

// Aggressive Mode as the responder. AM3 comes encrypted from some peers
// and in clear from others; only an encrypted one can carry
// INITIAL-CONTACT (noteInitialContact).
var aggressiveResponder = phase1Table{
	{name: "AM1", from: StateNone, to: StateAMWaitMsg3, crypt: inClear,
		required: withSA | withKENonce | withID, allowed: withCR, handle: (*Phase1).am1},
	{name: "AM3", from: StateAMWaitMsg3, to: StateAMActive, crypt: eitherWay,
		allowed: withAuth | withNATD, handle: (*Phase1).am3},
}

// am1 chooses a transform of the initiator's group, checks its identity
// and answers with AM2: our choice, KE, nonce, identity and proof.
func (p *Phase1) am1(m *Message, pkt *Packet) (*Result, error) {
	ps, err := p.choose(m, pkt)
	if err != nil {
		return nil, err
	}
	if err := p.peerKE(m, pkt); err != nil {
		return nil, err
	}
	id := Find[*ID](m)
	if p.cfg.RemoteID != nil && !IDEqual(id, p.cfg.RemoteID) {
		return nil, fail(FailInvalidID, NotifyInvalidIDInformation, "peer ID %v, want %v", id, p.cfg.RemoteID)
	}
	p.out.PeerID = &ID{IDType: id.IDType, Protocol: id.Protocol, Port: id.Port, Data: append([]byte(nil), id.Data...)}
	if f := p.pskForPeerID(p.out.PeerID); f != nil {
		return nil, f
	}
	ke, err := p.ourKE()
	if err != nil {
		return nil, err
	}
	p.out.LocalID = p.localIdentity()
	auth, err := p.ourProof()
	if err != nil {
		return nil, err
	}
	ps = append(append(ps, ke...), p.out.LocalID)
	ps = append(ps, auth...)
	ps = append(ps, p.certRequest()...)
	ps = append(ps, p.vendorPayloads()...)
	return p.sendPlainWithNATD(ps, StateAMWaitMsg3)
}

// am3 authenticates the initiator: phase 1 is done.
func (p *Phase1) am3(m *Message, pkt *Packet) (*Result, error) {
	p.noteEndpoints(pkt)
	p.checkNATD(m, pkt)
	if err := p.verifyPeer(p.out.PeerID, m); err != nil {
		return nil, err
	}
	p.noteInitialContact(m)
	return &Result{Done: p.finish(StateAMActive)}, nil
}
