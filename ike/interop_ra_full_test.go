package ike

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"tinyipsec/internal/nstest"
)

// TestInteropRAFullTunnel: a charon gateway that protects 0.0.0.0/0 sends
// no split network, so everything from the client goes through the
// tunnel (two half-default routes into the TUN), while IKE and ESP to the
// gateway keep the direct path: the Quick Mode after the routes went in
// crossed it, and the route look-up with tinyipsec's socket mark still
// leaves by the link.
func TestInteropRAFullTunnel(t *testing.T) {
	requireXAuthGeneric(t)
	left, right := raTwoHosts(t)
	startRACharon(t, right, raCharon{Gateway: true, LocalAddr: rightOuter, Split: "0.0.0.0/0", Pool: raPoolNet,
		DNS: raDNS, PSK: raGroupKey, User: "alice", Password: raPassword})
	tis := startRATinyipsec(t, left, fmt.Sprintf("peer = %q\nlocal = %q\nxauth_user = \"alice\"\nxauth_password = %q\n",
		rightOuter, leftOuter, raPassword))
	var st *raStatus
	nstest.WaitFor(t, 30*time.Second, "remote-access SA active with its IPsec SA", func() bool {
		st = tis.raStatus(t)
		return len(st.IKESAs) == 1 && st.IKESAs[0].RemoteAccess == "active" && len(st.IPsecSAs) == 1
	})
	vip := st.IKESAs[0].Assigned
	if len(st.IKESAs[0].Split) != 0 || st.IPsecSAs[0].LocalSelector != vip+"/32" || st.IPsecSAs[0].RemoteSelector != "0.0.0.0/0" {
		t.Fatalf("full tunnel: split %v, selectors %s -> %s", st.IKESAs[0].Split, st.IPsecSAs[0].LocalSelector, st.IPsecSAs[0].RemoteSelector)
	}
	// Both the protected network and the other address now go through
	// the tunnel.
	for _, dst := range []string{rightInner, raOutside} {
		before := pktsOut(tis.raStatus(t))
		if out, err := left.Output("ping", "-c", "1", "-W", "2", dst); err != nil {
			t.Fatalf("ping %s through the full tunnel: %v %s", dst, err, out)
		}
		if after := pktsOut(tis.raStatus(t)); after == before {
			t.Fatalf("ping to %s did not use the IPsec SA", dst)
		}
	}
	// The gateway itself stays reachable for tinyipsec's own packets
	// (marked 0x7a1), while other traffic to it enters the TUN.
	if out := left.Run(t, "ip", "route", "get", rightOuter, "mark", "0x7a1"); strings.Contains(out, "ipsec0") {
		t.Fatalf("IKE/ESP to the gateway would enter the tunnel: %s", out)
	}
	if out := left.Run(t, "ip", "route", "get", rightOuter); !strings.Contains(out, "ipsec0") {
		t.Fatalf("unmarked traffic to the gateway bypasses the full tunnel: %s", out)
	}
}
