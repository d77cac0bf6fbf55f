package ike

import "time"

// Phase 1 proposals: the initiator's check of the responder's choice.
// The initiator's offer is built by start (phase1_initiator.go), the
// choice made Cisco style by choose (phase1_responder.go).

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
			// The peer's VIDs, and the NAT-T flavour both speak.
			p.out.Peer.ScanVendors(m)
			if p.cfg.NATT != NATTOff {
				p.out.NATT = p.out.Peer.NATT
			}
			return nil
		}
	}
	return fail(FailNoProposal, NotifyNoProposalChosen, "the responder chose a transform we did not offer")
}
