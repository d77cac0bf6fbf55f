package acl

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestParseRule(t *testing.T) {
	p := netip.MustParsePrefix
	anyP := AnyPort
	tests := []struct {
		line string
		want Rule
	}{
		{"permit ip any any", Rule{Permit: true, SrcAny: true, DstAny: true, SrcPorts: anyP, DstPorts: anyP}},
		{"deny ip any any", Rule{SrcAny: true, DstAny: true, SrcPorts: anyP, DstPorts: anyP}},
		{"PERMIT IP ANY ANY", Rule{Permit: true, SrcAny: true, DstAny: true, SrcPorts: anyP, DstPorts: anyP}},
		{"  permit   ip\t10.1.0.0 0.0.0.255  10.2.0.0 0.0.255.255  ", Rule{Permit: true, Src: p("10.1.0.0/24"), Dst: p("10.2.0.0/16"), SrcPorts: anyP, DstPorts: anyP}},
		{"permit ip 10.1.0.0/24 10.2.0.0/16", Rule{Permit: true, Src: p("10.1.0.0/24"), Dst: p("10.2.0.0/16"), SrcPorts: anyP, DstPorts: anyP}},
		{"permit ip 10.1.0.9 0.0.0.255 host 10.2.0.1", Rule{Permit: true, Src: p("10.1.0.0/24"), Dst: p("10.2.0.1/32"), SrcPorts: anyP, DstPorts: anyP}},
		{"permit ip 10.1.0.9/24 any", Rule{Permit: true, Src: p("10.1.0.0/24"), DstAny: true, SrcPorts: anyP, DstPorts: anyP}},
		{"permit ip 10.1.0.0 0.0.0.0 any", Rule{Permit: true, Src: p("10.1.0.0/32"), DstAny: true, SrcPorts: anyP, DstPorts: anyP}},
		{"permit ip 10.1.0.0 255.255.255.255 any", Rule{Permit: true, Src: p("0.0.0.0/0"), DstAny: true, SrcPorts: anyP, DstPorts: anyP}},
		{"permit ip any4 any", Rule{Permit: true, Src: p("0.0.0.0/0"), DstAny: true, SrcPorts: anyP, DstPorts: anyP}},
		{"permit ip any any6", Rule{Permit: true, SrcAny: true, Dst: p("::/0"), SrcPorts: anyP, DstPorts: anyP}},
		{"permit ip 2001:db8:1::/48 2001:db8:2::1/64", Rule{Permit: true, Src: p("2001:db8:1::/48"), Dst: p("2001:db8:2::/64"), SrcPorts: anyP, DstPorts: anyP}},
		{"permit ipv6-icmp host 2001:db8::1 any", Rule{Permit: true, Proto: 58, Src: p("2001:db8::1/128"), DstAny: true, SrcPorts: anyP, DstPorts: anyP}},
		{"permit ipv6 any any", Rule{Permit: true, Src: p("::/0"), Dst: p("::/0"), SrcPorts: anyP, DstPorts: anyP}},
		{"permit ipv6 2001:db8::/32 any", Rule{Permit: true, Src: p("2001:db8::/32"), Dst: p("::/0"), SrcPorts: anyP, DstPorts: anyP}},
		{"permit icmp6 any any", Rule{Permit: true, Proto: 58, SrcAny: true, DstAny: true, SrcPorts: anyP, DstPorts: anyP}},
		{"permit icmp any any log", Rule{Permit: true, Proto: 1, SrcAny: true, DstAny: true, SrcPorts: anyP, DstPorts: anyP}},
		{"permit esp any any log-input", Rule{Permit: true, Proto: 50, SrcAny: true, DstAny: true, SrcPorts: anyP, DstPorts: anyP}},
		{"permit ahp any any", Rule{Permit: true, Proto: 51, SrcAny: true, DstAny: true, SrcPorts: anyP, DstPorts: anyP}},
		{"permit ah any any", Rule{Permit: true, Proto: 51, SrcAny: true, DstAny: true, SrcPorts: anyP, DstPorts: anyP}},
		{"permit gre any any", Rule{Permit: true, Proto: 47, SrcAny: true, DstAny: true, SrcPorts: anyP, DstPorts: anyP}},
		{"permit 47 any any", Rule{Permit: true, Proto: 47, SrcAny: true, DstAny: true, SrcPorts: anyP, DstPorts: anyP}},
		{"permit 0 any any", Rule{Permit: true, SrcAny: true, DstAny: true, SrcPorts: anyP, DstPorts: anyP}},
		{"permit 255 any any", Rule{Permit: true, Proto: 255, SrcAny: true, DstAny: true, SrcPorts: anyP, DstPorts: anyP}},
		{"permit udp host 10.1.0.5 10.2.0.0/24 range 5000 5100", Rule{Permit: true, Proto: 17, Src: p("10.1.0.5/32"), Dst: p("10.2.0.0/24"), SrcPorts: anyP, DstPorts: PortRange{5000, 5100}}},
		{"permit tcp any eq www any", Rule{Permit: true, Proto: 6, SrcAny: true, DstAny: true, SrcPorts: PortRange{80, 80}, DstPorts: anyP}},
		{"permit tcp any any eq https", Rule{Permit: true, Proto: 6, SrcAny: true, DstAny: true, SrcPorts: anyP, DstPorts: PortRange{443, 443}}},
		{"permit tcp any lt 1024 any gt 1023", Rule{Permit: true, Proto: 6, SrcAny: true, DstAny: true, SrcPorts: PortRange{0, 1023}, DstPorts: PortRange{1024, 65535}}},
		{"permit udp any eq isakmp any eq non500-isakmp", Rule{Permit: true, Proto: 17, SrcAny: true, DstAny: true, SrcPorts: PortRange{500, 500}, DstPorts: PortRange{4500, 4500}}},
		{"permit udp any any EQ Domain", Rule{Permit: true, Proto: 17, SrcAny: true, DstAny: true, SrcPorts: anyP, DstPorts: PortRange{53, 53}}},
		{"permit sctp any any range 1 65535", Rule{Permit: true, Proto: 132, SrcAny: true, DstAny: true, SrcPorts: anyP, DstPorts: PortRange{1, 65535}}},
	}
	for _, tc := range tests {
		got, err := ParseRule(tc.line)
		if err != nil {
			t.Errorf("ParseRule(%q): %v", tc.line, err)
			continue
		}
		tc.want.Text = strings.TrimSpace(tc.line)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseRule(%q)\n got %+v\nwant %+v", tc.line, got, tc.want)
		}
	}
}

func TestParseRuleErrors(t *testing.T) {
	tests := []struct{ line, want string }{
		{"", "empty rule"},
		{"   ", "empty rule"},
		{"allow ip any any", `unknown action "allow" (want permit or deny)`},
		{"10 permit ip any any", `unknown action "10" (want permit or deny)`},
		{"permit", "missing protocol"},
		{"permit tpc any any", `unknown protocol "tpc"`},
		{"permit ipv6 10.0.0.0/8 any", "ipv6 with IPv4 addresses (use ip)"},
		{"permit ipv6 any eq 80 any", `port operator "eq" needs tcp, udp or sctp`},
		{"permit 256 any any", "protocol 256 out of range 0-255"},
		{"permit -1 any any", `unknown protocol "-1"`},
		{"permit ip", "missing source address"},
		{"permit ip any", "missing destination address"},
		{"permit ip host", "missing address after host"},
		{"permit ip host 10.1.0.300 any", `invalid address "10.1.0.300"`},
		{"permit ip host fe80::1%eth0 any", `invalid address "fe80::1%eth0"`},
		{"permit ip 10.1.0.0/33 any", `invalid prefix "10.1.0.0/33"`},
		{"permit ip 10.1.0.0/ any", `invalid prefix "10.1.0.0/"`},
		{"permit ip 2001:db8::/129 any", `invalid prefix "2001:db8::/129"`},
		{"permit ip 10.1.0.0 any", `invalid wildcard "any"`},
		{"permit ip any 10.1.0.0", "missing wildcard after 10.1.0.0"},
		{"permit ip 10.1.0.0 0.0.255.0 any", "wildcard 0.0.255.0 is not contiguous"},
		{"permit ip 10.1.0.0 255.255.255.0 any", "wildcard 255.255.255.0 is not contiguous (a netmask? use 0.0.0.255)"},
		{"permit ip 10.1.0.0 ::1 any", `invalid wildcard "::1"`},
		{"permit ip 2001:db8:: any", "IPv6 address 2001:db8:: needs /LEN or host"},
		{"permit ip bogus any", `invalid address "bogus"`},
		{"permit ip 10.1.0.0/24 2001:db8::/32", "source and destination are different address families"},
		{"permit ip any4 any6", "source and destination are different address families"},
		{"permit icmp 2001:db8::/32 any", "icmp with IPv6 addresses (use icmp6)"},
		{"permit icmp6 any 10.0.0.0/8", "icmp6 with IPv4 addresses (use icmp)"},
		{"permit ip any eq 80 any", `port operator "eq" needs tcp, udp or sctp`},
		{"permit icmp any any eq 80", `port operator "eq" needs tcp, udp or sctp`},
		{"permit tcp any neq 80 any", "neq is not allowed in a crypto ACL (a proxy ID is one port range); use lt and gt lines"},
		{"permit tcp any eq", "missing port after eq"},
		{"permit tcp any eq any", `unknown port "any"`},
		{"permit tcp any eq wwww any", `unknown port "wwww"`},
		{"permit tcp any eq 65536 any", "port 65536 out of range 0-65535"},
		{"permit tcp any range 100 any", `unknown port "any"`},
		{"permit tcp any range 200 100 any", "range 200 100 is reversed"},
		{"permit tcp any lt 0 any", "lt 0 matches no port"},
		{"permit tcp any gt 65535 any", "gt 65535 matches no port"},
		{"permit tcp any eq 0 any", "port 0 cannot be matched"},
		{"permit tcp any lt 1 any", "port 0 cannot be matched"},
		{"permit tcp any any eq 80 443", `unexpected "443"`},
		{"permit tcp any any established", `unexpected "established"`},
		{"permit ip any any log extra", `unexpected "extra"`},
	}
	for _, tc := range tests {
		_, err := ParseRule(tc.line)
		if err == nil {
			t.Errorf("ParseRule(%q): no error, want %q", tc.line, tc.want)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("ParseRule(%q)\n got error %q\nwant error %q", tc.line, err, tc.want)
		}
	}
}

func TestParseRuleRemark(t *testing.T) {
	if _, err := ParseRule("remark traffic to branch 2"); !errors.Is(err, ErrRemark) {
		t.Fatalf("remark: err = %v, want ErrRemark", err)
	}
}

func FuzzParseRule(f *testing.F) {
	for _, s := range []string{
		"permit ip any any",
		"deny tcp 10.1.0.0 0.0.0.255 eq www host 10.2.0.1 range 1000 2000 log",
		"permit udp 2001:db8::/32 lt 1024 any6 gt 1023",
		"permit 47 any4 10.0.0.0/8",
		"permit ip 10.1.0.0 0.0.255.0 any",
		"permit tcp any neq 80 any",
		"remark x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, err := ParseRule(line)
		if err != nil {
			if !reflect.DeepEqual(r, Rule{}) {
				t.Fatalf("error %v with non-zero rule %+v", err, r)
			}
			return
		}
		// Invariants every consumer relies on.
		for _, side := range []struct {
			p     netip.Prefix
			isAny bool
		}{{r.Src, r.SrcAny}, {r.Dst, r.DstAny}} {
			if side.isAny != !side.p.IsValid() {
				t.Fatalf("%q: any=%v but prefix %v", line, side.isAny, side.p)
			}
			if side.p.IsValid() && side.p != side.p.Masked() {
				t.Fatalf("%q: prefix %v not masked", line, side.p)
			}
		}
		if !hasPorts(r.Proto) && (!r.SrcPorts.Any() || !r.DstPorts.Any()) {
			t.Fatalf("%q: ports on protocol %d", line, r.Proto)
		}
		for _, pr := range []PortRange{r.SrcPorts, r.DstPorts} {
			if pr.Lo > pr.Hi || (pr.Lo == 0 && pr.Hi == 0) {
				t.Fatalf("%q: bad port range %+v", line, pr)
			}
		}
		// Re-parsing the canonical text is stable.
		r2, err := ParseRule(r.Canonical())
		if err != nil {
			t.Fatalf("%q: String() %q does not parse: %v", line, r.Canonical(), err)
		}
		r2.Text = r.Text
		if !reflect.DeepEqual(r2, r) {
			t.Fatalf("%q: round trip via %q\n got %+v\nwant %+v", line, r.Canonical(), r2, r)
		}
	})
}
