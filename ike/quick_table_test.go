package ike

import (
	"errors"
	"testing"
	"time"

	"tinyipsec/conf"
)

// quickShape is the smallest message a Quick Mode row admits: its
// required payloads and one vendor ID (admit looks at types only).
func quickShape(types ...PayloadType) *Message {
	m := &Message{Header: Header{Flags: FlagEncryption, Exchange: ExchangeQuick}}
	for _, t := range append(types, PayloadVendorID) {
		m.Payloads = append(m.Payloads, &Opaque{PType: t})
	}
	return m
}

// row is the row of state s, looked up as quickMode.handle does.
func (t quickTable) row(s QMState) *quickRow {
	for i := range t {
		if t[i].from == s {
			return &t[i]
		}
	}
	return nil
}

// TestQuickTables feeds every Quick Mode message shape in every state to
// both roles' tables: only the row of that state admits it, and only
// the shape of that row's message (QM1 and QM2 carry the same payloads;
// the role tells them apart).
// admit is what quickMode.handle checks once a message authenticated:
// the row of state s exists and the message carries the payloads it
// must and only those it may.
func (t quickTable) admit(s QMState, m *Message) (*quickRow, error) {
	r := t.row(s)
	if r == nil {
		return nil, malformed("no Quick Mode message expected in %q", s)
	}
	return r, checkPayloads(r.name, r.required, r.allowed, m)
}

func TestQuickTables(t *testing.T) {
	shapes := map[string]*Message{
		"QM1":          quickShape(PayloadHash, PayloadSA, PayloadNonce),
		"QM2":          quickShape(PayloadHash, PayloadSA, PayloadNonce),
		"QM1 full":     quickShape(PayloadHash, PayloadSA, PayloadNonce, PayloadKE, PayloadID, PayloadID, PayloadNATOA, PayloadNATOA),
		"QM3":          quickShape(PayloadHash),
		"no nonce":     quickShape(PayloadHash, PayloadSA),
		"with delete":  quickShape(PayloadHash, PayloadSA, PayloadNonce, PayloadDelete),
		"QM3 with SA":  quickShape(PayloadHash, PayloadSA),
		"attributes":   quickShape(PayloadHash, PayloadAttributes),
		"phase 1 auth": quickShape(PayloadHash, PayloadID, PayloadSig),
	}
	// Which shapes each row's message may take.
	fits := map[string][]string{
		"QM1": {"QM1", "QM2", "QM1 full"},
		"QM2": {"QM1", "QM2", "QM1 full"},
		"QM3": {"QM3"},
	}
	states := []QMState{qmNone, QMWaitMsg2, QMWaitMsg3, QMIdle}
	admitted := 0
	for tname, tb := range map[string]quickTable{"initiator": quickInitiator, "responder": quickResponder} {
		for _, s := range states {
			own := tb.row(s)
			for sname, m := range shapes {
				r, err := tb.admit(s, m)
				want := false
				if own != nil {
					for _, f := range fits[own.name] {
						want = want || f == sname
					}
				}
				if (err == nil) != want {
					t.Errorf("%s in %q: %s admitted %v, want %v (%v)", tname, s, sname, err == nil, want, err)
				}
				if err == nil {
					admitted++
					if r != own {
						t.Errorf("%s in %q: admitted by row %s", tname, s, r.name)
					}
				}
			}
		}
	}
	if admitted == 0 {
		t.Fatal("no shape admitted anywhere")
	}
}

// The rows of each table start in different states and move on; the
// manager installs the pair when a message of an exchange already under
// way is handled, so every row but the responder's first completes.
func TestQuickTableRows(t *testing.T) {
	for name, tb := range map[string]quickTable{"initiator": quickInitiator, "responder": quickResponder} {
		seen := map[QMState]bool{}
		for _, r := range tb {
			if seen[r.from] || r.handle == nil || r.to == r.from || r.hash == 0 {
				t.Errorf("%s: row %s: from %q twice, no handler, no transition or no HASH", name, r.name, r.from)
			}
			seen[r.from] = true
			if r.from != qmNone && r.to != QMIdle {
				t.Errorf("%s: row %s does not complete the exchange", name, r.name)
			}
		}
	}
}

// An authenticated QM3 with a payload its row does not allow is refused
// before the handler runs (PAYLOAD-MALFORMED), and the exchange stays
// where it was: a correct QM3 still completes it.
func TestQuickModeRowRefusesPayload(t *testing.T) {
	withDH := newPFSKey
	defer func() { newPFSKey = withDH }()
	newPFSKey = fakeDH
	sec := quickPair(t)
	o := &childOffer{Sets: []*conf.TransformSet{{Name: "gcm", ESP: "aes128gcm16"}}, Lifetime: time.Hour}
	qi, m1, err := newQuickInitiator(sec, o, nil, nil, seqSPI(1))
	if err != nil {
		t.Fatal(err)
	}
	qr, m2, err := newQuickResponder(sec, m1, func(_, _ *ID) (*childOffer, error) { return o, nil }, seqSPI(100))
	if err != nil {
		t.Fatal(err)
	}
	m3, _, err := qi.handle(m2)
	if err != nil {
		t.Fatal(err)
	}
	ivBefore := append([]byte(nil), qr.iv...)
	// A correct HASH(3), which covers no payloads, then a Delete.
	qm3 := &Message{Header: Header{CookieI: sec.CookieI, CookieR: sec.CookieR, Exchange: ExchangeQuick, MessageID: qr.mid},
		Payloads: []Payload{&Opaque{PType: PayloadHash, Data: qr.sec.hashOf(qr.hashPrefix(quickHash3), nil)}, deleteChild(ProtoESP, 7)}}
	bad, _, err := qm3.Seal(sec.Block, qr.iv)
	if err != nil {
		t.Fatal(err)
	}
	_, res, err := qr.handle(bad)
	var ne *NotifyError
	if !errors.As(err, &ne) || ne.Type != NotifyPayloadMalformed || res != nil {
		t.Fatalf("QM3 with a Delete: %v, want PAYLOAD-MALFORMED", err)
	}
	if qr.state != QMWaitMsg3 || string(qr.iv) != string(ivBefore) {
		t.Fatalf("refused QM3 changed the exchange: state %s", qr.state)
	}
	if _, res, err = qr.handle(m3); err != nil || res == nil || qr.state != QMIdle {
		t.Fatalf("QM3 after the refused one: %v, state %s", err, qr.state)
	}
}
