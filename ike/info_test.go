package ike

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestInformationalRoundTrip(t *testing.T) {
	sec := quickPair(t)
	pkt, err := sealInfo(sec, sec.deleteIKE(), deleteChild(ProtoESP, 0x1234, 0x5678), sec.notifyISAKMP(NotifyInitialContact, nil))
	if err != nil {
		t.Fatal(err)
	}
	_, items, err := openInfo(sec, pkt)
	if err != nil {
		t.Fatal(err)
	}
	want := []infoItem{{kind: infoDeleteIKE}, {kind: infoDeleteChild, child: childSPI{Protocol: ProtoESP, SPI: 0x1234}},
		{kind: infoDeleteChild, child: childSPI{Protocol: ProtoESP, SPI: 0x5678}}, {kind: infoInitialContact}}
	if !reflect.DeepEqual(items, want) {
		t.Fatalf("items %+v", items)
	}
	dpd, _ := sealInfo(sec, sec.dpdNotify(true, 77))
	if _, items, err = openInfo(sec, dpd); err != nil || !reflect.DeepEqual(items, []infoItem{{kind: infoRUThereAck, seq: 77}}) {
		t.Fatalf("dpd ack %+v %v", items, err)
	}
}

// TestInformationalUnauthenticated: a Delete under the wrong keys, or
// with a flipped bit, is not believed.
func TestInformationalUnauthenticated(t *testing.T) {
	sec := quickPair(t)
	pkt, _ := sealInfo(sec, sec.deleteIKE())
	other := *sec
	other.SKEYIDa = bytes.Repeat([]byte{7}, 32)
	if _, _, err := openInfo(&other, pkt); !errors.Is(err, errUnauthenticated) {
		t.Fatalf("wrong key: %v", err)
	}
	bad := append([]byte(nil), pkt...)
	bad[len(bad)-20] ^= 1
	if _, items, err := openInfo(sec, bad); err == nil {
		t.Fatalf("tampered message accepted: %+v", items)
	}
	// A plaintext Delete is never believed after phase 1.
	m := &Message{Header: Header{CookieI: sec.CookieI, CookieR: sec.CookieR, Exchange: ExchangeInformational, MessageID: 5},
		Payloads: []Payload{&Opaque{PType: PayloadHash, Data: make([]byte, 32)}, sec.deleteIKE()}}
	clear, _ := m.Marshal()
	if _, _, err := openInfo(sec, clear); !errors.Is(err, errUnauthenticated) {
		t.Fatalf("plaintext delete: %v", err)
	}
}

func TestDPDState(t *testing.T) {
	t0 := mono(1000 * time.Second)
	d := &dpdState{Delay: 10 * time.Second, Timeout: 30 * time.Second, lastHeard: t0, seq: 100}
	if send, _, _ := d.tick(t0.add(5 * time.Second)); send {
		t.Fatal("probe before the idle delay")
	}
	send, seq, _ := d.tick(t0.add(11 * time.Second))
	if !send || seq != 101 {
		t.Fatalf("first probe %v %d", send, seq)
	}
	if send, _, _ := d.tick(t0.add(12 * time.Second)); send {
		t.Fatal("retry too early")
	}
	if d.ack(100, t0.add(13*time.Second)) {
		t.Fatal("stale ack accepted")
	}
	send, seq, _ = d.tick(t0.add(17 * time.Second))
	if !send || seq != 102 {
		t.Fatalf("retry %v %d", send, seq)
	}
	if !d.ack(102, t0.add(18*time.Second)) {
		t.Fatal("ack refused")
	}
	if send, _, dead := d.tick(t0.add(20 * time.Second)); send || dead {
		t.Fatal("probe right after ack")
	}
	d.tick(t0.add(29 * time.Second))
	for s := 30; s < 59; s++ {
		if _, _, dead := d.tick(t0.add(time.Duration(s) * time.Second)); dead {
			t.Fatalf("dead too early at %d", s)
		}
	}
	if _, _, dead := d.tick(t0.add(60 * time.Second)); !dead {
		t.Fatal("peer not declared dead after the timeout")
	}
}

// An authenticated Informational on an established SA carries notifies
// and Deletes after its HASH(1), nothing else: one with another payload
// is malformed, and nothing of it is acted upon.
func TestInformationalPayloads(t *testing.T) {
	sec := quickPair(t)
	for _, c := range []struct {
		name string
		ps   []Payload
		ok   bool
	}{
		{"delete and notify", []Payload{sec.deleteIKE(), sec.dpdNotify(false, 1)}, true},
		{"vendor ID", []Payload{sec.dpdNotify(true, 2), &Opaque{PType: PayloadVendorID, Data: VendorDPD}}, true},
		{"delete and SA", []Payload{sec.deleteIKE(), &SA{DOI: DOIIPsec, Situation: SituationIdentityOnly}}, false},
		{"nonce", []Payload{&Opaque{PType: PayloadNonce, Data: make([]byte, 16)}}, false},
	} {
		pkt, err := sealInfo(sec, c.ps...)
		if err != nil {
			t.Fatal(err)
		}
		_, items, err := openInfo(sec, pkt)
		if (err == nil) != c.ok || (err != nil && (!errors.Is(err, ErrMalformed) || items != nil)) {
			t.Errorf("%s: items %+v, err %v, want ok %v", c.name, items, err, c.ok)
		}
	}
}

// notifyISAKMP is a notify about this ISAKMP SA (SPI = cookies).
func (sec *p1Secrets) notifyISAKMP(t uint16, data []byte) *Notify {
	return isakmpNotify(&sec.CookieI, &sec.CookieR, t, data)
}
