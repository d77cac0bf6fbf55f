package esp

import (
	"testing"
)

// fuzzSAs returns inbound SAs (replay check off, so seeds stay valid) and
// valid packets for them.
func fuzzSAs(t testing.TB, suites []suite) (ins []*InboundSA, seeds [][]byte) {
	for _, s := range suites {
		for _, mode := range []Mode{Tunnel, Transport} {
			for _, v6 := range []bool{false, true} {
				po, pi := pairParams(s, mode, v6, true, false)
				po.ReplayWindow, pi.ReplayWindow = 0, 0
				out, in := mustPair(t, po, pi)
				ins = append(ins, in)
				seeds = append(seeds, encapCopy(t, out, innerFor(po, v6, 80)))
			}
		}
	}
	return
}

func fuzzDecap(f *testing.F, suites []suite) {
	ins, seeds := fuzzSAs(f, suites)
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	f.Fuzz(func(t *testing.T, which uint8, pkt []byte) {
		in := ins[int(which)%len(ins)]
		buf := append([]byte(nil), pkt...)
		off, n, err := in.Decap(buf, 0, len(buf))
		if err != nil {
			if _, ok := err.(Error); !ok {
				t.Fatalf("non-sentinel error %v", err)
			}
			return
		}
		if off < 0 || n < 20 || off+n > len(buf) {
			t.Fatalf("result out of bounds: %d+%d of %d", off, n, len(buf))
		}
		ParseSPI(pkt)
	})
}

func FuzzDecapESP(f *testing.F) {
	fuzzDecap(f, []suite{
		{ProtoESP, "aes128gcm16", "", ""},
		{ProtoESP, "aes128", "sha1", ""},
		{ProtoESP, "null", "sha256", ""},
	})
}

func FuzzDecapAH(f *testing.F) {
	fuzzDecap(f, []suite{
		{ProtoAH, "", "", "sha256"},
		{ProtoAHESP, "aes256", "sha1", "sha512"},
	})
}
