package ike

import (
	"errors"
	"fmt"
	"strings"
	"time"
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

// phase1Row is one transition of a phase 1 exchange. H is the state
// machine its handler works on: *phase1Initiator or *phase1Responder
// (phase1_initiator.go, phase1_responder.go), *Phase1 for the
// Informational rows both roles share (phase1_info.go).
type phase1Row[H any] struct {
	name     string // the message, as the exchange diagrams call it
	from, to State
	crypt    crypt
	required []PayloadType
	allowed  []PayloadType // optional besides required; VID and N are always allowed
	// handle does the work of the message: it returns what to send and,
	// at the end, Done. A *Phase1Failure error ends the negotiation, any
	// other error drops the message.
	handle func(hs H, m *Message, pkt Packet, now time.Time) (*Result, error)
}

// phase1Table is one role's half of an exchange.
type phase1Table[H any] []phase1Row[H]

// row returns the transition out of state s, or nil.
func (t phase1Table[H]) row(s State) *phase1Row[H] {
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
func (t phase1Table[H]) admit(s State, m *Message) (*phase1Row[H], error) {
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

// phase1Step takes a Main or Aggressive Mode message for the role hs, whose
// table is t: it opens the message, finds the row of the current state
// and checks the message against it, runs the handler and checks that
// the handler reached the row's to-state. A dropped message leaves the
// state (and the IV chain) as it was.
func phase1Step[H any](p *Phase1, t phase1Table[H], hs H, h Header, pkt Packet, now time.Time) (*Result, error) {
	if h.Exchange != p.exchange {
		return nil, fmt.Errorf("ike: %v message during %v mode", h.Exchange, p.exchange)
	}
	if h.MessageID != 0 {
		return nil, malformed("phase 1 message with message ID %#x", h.MessageID)
	}
	var m *Message
	var nextIV []byte
	var err error
	if h.Encrypted() {
		if p.blk == nil {
			return nil, errors.New("ike: encrypted message before keys")
		}
		m, nextIV, err = Open(pkt.Data, p.blk, p.iv)
		if errors.Is(err, ErrMalformed) && p.keys != nil && t.row(p.state) != nil {
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
	r, err := row.handle(hs, m, pkt, now)
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
func checkPayloads(name string, required, allowed []PayloadType, m *Message) error {
	var missing []string
	for _, want := range required {
		if !hasPayload(m, want) {
			missing = append(missing, want.String())
		}
	}
	if len(missing) > 0 {
		return malformed("%s without %s", name, strings.Join(missing, ", "))
	}
	for _, pl := range m.Payloads {
		if pt := pl.Type(); !permits(required, allowed, pt) {
			if _, unknown := pl.(*Unknown); unknown && pt >= 128 {
				continue
			}
			return malformed("%s with a %v payload", name, pt)
		}
	}
	return nil
}

func permits(required, allowed []PayloadType, pt PayloadType) bool {
	if pt == PayloadVendorID || pt == PayloadNotify {
		return true
	}
	for _, list := range [][]PayloadType{required, allowed} {
		for _, p := range list {
			if p == pt {
				return true
			}
		}
	}
	return false
}

func hasPayload(m *Message, t PayloadType) bool {
	for _, pl := range m.Payloads {
		if pl.Type() == t {
			return true
		}
	}
	return false
}

// Payload sets the rows share.
var (
	withSA      = []PayloadType{PayloadSA}
	withKENonce = []PayloadType{PayloadKE, PayloadNonce}
	withID      = []PayloadType{PayloadID}
	withCR      = []PayloadType{PayloadCR}
	withNATD    = []PayloadType{PayloadNATD, PayloadNATDDraft}
	withAuth    = []PayloadType{PayloadCert, PayloadHash, PayloadSig} // HASH or SIG as the method wants: verifyPeer
	withHash    = []PayloadType{PayloadHash}
	withNonce   = []PayloadType{PayloadNonce}
	withKE      = []PayloadType{PayloadKE}
	withNATOA   = []PayloadType{PayloadNATOA, PayloadNATOADraft}
	withDelete  = []PayloadType{PayloadDelete}
	withAttrs   = []PayloadType{PayloadAttributes}
)

func payloads(sets ...[]PayloadType) []PayloadType {
	var out []PayloadType
	for _, s := range sets {
		out = append(out, s...)
	}
	return out
}
