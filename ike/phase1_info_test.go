package ike

import (
	"encoding/binary"
	"testing"
	"time"
)

// TestEncryptedInformationalWithoutPayloads: an encrypted Informational
// whose header names no first payload, sent once the phase 1 keys exist
// (anyone who saw the cookies can send one), is dropped with an error
// and leaves the negotiation as it was; it used to index an empty
// payload list.
func TestEncryptedInformationalWithoutPayloads(t *testing.T) {
	ic, rc := pskConfigs(pskPolicy(CipherAES, 128, HashSHA256, GroupMODP2048))
	now := time.Now()
	l := newLink(t, ic, rc, now)
	i, r := l.i, l.r
	res, err := i.Start(now)
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < 3; n++ { // MM1 -> MM2 -> MM3 -> MM4
		to := r
		if n%2 == 1 {
			to = i
		}
		if res, err = to.Handle(Packet{Data: res.Send[0]}, now); err != nil || len(res.Send) == 0 {
			t.Fatalf("message %d: %v", n+2, err)
		}
	}
	if r.State() != StateMMWaitMsg5 {
		t.Fatalf("responder in %v, want %v", r.State(), StateMMWaitMsg5)
	}
	ckyI, ckyR := r.Cookies()
	b := make([]byte, HeaderLen+16)
	copy(b, ckyI[:])
	copy(b[8:], ckyR[:])
	b[16], b[17], b[18], b[19] = byte(PayloadNone), Version, byte(ExchangeInformational), FlagEncryption
	binary.BigEndian.PutUint32(b[20:], 1)
	binary.BigEndian.PutUint32(b[24:], uint32(len(b)))
	if _, err := r.Handle(Packet{Data: b}, now); err == nil {
		t.Fatal("an empty encrypted Informational was accepted")
	}
	if r.State() != StateMMWaitMsg5 {
		t.Fatalf("responder moved to %v", r.State())
	}
}
