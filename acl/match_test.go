package acl

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// naiveMatch is the reference semantics, written as directly as possible
// from the Rule definition and independent of the compiled tables.
func naiveMatch(rules []Rule, t Tuple) (int, bool) {
	if !t.Src.IsValid() || !t.Dst.IsValid() || t.Src.Is4() != t.Dst.Is4() {
		return -1, false
	}
	for i, r := range rules {
		if naiveRuleMatches(r, t) {
			return i, r.Permit
		}
	}
	return -1, false
}

func naiveRuleMatches(r Rule, t Tuple) bool {
	side := func(p netip.Prefix, isAny bool, a netip.Addr) bool {
		return isAny || !p.IsValid() || p.Masked().Contains(a)
	}
	if !side(r.Src, r.SrcAny, t.Src) || !side(r.Dst, r.DstAny, t.Dst) {
		return false
	}
	if r.Proto != 0 && r.Proto != t.Proto {
		return false
	}
	if hasPorts(r.Proto) && (!r.SrcPorts.Any() || !r.DstPorts.Any()) {
		if t.Fragment {
			return r.Permit
		}
		return r.SrcPorts.Contains(t.SrcPort) && r.DstPorts.Contains(t.DstPort)
	}
	return true
}

var (
	v4Bases = []string{"10.0.0.0", "10.0.1.0", "10.1.0.0", "192.168.7.0", "0.0.0.0"}
	v6Bases = []string{"2001:db8::", "2001:db8:0:1::", "2001:db8:1::", "fd00::", "::"}
	v4Lens  = []int{0, 8, 16, 23, 24, 25, 31, 32}
	v6Lens  = []int{0, 32, 48, 63, 64, 65, 120, 127, 128}
	protos  = []uint8{0, 0, 6, 6, 17, 17, 1, 58, 50, 132}
	ports   = []uint16{1, 22, 53, 80, 443, 1000, 5000, 65535}
)

// randAddr returns an address near one of the bases, so that random rules
// and packets overlap often enough to exercise every path.
func randAddr(rng *rand.Rand, v6 bool) netip.Addr {
	if !v6 {
		b := netip.MustParseAddr(v4Bases[rng.IntN(len(v4Bases))]).As4()
		b[2] |= byte(rng.IntN(4))
		b[3] = byte(rng.IntN(256))
		return netip.AddrFrom4(b)
	}
	b := netip.MustParseAddr(v6Bases[rng.IntN(len(v6Bases))]).As16()
	b[7] |= byte(rng.IntN(2))
	b[8] = byte(rng.IntN(2)) << 7
	b[15] = byte(rng.IntN(4))
	return netip.AddrFrom16(b)
}

func randPrefix(rng *rand.Rand, v6 bool) netip.Prefix {
	lens := v4Lens
	if v6 {
		lens = v6Lens
	}
	return netip.PrefixFrom(randAddr(rng, v6), lens[rng.IntN(len(lens))]).Masked()
}

func randPorts(rng *rand.Rand) PortRange {
	if rng.IntN(2) == 0 {
		return AnyPort
	}
	a, b := ports[rng.IntN(len(ports))], ports[rng.IntN(len(ports))]
	if a > b {
		a, b = b, a
	}
	return PortRange{a, b}
}

func randRule(rng *rand.Rand) Rule {
	v6 := rng.IntN(2) == 0
	r := Rule{Permit: rng.IntN(3) != 0, Proto: protos[rng.IntN(len(protos))], SrcPorts: AnyPort, DstPorts: AnyPort}
	if rng.IntN(6) == 0 {
		r.SrcAny = true
	} else {
		r.Src = randPrefix(rng, v6)
	}
	if rng.IntN(6) == 0 {
		r.DstAny = true
	} else {
		r.Dst = randPrefix(rng, v6)
	}
	if hasPorts(r.Proto) {
		r.SrcPorts, r.DstPorts = randPorts(rng), randPorts(rng)
	}
	if rng.IntN(200) == 0 { // never-matching mixed-family rule
		r.SrcAny, r.DstAny = false, false
		r.Src, r.Dst = randPrefix(rng, false), randPrefix(rng, true)
	}
	return r
}

func randTuple(rng *rand.Rand) Tuple {
	v6 := rng.IntN(2) == 0
	// Protocol 0 in IPv6 is the hop-by-hop header, not a transport; keep
	// tuples to values a packet can carry in both families.
	t := Tuple{Src: randAddr(rng, v6), Dst: randAddr(rng, v6), Proto: protos[2+rng.IntN(len(protos)-2)]}
	if hasPorts(t.Proto) {
		if rng.IntN(10) == 0 {
			t.Fragment = true
		} else {
			t.SrcPort, t.DstPort = ports[rng.IntN(len(ports))], ports[rng.IntN(len(ports))]
			if rng.IntN(4) == 0 {
				t.DstPort++
			}
		}
	}
	return t
}

// tuplePacket builds the raw packet for a tuple, so the randomized test
// covers packet parsing too.
func tuplePacket(t Tuple) []byte {
	var frag uint16
	if t.Fragment {
		frag = 7
	}
	if t.Src.Is4() {
		return buildV4(t.Src.String(), t.Dst.String(), t.Proto, t.SrcPort, t.DstPort, frag)
	}
	var ext []uint8
	if t.Fragment {
		ext = []uint8{ipv6Fragment}
	}
	return buildV6(t.Src.String(), t.Dst.String(), t.Proto, t.SrcPort, t.DstPort, ext, frag)
}

func randomRulesFixed() []Rule {
	rng := rand.New(rand.NewPCG(1, 2))
	rules := make([]Rule, 40)
	for i := range rules {
		rules[i] = randRule(rng)
	}
	return rules
}

// TestMatchAgainstReference compares the compiled matcher (both the
// linear and the hashed form) with naiveMatch on random ACLs and packets.
func TestMatchAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	sizes := []int{0, 1, 2, 5, groupCost, 2*groupCost + 1, 60, 300}
	iters := 40
	if testing.Short() {
		iters = 8
	}
	checked, matched := 0, 0
	for it := range iters {
		for _, n := range sizes {
			rules := make([]Rule, n)
			for i := range rules {
				rules[i] = randRule(rng)
			}
			compiled := Compile(rules)
			forms := map[string]*List{"compiled": compiled, "hashed": withTables(compiled, true), "linear": withTables(compiled, false)}
			for range 100 {
				tu := randTuple(rng)
				wantR, wantP := naiveMatch(rules, tu)
				for form, l := range forms {
					gotR, gotP := l.MatchTuple(tu)
					if gotR != wantR || gotP != wantP {
						t.Fatalf("iter %d size %d %s: MatchTuple(%+v) = %d,%v; reference %d,%v\nrules: %v", it, n, form, tu, gotR, gotP, wantR, wantP, rules)
					}
					gotR, gotP = l.Match(tuplePacket(tu))
					if gotR != wantR || gotP != wantP {
						t.Fatalf("iter %d size %d %s: Match(packet of %+v) = %d,%v; reference %d,%v", it, n, form, tu, gotR, gotP, wantR, wantP)
					}
				}
				checked++
				if wantR >= 0 {
					matched++
				}
			}
		}
	}
	// Guard against a generator that never produces matches.
	if matched < checked/10 {
		t.Fatalf("only %d of %d random packets matched a rule; generator too sparse", matched, checked)
	}
}

func mustRules(t testing.TB, lines ...string) []Rule {
	t.Helper()
	rules := make([]Rule, len(lines))
	for i, s := range lines {
		r, err := ParseRule(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		rules[i] = r
	}
	return rules
}

func TestMatchExamples(t *testing.T) {
	l := Compile(mustRules(t,
		"deny tcp 10.1.0.0 0.0.0.255 any eq telnet",
		"permit tcp 10.1.0.0/24 10.2.0.0/24 range 5000 5100",
		"deny udp any any",
		"permit ip 10.1.0.0/24 10.2.0.0/16",
		"permit ip 2001:db8:1::/48 2001:db8:2::/48",
		"permit esp any any",
	))
	tests := []struct {
		pkt    []byte
		rule   int
		permit bool
	}{
		{buildV4("10.1.0.5", "10.2.0.9", 6, 40000, 23, 0), 0, false},
		{buildV4("10.1.0.5", "10.2.0.9", 6, 40000, 5050, 0), 1, true},
		{buildV4("10.1.0.5", "10.2.0.9", 6, 40000, 5101, 0), 3, true},
		{buildV4("10.1.0.5", "10.2.0.9", 17, 1, 2, 0), 2, false},
		{buildV4("10.1.0.5", "10.2.7.9", 1, 0, 0, 0), 3, true},
		{buildV4("10.1.1.5", "10.2.7.9", 1, 0, 0, 0), -1, false},
		// A later fragment skips the deny with ports and hits the permit.
		{buildV4("10.1.0.5", "10.2.0.9", 6, 0, 0, 100), 1, true},
		{buildV6("2001:db8:1::5", "2001:db8:2:3::1", 58, 0, 0, nil, 0), 4, true},
		{buildV6("2001:db8:1::5", "2001:db8:3::1", 50, 0, 0, nil, 0), 5, true},
		{buildV6("2001:db8:1::5", "2001:db8:3::1", 6, 1, 2, nil, 0), -1, false},
	}
	for i, tc := range tests {
		r, p := l.Match(tc.pkt)
		if r != tc.rule || p != tc.permit {
			t.Errorf("case %d: Match = %d,%v; want %d,%v", i, r, p, tc.rule, tc.permit)
		}
	}
	var nilList *List
	if r, p := nilList.Match(tests[0].pkt); r != -1 || p {
		t.Errorf("nil list matched")
	}
}

func TestMatchZeroAlloc(t *testing.T) {
	l := Compile(bigACL(1000))
	v4 := buildV4("10.3.231.9", "172.16.231.1", 17, 1000, 5050, 0)
	v6 := buildV6("2001:db8:3:e7::9", "2001:db8:ff:e7::1", 6, 1000, 443, []uint8{ipv6HopByHop}, 0)
	tu, _ := ParsePacket(v6)
	for name, f := range map[string]func(){
		"v4":    func() { l.Match(v4) },
		"v6":    func() { l.Match(v6) },
		"tuple": func() { l.MatchTuple(tu) },
		"parse": func() { ParsePacket(v6) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocs per lookup, want 0", name, n)
		}
	}
}

// bigACL builds n rules of the shape a hub router's crypto ACL has: one
// line per branch subnet pair, alternating families, with some port rules.
// Rule i matches 10.(i/256).(i%256).0/24 -> 172.16.(i%256).0/24 (IPv4, even
// i) or the corresponding 2001:db8::/64s (odd i).
func bigACL(n int) []Rule {
	rules := make([]Rule, n)
	for i := range rules {
		var line string
		switch {
		case i%2 == 0 && i%3 == 0:
			line = fmt.Sprintf("permit udp 10.%d.%d.0 0.0.0.255 172.16.%d.0/24 range 5000 5100", i/256, i%256, i%256)
		case i%2 == 0:
			line = fmt.Sprintf("permit ip 10.%d.%d.0/24 172.16.%d.0/24", i/256, i%256, i%256)
		case i%5 == 0:
			line = fmt.Sprintf("deny tcp 2001:db8:%x:%x::/64 2001:db8:ff:%x::/64 eq 23", i/256, i%256, i%256)
		default:
			line = fmt.Sprintf("permit tcp 2001:db8:%x:%x::/64 2001:db8:ff:%x::/64 eq 443", i/256, i%256, i%256)
		}
		r, err := ParseRule(line)
		if err != nil {
			panic(err)
		}
		rules[i] = r
	}
	return rules
}

func TestBigACLLastRules(t *testing.T) {
	l := Compile(bigACL(1000))
	// Rule 996: i%2==0, i%3==0 -> udp 10.3.228.0/24 -> 172.16.228.0/24.
	if r, p := l.Match(buildV4("10.3.228.9", "172.16.228.1", 17, 1000, 5050, 0)); r != 996 || !p {
		t.Errorf("v4 rule 996: got %d,%v", r, p)
	}
	// Rule 999: odd, not %5 -> tcp 443 2001:db8:3:e7::/64 -> 2001:db8:ff:e7::/64.
	if r, p := l.Match(buildV6("2001:db8:3:e7::9", "2001:db8:ff:e7::1", 6, 1000, 443, nil, 0)); r != 999 || !p {
		t.Errorf("v6 rule 999: got %d,%v", r, p)
	}
}

func BenchmarkMatch1000Rules(b *testing.B) {
	l := Compile(bigACL(1000))
	cases := []struct {
		name string
		pkt  []byte
		rule int
	}{
		{"v4-last", buildV4("10.3.230.9", "172.16.230.1", 6, 1000, 80, 0), 998},
		{"v4-none", buildV4("10.9.0.1", "172.16.0.1", 6, 1000, 80, 0), -1},
		{"v6-last", buildV6("2001:db8:3:e7::9", "2001:db8:ff:e7::1", 6, 1000, 443, nil, 0), 999},
		{"v6-none", buildV6("2001:db8:9::9", "2001:db8:ff::1", 6, 1000, 443, nil, 0), -1},
	}
	for _, c := range cases {
		if r, _ := l.Match(c.pkt); r != c.rule {
			b.Fatalf("%s: matched rule %d, want %d", c.name, r, c.rule)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				l.Match(c.pkt)
			}
		})
	}
	// The same lookups with the straight scan every small ACL uses, to
	// show what the hashed tables buy.
	naive := withTables(l, false)
	for _, c := range cases {
		b.Run("linear-"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				naive.Match(c.pkt)
			}
		})
	}
}

// withTables returns a copy of l that uses the hashed tables (hashed) or
// the straight scan for both families, whatever Compile chose.
func withTables(l *List, hashed bool) *List {
	x := &List{rules: l.rules, c: l.c}
	for _, f := range []struct {
		t   *famTable
		fam uint8
	}{{&x.v4, 4}, {&x.v6, 6}} {
		all := familyRules(l.c, f.fam)
		if hashed {
			*f.t = famTable{groups: buildGroups(l.c, f.fam, all)}
			if f.t.groups == nil {
				f.t.groups = []group{} // non-nil: an empty hashed table
			}
		} else {
			*f.t = famTable{linear: all}
		}
	}
	return x
}

// BenchmarkMatchSmall justifies groupCost for typical small ACLs.
func BenchmarkMatchSmall(b *testing.B) {
	for _, n := range []int{2, 16, 2 * groupCost, 64} {
		rules := bigACL(n)
		pkt := buildV4("10.9.0.1", "172.16.0.1", 6, 1000, 80, 0)
		lin := withTables(Compile(rules), false)
		hashed := withTables(Compile(rules), true)
		b.Run(fmt.Sprintf("linear-%d", n), func(b *testing.B) {
			for b.Loop() {
				lin.Match(pkt)
			}
		})
		b.Run(fmt.Sprintf("hashed-%d", n), func(b *testing.B) {
			for b.Loop() {
				hashed.Match(pkt)
			}
		})
	}
}

// BenchmarkMatchMixedLengths is the hard case for tuple space search: 1,000
// random rules with many distinct prefix length pairs.
func BenchmarkMatchMixedLengths(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 5))
	rules := make([]Rule, 1000)
	// No "any" or /0 sides, so that the packet below matches nothing and
	// every group (or rule) is visited.
	specific := func(p netip.Prefix, v6 bool) netip.Prefix {
		for !p.IsValid() || p.Bits() == 0 {
			p = randPrefix(rng, v6)
		}
		return p
	}
	for i := range rules {
		r := randRule(rng)
		v6 := r.Src.Addr().Is6() || r.Dst.Addr().Is6()
		r.Src, r.SrcAny = specific(r.Src, v6), false
		r.Dst, r.DstAny = specific(r.Dst, v6), false
		rules[i] = r
	}
	l := Compile(rules)
	pkt := buildV4("198.51.100.1", "198.51.100.2", 6, 1, 2, 0)
	if r, _ := l.Match(pkt); r != -1 {
		b.Fatalf("benchmark packet matched rule %d", r)
	}
	lin := withTables(l, false)
	hashed := withTables(l, true)
	b.Logf("IPv4 length-pair groups: %d", len(hashed.v4.groups))
	for name, l := range map[string]*List{"chosen": l, "linear": lin, "hashed": hashed} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				l.Match(pkt)
			}
		})
	}
}
