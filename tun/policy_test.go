package tun

import (
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestRoutesFor(t *testing.T) {
	pfx := netip.MustParsePrefix
	addrs := []netip.Prefix{pfx("192.0.2.1/24"), pfx("10.1.0.1/24"), pfx("2001:db8:1::1/64")}
	var warned []string
	warn := func(msg string, args ...any) { warned = append(warned, args[len(args)-1].(string)) }
	entries := []Entry{
		{Lines: []Line{
			{Permit: false, Src: pfx("10.1.0.0/24"), Dst: pfx("10.9.0.0/24"), Text: "deny"},
			{Permit: true, Src: pfx("10.1.0.0/24"), Dst: pfx("10.2.0.5/16"), Text: "a"},
			{Permit: true, Dst: pfx("10.3.0.0/16"), Text: "b"},                            // source any: no preferred source
			{Permit: true, Src: pfx("10.1.0.0/24"), Text: "to any"},                       // no route
			{Permit: true, Src: pfx("10.1.0.0/24"), Dst: pfx("0.0.0.0/0"), Text: "to /0"}, // no route
			{Permit: true, Src: pfx("2001:db8:1::/64"), Dst: pfx("2001:db8:2::/64"), Text: "v6"},
		}},
		{Lines: []Line{{Permit: true, Src: pfx("10.5.0.0/24"), Dst: pfx("10.2.0.0/16"), Text: "dup"}}},
		{Lines: []Line{{Permit: true, Dst: pfx("10.7.0.0/16")}}, OwnRoutes: true,
			Routes: []Route{{Dst: pfx("10.8.0.0/30"), IfIndex: 7, Table: Table}}},
		{OwnRoutes: true}, // a remote-access client without a lease
	}
	got := RoutesFor(entries, 7, addrs, warn)
	want := []Route{
		{Dst: pfx("10.2.0.0/16"), IfIndex: 7, Table: Table, Src: netip.MustParseAddr("10.1.0.1")},
		{Dst: pfx("10.3.0.0/16"), IfIndex: 7, Table: Table},
		{Dst: pfx("2001:db8:2::/64"), IfIndex: 7, Table: Table, Src: netip.MustParseAddr("2001:db8:1::1")},
		{Dst: pfx("10.8.0.0/30"), IfIndex: 7, Table: Table},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("routes\n got %+v\nwant %+v", got, want)
	}
	if strings.Join(warned, ",") != "to any,to /0" {
		t.Errorf("warned about %q", warned)
	}
}

// TestCleartextScriptMirrors: the script mirrors each line (what we send
// from Src to Dst must not arrive in the clear from Dst to Src), and every
// entry keeps its chain, even an empty one: the chains are jumped to by
// entry number.
func TestCleartextScriptMirrors(t *testing.T) {
	pfx := netip.MustParsePrefix
	s := CleartextScript("t", "ipsec0", BypassMark, []Entry{
		{Lines: []Line{
			{Permit: true, Proto: 6, Src: pfx("10.1.0.0/24"), Dst: pfx("10.2.0.0/24"), SrcPorts: [2]uint16{1024, 2000}, DstPorts: [2]uint16{80, 80}},
			{Permit: false, Dst: pfx("10.2.0.9/32")},
		}},
		{},
	})
	for _, want := range []string{
		"chain entry0 {\n\t\tip saddr 10.2.0.0/24 ip daddr 10.1.0.0/24 meta l4proto 6 th sport 80 th dport 1024-2000 counter drop\n\t\tip saddr 10.2.0.9/32 return\n\t}",
		"chain entry1 {\n\t}",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
}

// TestPathMTU: a route's own MTU wins, else its interface's (asked of
// the kernel each time), 0 without either.
func TestPathMTU(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skip("no loopback interface:", err)
	}
	r := &RTNL{}
	if got := r.PathMTU(Route{IfIndex: lo.Index}); got != lo.MTU {
		t.Errorf("interface route: MTU %d, want the interface's %d", got, lo.MTU)
	}
	if got := r.PathMTU(Route{IfIndex: lo.Index, MTU: 1400}); got != 1400 {
		t.Errorf("route with its own MTU: %d, want 1400", got)
	}
	if got := r.PathMTU(Route{IfIndex: 1 << 30}); got != 0 {
		t.Errorf("interface that does not exist: %d, want 0", got)
	}
	if got := r.PathMTU(Route{}); got != 0 {
		t.Errorf("no interface: %d, want 0", got)
	}
}
