package esp

import (
	"bytes"
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

// FuzzEncap feeds arbitrary cleartext packets (what the TUN device hands
// over) to Encap: it must refuse malformed ones with a sentinel error, and
// whatever it accepts must come back out of Decap unchanged (up to the
// length the inner header claims, in tunnel mode).
func FuzzEncap(f *testing.F) {
	type pair struct {
		out *OutboundSA
		in  *InboundSA
	}
	var pairs []pair
	for _, s := range []suite{{ProtoESP, "aes128gcm16", "", ""}, {ProtoAHESP, "aes128", "sha1", "sha256"}} {
		for _, mode := range []Mode{Tunnel, Transport} {
			for _, v6 := range []bool{false, true} {
				po, pi := pairParams(s, mode, v6, false, false)
				pi.ReplayWindow = 0
				out, in := mustPair(f, po, pi)
				pairs = append(pairs, pair{out, in})
				f.Add(uint8(len(pairs)-1), innerFor(po, v6, 60))
			}
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, pkt []byte) {
		p := pairs[int(which)%len(pairs)]
		buf := make([]byte, MaxHeadroom+len(pkt)+MaxTailroom)
		copy(buf[MaxHeadroom:], pkt)
		s, e, err := p.out.Encap(buf, MaxHeadroom, len(pkt))
		if err != nil {
			if _, ok := err.(Error); !ok {
				t.Fatalf("non-sentinel error %v", err)
			}
			return
		}
		off, n, err := p.in.Decap(buf[s:e], 0, e-s)
		if err != nil {
			if _, ok := err.(Error); !ok {
				t.Fatalf("non-sentinel error %v", err)
			}
			return
		}
		got, want := buf[s+off:s+off+n], append([]byte(nil), pkt[:n]...)
		if p.out.mode == Transport && want[0]>>4 == 4 {
			// Transport-mode Decap rebuilds the header with a correct checksum.
			got[10], got[11], want[10], want[11] = 0, 0, 0, 0
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("round trip changed the packet\n got %x\nwant %x", got, pkt)
		}
	})
}
