// Package memtest measures the resident memory of `tinyipsec run` with one
// manually keyed tunnel up and with 100, the numbers that decide whether a
// 64 MB router can carry it. Run alone with:
//
//	go test -v -run Memory ./cross/memtest/
package memtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"tinyipsec/e2e"
	"tinyipsec/internal/nstest"
	"tinyipsec/internal/testconf"
)

// node is one side of the two-namespace topology.
type node struct {
	ns      *nstest.NS
	outer   string // address on the veth
	side    string // "1" (A) or "2" (B): inner networks are 10.side.i.0/24
	config  string
	control string
}

// topology links two fresh namespaces with a veth pair.
func topology(t *testing.T, label string) (a, b *node) {
	t.Helper()
	a = &node{ns: nstest.New(t, label+"-a"), outer: "192.168.78.1", side: "1"}
	b = &node{ns: nstest.New(t, label+"-b"), outer: "192.168.78.2", side: "2"}
	nstest.Link(t, a.ns, b.ns, a.outer+"/24", b.outer+"/24")
	for _, n := range []*node{a, b} {
		// Strict reverse-path filtering is not what is measured here.
		n.ns.Run(t, "sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0")
	}
	return a, b
}

// The product's memory budget (the figures the README promises); the
// measured values are logged. A 64 MB router has roughly 25-35 MB free
// after boot.
const (
	maxRSSOneTunnel = 8 << 20  // bytes of VmRSS with one tunnel up
	maxPerTunnel    = 64 << 10 // bytes of VmRSS per further tunnel
)

// memory is what /proc/PID/status says about the daemon.
type memory nstest.Memory

func (m memory) String() string {
	return fmt.Sprintf("VmRSS %s, RssAnon %s, VmHWM %s", kib(m.RSS), kib(m.Anon), kib(m.HWM))
}

func kib(b int64) string { return strconv.FormatInt(b>>10, 10) + " KiB" }

func TestMemoryFootprint(t *testing.T) {
	nstest.Require(t, "ip", "ping", "sysctl")
	bin := releaseBinary(t)

	one := measure(t, bin, "mem1", 1)
	hundred := measure(t, bin, "mem100", 100)
	perRSS := (hundred.RSS - one.RSS) / 99
	perAnon := (hundred.Anon - one.Anon) / 99
	t.Logf("1 tunnel:    %v", one)
	t.Logf("100 tunnels: %v", hundred)
	t.Logf("per additional tunnel: VmRSS %+d bytes, RssAnon %+d bytes", perRSS, perAnon)

	if one.RSS > maxRSSOneTunnel {
		t.Errorf("one tunnel: VmRSS %s, budget %s", kib(one.RSS), kib(maxRSSOneTunnel))
	}
	if perRSS > maxPerTunnel {
		t.Errorf("%d bytes of VmRSS per tunnel, budget %d", perRSS, maxPerTunnel)
	}
}

// releaseBinary is the stripped static amd64 binary of `make cross` when
// `make test` passes its build directory (what a router runs), otherwise a
// fresh build of the module.
func releaseBinary(t *testing.T) string {
	if dir := os.Getenv("TINYIPSEC_BUILD_DIR"); dir != "" {
		p := filepath.Join(dir, "x86_64", "tinyipsec")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return nstest.Binary(t)
}

// measure starts the daemon on both sides of a two-namespace topology with n
// manually keyed crypto maps, pings through the first and the last one, and
// returns the memory of side A's daemon.
func measure(t *testing.T, bin, label string, n int) memory {
	t.Helper()
	var m memory
	t.Run(fmt.Sprintf("%d-tunnels", n), func(t *testing.T) {
		a, b := topology(t, label)
		writeConfig(t, a, b, n)
		writeConfig(t, b, a, n)
		// What the init script gives the daemon on a router.
		env := []string{"GOMEMLIMIT=24MiB", "GOGC=50"}
		probe := []int{1} // the first and the last tunnel carry a ping
		if n > 1 {
			probe = append(probe, n)
		}
		var daemonA *nstest.Proc
		for _, nd := range []*node{a, b} {
			for _, i := range probe {
				nd.ns.Run(t, "ip", "addr", "add", inner(nd.side, i)+"/32", "dev", "lo")
			}
			p := nd.ns.Start(t, "tinyipsec", env, bin, "run", "-c", nd.config)
			if nd == a {
				daemonA = p
			}
		}
		for _, nd := range []*node{a, b} {
			nstest.WaitFor(t, 20*time.Second, fmt.Sprintf("%d IPsec SAs in %s", n, nd.ns.Name), func() bool {
				return countSAs(bin, nd) == n
			})
		}
		for _, i := range probe {
			src, dst := inner("1", i), inner("2", i)
			nstest.WaitFor(t, 20*time.Second, "ping "+dst+" from "+src+" through the tunnel", func() bool {
				_, err := a.ns.Output("ping", "-c", "1", "-W", "1", "-I", src, dst)
				return err == nil
			})
		}
		m = memory(nstest.ReadMemory(t, daemonA.PID()))
	})
	if m.RSS == 0 {
		t.FailNow()
	}
	return m
}

// inner is host .1 of side ("1" = A, "2" = B) network 10.side.i.0/24.
func inner(side string, i int) string { return fmt.Sprintf("10.%s.%d.1", side, i) }

// writeConfig writes n crypto maps CMAP 10..n*10, map i protecting
// 10.1.i.0/24 <-> 10.2.i.0/24 with AES-GCM under its own SPIs and keys.
func writeConfig(t *testing.T, nd, peer *node, n int) {
	t.Helper()
	m := testconf.Manual{LogLevel: "info", Peer: peer.outer, ESP: "aes128gcm16", B: nd.side != "1"}
	for i := 1; i <= n; i++ {
		m.Rules = append(m.Rules, fmt.Sprintf("permit ip 10.%s.%d.0 0.0.0.255 10.%s.%d.0 0.0.0.255", nd.side, i, peer.side, i))
	}
	var err error
	if nd.config, nd.control, err = m.Write(t.TempDir()); err != nil {
		t.Fatal(err)
	}
}

// countSAs is the number of IPsec SAs n's daemon lists (-1: no answer).
func countSAs(bin string, n *node) int {
	st, err := e2e.Status(bin, n.ns, n.config)
	if err != nil {
		return -1
	}
	return len(st.IPsecSAs)
}
