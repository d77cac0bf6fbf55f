package ike

import (
	"crypto/cipher"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"tinyipsec/conf"
)

// sealRawHashed encrypts a payload chain (first payload type next, body
// chain) behind a valid HASH(1)-style HASH payload, so that fuzzing
// reaches the parsers and the negotiation behind the authentication.
func sealRawHashed(sec *p1Secrets, ex ExchangeType, mid uint32, next PayloadType, chain []byte) []byte {
	h := sec.prf(sec.SKEYIDa, be32(mid), chain)
	plain := []byte{byte(next), 0, 0, 0}
	binary.BigEndian.PutUint16(plain[2:], uint16(4+len(h)))
	plain = append(plain, h...)
	plain = append(plain, chain...)
	bs := sec.Block.BlockSize()
	plain = append(plain, make([]byte, bs-len(plain)%bs)...)
	cipher.NewCBCEncrypter(sec.Block, sec.exchangeIV(mid)).CryptBlocks(plain, plain)
	hdr := make([]byte, HeaderLen)
	copy(hdr, sec.CookieI[:])
	copy(hdr[8:], sec.CookieR[:])
	hdr[16], hdr[17], hdr[18], hdr[19] = byte(PayloadHash), Version, byte(ex), FlagEncryption
	binary.BigEndian.PutUint32(hdr[20:], mid)
	binary.BigEndian.PutUint32(hdr[24:], uint32(HeaderLen+len(plain)))
	return append(hdr, plain...)
}

// fuzzSeedChain returns the payload chain after HASH of a real QM1.
func fuzzSeedChain(t testing.TB, sec *p1Secrets, o *childOffer) (PayloadType, []byte) {
	local := IDFromPrefix(netip.MustParsePrefix("10.1.0.0/16"))
	remote := IDFromPrefix(netip.MustParsePrefix("10.2.0.0/16"))
	q, pkt, err := newQuickInitiator(sec, o, local, remote, seqSPI(100))
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := openHashed(sec, pkt, sec.exchangeIV(q.mid), q.hashPrefix(quickHash1), true, "QM1")
	if err != nil {
		t.Fatal(err)
	}
	var rest []byte
	for _, r := range m.Raw[1:] {
		rest = append(rest, r...)
	}
	return m.Payloads[1].Type(), rest
}

func fuzzSecrets() *p1Secrets {
	return quickPair(nil)
}

// FuzzQuickResponder feeds authenticated but arbitrary QM1 contents to
// the responder: errors are fine, panics are not.
func FuzzQuickResponder(f *testing.F) {
	sec := fuzzSecrets()
	gcm := &conf.TransformSet{Name: "gcm", ESP: "aes128gcm16"}
	bundle := &conf.TransformSet{Name: "b", ESP: "aes256", ESPAuth: "sha256", AH: "sha1"}
	offer := &childOffer{Sets: []*conf.TransformSet{gcm, bundle}, Lifetime: time.Hour, PFS: 14}
	for _, o := range []*childOffer{offer, {Sets: []*conf.TransformSet{bundle}, LifetimeKB: 1000}} {
		next, chain := fuzzSeedChain(f, sec, o)
		f.Add(byte(next), chain)
	}
	f.Fuzz(func(t *testing.T, next byte, chain []byte) {
		if len(chain) > 4000 {
			return
		}
		pkt := sealRawHashed(sec, ExchangeQuick, 0x01020304, PayloadType(next), chain)
		q, _, err := newQuickResponder(sec, pkt, func(_, _ *ID) (*childOffer, error) { return offer, nil }, seqSPI(1))
		if err == nil && q.choice == nil {
			t.Fatal("accepted without a choice")
		}
	})
}

// FuzzInformational feeds authenticated arbitrary Informational contents.
func FuzzInformational(f *testing.F) {
	sec := fuzzSecrets()
	for _, ps := range [][]Payload{{sec.deleteIKE()}, {deleteChild(ProtoESP, 1, 2)}, {sec.dpdNotify(false, 7)}} {
		chain, _ := MarshalPayloads(ps)
		f.Add(byte(ps[0].Type()), chain)
	}
	f.Fuzz(func(t *testing.T, next byte, chain []byte) {
		if len(chain) > 4000 {
			return
		}
		pkt := sealRawHashed(sec, ExchangeInformational, 0x0a0b0c0d, PayloadType(next), chain)
		openInfo(sec, pkt)
	})
}

// spiBytes is an SPI's bytes, as SA payloads carry it.
func spiBytes(spi uint32) []byte { return be32(spi) }
