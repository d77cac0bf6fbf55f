package ike

import (
	"fmt"
	"slices"
	"testing"
)

// shapeOf is the smallest message a row admits: its required payloads,
// one vendor ID, encrypted as the row says (encrypted for eitherWay).
// admit looks at payload types only, so the bodies stay empty.
func shapeOf(r *rowView, encrypt bool) *Message {
	m := &Message{}
	if encrypt {
		m.Flags |= FlagEncryption
	}
	for _, t := range append(append([]PayloadType{}, r.required...), PayloadVendorID) {
		m.Payloads = append(m.Payloads, &Opaque{PType: t})
	}
	return m
}

// rowView is a phase 1 row without its handler's type, and tableView a
// table of them with its admit: the tables of both roles and of the
// Informational exchange are tested alike.
type rowView struct {
	name       string
	from, to   State
	crypt      crypt
	required   []PayloadType
	hasHandler bool
}

type tableView struct {
	rows  []*rowView
	admit func(s State, m *Message) (*rowView, error)
}

func viewOf(t phase1Table) *tableView {
	v := &tableView{}
	for i := range t {
		r := &t[i]
		v.rows = append(v.rows, &rowView{name: r.name, from: r.from, to: r.to, crypt: r.crypt, required: typesOf(r.required), hasHandler: r.handle != nil})
	}
	v.admit = func(s State, m *Message) (*rowView, error) {
		r, err := t.admit(s, m)
		if err != nil {
			return nil, err
		}
		for i := range t {
			if &t[i] == r {
				return v.rows[i], nil
			}
		}
		return nil, fmt.Errorf("admitted by a row outside the table")
	}
	return v
}

// typesOf lists the members of a payload set.
func typesOf(s payloadSet) []PayloadType {
	var out []PayloadType
	for pt := range 256 {
		if s&setOf(PayloadType(pt)) != 0 {
			out = append(out, PayloadType(pt))
		}
	}
	return out
}

func (v *tableView) row(s State) *rowView {
	for _, r := range v.rows {
		if r.from == s {
			return r
		}
	}
	return nil
}

func phase1TableViews() map[string]*tableView {
	return map[string]*tableView{"main initiator": viewOf(mainModeInitiator), "main responder": viewOf(mainModeResponder),
		"aggressive initiator": viewOf(aggressiveInitiator), "aggressive responder": viewOf(aggressiveResponder)}
}

// TestPhase1Tables feeds every phase 1 message shape, in clear and
// encrypted, in every state, to every table: only the row of that state
// may admit it, and only the shapes of that row's message (or of a
// message with the same payloads: MM1 and MM2, MM3 and MM4, MM5 and MM6,
// AM1 and AM2, which the cookies and the role tell apart).
func TestPhase1Tables(t *testing.T) {
	tables := phase1TableViews()
	same := map[string]string{"MM1": "MM2", "MM2": "MM1", "MM3": "MM4", "MM4": "MM3", "MM5": "MM6", "MM6": "MM5", "AM1": "AM2", "AM2": "AM1"}
	var rows []*rowView
	for _, tb := range tables {
		rows = append(rows, tb.rows...)
	}
	// Shapes that no row admits: a phase 1 message with a payload no row
	// allows, an unknown payload type below the private range.
	bad := []*Message{
		{Payloads: []Payload{&Opaque{PType: PayloadSA}, &Opaque{PType: PayloadDelete}}},
		{Payloads: []Payload{&Opaque{PType: PayloadKE}, &Opaque{PType: PayloadNonce}, &Opaque{PType: 99}}},
		{Header: Header{Flags: FlagEncryption}, Payloads: []Payload{&Opaque{PType: PayloadID}, &Opaque{PType: PayloadAttributes}}},
	}
	admitted := 0
	for tname, tb := range tables {
		for s := StateNone; s <= StateFailed; s++ {
			own := tb.row(s)
			for _, shape := range rows {
				for _, enc := range []bool{false, true} {
					m := shapeOf(shape, enc)
					r, err := tb.admit(s, m)
					want := own != nil && (own.name == shape.name || same[shape.name] == own.name) &&
						(own.crypt == eitherWay || (own.crypt == encrypted) == enc)
					if (err == nil) != want {
						t.Errorf("%s in %v: %s (encrypted %v) admitted %v, want %v (%v)", tname, s, shape.name, enc, err == nil, want, err)
					}
					if err == nil {
						admitted++
						if r != own {
							t.Errorf("%s in %v: admitted by row %s, not the state's", tname, s, r.name)
						}
					}
				}
			}
			for i, m := range bad {
				if _, err := tb.admit(s, m); err == nil {
					t.Errorf("%s in %v: bad shape %d admitted", tname, s, i)
				}
			}
			// Private-use payloads of other vendors are ignored.
			if own != nil && own.crypt != encrypted {
				m := shapeOf(own, false)
				m.Payloads = append(m.Payloads, &Opaque{PType: 200})
				if _, err := tb.admit(s, m); err != nil {
					t.Errorf("%s in %v: private payload refused: %v", tname, s, err)
				}
			}
		}
	}
	if admitted == 0 {
		t.Fatal("no shape admitted anywhere")
	}
}

// Each row's handler leaves the row's to-state (Handle checks it on every
// message), and the rows of one table start in different states.
func TestPhase1TableRows(t *testing.T) {
	for name, tb := range phase1TableViews() {
		seen := map[State]bool{}
		for _, r := range tb.rows {
			if seen[r.from] || !r.hasHandler || r.to == r.from {
				t.Errorf("%s: row %s: from %v twice, no handler, or no transition", name, r.name, r.from)
			}
			seen[r.from] = true
		}
	}
}

// TestPhase1InformationalTable feeds the Informational shapes (in clear:
// notify or Delete; encrypted: HASH first) and every phase 1 message
// shape in every state to phase 1's Informational table: only the
// clear ones before the key exchange and the encrypted ones after it
// are admitted.
func TestPhase1InformationalTable(t *testing.T) {
	info := &rowView{name: "INFO"}
	infoD := &Message{Payloads: []Payload{&Opaque{PType: PayloadDelete}}}
	infoHashed := &rowView{name: "INFO*", required: typesOf(withHash)}
	shapes := map[string]*Message{"INFO": shapeOf(info, false), "INFO with Delete": infoD,
		"INFO*": shapeOf(infoHashed, true), "INFO* in clear": shapeOf(infoHashed, false), "INFO encrypted": shapeOf(info, true)}
	for _, tb := range phase1TableViews() {
		for _, r := range tb.rows {
			for _, enc := range []bool{false, true} {
				shapes[fmt.Sprintf("%s/%v", r.name, enc)] = shapeOf(r, enc)
			}
		}
	}
	keyed := map[State]bool{StateMMWaitMsg5: true, StateMMWaitMsg6: true, StateAMWaitMsg3: true}
	waiting := map[State]bool{StateMMWaitMsg2: true, StateMMWaitMsg3: true, StateMMWaitMsg4: true, StateAMWaitMsg2: true}
	for s := StateNone; s <= StateFailed; s++ {
		for name, m := range shapes {
			_, err := phase1Informational.admit(s, m)
			// AM3's smallest shape (a vendor ID) is an INFO's too.
			want := (keyed[s] && name == "INFO*") || (waiting[s] && (name == "INFO" || name == "INFO with Delete" || name == "AM3/false"))
			if (err == nil) != want {
				t.Errorf("%v: %s admitted %v, want %v (%v)", s, name, err == nil, want, err)
			}
		}
	}
	for _, r := range phase1Informational {
		if keyed[r.from] != (r.crypt == encrypted) || r.handle == nil {
			t.Errorf("row %s in %v: encrypted %v, want it exactly after the key exchange", r.name, r.from, r.crypt == encrypted)
		}
	}
}

// TestPayloadSet: the NAT-T draft types (private use, 128 and up) are
// members apart from the RFC types, and types lists the members back.
func TestPayloadSet(t *testing.T) {
	s := withNATD | withHash
	for pt, want := range map[PayloadType]bool{PayloadNATD: true, PayloadNATDDraft: true, PayloadHash: true,
		PayloadNATOADraft: false, PayloadNATOA: false, PayloadSA: false, PayloadNATDDraft - 128: false, 200: false} {
		if s&setOf(pt) != 0 != want {
			t.Errorf("has(%v) = %v, want %v", pt, !want, want)
		}
	}
	if got, want := typesOf(s), []PayloadType{PayloadHash, PayloadNATD, PayloadNATDDraft}; !slices.Equal(got, want) {
		t.Errorf("types = %v, want %v", got, want)
	}
}
