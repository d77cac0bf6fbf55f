package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestCryptoACLDeny: a crypto ACL deny line means "not protected by this
// crypto map entry" (IOS), so its traffic crosses in cleartext while the
// rest of the ACL's traffic is encrypted. Both ends deny ICMP ahead of the
// permit line: ping crosses in the clear (the sender's data plane passes it
// around the TUN by the main table, the receiver's cleartext policy lets it
// in), TCP between the same hosts crosses as ESP only.
func TestCryptoACLDeny(t *testing.T) {
	bin := DaemonBinary(t, "ping", "socat", "ss")
	t.Run("ipv4", func(t *testing.T) { testDeny(t, bin, false) })
	t.Run("ipv6", func(t *testing.T) { testDeny(t, bin, true) })
}

// denyCounters count what arrives on the veth, per family.
const denyCounters4 = `
		meta protocol ip ip protocol 50 counter name "n_esp"
		meta protocol ip ip protocol icmp counter name "n_icmp"
		meta protocol ip ip protocol tcp counter name "n_tcp"`

const denyCounters6 = `
		meta protocol ip6 ip6 nexthdr 50 counter name "n_esp"
		meta protocol ip6 icmpv6 type { echo-request, echo-reply } counter name "n_icmp"
		meta protocol ip6 ip6 nexthdr tcp counter name "n_tcp"`

func testDeny(t *testing.T, bin string, v6 bool) {
	a, b := Topology(t, "deny", v6)
	c := Case{Name: "deny-icmp", ESP: "aes128gcm16", V6: v6}
	deny, counters := "deny icmp any any", denyCounters4
	if v6 {
		deny, counters = "deny icmp6 any any", denyCounters6
	}
	for _, n := range []struct {
		node, peer *Node
		isA        bool
	}{{a, b, true}, {b, a, false}} {
		WriteConfig(t, c, n.node, n.peer, n.isA)
		data, err := os.ReadFile(n.node.Config)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Replace(string(data), `rules = ["permit`, `rules = ["`+deny+`", "permit`, 1)
		if text == string(data) {
			t.Fatal("no rules line to add the deny line to")
		}
		if err := os.WriteFile(n.node.Config, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		// The main table's way to the other side's inner network: what
		// unprotected traffic follows (on a router, the default route).
		n.node.NS.Run(t, "ip", "route", "add", n.peer.InnerNet, "via", n.peer.Outer)
	}
	for _, n := range []*Node{a, b} {
		script := fmt.Sprintf(`table netdev e2edeny {
	chain in {
		type filter hook ingress device %q priority 0; policy accept;%s
	}
	counter n_esp {}
	counter n_icmp {}
	counter n_tcp {}
}
`, n.Veth, counters)
		cmd := n.NS.Command("nft", "-f", "-")
		cmd.Stdin = strings.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nft: %v: %s", err, out)
		}
		n.NS.Start(t, "tinyipsec", nil, bin, "run", "-c", n.Config)
	}
	WaitTUN(t, a)
	WaitTUN(t, b)

	Ping(t, a, a.Inner, b.Inner)
	if esp, icmp := Counter(t, b, "netdev", "e2edeny", "n_esp"), Counter(t, b, "netdev", "e2edeny", "n_icmp"); esp != 0 || icmp < 3 {
		t.Errorf("ping: B received %d ESP and %d cleartext ICMP packets; want none and every echo request", esp, icmp)
	}
	if icmp := Counter(t, a, "netdev", "e2edeny", "n_icmp"); icmp < 3 {
		t.Errorf("A received %d cleartext ICMP replies", icmp)
	}

	Transfer(t, a, b, b.Inner, 1<<20)
	for _, n := range []*Node{a, b} {
		esp, tcp := Counter(t, n, "netdev", "e2edeny", "n_esp"), Counter(t, n, "netdev", "e2edeny", "n_tcp")
		if esp == 0 || tcp != 0 {
			t.Errorf("%s received %d ESP and %d cleartext TCP packets; want TCP only inside ESP", n.NS.Name, esp, tcp)
		}
		st := MustStatus(t, bin, n)
		if st.Bypassed < 3 || st.Drops["no_policy"] != 0 {
			t.Errorf("%s status: %d packets bypassed, drops %v; want the ICMP counted as bypassed", n.NS.Name, st.Bypassed, st.Drops)
		}
	}
	if !v6 {
		checkLoopGuard(t, bin, a, b)
	}
}

// checkLoopGuard points A's main table at the TUN for B's inner network,
// as an admin might for an "any" ACL: the cleartext ping would then loop
// between the TUN and the bypass socket forever. The loop guard drops it
// at the first turn.
func checkLoopGuard(t *testing.T, bin string, a, b *Node) {
	t.Helper()
	a.NS.Run(t, "ip", "route", "replace", b.InnerNet, "dev", "ipsec0")
	bypassed := func() uint64 { return MustStatus(t, bin, a).Bypassed }
	before := bypassed()
	if _, err := a.NS.Output("ping", "-c", "3", "-i", "0.2", "-W", "1", "-I", a.Inner, b.Inner); err == nil {
		t.Error("ping crossed although the main table routes it into the TUN")
	}
	out := a.NS.Run(t, "nft", "list", "chain", "inet", "tinyipsec", "output")
	m := packetsRe.FindStringSubmatch(out)
	if m == nil || m[1] == "0" {
		t.Errorf("loop guard dropped nothing:\n%s", out)
	}
	if n := bypassed() - before; n < 3 || n > 10 {
		t.Errorf("%d packets bypassed for 3 echo requests: looping?", n)
	}
}
