package ike

import (
	"fmt"
	"io"
)

// Phase 1 as the initiator, top to bottom: Start sends the first message,
// then each answer of the responder is one row of the role's table.
//
//	Main Mode (RFC 2409 section 5), six messages:
//	MM1 I->R  SA VID...
//	MM2 R->I  SA [N(RESPONDER-LIFETIME)] VID...
//	MM3 I->R  KE Ni [CR] NAT-D NAT-D
//	MM4 R->I  KE Nr [CR] NAT-D NAT-D
//	MM5 I->R  encrypted: IDii [CERT] HASH_I|SIG_I [N(INITIAL-CONTACT)]  (from 4500 after a NAT)
//	MM6 R->I  encrypted: IDir [CERT] HASH_R|SIG_R
//
//	Aggressive Mode, three messages:
//	AM1 I->R  SA KE Ni IDii [CR] VID...
//	AM2 R->I  SA KE Nr IDir [CERT] HASH_R|SIG_R [CR] VID... NAT-D NAT-D
//	AM3 I->R  encrypted: [CERT] HASH_I|SIG_I NAT-D NAT-D [N(INITIAL-CONTACT)]  (from 4500 after a NAT)

// NewInitiator prepares a phase 1 negotiation towards cfg.Remote; Start
// produces the first message.
func NewInitiator(cfg *Phase1Config) (*Phase1, error) {
	p := &Phase1{initiator: true}
	if err := p.setup(cfg); err != nil {
		return nil, err
	}
	p.out.Exchange = cfg.Exchange
	switch p.out.Exchange {
	case 0, ExchangeMain:
		p.out.Exchange, p.table = ExchangeMain, mainModeInitiator
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
		return nil, fmt.Errorf("ike: phase 1 exchange %v", p.out.Exchange)
	}
	if _, err := io.ReadFull(p.rand, p.out.CookieI[:]); err != nil {
		return nil, err
	}
	return p, nil
}

// start builds the first message: MM1, which offers our policies, or
// AM1, which offers them with our KE, nonce and identity. The offer is
// one proposal with one transform per policy, in priority order; its
// body is SAi_b (input of HASH_I/R).
func (p *Phase1) start() (*Result, error) {
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
	if p.out.Exchange == ExchangeMain {
		return p.sendPlain(append([]Payload{sa}, p.vendorPayloads()...), StateMMWaitMsg2)
	}
	// AM1. Until the responder chooses, the first policy stands for all:
	// they share the group, and its method decides the default identity.
	p.out.Policy = p.policies[0]
	ke, err := p.ourKE()
	if err != nil {
		return nil, err
	}
	p.out.LocalID = p.localIdentity()
	ps := append([]Payload{sa, ke[0], ke[1], p.out.LocalID}, p.certRequest()...)
	return p.sendPlain(append(ps, p.vendorPayloads()...), StateAMWaitMsg2)
}

// Main Mode as the initiator (phase1_table.go): the responder's messages.
// VID and N payloads are allowed in every message.
var mainModeInitiator = phase1Table{
	{name: "MM2", from: StateMMWaitMsg2, to: StateMMWaitMsg4, crypt: inClear,
		required: withSA, allowed: withCR, handle: (*Phase1).mm2},
	{name: "MM4", from: StateMMWaitMsg4, to: StateMMWaitMsg6, crypt: inClear,
		required: withKENonce, allowed: withCR | withNATD, handle: (*Phase1).mm4},
	{name: "MM6", from: StateMMWaitMsg6, to: StateMMActive, crypt: encrypted,
		required: withID, allowed: withAuth | withCR, handle: (*Phase1).mm6},
}

// mm2 takes the responder's choice and answers with MM3: our KE and nonce.
func (p *Phase1) mm2(m *Message, pkt *Packet) (*Result, error) {
	if err := p.acceptChoice(m, "MM2"); err != nil {
		return nil, err
	}
	ps, err := p.ourKE()
	if err != nil {
		return nil, err
	}
	return p.sendPlainWithNATD(append(ps, p.certRequest()...), StateMMWaitMsg4)
}

// mm4 takes the responder's KE and nonce, derives the keys and answers
// with MM5: our identity and its proof, encrypted (floated to 4500 when
// NAT-D found a NAT).
func (p *Phase1) mm4(m *Message, pkt *Packet) (*Result, error) {
	if err := p.peerKE(m, pkt); err != nil {
		return nil, err
	}
	r := &Result{Float: p.floatOnNAT()}
	p.out.LocalID = p.localIdentity()
	auth, err := p.ourProof()
	if err != nil {
		return nil, err
	}
	ps := append([]Payload{p.out.LocalID}, auth...)
	if p.cfg.InitialContact {
		ps = append(ps, isakmpNotify(&p.out.CookieI, &p.out.CookieR, NotifyInitialContact, nil))
	}
	b, err := p.marshalEncrypted(ps)
	if err != nil {
		return nil, err
	}
	p.state = StateMMWaitMsg6
	r.Send = [][]byte{b}
	return r, nil
}

// mm6 authenticates the responder: phase 1 is done.
func (p *Phase1) mm6(m *Message, pkt *Packet) (*Result, error) {
	if err := p.verifyPeer(Find[*ID](m), m); err != nil {
		return nil, err
	}
	p.noteInitialContact(m)
	return &Result{Done: p.finish(StateMMActive)}, nil
}

// Aggressive Mode as the initiator. The identities travel in clear, and
// all offered transforms share the DH group of the KE payload.
var aggressiveInitiator = phase1Table{
	{name: "AM2", from: StateAMWaitMsg2, to: StateAMActive, crypt: inClear,
		required: withSA | withKENonce | withID, allowed: withAuth | withCR | withNATD, handle: (*Phase1).am2},
}

// am2 takes the responder's choice, keys and proof and answers with AM3,
// our proof: phase 1 is done.
func (p *Phase1) am2(m *Message, pkt *Packet) (*Result, error) {
	if err := p.acceptChoice(m, "AM2"); err != nil {
		return nil, err
	}
	if err := p.peerKE(m, pkt); err != nil {
		return nil, err
	}
	if err := p.verifyPeer(Find[*ID](m), m); err != nil {
		return nil, err
	}
	r := &Result{Float: p.floatOnNAT()}
	auth, err := p.ourProof()
	if err != nil {
		return nil, err
	}
	// AM3's NAT-D hashes already use the floated ports.
	natd, err := p.natdPayloads()
	if err != nil {
		return nil, err
	}
	ps := append(auth, natd...)
	if p.cfg.InitialContact {
		ps = append(ps, isakmpNotify(&p.out.CookieI, &p.out.CookieR, NotifyInitialContact, nil))
	}
	b, err := p.marshalEncrypted(ps)
	if err != nil {
		return nil, err
	}
	r.Send = [][]byte{b}
	r.Done = p.finish(StateAMActive)
	return r, nil
}
