package dataplane

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"

	"tinyipsec/conf"
	"tinyipsec/e2e"
	"tinyipsec/internal/logx"
	"tinyipsec/internal/nstest"
	"tinyipsec/tun"
)

// The data plane tests run Start in a copy of the test binary
// inside each namespace (a helper process), so they exercise the data
// plane without the rest of the daemon. The e2e package runs the same
// scenarios through `tinyipsec run`.

const dataplaneHelperEnv = "TINYIPSEC_DATAPLANE_HELPER_CONFIG"

func TestDataplaneHelperProcess(t *testing.T) {
	path := os.Getenv(dataplaneHelperEnv)
	if path == "" {
		t.Skip("only runs as a helper process of the data plane tests")
	}
	cfg, err := conf.Load(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	logger := logx.New(os.Stderr, nil)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	d, err := Start(cfg, logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, "start:", err)
		os.Exit(1)
	}
	<-ctx.Done()
	d.Close()
	os.Exit(0)
}

func startHelper(t *testing.T, n *e2e.Node) {
	n.NS.Start(t, "dataplane", []string{dataplaneHelperEnv + "=" + n.Config},
		os.Args[0], "-test.run=^TestDataplaneHelperProcess$")
}

// TestDataplaneManual carries ping and a 10 MB TCP transfer over manually
// keyed SAs and checks the inbound cleartext policy. The e2e package runs
// every transform combination through the CLI; here one tunnel and one
// transport case keep the data plane covered on its own.
func TestDataplaneManual(t *testing.T) {
	nstest.Require(t, "ip", "nft", "ping", "socat", "ss", "sysctl")
	for _, c := range []e2e.Case{
		{Name: "esp-gcm-tunnel", ESP: "aes128gcm16"},
		{Name: "esp-cbc-transport", ESP: "aes256", ESPAuth: "sha256", Transport: true},
		{Name: "ah-tunnel-v6", AH: "sha512", V6: true},
	} {
		t.Run(c.Name, func(t *testing.T) {
			a, b := e2e.RunManual(t, "dp", c, startHelper)
			if !c.Transport {
				e2e.CheckCleartextDropped(t, a, b, tun.BypassMark)
			}
		})
	}
}

// TestDataplanePathMTU: with a WAN MTU too small for the TUN MTU plus the
// ESP overhead, a DF packet (any IPv6 packet) that fits the TUN but not the
// wire is answered with ICMP "fragmentation needed" / ICMPv6 "packet too
// big", the sender's kernel learns the path MTU and TCP still gets
// through; an IPv4 packet without DF is fragmented before encryption.
func TestDataplanePathMTU(t *testing.T) {
	nstest.Require(t, "ip", "nft", "ping", "socat", "ss", "sysctl")
	for _, v6 := range []bool{false, true} {
		name := map[bool]string{false: "ipv4", true: "ipv6"}[v6]
		t.Run(name, func(t *testing.T) {
			c := e2e.Case{Name: "pmtu", ESP: "aes256", ESPAuth: "sha256", V6: v6}
			a, b := e2e.Topology(t, "dpmtu", v6)
			e2e.WriteConfig(t, c, a, b, true)
			e2e.WriteConfig(t, c, b, a, false)
			for _, n := range []*e2e.Node{a, b} {
				n.NS.Run(t, "ip", "link", "set", n.Veth, "mtu", "1300")
				startHelper(t, n)
			}
			e2e.WaitTUN(t, a)
			e2e.WaitTUN(t, b)
			e2e.Ping(t, a, a.Inner, b.Inner)
			if !v6 {
				// Without DF (and before the kernel knows a path MTU) the
				// packet is fragmented before encryption and arrives.
				if out, err := a.NS.Output("ping", "-c", "2", "-i", "0.2", "-W", "2", "-M", "dont", "-s", "1300", "-I", a.Inner, b.Inner); err != nil {
					t.Fatalf("oversized ping without DF: %v\n%s", err, out)
				}
			}
			out, err := a.NS.Output("ping", "-c", "1", "-W", "2", "-M", "do", "-s", "1300", "-I", a.Inner, b.Inner)
			if err == nil || !strings.Contains(strings.ToLower(out), "mtu") {
				t.Fatalf("oversized DF ping: err=%v, want a too-big report:\n%s", err, out)
			}
			t.Logf("%s", out)
			route := a.NS.Run(t, "ip", "route", "get", b.Inner, "from", a.Inner)
			t.Logf("%s", route)
			if !strings.Contains(route, "mtu") {
				t.Fatalf("no path MTU learnt: %s", route)
			}
			e2e.Transfer(t, a, b, b.Inner, 1<<20)
		})
	}
}
