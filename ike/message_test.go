package ike

import (
	"bytes"
	"crypto/aes"
	"crypto/md5"
	"errors"
	"net/netip"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParseCaptures(t *testing.T) {
	for _, c := range vectorCases {
		msgs := pcapIKEMessages(t, filepath.Join(vectorDir(c), "exchange.pcap"))
		if len(msgs) < 6 {
			t.Fatalf("%s: only %d IKE messages", c, len(msgs))
		}
		for _, d := range msgs {
			h, err := ParseHeader(d.Payload)
			if err != nil {
				t.Fatalf("%s frame %d: %v", c, d.Frame, err)
			}
			if h.Encrypted() {
				continue
			}
			m, err := Unmarshal(d.Payload)
			if err != nil {
				t.Fatalf("%s frame %d: %v", c, d.Frame, err)
			}
			out, err := m.Marshal()
			if err != nil {
				t.Fatalf("%s frame %d: marshal: %v", c, d.Frame, err)
			}
			if !bytes.Equal(out, d.Payload) {
				t.Errorf("%s frame %d: re-encoding differs\n got %x\nwant %x", c, d.Frame, out, d.Payload)
			}
			for i, p := range m.Payloads {
				if p.Type() == PayloadFragment {
					continue
				}
				if len(m.Raw[i]) < 4 {
					t.Errorf("raw payload %d short", i)
				}
			}
		}
	}
}

func TestRoundTripAllPayloads(t *testing.T) {
	m := &Message{
		Header: Header{CookieI: Cookie{1, 2, 3, 4, 5, 6, 7, 8}, Exchange: ExchangeMain, MessageID: 0},
		Payloads: []Payload{
			&SA{DOI: DOIIPsec, Situation: SituationIdentityOnly, Proposals: []Proposal{
				{Number: 1, Protocol: ProtoISAKMP, Transforms: []Transform{
					{Number: 1, ID: TransformKeyIKE, Attributes: Attributes{AttrTV(AttrEncryption, 7), AttrTV(AttrKeyLength, 256), AttrUint(AttrLifeDuration, 86400)}},
					{Number: 2, ID: TransformKeyIKE, Attributes: Attributes{AttrTV(AttrEncryption, 5)}},
				}},
				{Number: 2, Protocol: ProtoESP, SPI: []byte{1, 2, 3, 4}, Transforms: []Transform{
					{Number: 1, ID: 12, Attributes: Attributes{AttrTV(AttrEncapsulationMode, 3)}},
				}},
			}},
			&Opaque{PType: PayloadKE, Data: bytes.Repeat([]byte{7}, 128)},
			&Opaque{PType: PayloadNonce, Data: []byte("nonce-nonce-nonce")},
			IDFromAddr(netip.MustParseAddr("10.0.0.1")),
			IDFromPrefix(netip.MustParsePrefix("10.1.0.0/16")),
			IDFromPrefix(netip.MustParsePrefix("2001:db8::/33")),
			IDFromRange(netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.9")),
			IDFromFQDN("host.example"),
			IDFromUserFQDN("a@b.example"),
			&Cert{Encoding: CertX509Sig, Data: []byte{0x30, 0}},
			&Cert{Request: true, Encoding: CertX509Sig},
			&Opaque{PType: PayloadHash, Data: []byte{1, 2}},
			&Opaque{PType: PayloadSig, Data: []byte{3, 4}},
			&Notify{DOI: DOIIPsec, Protocol: ProtoISAKMP, NotifyType: NotifyInitialContact, SPI: make([]byte, 16)},
			&Delete{DOI: DOIIPsec, Protocol: ProtoESP, SPIs: [][]byte{{1, 2, 3, 4}, {5, 6, 7, 8}}},
			&Opaque{PType: PayloadVendorID, Data: VendorDPD},
			&Opaque{PType: PayloadNATD, Data: []byte{9}}, &Opaque{PType: PayloadNATDDraft, Data: []byte{9}},
			&Opaque{PType: PayloadNATOA, Data: []byte{IDIPv4Addr, 0, 0, 0, 192, 0, 2, 1}},
			&Opaque{PType: PayloadNATOADraft, Data: append([]byte{IDIPv6Addr, 0, 0, 0}, netip.MustParseAddr("2001:db8::1").AsSlice()...)},
			&AttributesPayload{CfgType: 1, Identifier: 7, Attributes: Attributes{AttrTLV(1, nil), AttrTV(16520, 1)}},
			&Opaque{PType: PayloadFragment, Data: []byte{0, 1, 1, 1, 'x'}},
			&Opaque{PType: 200, Data: []byte{1}},
		},
	}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Payloads) != len(m.Payloads) {
		t.Fatalf("%d payloads, want %d", len(got.Payloads), len(m.Payloads))
	}
	for i := range m.Payloads {
		if !reflect.DeepEqual(normalize(got.Payloads[i]), normalize(m.Payloads[i])) {
			t.Errorf("payload %d: got %#v want %#v", i, got.Payloads[i], m.Payloads[i])
		}
	}
	b2, _ := got.Marshal()
	if !bytes.Equal(b, b2) {
		t.Error("second marshal differs")
	}
	if pfx, err := got.Payloads[4].(*ID).Prefix(); err != nil || pfx != netip.MustParsePrefix("10.1.0.0/16") {
		t.Errorf("prefix %v %v", pfx, err)
	}
	if f, to, err := got.Payloads[4].(*ID).Range(); err != nil || f.String() != "10.1.0.0" || to.String() != "10.1.255.255" {
		t.Errorf("range %v %v %v", f, to, err)
	}
	if d, _ := got.Payloads[0].(*SA).Proposals[0].Transforms[0].Attributes.Uint(AttrLifeDuration); d != 86400 {
		t.Errorf("life %d", d)
	}

	// Encrypted round trip.
	blk, _ := aes.NewCipher(make([]byte, 16))
	iv := make([]byte, 16)
	m.Payloads = m.Payloads[:5]
	sealed, next, err := m.Seal(blk, iv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Unmarshal(sealed); !errors.Is(err, ErrEncrypted) {
		t.Fatalf("Unmarshal of encrypted: %v", err)
	}
	opened, next2, err := Open(sealed, blk, iv)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(next, next2) || len(opened.Payloads) != 5 {
		t.Fatal("encrypted round trip")
	}
}

// normalize maps nil and empty slices together for comparison.
func normalize(p Payload) Payload {
	switch q := p.(type) {
	case *Cert:
		if len(q.Data) == 0 {
			return &Cert{Request: q.Request, Encoding: q.Encoding}
		}
	case *Notify:
		if len(q.Data) == 0 {
			c := *q
			c.Data = nil
			return &c
		}
	case *Delete:
		c := *q
		c.SPISize = 0
		return &c
	case *AttributesPayload:
		c := *q
		c.Attributes = append(Attributes(nil), q.Attributes...)
		for i := range c.Attributes {
			if len(c.Attributes[i].Value) == 0 {
				c.Attributes[i].Value = nil
			}
		}
		return &c
	}
	return p
}

func TestMalformed(t *testing.T) {
	good := (&Message{Header: Header{Exchange: ExchangeMain}, Payloads: []Payload{&Opaque{PType: PayloadVendorID, Data: []byte{1}}}})
	b, _ := good.Marshal()
	for i := 0; i < len(b); i++ {
		if _, err := Unmarshal(b[:i]); err == nil {
			t.Errorf("truncated to %d accepted", i)
		}
	}
	bad := append([]byte(nil), b...)
	bad[len(bad)-3] = 0xff // payload length beyond the message
	if _, err := Unmarshal(bad); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad length: %v", err)
	}
	// A chain of more than MaxPayloads payloads is refused.
	var ps []Payload
	for i := 0; i < MaxPayloads+1; i++ {
		ps = append(ps, &Opaque{PType: PayloadVendorID})
	}
	body := make([]byte, 0)
	for i := range ps {
		np := byte(PayloadVendorID)
		if i == len(ps)-1 {
			np = 0
		}
		body = append(body, np, 0, 0, 4)
	}
	m := &Message{Header: Header{NextPayload: PayloadVendorID}}
	if err := m.parsePayloads(body, false); !errors.Is(err, ErrTooMany) {
		t.Errorf("too many: %v", err)
	}
}

// TestVendorIDHashes: the vendor IDs written out in payload_vendor.go are
// the MD5 hashes of their well-known strings.
func TestVendorIDHashes(t *testing.T) {
	md5Of := func(s string) []byte { h := md5.Sum([]byte(s)); return h[:] }
	unity := append(md5Of("CISCO-UNITY")[:14], 1, 0)
	for _, c := range []struct{ got, want []byte }{
		{VendorUnity, unity},
		{VendorNATTRFC, md5Of("RFC 3947")},
		{VendorNATTDraft02, md5Of("draft-ietf-ipsec-nat-t-ike-02")},
		{VendorNATTDraft02NL, md5Of("draft-ietf-ipsec-nat-t-ike-02\n")},
		{VendorNATTDraft03, md5Of("draft-ietf-ipsec-nat-t-ike-03")},
		{VendorFragmentation, md5Of("FRAGMENTATION")},
		{vendorFragmentationOut, append(md5Of("FRAGMENTATION"), 0x80, 0, 0, 0)},
	} {
		if !bytes.Equal(c.got, c.want) {
			t.Errorf("vendor ID %x, want %x", c.got, c.want)
		}
	}
}
