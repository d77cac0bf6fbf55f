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
			for _, c := range []struct{ v6, esn, natt bool }{{false, false, false}, {false, true, false}, {true, true, false}, {false, false, true}, {true, false, true}} {
				if c.natt && s.proto != ProtoESP {
					continue
				}
				v6, esn, natt := c.v6, c.esn, c.natt
				t.Run(fmt.Sprintf("%v/%v/v6=%v/esn=%v/natt=%v", s, mode, v6, esn, natt), func(t *testing.T) {
					po, pi := pairParams(s, mode, v6, esn, natt)
					po.ReplayWindow, pi.ReplayWindow = 0, 0 // the same packet is decapsulated repeatedly
					out, in := mustPair(t, po, pi)
					pkt := innerFor(po, v6, 1000)
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
					if a := decapAllocs(t, in, wire); a != 0 {
						t.Errorf("Decap: %v allocs/op", a)
					}
				})
			}
		}
	}
}
