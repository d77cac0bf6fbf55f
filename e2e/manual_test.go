package e2e

import (
	"testing"

	"tinyipsec/tun"
)

// bypassMark is the data plane's SO_MARK for its own ESP/AH/IKE sockets;
// the cleartext check borrows it to send around the TUN.
const bypassMark = tun.BypassMark

// manualCases are the transform combinations every release must carry.
var manualCases = []Case{
	{Name: "esp-gcm-tunnel", ESP: "aes128gcm16"},
	{Name: "esp-cbc-transport", ESP: "aes256", ESPAuth: "sha256", Transport: true},
	{Name: "ah-tunnel", AH: "sha256"},
	{Name: "ah-esp-tunnel", ESP: "aes256", ESPAuth: "sha256", AH: "sha256"},
	{Name: "esp-gcm-tunnel-v6", ESP: "aes256gcm16", V6: true},
	{Name: "ah-esp-transport-v6", ESP: "aes128", ESPAuth: "sha1", AH: "sha256", Transport: true, V6: true},
}

// TestManualKeying runs `tinyipsec run` in two namespaces with manually
// keyed crypto maps and carries ping and a 10 MB TCP transfer through each
// transform combination; only ESP/AH may appear on the wire, and cleartext
// for a protected pair of addresses is dropped by the receiver.
func TestManualKeying(t *testing.T) {
	bin := DaemonBinary(t, "ping", "socat", "ss")
	start := func(t *testing.T, n *Node) {
		n.NS.Start(t, "tinyipsec", nil, bin, "run", "-c", n.Config)
	}
	for _, c := range manualCases {
		t.Run(c.Name, func(t *testing.T) {
			a, b := RunManual(t, "e2e", c, start)
			if !c.Transport {
				CheckCleartextDropped(t, a, b, bypassMark)
			}
			for _, n := range []*Node{a, b} {
				st := MustStatus(t, bin, n)
				if len(st.IPsecSAs) != 1 {
					t.Fatalf("status lists %d IPsec SAs, want 1: %+v", len(st.IPsecSAs), st.IPsecSAs)
				}
				sa := st.IPsecSAs[0]
				if sa.Keying != "manual" || sa.PktsIn == 0 || sa.PktsOut == 0 {
					t.Errorf("status SA %+v: want manual keying with traffic both ways", sa)
				}
			}
		})
	}
}
