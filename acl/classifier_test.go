package acl

import (
	"math/rand/v2"
	"testing"
)

func TestClassifierCiscoSemantics(t *testing.T) {
	// Entry 0 protects 10.1/16 -> 10.2/16 except the 10.1.5.0/24 subnet,
	// which entry 1 protects with a different peer. Entry 2 has no ACL.
	e0 := Compile(mustRules(t,
		"deny ip 10.1.5.0 0.0.0.255 any",
		"permit ip 10.1.0.0 0.0.255.255 10.2.0.0 0.0.255.255",
	))
	e1 := Compile(mustRules(t, "permit ip 10.1.5.0/24 10.2.0.0/16"))
	e3 := Compile(mustRules(t, "permit ip 2001:db8:1::/48 any6"))
	c := NewClassifier([]*List{e0, e1, nil, e3})
	tests := []struct {
		pkt         []byte
		entry, rule int
		ok          bool
	}{
		{buildV4("10.1.1.1", "10.2.0.1", 1, 0, 0, 0), 0, 1, true},
		{buildV4("10.1.5.1", "10.2.0.1", 1, 0, 0, 0), 1, 0, true}, // deny in entry 0 = try entry 1
		{buildV4("10.1.5.1", "10.3.0.1", 1, 0, 0, 0), -1, -1, false},
		{buildV6("2001:db8:1::1", "2001:db8:9::1", 17, 1, 2, nil, 0), 3, 0, true},
		{[]byte{0x45}, -1, -1, false},
	}
	for i, tc := range tests {
		e, r, ok := c.Classify(tc.pkt)
		if e != tc.entry || r != tc.rule || ok != tc.ok {
			t.Errorf("case %d: Classify = %d,%d,%v; want %d,%d,%v", i, e, r, ok, tc.entry, tc.rule, tc.ok)
		}
	}
}

func TestClassifierAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for range 30 {
		var ruleSets [][]Rule
		var lists []*List
		for range 1 + rng.IntN(5) {
			rules := make([]Rule, rng.IntN(50))
			for i := range rules {
				rules[i] = randRule(rng)
			}
			ruleSets = append(ruleSets, rules)
			lists = append(lists, Compile(rules))
		}
		c := NewClassifier(lists)
		for range 200 {
			tu := randTuple(rng)
			we, wr := -1, -1
			for i, rules := range ruleSets {
				if r, p := naiveMatch(rules, tu); p {
					we, wr = i, r
					break
				}
			}
			e, r, ok := c.Classify(tuplePacket(tu))
			if e != we || r != wr || ok != (we >= 0) {
				t.Fatalf("Classify(%+v) = %d,%d,%v; reference %d,%d", tu, e, r, ok, we, wr)
			}
		}
	}
}

func TestClassifyZeroAlloc(t *testing.T) {
	c := NewClassifier([]*List{Compile(bigACL(1000)), Compile(bigACL(10))})
	v4 := buildV4("10.3.230.9", "172.16.230.1", 6, 1000, 80, 0)
	v6 := buildV6("2001:db8:9::9", "2001:db8:ff::1", 6, 1000, 443, nil, 0)
	if n := testing.AllocsPerRun(100, func() { c.Classify(v4); c.Classify(v6) }); n != 0 {
		t.Errorf("Classify: %v allocs, want 0", n)
	}
}

func BenchmarkClassify(b *testing.B) {
	// Ten crypto map entries of 100 lines each; the packet is permitted by
	// the last line of the last entry.
	var lists []*List
	big := bigACL(1000)
	for i := range 10 {
		lists = append(lists, Compile(big[i*100:(i+1)*100]))
	}
	c := NewClassifier(lists)
	pkt := buildV4("10.3.230.9", "172.16.230.1", 6, 1000, 80, 0)
	if e, r, ok := c.Classify(pkt); e != 9 || r != 98 || !ok {
		b.Fatalf("Classify = %d,%d,%v", e, r, ok)
	}
	b.ReportAllocs()
	for b.Loop() {
		c.Classify(pkt)
	}
}
