package tun

import (
	"net/netip"
	"os"
	"strings"
	"testing"
)

// clearRule is a cleartext rule in the receiver's view (Src the remote
// side); mirror turns such rules back into the crypto ACL lines they
// come from.
type clearRule struct {
	Drop                 bool
	Proto                uint8
	Src, Dst             netip.Prefix
	SrcPortLo, SrcPortHi uint16
	DstPortLo, DstPortHi uint16
}

func mirror(entries [][]clearRule) []Entry {
	out := make([]Entry, len(entries))
	for i, rules := range entries {
		for _, r := range rules {
			out[i].Lines = append(out[i].Lines, Line{
				Permit: r.Drop, Proto: r.Proto, Src: r.Dst, Dst: r.Src,
				SrcPorts: [2]uint16{r.DstPortLo, r.DstPortHi}, DstPorts: [2]uint16{r.SrcPortLo, r.SrcPortHi},
			})
		}
	}
	return out
}

func testRules() [][]clearRule {
	p := netip.MustParsePrefix
	return [][]clearRule{
		{
			{Drop: false, Src: p("10.2.0.9/32"), Dst: p("10.1.0.0/24")}, // deny: exempt
			{Drop: true, Src: p("10.2.0.0/24"), Dst: p("10.1.0.0/24")},
		},
		{
			{Drop: true, Proto: 6, Src: p("2001:db8:2::/48"), Dst: p("2001:db8:1::/48"), DstPortLo: 80, DstPortHi: 80, SrcPortLo: 1024, SrcPortHi: 65535},
			{Drop: true, Src: p("10.0.0.0/8"), Dst: p("2001:db8::/32")}, // mixed families: never matches
			{Drop: true}, // any any
		},
	}
}

func TestCleartextScript(t *testing.T) {
	s := CleartextScript("tinyipsec", "ipsec0", 0x7a1, mirror(testRules()))
	for _, want := range []string{
		"table inet tinyipsec {}\ndelete table inet tinyipsec\n",
		"chain entry0 {\n\t\tip saddr 10.2.0.9/32 ip daddr 10.1.0.0/24 return\n\t\tip saddr 10.2.0.0/24 ip daddr 10.1.0.0/24 counter drop\n",
		"ip6 saddr 2001:db8:2::/48 ip6 daddr 2001:db8:1::/48 meta l4proto 6 th sport 1024-65535 th dport 80 counter drop",
		"meta nfproto { ipv4, ipv6 } counter drop",
		"iifname { \"ipsec0\", \"lo\" } return\n\t\tmeta l4proto { 50, 51 } return\n\t\tudp dport { 500, 4500 } return\n",
		"nd-neighbor-advert } return\n\t\tjump entry0\n\t\tjump entry1\n",
		"type filter hook forward",
		"type filter hook output priority filter - 10; policy accept;\n\t\toifname \"ipsec0\" meta mark 0x7a1 counter drop\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "10.0.0.0/8") {
		t.Errorf("mixed-family line rendered:\n%s", s)
	}
}

// TestCleartextPolicyLoads loads, replaces and removes the table in a
// namespace with the real nft.
func TestCleartextPolicyLoads(t *testing.T) {
	ns := testNS(t, "tun-nft", "nft")
	var p *CleartextPolicy
	var err error
	for range 2 { // the second load replaces the first
		inNS(t, ns, func() { p, err = InstallCleartextPolicy("tinyipsec", "ipsec0", 0x7a1, mirror(testRules())) })
		if err != nil {
			t.Fatal(err)
		}
	}
	out := ns.Run(t, "nft", "list", "ruleset")
	if strings.Count(out, "table inet tinyipsec") != 1 || !strings.Contains(out, "jump entry1") {
		t.Fatalf("ruleset:\n%s", out)
	}
	inNS(t, ns, func() { err = p.Remove() })
	if err != nil {
		t.Fatal(err)
	}
	if out := ns.Run(t, "nft", "list", "ruleset"); strings.Contains(out, "tinyipsec") {
		t.Fatalf("table left behind:\n%s", out)
	}
}

// TestCleartextScriptGolden: the script is byte for byte the one in
// testdata (written by the earlier fmt-based renderer) for rules with and
// without ports, single ports, protocols without ports, one side only,
// mixed families, an empty entry, a quoted interface name, and with and
// without the bypass mark.
func TestCleartextScriptGolden(t *testing.T) {
	p := netip.MustParsePrefix
	e := mirror(append(testRules(), []clearRule{
		{Proto: 17, Src: p("10.9.0.0/16"), SrcPortLo: 53, SrcPortHi: 53},
		{Proto: 17, Dst: p("10.9.1.1/32"), DstPortLo: 500},
		{Proto: 6, Dst: p("10.9.1.1/32"), DstPortLo: 0, DstPortHi: 65535, SrcPortLo: 7, SrcPortHi: 9},
		{Proto: 1, Src: p("192.0.2.0/24"), Dst: p("198.51.100.7/24"), Drop: true},
		{Proto: 58, Src: p("2001:db8::1/128")},
		{Proto: 50},
	}, nil))
	got := CleartextScript("tbl", "tun\"x", 0, e) + "\n=====\n" + CleartextScript("tinyipsec", "ipsec0", 0xdeadbeef, e) + CleartextScript("a", "b", 1, nil)
	want, err := os.ReadFile("testdata/cleartext_script.nft")
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("script differs from testdata/cleartext_script.nft:\n%s", got)
	}
}
