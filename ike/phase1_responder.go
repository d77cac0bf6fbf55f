package ike

import (
	"fmt"
	"io"
)

// Phase 1 as the responder, top to bottom: the first message (MM1 or AM1)
// chooses the exchange, then each message of the initiator is one row of
// that exchange's table (the diagrams are in phase1_initiator.go). A Main
// Mode responder between MM2 and MM3 may also be rebuilt from a record
// (phase1_resume.go).

// phase1Responder is the responder's state machine around the shared
// Phase1.
type phase1Responder struct {
	Phase1
	table phase1Table[*phase1Responder] // mainModeResponder or aggressiveResponder; nil before the first message
}

// NewResponder prepares the answer to a first message (MM1 or AM1) that
// arrived from cfg.Remote; feed that message to Handle.
func NewResponder(cfg *Phase1Config) (*Phase1, error) {
	hs, err := newResponder(cfg)
	if err != nil {
		return nil, err
	}
	return &hs.Phase1, nil
}

func newResponder(cfg *Phase1Config) (*phase1Responder, error) {
	hs := &phase1Responder{}
	if err := hs.setup(cfg); err != nil {
		return nil, err
	}
	hs.role = hs
	return hs, nil
}

// receive takes a message of the initiator. The header of its first one
// picks the table by its exchange (Aggressive Mode only if allowed), and
// its cookie becomes ours to answer with.
func (hs *phase1Responder) receive(h *Header, pkt *Packet) (*Result, error) {
	if hs.state == StateNone {
		switch {
		case h.Exchange == ExchangeMain:
			hs.out.Exchange, hs.table = ExchangeMain, mainModeResponder
		case h.Exchange == ExchangeAggressive && !hs.cfg.NoAggressive:
			hs.out.Exchange, hs.table = ExchangeAggressive, aggressiveResponder
		default:
			return nil, fmt.Errorf("ike: unexpected first exchange %v", h.Exchange)
		}
		if !h.CookieR.IsZero() || h.MessageID != 0 {
			return nil, malformed("first message with responder cookie or message ID")
		}
		hs.out.CookieI = h.CookieI
	}
	return phase1Step(&hs.Phase1, hs.table, hs, h, pkt)
}

// choose answers the initiator's offer (MM1, AM1): it adopts the
// datagram's endpoints, picks our cookie (the configured one, or a
// random one) and the first of our policies that matches an offered
// transform (selectProposal), and returns the SA payload of the choice,
// with RESPONDER-LIFETIME when we lowered the lifetime.
func (hs *phase1Responder) choose(m *Message, pkt *Packet) ([]Payload, error) {
	hs.noteEndpoints(pkt)
	hs.out.CookieR = hs.cfg.ResponderCookie
	if hs.out.CookieR.IsZero() {
		if _, err := io.ReadFull(hs.rand, hs.out.CookieR[:]); err != nil {
			return nil, err
		}
	}
	// SAi_b as received (input of HASH_I/R).
	for i, pl := range m.Payloads {
		if pl.Type() == PayloadSA && i < len(m.Raw) {
			hs.saiB = append([]byte(nil), m.Raw[i][4:]...)
			break
		}
	}
	reply, lifeNotify, err := hs.selectProposal(Find[*SA](m))
	if err != nil {
		return nil, err
	}
	hs.noteVendors(m)
	ps := []Payload{reply}
	if lifeNotify != nil {
		ps = append(ps, lifeNotify)
	}
	return ps, nil
}

// Main Mode as the responder (phase1_table.go): the initiator's messages.
// VID and N payloads are allowed in every message.
var mainModeResponder = phase1Table[*phase1Responder]{
	{name: "MM1", from: StateNone, to: StateMMWaitMsg3, crypt: inClear,
		required: withSA, allowed: withCR, handle: (*phase1Responder).mm1},
	{name: "MM3", from: StateMMWaitMsg3, to: StateMMWaitMsg5, crypt: inClear,
		required: withKENonce, allowed: withCR | withNATD, handle: (*phase1Responder).mm3},
	{name: "MM5", from: StateMMWaitMsg5, to: StateMMActive, crypt: encrypted,
		required: withID, allowed: withAuth | withCR, handle: (*phase1Responder).mm5},
}

// mm1 chooses one of the initiator's transforms and answers with MM2.
func (hs *phase1Responder) mm1(m *Message, pkt *Packet) (*Result, error) {
	ps, err := hs.choose(m, pkt)
	if err != nil {
		return nil, err
	}
	return hs.sendPlain(append(ps, hs.vendorPayloads()...), StateMMWaitMsg3)
}

// mm3 takes the initiator's KE and nonce, derives the keys and answers
// with MM4: ours.
func (hs *phase1Responder) mm3(m *Message, pkt *Packet) (*Result, error) {
	if err := hs.peerKE(m, pkt); err != nil {
		return nil, err
	}
	ps, err := hs.ourKE()
	if err != nil {
		return nil, err
	}
	return hs.sendPlainWithNATD(append(ps, hs.certRequest()...), StateMMWaitMsg5)
}

// mm5 authenticates the initiator (its MM5 may come from 4500 now) and
// answers with MM6, our identity and proof: phase 1 is done.
func (hs *phase1Responder) mm5(m *Message, pkt *Packet) (*Result, error) {
	if err := hs.verifyPeer(Find[*ID](m), m); err != nil {
		return nil, err
	}
	hs.noteInitialContact(m)
	hs.noteEndpoints(pkt)
	hs.out.LocalID = hs.localIdentity()
	auth, err := hs.ourProof()
	if err != nil {
		return nil, err
	}
	b, err := hs.marshalEncrypted(append([]Payload{hs.out.LocalID}, auth...))
	if err != nil {
		return nil, err
	}
	return &Result{Send: [][]byte{b}, Done: hs.finish(StateMMActive)}, nil
}

// Aggressive Mode as the responder. AM3 comes encrypted from some peers
// and in clear from others; only an encrypted one can carry
// INITIAL-CONTACT (noteInitialContact).
var aggressiveResponder = phase1Table[*phase1Responder]{
	{name: "AM1", from: StateNone, to: StateAMWaitMsg3, crypt: inClear,
		required: withSA | withKENonce | withID, allowed: withCR, handle: (*phase1Responder).am1},
	{name: "AM3", from: StateAMWaitMsg3, to: StateAMActive, crypt: eitherWay,
		allowed: withAuth | withNATD, handle: (*phase1Responder).am3},
}

// am1 chooses a transform of the initiator's group, checks its identity
// and answers with AM2: our choice, KE, nonce, identity and proof.
func (hs *phase1Responder) am1(m *Message, pkt *Packet) (*Result, error) {
	ps, err := hs.choose(m, pkt)
	if err != nil {
		return nil, err
	}
	if err := hs.peerKE(m, pkt); err != nil {
		return nil, err
	}
	id := Find[*ID](m)
	if hs.cfg.RemoteID != nil && !IDEqual(id, hs.cfg.RemoteID) {
		return nil, fail(FailInvalidID, NotifyInvalidIDInformation, "peer ID %v, want %v", id, hs.cfg.RemoteID)
	}
	hs.out.PeerID = &ID{IDType: id.IDType, Protocol: id.Protocol, Port: id.Port, Data: append([]byte(nil), id.Data...)}
	if f := hs.pskForPeerID(hs.out.PeerID); f != nil {
		return nil, f
	}
	ke, err := hs.ourKE()
	if err != nil {
		return nil, err
	}
	hs.out.LocalID = hs.localIdentity()
	auth, err := hs.ourProof()
	if err != nil {
		return nil, err
	}
	ps = append(append(ps, ke...), hs.out.LocalID)
	ps = append(ps, auth...)
	ps = append(ps, hs.certRequest()...)
	ps = append(ps, hs.vendorPayloads()...)
	return hs.sendPlainWithNATD(ps, StateAMWaitMsg3)
}

// am3 authenticates the initiator: phase 1 is done.
func (hs *phase1Responder) am3(m *Message, pkt *Packet) (*Result, error) {
	hs.noteEndpoints(pkt)
	hs.checkNATD(m, pkt)
	if err := hs.verifyPeer(hs.out.PeerID, m); err != nil {
		return nil, err
	}
	hs.noteInitialContact(m)
	return &Result{Done: hs.finish(StateAMActive)}, nil
}
