package ike

import (
	"errors"
	"testing"
)

// txnRowFor is the row for a message, looked up as handleTransaction
// does: the role, the phase and the message's configuration type.
func txnRowFor(gateway bool, phase raPhase, cfgType uint8) *txnRow {
	for i := range transactionTable {
		if r := &transactionTable[i]; r.gateway == gateway && r.from == phase && r.cfgType == cfgType {
			return r
		}
	}
	return nil
}

// TestTransactionTable feeds every configuration message type in every
// remote-access phase to both roles: only the exchanges of the drafts
// (XAUTH: REQUEST, REPLY, SET, ACK; Mode-Config pull: REQUEST, REPLY;
// push: SET, ACK) find a row, and each row's to-state is a later phase.
func TestTransactionTable(t *testing.T) {
	type key struct {
		gateway bool
		phase   raPhase
		cfg     uint8
	}
	want := map[key]raPhase{
		{false, raXAuth, CfgRequest}:   raXAuth,    // the gateway's question: we answer
		{false, raXAuth, CfgSet}:       raConfig,   // its verdict: we ACK
		{false, raConfig, CfgReply}:    raActive,   // the address we pulled
		{false, raConfig, CfgSet}:      raActive,   // the address pushed at us
		{true, raXAuth, CfgReply}:      raXAuthAck, // the credentials
		{true, raXAuthAck, CfgAck}:     raConfig,   // the ACK of "accepted"
		{true, raXAuthAck, CfgRequest}: raActive,   // a pull overtaking that ACK
		{true, raRefused, CfgAck}:      raRefused,  // the ACK of "refused": the SA ends
		{true, raConfig, CfgRequest}:   raActive,   // the pull
		{true, raPushed, CfgRequest}:   raActive,   // a pull answering our push
		{true, raPushed, CfgAck}:       raActive,   // the ACK of our push
	}
	found := 0
	for _, gateway := range []bool{false, true} {
		for phase := raXAuth; phase <= raActive; phase++ {
			for cfg := 0; cfg < 256; cfg++ {
				k := key{gateway, phase, uint8(cfg)}
				r := txnRowFor(gateway, phase, uint8(cfg))
				to, ok := want[k]
				if (r != nil) != ok {
					t.Errorf("gateway %v in %v: %s has a row %v, want %v", gateway, phase, cfgTypeName(uint8(cfg)), r != nil, ok)
					continue
				}
				if r == nil {
					continue
				}
				found++
				if r.to != to || r.handle == nil {
					t.Errorf("gateway %v in %v: %s goes to %v, want %v", gateway, phase, cfgTypeName(uint8(cfg)), r.to, to)
				}
			}
		}
	}
	if found != len(transactionTable) || found != len(want) {
		t.Errorf("%d rows found, table has %d, want %d", found, len(transactionTable), len(want))
	}
}

// Every Transaction message is HASH and one attribute payload; other
// payloads are refused before any row is looked at, and leave the
// exchange as it was.
func TestTransactionPayloads(t *testing.T) {
	sec := quickPair(t)
	ap := &AttributesPayload{CfgType: CfgRequest, Identifier: 1, Attributes: xauthQuestion}
	cases := []struct {
		name string
		ps   []Payload
		ok   bool
	}{
		{"attributes", []Payload{ap}, true},
		{"attributes and a vendor ID", []Payload{ap, &Opaque{PType: PayloadVendorID, Data: VendorDPD}}, true},
		{"no attributes", []Payload{&Opaque{PType: PayloadVendorID, Data: VendorDPD}}, false},
		{"attributes and a Delete", []Payload{ap, deleteChild(ProtoESP, 9)}, false},
		{"attributes and an SA", []Payload{ap, &SA{DOI: DOIIPsec, Situation: SituationIdentityOnly}}, false},
	}
	for _, c := range cases {
		out := newTxn(sec, newMessageID())
		pkt, _, err := sealHashed(sec, ExchangeTransaction, out.mid, out.iv, [][]byte{be32(out.mid)}, c.ps)
		if err != nil {
			t.Fatal(err)
		}
		in := newTxn(sec, out.mid)
		iv := string(in.iv)
		got, err := in.open(sec, pkt)
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v, want ok %v", c.name, err, c.ok)
		}
		if err != nil && (string(in.iv) != iv || in.lastIn != nil || !errors.Is(err, ErrMalformed)) {
			t.Errorf("%s: refused message changed the exchange or is not malformed: %v", c.name, err)
		}
		if err == nil && got.CfgType != CfgRequest {
			t.Errorf("%s: attribute payload %+v", c.name, got)
		}
	}
}
