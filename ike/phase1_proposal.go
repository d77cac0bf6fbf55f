package ike

import "time"

// Phase 1 proposals: the initiator's offer (one transform per policy, in
// priority order), the responder's choice, Cisco style (the first of its
// policies that matches any offered transform; the lower lifetime wins,
// announced with RESPONDER-LIFETIME), and the initiator's check of that
// choice.

// saPayload builds the initiator's offer: one proposal with one transform
// per policy, in priority order; its body is SAi_b (input of HASH_I/R).
func (p *Phase1) saPayload() *SA {
	pr := Proposal{Number: 1, Protocol: ProtoISAKMP}
	for i := range p.policies {
		pol := &p.policies[i]
		var as Attributes
		as.addUint(AttrEncryption, uint64(pol.Cipher))
		if pol.KeyBits != 0 {
			as.addUint(AttrKeyLength, uint64(uint16(pol.KeyBits)))
		}
		as.addUint(AttrHash, uint64(pol.Hash))
		as.addUint(AttrAuthMethod, uint64(pol.Auth))
		as.addUint(AttrGroupDesc, uint64(pol.Group))
		as.addLife(AttrLifeType, pol.Lifetime, 0)
		pr.Transforms = append(pr.Transforms, Transform{Number: uint8(i + 1), ID: TransformKeyIKE, Attributes: as})
	}
	sa := &SA{DOI: DOIIPsec, Situation: SituationIdentityOnly, Proposals: []Proposal{pr}}
	b := &builder{}
	sa.marshalBody(b)
	p.saiB = b.bytesOrPanic()
	return sa
}

// selectProposal is the responder's choice, Cisco style: the first of our
// policies (in priority order) that matches any transform offered; the
// lifetime is the lower of the two. In Aggressive Mode only the group of
// the first acceptable transform can be chosen: the KE payload already
// uses it. It sets the negotiated policy and lifetime and returns our SA
// payload, with RESPONDER-LIFETIME when we lowered the lifetime.
// Policies go by pointer: each is seven words on 32-bit.
func (p *Phase1) selectProposal(sa *SA) (*SA, *Notify, error) {
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
			var n *Notify
			if theirs.Lifetime == 0 || ours.Lifetime < theirs.Lifetime {
				// Tell the initiator we lowered its lifetime.
				var as Attributes
				as.addLife(AttrLifeType, ours.Lifetime, 0)
				n = isakmpNotify(&p.out.CookieI, &p.out.CookieR, NotifyResponderLifetime, attributeBytes(as))
			} else {
				p.out.Policy.Lifetime = theirs.Lifetime
			}
			p.out.Lifetime = p.out.Policy.Lifetime
			reply := &SA{DOI: DOIIPsec, Situation: SituationIdentityOnly, Proposals: []Proposal{
				{Number: propNum, Protocol: ProtoISAKMP, Transforms: []Transform{*raw[j]}}}}
			return reply, n, nil
		}
	}
	return nil, nil, fail(FailNoProposal, NotifyNoProposalChosen, "no ISAKMP policy matches the %d transforms offered", len(offered))
}

// acceptChoice reads the responder's first answer (MM2, AM2, called name)
// as the initiator: its cookie, the transform it chose, checked against
// our offer, and its vendor IDs.
func (p *Phase1) acceptChoice(m *Message, name string) error {
	if m.CookieR.IsZero() {
		return malformed("%s without responder cookie", name)
	}
	p.out.CookieR = m.CookieR
	sa := Find[*SA](m)
	if sa == nil {
		return fail(FailMalformed, NotifyPayloadMalformed, "no SA payload in the reply")
	}
	if len(sa.Proposals) != 1 || len(sa.Proposals[0].Transforms) != 1 {
		return fail(FailNoProposal, NotifyBadProposalSyntax, "reply must hold exactly one transform")
	}
	var theirs Policy
	if !policyFromTransform(&sa.Proposals[0].Transforms[0], &theirs) {
		return fail(FailNoProposal, NotifyBadProposalSyntax, "unacceptable transform in the reply")
	}
	for i := range p.policies {
		ours := &p.policies[i]
		if ours.sameSuite(&theirs) {
			p.out.Policy = *ours
			p.out.Lifetime = ours.Lifetime
			if theirs.Lifetime > 0 && theirs.Lifetime < p.out.Lifetime {
				p.out.Lifetime = theirs.Lifetime
			}
			for _, n := range FindAll[*Notify](m) {
				if n.NotifyType == NotifyResponderLifetime {
					if as, err := parseAttributes(n.Data); err == nil {
						if lt, ok := as.Uint(AttrLifeType); ok && lt == LifeSeconds {
							if d, ok := as.Uint(AttrLifeDuration); ok && d > 0 && time.Duration(d)*time.Second < p.out.Lifetime {
								p.out.Lifetime = time.Duration(d) * time.Second
							}
						}
					}
				}
			}
			p.noteVendors(m)
			return nil
		}
	}
	return fail(FailNoProposal, NotifyNoProposalChosen, "the responder chose a transform we did not offer")
}
