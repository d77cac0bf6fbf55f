package ike

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"tinyipsec/internal/nstest"
)

// TestMultihomedResponderLocal: two tinyipsec daemons, the responder on
// its default wildcard sockets with two addresses on the link, and the
// initiator talking to the secondary one. The responder must run the SA
// on the address it was reached at: status shows it as Local, its
// replies come from it, and the NAT-D hashes (which cover it) match, so
// neither side sees a NAT.
func TestMultihomedResponderLocal(t *testing.T) {
	nstest.Require(t, "ip", "sysctl")
	const secondary = "10.201.1.3"
	left, right := twoHosts(t)
	right.Run(t, "ip", "addr", "add", secondary+"/24", "dev", linkDev(t, right))
	r := startTinyipsec(t, right, tisConn{PSK: "multihome-psk", Peer: leftOuter, Initiate: "never",
		ACL: "permit ip " + rightSubnet + " " + leftSubnet})
	l := startTinyipsec(t, left, tisConn{PSK: "multihome-psk", Peer: secondary, Local: leftOuter, Listen: true})
	nstest.WaitFor(t, 30*time.Second, "both tinyipsec daemons established", func() bool {
		return l.established() && r.established()
	})
	for _, n := range []struct {
		node       *tisNode
		local, who string
	}{{r, secondary, "responder"}, {l, leftOuter, "initiator"}} {
		out, err := n.node.ns.Output(n.node.bin, "status", "-c", n.node.config, "--json")
		if err != nil {
			t.Fatal(err)
		}
		var s struct {
			IKESAs []struct {
				Local string `json:"local"`
				NATT  bool   `json:"nat_t"`
			} `json:"ike_sas"`
		}
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatal(err)
		}
		if len(s.IKESAs) != 1 || s.IKESAs[0].Local != n.local || s.IKESAs[0].NATT {
			t.Fatalf("%s status: want one IKE SA, local %s, no NAT-T:\n%s", n.who, n.local, out)
		}
	}
}

// linkDev names the veth end in ns (the interface holding a 10.201.1.x
// address).
func linkDev(t *testing.T, ns *nstest.NS) string {
	t.Helper()
	out := ns.Run(t, "ip", "-o", "-4", "addr", "show", "to", "10.201.1.0/24")
	f := strings.Fields(out) // "3: veth0    inet 10.201.1.2/24 ..."
	if len(f) < 2 {
		t.Fatalf("no link in %s: %q", ns.Name, out)
	}
	return strings.TrimSuffix(f[1], ":")
}
