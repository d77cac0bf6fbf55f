package ike

import (
	"crypto/ecdh"
	"fmt"
	"io"
	"sync"

	"filippo.io/bigmod"

	"tinyipsec/internal/algo"
)

// Group is a Diffie-Hellman group number (RFC 2409, RFC 3526, RFC 5903,
// RFC 8031), as in the phase 1 group-description attribute and the IPsec
// DOI group attribute.
type Group uint16

// Supported groups.
const (
	GroupMODP768    Group = 1
	GroupMODP1024   Group = 2
	GroupMODP1536   Group = 5
	GroupMODP2048   Group = 14
	GroupMODP3072   Group = 15
	GroupMODP4096   Group = 16
	GroupECP256     Group = 19
	GroupECP384     Group = 20
	GroupECP521     Group = 21
	GroupCurve25519 Group = 31
)

// Groups lists every supported group, weakest first.
var Groups = []Group{GroupMODP768, GroupMODP1024, GroupMODP1536, GroupMODP2048, GroupMODP3072,
	GroupMODP4096, GroupECP256, GroupECP384, GroupECP521, GroupCurve25519}

// ErrBadPublicValue is returned for a peer public value that is out of
// range, not on the curve, or of the wrong length.
var ErrBadPublicValue error = errorText("ike: invalid Diffie-Hellman public value")

// dhGroups are the supported groups with the length of their KE data,
// MODP first; for those also the private exponent's size and the prime's
// offset. A static table (a map would be built at start: flash).
//
// The private exponent size (expBits) of a MODP group: an exponent of n
// random bits resists the attacks that exploit a short exponent
// (Pollard's lambda method: about 2^(n/2) steps) as well as the group
// resists the number field sieve once n is twice the group's security
// strength (RFC 3526 section 8). A full-size exponent adds no security
// beyond that strength, only cost: the time of the constant-time
// exponentiation grows linearly with the exponent. Each size below is
// twice the strength NIST SP 800-57 part 1 gives the modulus (2048 bits:
// 112, 3072: 128, 4096: about 150) plus a margin of 64 bits or more, and
// within RFC 3526's recommended range. Groups 1, 2 and 5 are weak whatever
// the exponent (allow_weak only), so they get the smallest size.
var dhGroups = [...]struct {
	group   Group
	pubLen  uint16 // KE payload bytes: the prime's size for MODP; RFC 5903's x | y for ECP
	expBits uint16 // MODP: the private exponent's size
	offset  int32  // MODP: k (dh_modp_primes.go)
}{
	{GroupMODP768, 768 / 8, 256, 149686},
	{GroupMODP1024, 1024 / 8, 256, 129093},
	{GroupMODP1536, 1536 / 8, 256, 741804},
	{GroupMODP2048, 2048 / 8, 320, 124476},  // 2 x 112 + 96; RFC 3526: 220-320
	{GroupMODP3072, 3072 / 8, 384, 1690314}, // 2 x 128 + 128; RFC 3526: 260-420
	{GroupMODP4096, 4096 / 8, 448, 240904},  // 2 x 152 + 144; RFC 3526: 300-480
	{GroupECP256, 64, 0, 0},
	{GroupECP384, 96, 0, 0},
	{GroupECP521, 132, 0, 0},
	{GroupCurve25519, 32, 0, 0},
}

// numMODP is how many rows of dhGroups are MODP groups.
const numMODP = 6

// dhIndex is g's row of dhGroups, or -1 for a group we do not support.
func dhIndex(g Group) int {
	for i := range dhGroups {
		if dhGroups[i].group == g {
			return i
		}
	}
	return -1
}

var (
	modpOnce   sync.Once
	modpGroups [numMODP]*bigmod.Modulus // by dhGroups row
)

// modp is the modulus of a MODP group, made at first use; nil for a
// group that is not MODP.
func modp(g Group) *bigmod.Modulus {
	i := dhIndex(g)
	if i < 0 || i >= numMODP {
		return nil
	}
	modpOnce.Do(func() {
		for i := range modpGroups {
			m, err := bigmod.NewModulus(modpPrime(dhGroups[i].group))
			if err != nil {
				panic(err)
			}
			modpGroups[i] = m
		}
	})
	return modpGroups[i]
}

// Supported reports whether the group is implemented.
func (g Group) Supported() bool { return dhIndex(g) >= 0 }

// PublicLen is the length of the KE payload data for the group (0 for
// one we do not support).
func (g Group) PublicLen() int {
	if i := dhIndex(g); i >= 0 {
		return int(dhGroups[i].pubLen)
	}
	return 0
}

func (g Group) String() string {
	if i := algo.Group(g).Info(); i != nil {
		return i.Name
	}
	return fmt.Sprintf("group(%d)", uint16(g))
}

// DHKey is one side's ephemeral Diffie-Hellman key pair.
type DHKey struct {
	Group  Group
	public []byte
	// MODP: the private exponent; ECP/Curve25519: the ecdh key.
	exp []byte
	ec  *ecdh.PrivateKey
}

// GenerateKey creates a fresh key pair for the group from rand (use
// crypto/rand.Reader).
func (g Group) GenerateKey(rand io.Reader) (*DHKey, error) {
	if mg := modp(g); mg != nil {
		x := make([]byte, dhGroups[dhIndex(g)].expBits/8)
		if _, err := io.ReadFull(rand, x); err != nil {
			return nil, err
		}
		// A fixed top bit keeps the exponent's size (and so the
		// exponentiation's running time) independent of its value.
		x[0] |= 0x80
		gen, err := bigmod.NewNat().SetBytes([]byte{2}, mg)
		if err != nil {
			return nil, err
		}
		y := bigmod.NewNat().Exp(gen, x, mg)
		return &DHKey{Group: g, public: y.Bytes(mg), exp: x}, nil
	}
	var c ecdh.Curve
	switch g {
	case GroupECP256:
		c = ecdh.P256()
	case GroupECP384:
		c = ecdh.P384()
	case GroupECP521:
		c = ecdh.P521()
	case GroupCurve25519:
		c = ecdh.X25519()
	default:
		return nil, fmt.Errorf("ike: unsupported DH group %d", uint16(g))
	}
	k, err := c.GenerateKey(rand)
	if err != nil {
		return nil, err
	}
	pub := k.PublicKey().Bytes()
	if g != GroupCurve25519 {
		pub = pub[1:] // RFC 5903: x | y without the uncompressed-point prefix
	}
	return &DHKey{Group: g, public: pub, ec: k}, nil
}

// Public returns the KE payload data.
func (k *DHKey) Public() []byte { return k.public }

// SharedSecret computes g^xy from the peer's KE data: for MODP groups
// left-padded to the prime's length, for ECP groups the x coordinate
// (RFC 5903), for Curve25519 the X25519 output. The peer value is checked
// (1 < y < p-1; on the curve; not a low-order point).
func (k *DHKey) SharedSecret(peer []byte) ([]byte, error) {
	if len(peer) != k.Group.PublicLen() {
		return nil, fmt.Errorf("%w: %d bytes for %v", ErrBadPublicValue, len(peer), k.Group)
	}
	if mg := modp(k.Group); mg != nil {
		if k.exp == nil {
			return nil, errorText("ike: DH key already wiped")
		}
		y, err := bigmod.NewNat().SetBytes(peer, mg)
		if err != nil {
			return nil, ErrBadPublicValue // y >= p
		}
		if y.IsZero() == 1 || y.IsOne() == 1 || y.IsMinusOne(mg) == 1 {
			return nil, ErrBadPublicValue
		}
		return bigmod.NewNat().Exp(y, k.exp, mg).Bytes(mg), nil
	}
	if k.ec == nil {
		return nil, errorText("ike: DH key already wiped")
	}
	raw := peer
	if k.Group != GroupCurve25519 {
		raw = append([]byte{4}, peer...)
	}
	pub, err := k.ec.Curve().NewPublicKey(raw)
	if err != nil {
		return nil, ErrBadPublicValue
	}
	s, err := k.ec.ECDH(pub)
	if err != nil {
		return nil, ErrBadPublicValue
	}
	return s, nil
}

// Wipe forgets the private value.
func (k *DHKey) Wipe() {
	if k == nil {
		return
	}
	clear(k.exp)
	k.exp, k.ec = nil, nil
}
