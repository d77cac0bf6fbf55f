package ike

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/big"
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
			pm1 := modp(g).Nat().Bytes(modp(g))
			pm1[len(pm1)-1]-- // p-1 (p is odd)
			p := modp(g).Nat().Bytes(modp(g))
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
	for _, pp := range dhGroups[:numMODP] {
		g, bits := pp.group, int(pp.expBits)
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

// TestModpPrimes: the primes built from pi are the RFCs' primes (their
// SHA-256, taken from the RFC 2409 and RFC 3526 hexadecimal texts) and
// safe primes.
func TestModpPrimes(t *testing.T) {
	want := map[Group]string{
		1:  "b52ba6a3026520a6c49d37e4587601801bee500123b3259b6bf03e7cecc3e63d",
		2:  "3f35a3f5f6c4376a744acad409bb22f8d897f949d2311d885adaa890981b67a0",
		5:  "64fcc83ec403930bf18393dbc883ccaa1fbb08ac876f77f7aa99748ca945019b",
		14: "d66436f79bbd6b2e38c0ffbd079be904d2641415e2e67140e09448be9a60890e",
		15: "48cf8b092fbce4359d9871abf74f98e25b6163379eaa15cd9087e800c6d1c55c",
		16: "4ee95187682bcb230ad26a95205f6920e84708f6251b3894329b09ec23919e33",
	}
	if len(want) != numMODP {
		t.Fatalf("%d MODP groups, %d known primes", numMODP, len(want))
	}
	for g, h := range want {
		p := modpPrime(g)
		if sum := sha256.Sum256(p); hex.EncodeToString(sum[:]) != h {
			t.Errorf("group %d: prime's SHA-256 %x, want %s", g, sum, h)
		}
		pi := new(big.Int).SetBytes(p)
		q := new(big.Int).Rsh(pi, 1)
		if !pi.ProbablyPrime(2) || !q.ProbablyPrime(2) {
			t.Errorf("group %d: not a safe prime", g)
		}
	}
	if modpPrime(GroupECP256) != nil {
		t.Error("an elliptic curve group has a MODP prime")
	}
}

// TestDHGroupsTable: the MODP rows of dhGroups come first (numMODP of
// them, each with an exponent size and an offset), then the curves
// (neither), and every supported group has a row.
func TestDHGroupsTable(t *testing.T) {
	for i, row := range dhGroups {
		if modpRow := row.expBits != 0 && row.offset != 0; modpRow != (i < numMODP) {
			t.Errorf("row %d (%v): MODP %v, but numMODP is %d", i, row.group, modpRow, numMODP)
		}
	}
	for _, g := range Groups {
		if !g.Supported() || g.PublicLen() == 0 {
			t.Errorf("%v: supported %v, KE of %d bytes", g, g.Supported(), g.PublicLen())
		}
	}
}
