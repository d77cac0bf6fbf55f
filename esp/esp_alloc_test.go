package esp

import (
	"fmt"
	"testing"
)

// TestZeroAlloc asserts that Encap and Decap allocate nothing per packet,
// for every algorithm and mode.
func TestZeroAlloc(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation allocates")
	}
	for _, s := range allSuites {
		for _, mode := range []Mode{Tunnel, Transport} {
			for _, esn := range []bool{false, true} {
				t.Run(fmt.Sprintf("%v/%v/esn=%v", s, mode, esn), func(t *testing.T) {
					po, pi := pairParams(s, mode, false, esn, false)
					po.ReplayWindow, pi.ReplayWindow = 0, 0 // the same packet is decapsulated repeatedly
					out, in := mustPair(t, po, pi)
					pkt := innerFor(po, false, 1000)
					buf := make([]byte, MaxHeadroom+len(pkt)+MaxTailroom)
					encap := func() (int, int) {
						copy(buf[MaxHeadroom:], pkt)
						s, e, err := out.Encap(buf, MaxHeadroom, len(pkt))
						if err != nil {
							t.Fatal(err)
						}
						return s, e
					}
					if a := testing.AllocsPerRun(100, func() { encap() }); a != 0 {
						t.Errorf("Encap: %v allocs/op", a)
					}
					s, e := encap()
					wire := append([]byte(nil), buf[s:e]...)
					if a := testing.AllocsPerRun(100, func() {
						copy(buf, wire)
						if _, _, err := in.Decap(buf, 0, len(wire)); err != nil {
							t.Fatal(err)
						}
					}); a != 0 {
						t.Errorf("Decap: %v allocs/op", a)
					}
				})
			}
		}
	}
}
