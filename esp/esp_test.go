package esp

import (
	"fmt"
	"testing"
)

// eachCase calls f for every suite, mode, outer and inner family, ESN on
// and off, and NAT-T on and off where it applies (ESP only; transport
// mode keeps the family).
func eachCase(f func(s suite, mode Mode, v6, innerV6, esn, natt bool)) {
	for _, s := range allSuites {
		for _, mode := range []Mode{Tunnel, Transport} {
			for _, v6 := range []bool{false, true} {
				for _, innerV6 := range []bool{false, true} {
					if mode == Transport && innerV6 != v6 {
						continue
					}
					for _, esn := range []bool{false, true} {
						for _, natt := range []bool{false, true} {
							if natt && s.proto != ProtoESP {
								continue
							}
							f(s, mode, v6, innerV6, esn, natt)
						}
					}
				}
			}
		}
	}
}

func TestRoundTrip(t *testing.T) {
	eachCase(func(s suite, mode Mode, v6, innerV6, esn, natt bool) {
		name := fmt.Sprintf("%v/%v/v6=%v/in6=%v/esn=%v/natt=%v", s, mode, v6, innerV6, esn, natt)
		t.Run(name, func(t *testing.T) {
			po, pi := pairParams(s, mode, v6, esn, natt)
			out, in := mustPair(t, po, pi)
			for _, size := range []int{48, 49, 50, 51, 100, 1400} {
				pkt := innerFor(po, innerV6, size)
				wire := encapCopy(t, out, pkt)
				if proto, spi, ok := ParseSPI(wire); !ok || proto != mustKey(in) || spi != mustSPI(in) {
					t.Fatalf("ParseSPI = %v %x %v", proto, spi, ok)
				}
				got, err := decapCopy(in, wire)
				if err != nil {
					t.Fatalf("size %d: Decap: %v", size, err)
				}
				equalPacket(t, got, pkt)
				if want := out.Seq(); in.Seq() != want {
					t.Fatalf("inbound Seq %d, outbound %d", in.Seq(), want)
				}
				if _, err := decapCopy(in, wire); err != ErrReplay {
					t.Fatalf("replayed packet: err %v, want ErrReplay", err)
				}
			}
		})
	})
}

func mustKey(in *InboundSA) Proto  { p, _ := in.LookupKey(); return p }
func mustSPI(in *InboundSA) uint32 { _, s := in.LookupKey(); return s }
