package esp

import (
	"bytes"
	"net/netip"
	"testing"

	"tinyipsec/internal/algo"
)

type denyAll struct{}

func (denyAll) MatchesPacket([]byte, bool) bool { return false }

// Two ends built from mirrored specs (what one sends, the other receives)
// carry a packet both ways, for ESP, AH and the bundle; the SPIs and keys
// land in the right direction and field, and only the inbound SA checks
// the selector.
func TestPairSpecDirections(t *testing.T) {
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	k := func(spi uint32, label string) Keys {
		return Keys{SPI: spi, AHSPI: spi + 1, EncKey: testKey(label+"enc", 16), AuthKey: testKey(label+"auth", 32), AHKey: testKey(label+"ah", 20)}
	}
	for _, c := range []struct {
		esp, ah bool
		proto   Proto
	}{{true, false, ProtoESP}, {false, true, ProtoAH}, {true, true, ProtoAHESP}} {
		shared := Params{Proto: ProtoOf(c.esp, c.ah), Mode: Tunnel, ReplayWindow: 64}
		if c.esp {
			shared.Cipher, shared.Integ = algo.AES128CBC, algo.SHA256
		}
		if c.ah {
			shared.AHInteg = algo.SHA1
		}
		if shared.Proto != c.proto {
			t.Fatalf("ProtoOf(%v, %v) = %v", c.esp, c.ah, shared.Proto)
		}
		atob, btoa := k(0x1000, "ab"), k(0x2000, "ba")
		sa, sb := shared, shared
		sa.Local, sa.Remote, sb.Local, sb.Remote = a, b, b, a
		specA := PairSpec{Shared: sa, In: btoa, Out: atob}
		specB := PairSpec{Shared: sb, In: atob, Out: btoa}

		in, out := specA.Directions()
		wantSPI := uint32(0x1000)
		if c.proto == ProtoAH {
			wantSPI = 0x1001 // the AH SPI is the SA's only SPI
		}
		if out.SPI != wantSPI || in.SPI != wantSPI+0x1000 {
			t.Errorf("%v: SPIs in %x out %x", c.proto, in.SPI, out.SPI)
		}
		if (c.proto == ProtoAHESP) != (out.AHSPI != 0) || (c.esp) != (out.EncKey != nil) || c.ah != (out.AHKey != nil) {
			t.Errorf("%v: out params %+v", c.proto, out)
		}
		info := specA.Info()
		if info.Protocol != c.proto || info.SPIOut != out.SPI || info.SPIIn != in.SPI {
			t.Errorf("%v: info %+v", c.proto, info)
		}

		aIn, aOut, err := NewPair(specA)
		if err != nil {
			t.Fatalf("%v: %v", c.proto, err)
		}
		bIn, bOut, err := NewPair(specB)
		if err != nil {
			t.Fatalf("%v: %v", c.proto, err)
		}
		pkt := udpPacket(false, 200, netip.MustParseAddr("10.1.0.5"), netip.MustParseAddr("10.2.0.7"))
		for _, dir := range []struct {
			out *OutboundSA
			in  *InboundSA
		}{{aOut, bIn}, {bOut, aIn}} {
			got, err := decapCopy(dir.in, encapCopy(t, dir.out, pkt))
			if err != nil || !bytes.Equal(got, pkt) {
				t.Errorf("%v: round trip: %v", c.proto, err)
			}
		}
		for _, sa := range []interface{ Close() }{aIn, aOut, bIn, bOut} {
			sa.Close()
		}
	}

	// The selector guards what arrives, never what leaves.
	spec := PairSpec{Shared: Params{Proto: ProtoESP, Mode: Tunnel, Cipher: algo.AES128GCM16, Local: a, Remote: b, Selector: denyAll{}},
		In: Keys{SPI: 0x3000, EncKey: testKey("x", 20)}, Out: Keys{SPI: 0x3001, EncKey: testKey("y", 20)}}
	if in, out := spec.Directions(); in.Selector == nil || out.Selector != nil {
		t.Error("selector must be on the inbound direction only")
	}
	// A failing direction leaves nothing open.
	spec.Out.EncKey = spec.Out.EncKey[:5]
	if in, out, err := NewPair(spec); err == nil || in != nil || out != nil {
		t.Errorf("bad outbound key accepted: %v", err)
	}
}
