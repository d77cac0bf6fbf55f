package esp

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// srcSelector is a Selector admitting only packets from allowed.
type srcSelector struct{ allowed netip.Addr }

func (s srcSelector) MatchesPacket(pkt []byte, inbound bool) bool {
	if pkt[0]>>4 == 4 {
		a, _ := netip.AddrFromSlice(pkt[12:16])
		return a == s.allowed
	}
	a, _ := netip.AddrFromSlice(pkt[8:24])
	return a == s.allowed
}

func TestRejects(t *testing.T) {
	for _, s := range allSuites {
		t.Run(s.String(), func(t *testing.T) {
			po, pi := pairParams(s, Tunnel, false, false, false)
			pi.Selector = srcSelector{netip.MustParseAddr("10.1.0.5")}
			out, in := mustPair(t, po, pi)
			good := encapCopy(t, out, innerFor(po, false, 200))

			expect := func(what string, wire []byte, want Error) {
				t.Helper()
				if _, err := decapCopy(in, wire); err != want {
					t.Errorf("%s: got %v, want %v", what, err, want)
				}
			}
			// Truncations at every length give a sentinel error, never a panic.
			for n := 0; n < len(good); n++ {
				cut := append([]byte(nil), good[:n]...)
				if n >= 20 {
					binary.BigEndian.PutUint16(cut[2:], uint16(n))
					setIPv4Checksum(cut[:20])
				}
				if _, err := decapCopy(in, cut); err == nil {
					t.Fatalf("truncated to %d bytes: accepted", n)
				} else if _, ok := err.(Error); !ok {
					t.Fatalf("truncated to %d: non-sentinel error %v", n, err)
				}
			}
			expect("short", good[:19], ErrTruncated)
			base := in.Stats()

			bad := append([]byte(nil), good...)
			bad[len(bad)-1] ^= 1
			expect("flipped ICV bit", bad, ErrAuth)

			bad = append([]byte(nil), good...)
			bad[20+4+4+len(bad)/3%8] ^= 0x80 // somewhere in the protected part
			expect("flipped payload bit", bad, ErrAuth)

			bad = append([]byte(nil), good...)
			spiAt := 20
			if s.proto != ProtoESP {
				spiAt = 24
			}
			bad[spiAt] ^= 0xff
			expect("wrong SPI", bad, ErrSPI)

			if _, err := decapCopy(in, good); err != nil {
				t.Fatalf("good packet: %v", err)
			}
			expect("replayed", good, ErrReplay)

			other := innerFor(po, false, 200)
			copy(other[12:16], []byte{10, 9, 9, 9})
			setIPv4Checksum(other[:20])
			expect("selector violation", encapCopy(t, out, other), ErrPolicy)

			st := in.Stats()
			if st.Packets != 1 || st.Drops[ErrAuth]-base.Drops[ErrAuth] != 2 || st.Drops[ErrReplay] != 1 || st.Drops[ErrPolicy] != 1 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// reMAC recomputes the ICV of a null-sha256 tunnel-mode IPv4 ESP packet
// after a test edited its trailer.
func reMAC(out *OutboundSA, wire []byte) {
	sl := &out.slots.first
	icv := espMAC(sl, wire[20:len(wire)-16], false, 0)
	copy(wire[len(wire)-16:], icv[:16])
}

func TestRejectTrailer(t *testing.T) {
	po, pi := pairParams(suite{ProtoESP, "null", "sha256", ""}, Tunnel, false, false, false)
	po.ReplayWindow, pi.ReplayWindow = 0, 0
	out, in := mustPair(t, po, pi)
	pkt := innerFor(po, false, 101) // 101+2 -> 1 pad byte to a multiple of 4
	good := encapCopy(t, out, pkt)
	trailer := len(good) - 16 - 2 // pad length, next header
	if good[trailer] != 1 || good[trailer-1] != 1 || good[trailer+1] != 4 {
		t.Fatalf("unexpected trailer % x", good[trailer-1:trailer+2])
	}
	for _, tc := range []struct {
		name string
		edit func(w []byte)
		want Error
	}{
		{"pad byte", func(w []byte) { w[trailer-1] = 7 }, ErrPadding},
		{"pad length too long", func(w []byte) { w[trailer] = 200 }, ErrPadding},
		{"dummy packet", func(w []byte) { w[trailer+1] = 59 }, ErrDummy},
		{"unknown inner protocol", func(w []byte) { w[trailer+1] = 6 }, ErrProto},
		{"inner length beyond payload", func(w []byte) { w[20+8+2] = 0xff }, ErrTruncated},
	} {
		w := append([]byte(nil), good...)
		tc.edit(w)
		reMAC(out, w)
		if _, err := decapCopy(in, w); err != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	// TFC padding after the inner packet is tolerated in tunnel mode.
	w := append([]byte(nil), good[:trailer-1]...)
	w = append(w, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 3, 4) // 4 TFC bytes, 3 pad bytes
	w = append(w, make([]byte, 16)...)
	binary.BigEndian.PutUint16(w[2:], uint16(len(w)))
	setIPv4Checksum(w[:20])
	reMAC(out, w)
	got, err := decapCopy(in, w)
	if err != nil {
		t.Fatalf("TFC padding: %v", err)
	}
	equalPacket(t, got, pkt)
}

func TestLifetimeAndSequence(t *testing.T) {
	po, _ := pairParams(suite{ProtoESP, "aes128gcm16", "", ""}, Tunnel, false, false, false)
	po.SoftPackets, po.HardPackets = 2, 3
	out, err := NewOutbound(po)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	pkt := innerFor(po, false, 64)
	encapCopy(t, out, pkt)
	if soft, hard := out.Expired(); soft || hard {
		t.Fatal("expired too early")
	}
	encapCopy(t, out, pkt)
	if soft, hard := out.Expired(); !soft || hard {
		t.Fatal("soft limit not reported")
	}
	encapCopy(t, out, pkt)
	buf := make([]byte, 512)
	copy(buf[MaxHeadroom:], pkt)
	if _, _, err := out.Encap(buf, MaxHeadroom, len(pkt)); err != ErrExpired {
		t.Fatalf("after the hard limit: %v", err)
	}

	// A 32-bit sequence number never wraps.
	po.SoftPackets, po.HardPackets = 0, 0
	out2, _ := NewOutbound(po)
	defer out2.Close()
	out2.seq.Store(1<<32 - 2)
	encapCopy(t, out2, pkt) // 2^32-1, the last one
	if soft, _ := out2.Expired(); !soft {
		t.Fatal("no soft expiry near sequence exhaustion")
	}
	copy(buf[MaxHeadroom:], pkt)
	if _, _, err := out2.Encap(buf, MaxHeadroom, len(pkt)); err != ErrExpired {
		t.Fatalf("sequence wrap: %v", err)
	}
	if _, hard := out2.Expired(); !hard {
		t.Fatal("no hard expiry at sequence exhaustion")
	}
}

// TestECNDecap: a congestion mark on the outer header reaches an
// ECN-capable inner packet (RFC 6040).
func TestECNDecap(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		po, pi := pairParams(suite{ProtoESP, "aes128gcm16", "", ""}, Tunnel, v6, false, false)
		out, in := mustPair(t, po, pi)
		for _, innerV6 := range []bool{false, true} {
			pkt := innerFor(po, innerV6, 120)
			// ECT(0) on the inner packet; the outer header copies it.
			if innerV6 {
				pkt[1] = pkt[1]&0xcf | 2<<4
			} else {
				pkt[1] = pkt[1]&0xfc | 2
				setIPv4Checksum(pkt[:20])
			}
			wire := encapCopy(t, out, pkt)
			if outerECN(wire) != 2 {
				t.Fatalf("outer ECN %d, want ECT(0) copied", outerECN(wire))
			}
			// A router on the way marks congestion.
			if v6 {
				wire[1] |= ecnCE << 4
			} else {
				wire[1] |= ecnCE
				setIPv4Checksum(wire[:20])
			}
			got, err := decapCopy(in, wire)
			if err != nil {
				t.Fatal(err)
			}
			if outerECN(got) != ecnCE {
				t.Fatalf("inner ECN %d after decap, want CE", outerECN(got))
			}
			if !innerV6 && ipv4Checksum(got[:20]) != 0 {
				t.Fatal("inner IPv4 checksum not updated")
			}
		}
	}
}
