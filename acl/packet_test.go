package acl

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// buildV4 makes an IPv4 packet with a transport payload; fragOff is in
// 8-byte units.
func buildV4(src, dst string, proto uint8, sport, dport uint16, fragOff uint16) []byte {
	p := make([]byte, 20+8)
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	binary.BigEndian.PutUint16(p[6:], fragOff&0x1fff)
	p[8] = 64
	p[9] = proto
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	binary.BigEndian.PutUint16(p[20:], sport)
	binary.BigEndian.PutUint16(p[22:], dport)
	return p
}

// buildV6 makes an IPv6 packet; ext lists extension header types to put
// before the transport header (a fragment header with offset fragOff when
// 44 is among them).
func buildV6(src, dst string, proto uint8, sport, dport uint16, ext []uint8, fragOff uint16) []byte {
	p := make([]byte, 40)
	p[0] = 0x60
	p[7] = 64
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	copy(p[8:], s[:])
	copy(p[24:], d[:])
	nhAt := 6
	for _, e := range ext {
		p[nhAt] = e
		nhAt = len(p)
		if e == ipv6Fragment {
			h := make([]byte, 8)
			binary.BigEndian.PutUint16(h[2:], fragOff<<3|1)
			p = append(p, h...)
		} else {
			h := make([]byte, 16) // length field 1 = 16 bytes
			h[1] = 1
			p = append(p, h...)
		}
	}
	p[nhAt] = proto
	l4 := make([]byte, 8)
	binary.BigEndian.PutUint16(l4[0:], sport)
	binary.BigEndian.PutUint16(l4[2:], dport)
	p = append(p, l4...)
	binary.BigEndian.PutUint16(p[4:], uint16(len(p)-40))
	return p
}

func TestParsePacket(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		name string
		pkt  []byte
		want Tuple
	}{
		{"v4 tcp", buildV4("10.1.0.5", "10.2.0.7", 6, 1234, 80, 0), Tuple{a("10.1.0.5"), a("10.2.0.7"), 6, 1234, 80, false}},
		{"v4 udp", buildV4("10.1.0.5", "10.2.0.7", 17, 53, 5353, 0), Tuple{a("10.1.0.5"), a("10.2.0.7"), 17, 53, 5353, false}},
		{"v4 sctp", buildV4("10.1.0.5", "10.2.0.7", 132, 1, 2, 0), Tuple{a("10.1.0.5"), a("10.2.0.7"), 132, 1, 2, false}},
		{"v4 icmp no ports", buildV4("10.1.0.5", "10.2.0.7", 1, 0x0800, 0x1234, 0), Tuple{a("10.1.0.5"), a("10.2.0.7"), 1, 0, 0, false}},
		{"v4 later fragment", buildV4("10.1.0.5", "10.2.0.7", 6, 1234, 80, 185), Tuple{a("10.1.0.5"), a("10.2.0.7"), 6, 0, 0, true}},
		{"v6 udp", buildV6("2001:db8::1", "2001:db8:1::2", 17, 500, 4500, nil, 0), Tuple{a("2001:db8::1"), a("2001:db8:1::2"), 17, 500, 4500, false}},
		{"v6 ext chain", buildV6("2001:db8::1", "2001:db8:1::2", 6, 22, 2222, []uint8{ipv6HopByHop, ipv6DestOpts, ipv6Routing}, 0), Tuple{a("2001:db8::1"), a("2001:db8:1::2"), 6, 22, 2222, false}},
		{"v6 first fragment", buildV6("2001:db8::1", "2001:db8:1::2", 6, 22, 2222, []uint8{ipv6Fragment}, 0), Tuple{a("2001:db8::1"), a("2001:db8:1::2"), 6, 22, 2222, false}},
		{"v6 later fragment", buildV6("2001:db8::1", "2001:db8:1::2", 6, 22, 2222, []uint8{ipv6HopByHop, ipv6Fragment}, 100), Tuple{a("2001:db8::1"), a("2001:db8:1::2"), 6, 0, 0, true}},
		{"v6 esp", buildV6("2001:db8::1", "2001:db8:1::2", 50, 1, 2, nil, 0), Tuple{a("2001:db8::1"), a("2001:db8:1::2"), 50, 0, 0, false}},
		{"v6 icmp6 after dest opts", buildV6("2001:db8::1", "2001:db8:1::2", 58, 0x8000, 0, []uint8{ipv6DestOpts}, 0), Tuple{a("2001:db8::1"), a("2001:db8:1::2"), 58, 0, 0, false}},
	}
	for _, tc := range tests {
		got, ok := ParsePacket(tc.pkt)
		if !ok || got != tc.want {
			t.Errorf("%s: ParsePacket = %+v, %v; want %+v", tc.name, got, ok, tc.want)
		}
	}
}

func TestParsePacketMalformed(t *testing.T) {
	v4 := buildV4("10.1.0.5", "10.2.0.7", 6, 1234, 80, 0)
	v6 := buildV6("2001:db8::1", "2001:db8::2", 6, 1, 2, []uint8{ipv6HopByHop}, 0)
	mut := func(p []byte, f func([]byte) []byte) []byte { return f(append([]byte(nil), p...)) }
	tests := []struct {
		name string
		pkt  []byte
	}{
		{"empty", nil},
		{"version 5", mut(v4, func(p []byte) []byte { p[0] = 0x55; return p })},
		{"v4 short", v4[:19]},
		{"v4 ihl 4", mut(v4, func(p []byte) []byte { p[0] = 0x44; return p })},
		{"v4 ihl beyond total", mut(v4, func(p []byte) []byte { p[0] = 0x4f; return p })},
		{"v4 total beyond buffer", v4[:27]},
		{"v4 total below header", mut(v4, func(p []byte) []byte { p[3] = 10; return p })},
		{"v4 tiny first fragment", mut(v4, func(p []byte) []byte { p[3] = 22; return p })},
		{"v6 short", v6[:39]},
		{"v6 payload beyond buffer", v6[:len(v6)-1]},
		{"v6 ext header truncated", mut(v6, func(p []byte) []byte { p[41] = 9; return p })},
		{"v6 no room for ports", mut(v6, func(p []byte) []byte { p[5] = 16 + 3; return p[:40+19] })},
		{"v6 ext loop", func() []byte {
			p := buildV6("2001:db8::1", "2001:db8::2", 6, 1, 2, []uint8{0, 60, 60, 60, 60, 60, 60, 60, 60}, 0)
			return p
		}()},
	}
	for _, tc := range tests {
		if got, ok := ParsePacket(tc.pkt); ok {
			t.Errorf("%s: ParsePacket = %+v, true; want false", tc.name, got)
		}
		l := Compile([]Rule{{Permit: true, SrcAny: true, DstAny: true}})
		if r, p := l.Match(tc.pkt); r != -1 || p {
			t.Errorf("%s: Match = %d, %v; want implicit deny", tc.name, r, p)
		}
	}
}

func FuzzParsePacket(f *testing.F) {
	f.Add(buildV4("10.1.0.5", "10.2.0.7", 6, 1234, 80, 0))
	f.Add(buildV4("10.1.0.5", "10.2.0.7", 17, 1234, 80, 3))
	f.Add(buildV6("2001:db8::1", "2001:db8::2", 17, 1, 2, []uint8{0, 43, 44, 60}, 0))
	f.Add(buildV6("2001:db8::1", "2001:db8::2", 17, 1, 2, []uint8{44}, 9))
	l := Compile(randomRulesFixed())
	sels := l.ProxyIDs()
	f.Fuzz(func(t *testing.T, pkt []byte) {
		tu, ok := ParsePacket(pkt)
		r, permit := l.Match(pkt)
		if !ok {
			if r != -1 || permit {
				t.Fatalf("unparsable packet matched rule %d", r)
			}
			return
		}
		if r2, p2 := l.MatchTuple(tu); r2 != r || p2 != permit {
			t.Fatalf("Match %d,%v != MatchTuple %d,%v", r, permit, r2, p2)
		}
		if r3, p3 := naiveMatch(l.rules, tu); r3 != r || p3 != permit {
			t.Fatalf("Match %d,%v != reference %d,%v for %+v", r, permit, r3, p3, tu)
		}
		for _, s := range sels {
			for _, in := range []bool{false, true} {
				if s.MatchesPacket(pkt, in) != s.MatchesTuple(tu, in) {
					t.Fatalf("%v: MatchesPacket != MatchesTuple for %+v", s, tu)
				}
			}
		}
	})
}
