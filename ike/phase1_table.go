package ike

import (
	"errors"
	"fmt"
	"strings"
)

// The phase 1 exchanges as tables, in the manner of Libreswan's IKEv1
// state table: each row is one transition, from the state that waits for
// a message to the state its handler leaves, with whether the message
// must be encrypted and which payloads it must and may carry. phase1Step
// finds the row of the current state and checks the message against it
// before the handler runs (admit), so a handler only does the work; after
// the handler it checks that the row's to-state was reached. The tables
// are in phase1_initiator.go and phase1_responder.go, one per role, and
// phase1_info.go.

// crypt says whether a row's message travels encrypted.
type crypt uint8

const (
	inClear crypt = iota
	encrypted
	eitherWay // Aggressive Mode's third message: peers differ
)

// phase1Row is one transition of a phase 1 exchange.
type phase1Row struct {
	name     string // the message, as the exchange diagrams call it
	from, to State
	crypt    crypt
	required payloadSet
	allowed  payloadSet // optional besides required; VID and N are always allowed
	// handle does the work of the message: it returns what to send and,
	// at the end, Done. A *Phase1Failure error ends the negotiation, any
	// other error drops the message.
	handle func(p *Phase1, m *Message, pkt *Packet) (*Result, error)
}

// phase1Table is one role's half of an exchange.
type phase1Table []phase1Row

// row returns the transition out of state s, or nil.
func (t phase1Table) row(s State) *phase1Row {
	for i := range t {
		if t[i].from == s {
			return &t[i]
		}
	}
	return nil
}

// admit checks m against the row of state s: the row exists, the
// encryption matches, the required payloads are there and every other
// payload is allowed. Payloads of private-use types we do not know
// (128 and up) are ignored, as other vendors' extensions.
func (t phase1Table) admit(s State, m *Message) (*phase1Row, error) {
	r := t.row(s)
	if r == nil {
		return nil, malformed("no message expected in %v", s)
	}
	switch {
	case r.crypt == encrypted && !m.Encrypted():
		return nil, malformed("%s not encrypted", r.name)
	case r.crypt == inClear && m.Encrypted():
		return nil, malformed("%s encrypted", r.name)
	}
	if err := checkPayloads(r.name, r.required, r.allowed, m); err != nil {
		return nil, err
	}
	return r, nil
}

// phase1Step takes a Main or Aggressive Mode message with the role's
// table: it opens the message, finds the row of the current state and
// checks the message against it, runs the handler and checks that the
// handler reached the row's to-state. A dropped message leaves the state
// (and the IV chain) as it was.
func phase1Step(p *Phase1, h *Header, pkt *Packet) (*Result, error) {
	t := p.table
	if h.Exchange != p.out.Exchange {
		return nil, fmt.Errorf("ike: %v message during %v mode", h.Exchange, p.out.Exchange)
	}
	if h.MessageID != 0 {
		return nil, malformed("phase 1 message with message ID %#x", h.MessageID)
	}
	var m *Message
	var nextIV []byte
	var err error
	if h.Encrypted() {
		if p.out.Block == nil {
			return nil, errorText("ike: encrypted message before keys")
		}
		m, nextIV, err = Open(pkt.Data, p.out.Block, p.iv)
		if errors.Is(err, ErrMalformed) && p.out.Keys != nil && t.row(p.state) != nil {
			// Garbage after decryption: the keys differ, which with
			// pre-shared keys means the secrets differ (Cisco logs
			// "probable pre-shared key mismatch").
			return nil, fail(FailAuth, 0, "decryption failed, probable pre-shared key mismatch: %v", err)
		}
	} else {
		m, err = Unmarshal(pkt.Data)
	}
	if err != nil {
		return nil, err
	}
	row, err := t.admit(p.state, m)
	if err != nil {
		return nil, err
	}
	savedIV := p.iv
	if nextIV != nil {
		p.iv = nextIV
	}
	r, err := row.handle(p, m, pkt)
	if err != nil {
		if _, ok := errors.AsType[*Phase1Failure](err); !ok {
			p.iv = savedIV
		}
		return nil, err
	}
	if p.state != row.to {
		return nil, &Phase1Failure{Reason: FailInternal, Err: fmt.Errorf("ike: %s left %v, its row says %v", row.name, p.state, row.to)}
	}
	return r, nil
}

// checkPayloads is the payload check every exchange table makes before
// a row's handler runs: the message carries each required payload type,
// and every other payload is allowed. Vendor ID and Notify payloads are
// allowed everywhere (notifies such as RESPONDER-LIFETIME and
// INITIAL-CONTACT ride along with many messages), and payloads of
// private-use types we do not know (128 and up) are ignored, as other
// vendors' extensions.
func checkPayloads(name string, required, allowed payloadSet, m *Message) error {
	var present payloadSet
	var stray PayloadType
	strays := false
	for _, pl := range m.Payloads {
		pt := pl.Type()
		present |= setOf(pt)
		if (required|allowed)&setOf(pt) != 0 || pt == PayloadVendorID || pt == PayloadNotify {
			continue
		}
		if pt >= 128 && (pt < PayloadNATDDraft || pt > PayloadFragment) {
			continue // a private-use type we do not know (130-132 we do)
		}
		if !strays {
			stray, strays = pt, true
		}
	}
	if missing := required &^ present; missing != 0 {
		var names []string
		for bit := range 64 {
			if missing&(1<<bit) != 0 {
				pt := PayloadType(bit)
				if bit >= 48 {
					pt += draftBitBase
				}
				names = append(names, pt.String())
			}
		}
		return malformed("%s without %s", name, strings.Join(names, ", "))
	}
	if strays {
		return malformed("%s with a %v payload", name, stray)
	}
	return nil
}

// payloadSet is a set of payload types, one bit each: the RFC 2408 and
// RFC 3947 types (below 48) at their own number, the private-use types
// of the NAT-T drafts (128 and up) from bit 48. Sets are constants, so
// the exchange tables are static data rather than code that builds them
// at start (flash).
type payloadSet uint64

const draftBitBase = 128 - 48 // payload type 128 is bit 48

// setOf is the set of pt alone, empty for a type no set holds.
func setOf(pt PayloadType) payloadSet {
	switch {
	case pt < 48:
		return 1 << pt
	case pt >= 128 && pt < 128+16:
		return 1 << (pt - draftBitBase)
	}
	return 0
}

// Payload sets the rows share; a row's set is their union (|).
const (
	withSA      payloadSet = 1 << PayloadSA
	withKENonce payloadSet = 1<<PayloadKE | 1<<PayloadNonce
	withID      payloadSet = 1 << PayloadID
	withCR      payloadSet = 1 << PayloadCR
	withNATD    payloadSet = 1<<PayloadNATD | 1<<(PayloadNATDDraft-draftBitBase)
	withAuth    payloadSet = 1<<PayloadCert | 1<<PayloadHash | 1<<PayloadSig // HASH or SIG as the method wants: verifyPeer
	withHash    payloadSet = 1 << PayloadHash
	withNonce   payloadSet = 1 << PayloadNonce
	withKE      payloadSet = 1 << PayloadKE
	withNATOA   payloadSet = 1<<PayloadNATOA | 1<<(PayloadNATOADraft-draftBitBase)
	withDelete  payloadSet = 1 << PayloadDelete
	withAttrs   payloadSet = 1 << PayloadAttributes
)
