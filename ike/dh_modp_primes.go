package ike

import "math/big"

// The MODP groups' primes (RFC 2409 section 6 for groups 1 and 2, RFC 3526
// for 5, 14, 15 and 16; generator 2) are all built the same way from the
// binary expansion of pi, so only pi is stored:
//
//	p = 2^n - 2^(n-64) - 1 + 2^64 * (floor(2^(n-130) * pi) + k)
//
// where n is the size in bits and k the smallest offset that makes p and
// (p-1)/2 prime, as each RFC gives it (n and k: dhGroups, dh.go).

// piHex is floor(pi * 16^992) in hexadecimal: 3,970 bits of pi, enough for
// the 3,966 fraction bits group 16 needs.
const piHex = "" +
	"3" +
	"243F6A8885A308D313198A2E03707344A4093822299F31D0082EFA98EC4E6C89" +
	"452821E638D01377BE5466CF34E90C6CC0AC29B7C97C50DD3F84D5B5B5470917" +
	"9216D5D98979FB1BD1310BA698DFB5AC2FFD72DBD01ADFB7B8E1AFED6A267E96" +
	"BA7C9045F12C7F9924A19947B3916CF70801F2E2858EFC16636920D871574E69" +
	"A458FEA3F4933D7E0D95748F728EB658718BCD5882154AEE7B54A41DC25A59B5" +
	"9C30D5392AF26013C5D1B023286085F0CA417918B8DB38EF8E79DCB0603A180E" +
	"6C9E0E8BB01E8A3ED71577C1BD314B2778AF2FDA55605C60E65525F3AA55AB94" +
	"5748986263E8144055CA396A2AAB10B6B4CC5C341141E8CEA15486AF7C72E993" +
	"B3EE1411636FBC2A2BA9C55D741831F6CE5C3E169B87931EAFD6BA336C24CF5C" +
	"7A325381289586773B8F48986B4BB9AFC4BFE81B6628219361D809CCFB21A991" +
	"487CAC605DEC8032EF845D5DE98575B1DC262302EB651B8823893E81D396ACC5" +
	"0F6D6FF383F442392E0B4482A484200469C8F04A9E1F9B5E21C66842F6E96C9A" +
	"670C9C61ABD388F06A51A0D2D8542F68960FA728AB5133A36EEF0B6C137A3BE4" +
	"BA3BF0507EFB2A98A1F1651D39AF017666CA593E82430E888CEE8619456F9FB4" +
	"7D84A5C33B8B5EBEE06F75D885C12073401A449F56C16AA64ED3AA62363F7706" +
	"1BFEDF72429B023D37D0D724D00A1248"

const piFracBits = 4 * (len(piHex) - 1)

// modpPrime returns group g's prime, big-endian, or nil for a group that
// is not MODP. It runs once per group (modp), so pi is read from its
// digits each time rather than kept.
func modpPrime(g Group) []byte {
	i := dhIndex(g)
	if i < 0 || i >= numMODP {
		return nil
	}
	pp := &dhGroups[i]
	piFixed, _ := new(big.Int).SetString(piHex, 16) // pi * 2^piFracBits, truncated
	n := uint(pp.pubLen) * 8
	one := big.NewInt(1)
	p := new(big.Int).Rsh(piFixed, uint(piFracBits)-(n-130)) // floor(2^(n-130) pi)
	p.Add(p, big.NewInt(int64(pp.offset)))
	p.Lsh(p, 64)
	p.Add(p, new(big.Int).Lsh(one, n))
	p.Sub(p, new(big.Int).Lsh(one, n-64))
	p.Sub(p, one)
	return p.FillBytes(make([]byte, n/8))
}
