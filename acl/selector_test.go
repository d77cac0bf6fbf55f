package acl

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

func sel(local, remote string, proto uint8, lp, rp PortRange) Selector {
	return Selector{Local: netip.MustParsePrefix(local), Remote: netip.MustParsePrefix(remote), Proto: proto, LocalPorts: lp, RemotePorts: rp}
}

func TestProxyIDs(t *testing.T) {
	l := Compile(mustRules(t,
		"deny ip host 10.1.0.66 any",
		"permit ip 10.1.0.0 0.0.0.255 10.2.0.0 0.0.0.255",
		"permit udp host 10.1.0.5 any range 5000 5100",
		"permit tcp any 2001:db8::/32 eq 443",
		"permit ip any any",
	))
	want := []Selector{
		sel("10.1.0.0/24", "10.2.0.0/24", 0, AnyPort, AnyPort),
		sel("10.1.0.5/32", "0.0.0.0/0", 17, AnyPort, PortRange{5000, 5100}),
		sel("::/0", "2001:db8::/32", 6, AnyPort, PortRange{443, 443}),
		sel("0.0.0.0/0", "0.0.0.0/0", 0, AnyPort, AnyPort),
	}
	got := l.ProxyIDs()
	if len(got) != len(want) {
		t.Fatalf("ProxyIDs = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("ProxyIDs[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	if s, ok := l.ProxyID(4, true); !ok || s != sel("::/0", "::/0", 0, AnyPort, AnyPort) {
		t.Errorf("ProxyID(4, v6) = %v, %v", s, ok)
	}
	if _, ok := l.ProxyID(0, false); ok {
		t.Errorf("ProxyID of a deny line succeeded")
	}
	if _, ok := l.ProxyID(5, false); ok {
		t.Errorf("ProxyID out of range succeeded")
	}
}

func TestSelectorString(t *testing.T) {
	tests := []struct {
		s    Selector
		want string
	}{
		{sel("10.1.0.0/24", "10.2.0.0/24", 0, AnyPort, AnyPort), "10.1.0.0/24[any] -> 10.2.0.0/24[any]"},
		{sel("10.1.0.0/24", "10.2.0.0/24", 17, AnyPort, PortRange{5000, 5100}), "10.1.0.0/24[udp] -> 10.2.0.0/24[udp/5000-5100]"},
		{sel("2001:db8::/32", "::/0", 6, PortRange{443, 443}, PortRange{}), "2001:db8::/32[tcp/443] -> ::/0[tcp]"},
		{sel("10.1.0.5/32", "10.2.0.0/24", 47, AnyPort, AnyPort), "10.1.0.5/32[gre] -> 10.2.0.0/24[gre]"},
	}
	for _, tc := range tests {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("String = %q, want %q", got, tc.want)
		}
	}
}

func TestMirror(t *testing.T) {
	s := sel("10.1.0.0/24", "10.2.0.0/24", 17, PortRange{1, 2}, PortRange{3, 4})
	m := s.Mirror()
	if m != sel("10.2.0.0/24", "10.1.0.0/24", 17, PortRange{3, 4}, PortRange{1, 2}) || m.Mirror() != s {
		t.Errorf("Mirror = %v", m)
	}
}

func TestFindProxyID(t *testing.T) {
	l := Compile(mustRules(t,
		"deny ip host 10.1.0.66 10.3.0.0 0.0.255.255",
		"permit ip 10.1.0.0 0.0.0.255 10.2.0.0 0.0.255.255",
		"permit udp 10.1.1.0/24 range 5000 5100 any",
		"deny tcp 10.1.2.0/24 any eq telnet",
		"permit tcp 10.1.2.0/24 any",
		"permit ip 2001:db8:1::/48 2001:db8:2::/48",
		"permit ip 10.1.0.0/24 10.0.0.0/8",
	))
	tests := []struct {
		name string
		s    Selector
		rule int
	}{
		{"exact", sel("10.1.0.0/24", "10.2.0.0/16", 0, AnyPort, AnyPort), 1},
		{"subset", sel("10.1.0.128/25", "10.2.3.0/24", 0, AnyPort, AnyPort), 1},
		{"subset with proto", sel("10.1.0.0/25", "10.2.3.4/32", 6, AnyPort, PortRange{80, 80}), 1},
		{"host bits masked", sel("10.1.0.130/25", "10.2.3.0/24", 0, AnyPort, AnyPort), 1},
		{"overlaps earlier deny", sel("10.1.0.64/26", "10.3.0.0/16", 0, AnyPort, AnyPort), 6},
		{"beside earlier deny", sel("10.1.0.64/26", "10.4.0.0/16", 0, AnyPort, AnyPort), 6},
		{"wider than permit", sel("10.1.0.0/23", "10.2.0.0/16", 0, AnyPort, AnyPort), -1},
		{"remote outside", sel("10.1.0.0/24", "192.0.2.0/24", 0, AnyPort, AnyPort), -1},
		{"udp ports inside", sel("10.1.1.0/24", "192.0.2.0/24", 17, AnyPort, PortRange{5000, 5100}), -1},
		{"udp local ports inside", sel("10.1.1.0/24", "192.0.2.0/24", 17, PortRange{5000, 5050}, AnyPort), 2},
		{"udp any ports too wide", sel("10.1.1.0/24", "192.0.2.0/24", 17, AnyPort, AnyPort), -1},
		{"proto any too wide for udp line", sel("10.1.1.0/24", "192.0.2.0/24", 0, PortRange{5000, 5000}, AnyPort), -1},
		{"tcp overlapping telnet deny", sel("10.1.2.0/24", "192.0.2.1/32", 6, AnyPort, AnyPort), 4},
		{"tcp avoiding telnet deny", sel("10.1.2.0/24", "192.0.2.1/32", 6, AnyPort, PortRange{80, 80}), 4},
		{"zero PortRange is any", sel("10.1.2.0/24", "192.0.2.1/32", 6, PortRange{}, PortRange{22, 22}), 4},
		{"ipv6", sel("2001:db8:1:5::/64", "2001:db8:2::/48", 0, AnyPort, AnyPort), 5},
		{"ipv6 outside", sel("2001:db8:1:5::/64", "2001:db8:3::/48", 0, AnyPort, AnyPort), -1},
		{"mixed families", sel("10.1.0.0/24", "2001:db8:2::/48", 0, AnyPort, AnyPort), -1},
		{"invalid", Selector{}, -1},
	}
	for _, tc := range tests {
		r, ok := l.FindProxyID(tc.s)
		if r != tc.rule || ok != (tc.rule >= 0) || l.AllowsProxyID(tc.s) != ok {
			t.Errorf("%s: FindProxyID(%v) = %d,%v; want %d", tc.name, tc.s, r, ok, tc.rule)
		}
	}
	// A peer running the mirrored ACL proposes our own proxy IDs (the
	// common symmetric setup); every permit line must accept them, also
	// those with a deny carved out of them earlier.
	for _, i := range []int{1, 2, 4, 5, 6} {
		s, _ := l.ProxyID(i, false)
		if r, ok := l.FindProxyID(s); r != i || !ok {
			t.Errorf("own proxy ID %v: FindProxyID = %d,%v", s, r, ok)
		}
	}
}

func TestNarrow(t *testing.T) {
	l := Compile(mustRules(t,
		"deny ip host 10.1.0.66 any",
		"permit ip 10.1.0.0/24 10.2.0.0/24",
		"permit tcp 10.1.1.0/24 10.2.0.0/16 range 1000 2000",
	))
	tests := []struct {
		name string
		in   Selector
		want Selector
		ok   bool
	}{
		// Line 1's part overlaps the deny, so line 2's part is offered.
		{"first permit shadowed by the deny", sel("10.0.0.0/8", "10.2.0.0/24", 0, AnyPort, AnyPort), sel("10.1.1.0/24", "10.2.0.0/24", 6, AnyPort, PortRange{1000, 2000}), true},
		{"only the deny", sel("10.1.0.66/32", "10.2.0.0/24", 0, AnyPort, AnyPort), Selector{}, false},
		{"narrowed to a permit", sel("10.1.0.128/25", "10.0.0.0/8", 0, AnyPort, AnyPort), sel("10.1.0.128/25", "10.2.0.0/24", 0, AnyPort, AnyPort), true},
		{"proto and ports narrowed", sel("10.1.1.0/24", "10.0.0.0/8", 0, AnyPort, AnyPort), sel("10.1.1.0/24", "10.2.0.0/16", 6, AnyPort, PortRange{1000, 2000}), true},
		{"port intersection", sel("10.1.1.0/24", "10.2.0.0/16", 6, AnyPort, PortRange{1500, 3000}), sel("10.1.1.0/24", "10.2.0.0/16", 6, AnyPort, PortRange{1500, 2000}), true},
		{"no overlap", sel("10.9.0.0/16", "10.2.0.0/16", 0, AnyPort, AnyPort), Selector{}, false},
	}
	for _, tc := range tests {
		got, ok := l.Narrow(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("%s: Narrow(%v) = %v,%v; want %v,%v", tc.name, tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestSelectorMatchesPacket(t *testing.T) {
	s := sel("10.1.0.0/24", "10.2.0.0/24", 17, AnyPort, PortRange{5000, 5100})
	tests := []struct {
		name    string
		pkt     []byte
		inbound bool
		want    bool
	}{
		{"outbound", buildV4("10.1.0.5", "10.2.0.9", 17, 999, 5000, 0), false, true},
		{"outbound wrong port", buildV4("10.1.0.5", "10.2.0.9", 17, 999, 4999, 0), false, false},
		{"outbound wrong proto", buildV4("10.1.0.5", "10.2.0.9", 6, 999, 5000, 0), false, false},
		{"outbound reversed", buildV4("10.2.0.9", "10.1.0.5", 17, 5000, 999, 0), false, false},
		{"inbound", buildV4("10.2.0.9", "10.1.0.5", 17, 5000, 999, 0), true, true},
		{"inbound spoofed source", buildV4("10.3.0.9", "10.1.0.5", 17, 5000, 999, 0), true, false},
		{"inbound later fragment", buildV4("10.2.0.9", "10.1.0.5", 17, 0, 0, 10), true, true},
		{"malformed", []byte{0x45, 0}, true, false},
	}
	for _, tc := range tests {
		if got := s.MatchesPacket(tc.pkt, tc.inbound); got != tc.want {
			t.Errorf("%s: MatchesPacket = %v, want %v", tc.name, got, tc.want)
		}
	}
	s6 := sel("2001:db8:1::/48", "2001:db8:2::/48", 0, AnyPort, AnyPort)
	p6 := buildV6("2001:db8:2::1", "2001:db8:1::1", 58, 0, 0, []uint8{ipv6DestOpts}, 0)
	if !s6.MatchesPacket(p6, true) || s6.MatchesPacket(p6, false) {
		t.Errorf("IPv6 direction handling wrong")
	}
	if s.MatchesPacket(p6, true) {
		t.Errorf("IPv4 selector matched an IPv6 packet")
	}
	p4 := tests[0].pkt
	if n := testing.AllocsPerRun(100, func() { s.MatchesPacket(p4, false); s6.MatchesPacket(p6, true) }); n != 0 {
		t.Errorf("MatchesPacket: %v allocs, want 0", n)
	}
}

// A manually keyed SA carries every line of its ACL: Selectors matches
// when one of them does, in either family, without allocating.
func TestSelectorsMatchesPacket(t *testing.T) {
	ss := Selectors{
		sel("10.1.0.0/24", "10.2.0.0/24", 17, AnyPort, PortRange{5000, 5100}),
		sel("2001:db8:1::/48", "2001:db8:2::/48", 0, AnyPort, AnyPort),
	}
	p4 := buildV4("10.2.0.9", "10.1.0.5", 17, 5000, 999, 0)
	p6 := buildV6("2001:db8:2::1", "2001:db8:1::1", 58, 0, 0, nil, 0)
	if !ss.MatchesPacket(p4, true) || !ss.MatchesPacket(p6, true) {
		t.Error("a packet of one of the selectors did not match")
	}
	if ss.MatchesPacket(p4, false) || ss.MatchesPacket(buildV4("10.3.0.9", "10.1.0.5", 17, 5000, 999, 0), true) ||
		ss.MatchesPacket([]byte{0x45}, true) || (Selectors{}).MatchesPacket(p4, true) {
		t.Error("matched a packet none of the selectors covers")
	}
	if n := testing.AllocsPerRun(100, func() { ss.MatchesPacket(p6, true) }); n != 0 {
		t.Errorf("%v allocs, want 0", n)
	}
}

// randInside returns a random tuple of selector s in the outbound direction.
func randInside(rng *rand.Rand, s Selector) Tuple {
	in := func(p netip.Prefix) netip.Addr {
		b := p.Addr().AsSlice()
		for i := p.Bits(); i < len(b)*8; i++ {
			if rng.IntN(2) == 0 {
				b[i/8] |= 0x80 >> (i % 8)
			}
		}
		a, _ := netip.AddrFromSlice(b)
		return a
	}
	t := Tuple{Src: in(s.Local), Dst: in(s.Remote), Proto: s.Proto}
	if t.Proto == 0 {
		t.Proto = protos[2+rng.IntN(len(protos)-2)]
	}
	if hasPorts(t.Proto) {
		port := func(r PortRange) uint16 {
			lo, hi := r.bounds()
			return lo + uint16(rng.IntN(int(hi-lo)+1))
		}
		t.SrcPort, t.DstPort = port(s.LocalPorts), port(s.RemotePorts)
	}
	return t
}

// TestProxyIDSoundness: whatever FindProxyID grants lies inside the permit
// line it names, and whatever Narrow grants is traffic the ACL permits,
// packet by packet.
func TestProxyIDSoundness(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 42))
	granted, narrowed := 0, 0
	for range 300 {
		rules := make([]Rule, 1+rng.IntN(12))
		for i := range rules {
			rules[i] = randRule(rng)
		}
		l := Compile(rules)
		for range 30 {
			v6 := rng.IntN(2) == 0
			s := Selector{Local: randPrefix(rng, v6), Remote: randPrefix(rng, v6), Proto: protos[rng.IntN(len(protos))], LocalPorts: AnyPort, RemotePorts: AnyPort}
			if hasPorts(s.Proto) {
				s.LocalPorts, s.RemotePorts = randPorts(rng), randPorts(rng)
			}
			check := func(what string, x Selector) {
				for range 20 {
					tu := randInside(rng, x)
					if !x.MatchesTuple(tu, false) {
						t.Fatalf("generator: %+v not inside %v", tu, x)
					}
					if _, permit := naiveMatch(rules, tu); !permit {
						t.Fatalf("%s granted %v but the ACL does not permit %+v\nrules %v", what, x, tu, rules)
					}
				}
			}
			// FindProxyID grants only traffic of the permit line it names
			// (earlier denies do not take part, as on IOS).
			if r, ok := l.FindProxyID(s); ok {
				granted++
				if !rules[r].Permit {
					t.Fatalf("FindProxyID(%v) named deny line %d", s, r)
				}
				for range 20 {
					if tu := randInside(rng, s); !naiveRuleMatches(rules[r], tu) {
						t.Fatalf("FindProxyID granted %v by line %d (%v), which does not cover %+v", s, r, rules[r], tu)
					}
				}
			}
			if x, ok := l.Narrow(s); ok {
				narrowed++
				check("Narrow", x)
				if !x.Local.Overlaps(s.Local) || x.Local.Bits() < s.Local.Bits() || x.Remote.Bits() < s.Remote.Bits() {
					t.Fatalf("Narrow(%v) = %v is not inside the proposal", s, x)
				}
			}
			// A proxy ID is the traffic of its own line (earlier denies
			// may shadow part of it, as on IOS).
			for i := range rules {
				p, ok := l.ProxyID(i, rng.IntN(2) == 0)
				if !ok {
					continue
				}
				for range 5 {
					if tu := randInside(rng, p); !naiveRuleMatches(rules[i], tu) {
						t.Fatalf("ProxyID(%d) = %v includes %+v, outside %v", i, p, tu, rules[i])
					}
				}
			}
		}
	}
	if granted < 50 || narrowed < 200 {
		t.Fatalf("too few grants to mean anything: FindProxyID %d, Narrow %d", granted, narrowed)
	}
}
