package ike

import (
	"slices"
	"testing"

	"tinyipsec/internal/logx"
)

// infoSamples is a payload of each kind of Informational item about the
// IKE SA of sec.
func infoSamples(sec *p1Secrets) map[infoKind]Payload {
	return map[infoKind]Payload{
		infoRUThere:        sec.dpdNotify(false, 7),
		infoRUThereAck:     sec.dpdNotify(true, 7),
		infoError:          sec.notifyISAKMP(NotifyNoProposalChosen, nil),
		infoDeleteChild:    deleteChild(ProtoESP, 0x1234),
		infoInitialContact: sec.notifyISAKMP(NotifyInitialContact, nil),
		infoDeleteIKE:      sec.deleteIKE(),
	}
}

// TestInformationalTable feeds every kind of Informational item, each in
// a real sealed message, in every stage of an IKE SA's life to runInfo
// with the table's rows (and a recorder instead of actOnInfo): only the row of
// that kind and life runs, once; a negotiating SA has no row (its table
// is phase1Informational), a retired one only takes Deletes of IPsec
// SAs. A message with every kind runs the rows in table order, the IKE
// SA's own Delete last; a message that is not encrypted runs none.
func TestInformationalTable(t *testing.T) {
	want := map[ikeLife][]infoKind{
		lifeNegotiating: nil,
		lifeConfiguring: {infoRUThere, infoRUThereAck, infoError, infoDeleteChild, infoInitialContact, infoDeleteIKE},
		lifeActive:      {infoRUThere, infoRUThereAck, infoError, infoDeleteChild, infoInitialContact, infoDeleteIKE},
		lifeDead:        {infoDeleteChild},
	}
	carrier := map[infoKind]PayloadType{infoRUThere: PayloadNotify, infoRUThereAck: PayloadNotify, infoError: PayloadNotify,
		infoDeleteChild: PayloadDelete, infoInitialContact: PayloadNotify, infoDeleteIKE: PayloadDelete}
	for _, r := range infoTable {
		if r.crypt != encrypted || r.required != 1<<PayloadHash|1<<carrier[r.kind] {
			t.Errorf("row %v: encrypted %v, requires %v", r.kind, r.crypt == encrypted, r.required)
		}
	}
	var ran []infoKind
	rows := infoTable
	record := func(_ *Manager, _ *ikeSA, it *infoItem, _ mono) { ran = append(ran, it.kind) }
	sec := quickPair(t)
	samples := infoSamples(sec)
	m := &Manager{log: logx.Discard()}
	open := func(ps ...Payload) (*Message, []infoItem) {
		pkt, err := sealInfo(sec, ps...)
		if err != nil {
			t.Fatal(err)
		}
		msg, items, err := openInfo(sec, pkt)
		if err != nil {
			t.Fatal(err)
		}
		return msg, items
	}
	for life := lifeNegotiating; life <= lifeDead; life++ {
		for k := infoKind(0); k < infoKinds; k++ {
			msg, items := open(samples[k])
			if len(items) != 1 || items[0].kind != k {
				t.Fatalf("%v: items %+v", k, items)
			}
			ran = nil
			m.runInfo(rows, record, &ikeSA{life: life}, msg, items, monoNow())
			wantRun := slices.Contains(want[life], k)
			if (len(ran) == 1 && ran[0] == k) != wantRun || len(ran) > 1 {
				t.Errorf("%v in %v: ran %v, want a row %v", k, life, ran, wantRun)
			}
		}
		// Every kind in one message, the IKE SA's Delete first: the rows'
		// order decides.
		all := []Payload{samples[infoDeleteIKE]}
		for k := infoKind(0); k < infoDeleteIKE; k++ {
			all = append(all, samples[k])
		}
		msg, items := open(all...)
		ran = nil
		m.runInfo(rows, record, &ikeSA{life: life}, msg, items, monoNow())
		if !slices.Equal(ran, want[life]) {
			t.Errorf("%v: every kind ran %v, want %v", life, ran, want[life])
		}
		// A message that did not come encrypted runs no row.
		msg.Flags &^= FlagEncryption
		ran = nil
		m.runInfo(rows, record, &ikeSA{life: life}, msg, items, monoNow())
		if len(ran) != 0 {
			t.Errorf("%v: unencrypted message ran %v", life, ran)
		}
	}
}

// TestInfoErrorHint: an error notify from the peer leaves status a hint
// in words: what the two refusals of a proposal usually mean, the
// notify's name otherwise.
func TestInfoErrorHint(t *testing.T) {
	m := &Manager{log: logx.Discard()}
	for typ, want := range map[uint16]string{
		NotifyNoProposalChosen:     "the peer refused phase 2 (NO-PROPOSAL-CHOSEN): PFS set on one end only, or the transform sets do not match",
		NotifyInvalidIDInformation: "the peer refused phase 2 (INVALID-ID-INFORMATION): the proxy IDs do not match; the crypto ACLs must be mirror images",
		NotifyPayloadMalformed:     "the peer reported PAYLOAD-MALFORMED",
	} {
		sa := &ikeSA{life: lifeActive}
		m.actOnInfo(sa, &infoItem{kind: infoError, notify: peerNotify{Type: typ}}, monoNow())
		if sa.p2Error != want {
			t.Errorf("notify %d: hint %q, want %q", typ, sa.p2Error, want)
		}
	}
}
