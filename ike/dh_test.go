package ike

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
)

func TestDHAgreement(t *testing.T) {
	for _, g := range Groups {
		a, err := g.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatalf("%v: %v", g, err)
		}
		b, err := g.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Public()) != g.PublicLen() {
			t.Errorf("%v: public value %d bytes, want %d", g, len(a.Public()), g.PublicLen())
		}
		s1, err := a.SharedSecret(b.Public())
		if err != nil {
			t.Fatalf("%v: %v", g, err)
		}
		s2, err := b.SharedSecret(a.Public())
		if err != nil {
			t.Fatalf("%v: %v", g, err)
		}
		if !bytes.Equal(s1, s2) {
			t.Errorf("%v: shared secrets differ", g)
		}
		// Wrong length, all-zero and (for MODP) the degenerate values.
		bad := [][]byte{make([]byte, g.PublicLen()), make([]byte, g.PublicLen()+1), nil}
		if modp(g) != nil {
			one := make([]byte, g.PublicLen())
			one[len(one)-1] = 1
			pm1 := modp(g).m.Nat().Bytes(modp(g).m)
			pm1[len(pm1)-1]-- // p-1 (p is odd)
			p := modp(g).m.Nat().Bytes(modp(g).m)
			ff := bytes.Repeat([]byte{0xff}, g.PublicLen())
			bad = append(bad, one, pm1, p, ff)
		}
		for i, v := range bad {
			if _, err := a.SharedSecret(v); !errors.Is(err, ErrBadPublicValue) {
				t.Errorf("%v: bad value %d accepted (%v)", g, i, err)
			}
		}
		a.Wipe()
		if _, err := a.SharedSecret(b.Public()); err == nil {
			t.Errorf("%v: wiped key still works", g)
		}
	}
}

func TestModpPrimes(t *testing.T) {
	want := map[Group]int{1: 768, 2: 1024, 5: 1536, 14: 2048, 15: 3072, 16: 4096}
	for g, bits := range want {
		if modp(g).m.BitLen() != bits {
			t.Errorf("%v: %d bits", g, modp(g).m.BitLen())
		}
	}
}

func BenchmarkDH(b *testing.B) {
	for _, g := range Groups {
		peer, err := g.GenerateKey(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(g.String(), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				k, err := g.GenerateKey(rand.Reader)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := k.SharedSecret(peer.Public()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestModpExponentSizes: every MODP group has a private exponent of at
// least twice its security strength, and GenerateKey uses that size.
func TestModpExponentSizes(t *testing.T) {
	strength := map[Group]int{1: 64, 2: 80, 5: 96, 14: 112, 15: 128, 16: 152}
	for g := range modpPrimeHex {
		bits := modpExponentBits[g]
		if bits < 2*strength[g] || bits%8 != 0 {
			t.Errorf("%v: %d-bit exponent for a strength of %d bits", g, bits, strength[g])
		}
		k, err := g.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if len(k.exp)*8 != bits || k.exp[0]&0x80 == 0 {
			t.Errorf("%v: exponent of %d bytes, top byte %#x", g, len(k.exp), k.exp[0])
		}
	}
}
