// Package e2e holds end-to-end tests: two network namespaces joined by a
// veth pair, each running a tinyipsec data plane, with real traffic crossing
// the tunnel. The exported helpers let other tests run the same scenarios
// with a different way of starting the daemon.
package e2e

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"tinyipsec/internal/nstest"
	"tinyipsec/internal/testconf"
)

// Addresses of the two-namespace topology: inner networks on lo, outer
// addresses on the veth pair; an IPv6 variant uses ULA prefixes.
const (
	OuterA = "192.168.77.1"
	OuterB = "192.168.77.2"
	InnerA = "10.1.0.1"
	InnerB = "10.2.0.1"

	OuterA6 = "fd77::1"
	OuterB6 = "fd77::2"
	InnerA6 = "fd01::1"
	InnerB6 = "fd02::1"
)

// Case is one manually keyed tunnel between the namespaces.
type Case struct {
	Name string
	// ESP, ESPAuth and AH are the transform set's algorithms.
	ESP, ESPAuth, AH string
	Transport        bool
	V6               bool // IPv6 inside and outside
}

// Node is one side of the topology.
type Node struct {
	NS       *nstest.NS
	Veth     string
	Outer    string
	Inner    string
	InnerNet string // the inner prefix, as the crypto ACL names it
	Config   string // path of the generated TOML
	Control  string // control socket path
}

// Starter starts the daemon (or an equivalent) on node with its config and
// returns when it was started; the harness then waits for the TUN.
type Starter func(t *testing.T, n *Node)

// DaemonBinary skips the test where it cannot run (see nstest.Require:
// the daemon needs nft and the topology sysctl, tools names what else the
// test runs), then builds the daemon.
func DaemonBinary(t *testing.T, tools ...string) string {
	t.Helper()
	nstest.Require(t, append([]string{"nft", "sysctl"}, tools...)...)
	return nstest.Binary(t)
}

// Topology builds the two namespaces, the veth link and the inner
// addresses. label keeps namespace names unique per caller.
func Topology(t *testing.T, label string, v6 bool) (a, b *Node) {
	t.Helper()
	nsA := nstest.New(t, label+"-a")
	nsB := nstest.New(t, label+"-b")
	a = &Node{NS: nsA, Outer: OuterA, Inner: InnerA, InnerNet: "10.1.0.0/24"}
	b = &Node{NS: nsB, Outer: OuterB, Inner: InnerB, InnerNet: "10.2.0.0/24"}
	bits := "/24"
	if v6 {
		a.Outer, a.Inner, a.InnerNet = OuterA6, InnerA6, "fd01::/64"
		b.Outer, b.Inner, b.InnerNet = OuterB6, InnerB6, "fd02::/64"
		bits = "/64"
	}
	a.Veth, b.Veth = nstest.Link(t, nsA, nsB, a.Outer+bits, b.Outer+bits)
	for _, n := range []*Node{a, b} {
		args := []string{"addr", "add", n.Inner + bits, "dev", "lo"}
		if v6 {
			args = append(args, "nodad")
		}
		n.NS.Run(t, "ip", args...)
		// Strict reverse-path filtering would hide cleartext test packets
		// from the policy under test; the data plane does not rely on it.
		n.NS.Run(t, "sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0")
	}
	return a, b
}

// WriteConfig writes node's TOML for c: manual keys, the inner networks
// (transport mode: the outer addresses) protected; isA says whether n is A
// (A and B send under each other's SPIs and keys).
func WriteConfig(t *testing.T, c Case, n, peer *Node, isA bool) {
	t.Helper()
	local, remote := n.InnerNet, peer.InnerNet
	if c.Transport {
		local, remote = "host "+n.Outer, "host "+peer.Outer
	}
	m := testconf.Manual{Peer: peer.Outer, ESP: c.ESP, ESPAuth: c.ESPAuth, AH: c.AH, Transport: c.Transport,
		Rules: []string{"permit ip " + local + " " + remote}, B: !isA, Seed: c.Name}
	var err error
	if n.Config, n.Control, err = m.Write(t.TempDir()); err != nil {
		t.Fatal(err)
	}
}

// WireCounters installs, in n's namespace, an nftables ingress counter on
// the veth: IPsec packets, and cleartext IPv4 (TCP, UDP, ICMP) that should
// never be on the wire while the tunnel carries the test traffic.
func WireCounters(t *testing.T, n *Node) {
	t.Helper()
	script := fmt.Sprintf(`table netdev e2ewire {
	chain in {
		type filter hook ingress device %q priority 0; policy accept;
		meta protocol ip ip protocol { 50, 51 } counter name "protected"
		meta protocol ip6 ip6 nexthdr { 50, 51 } counter name "protected"
		meta protocol ip ip protocol { 1, 6, 17 } counter name "cleartext"
		meta protocol ip6 ip6 nexthdr { 6, 17 } counter name "cleartext"
		meta protocol ip6 icmpv6 type { echo-request, echo-reply } counter name "cleartext"
	}
	counter protected {}
	counter cleartext {}
}
`, n.Veth)
	cmd := n.NS.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v: %s", err, out)
	}
}

var packetsRe = regexp.MustCompile(`packets (\d+)`)

// Counter reads a named nftables counter's packet count.
func Counter(t *testing.T, n *Node, family, table, name string) uint64 {
	t.Helper()
	out := n.NS.Run(t, "nft", "list", "counter", family, table, name)
	m := packetsRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no packet count in %q", out)
	}
	v, _ := strconv.ParseUint(m[1], 10, 64)
	return v
}

// WaitTUN waits until the daemon on n has its TUN device up with routes.
func WaitTUN(t *testing.T, n *Node) {
	t.Helper()
	nstest.WaitFor(t, 20*time.Second, "ipsec0 with routes in "+n.NS.Name, func() bool {
		out, err := n.NS.Output("ip", "route", "show", "table", "all", "dev", "ipsec0")
		return err == nil && strings.TrimSpace(out) != ""
	})
}

// Ping pings dst from src inside n until a reply arrives (the first packets
// may be lost while the other side starts).
func Ping(t *testing.T, n *Node, src, dst string) {
	t.Helper()
	nstest.WaitFor(t, 15*time.Second, "ping "+dst+" from "+n.NS.Name, func() bool {
		_, err := n.NS.Output("ping", "-c", "1", "-W", "1", "-I", src, dst)
		return err == nil
	})
	if out, err := n.NS.Output("ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", src, dst); err != nil {
		t.Fatalf("ping %s: %v\n%s", dst, err, out)
	}
}

// Transfer sends size random bytes over TCP from client to server:port
// (server listening on dst) with socat and compares SHA-256 digests.
func Transfer(t *testing.T, client, server *Node, dst string, size int) {
	t.Helper()
	dir := t.TempDir()
	src, got := filepath.Join(dir, "src"), filepath.Join(dir, "got")
	data := make([]byte, size)
	if _, err := io.ReadFull(rand.Reader, data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	port := "5001"
	listen, connect := "TCP4-LISTEN:"+port+",bind="+dst, "TCP4:"+dst+":"+port
	if strings.Contains(dst, ":") {
		listen, connect = "TCP6-LISTEN:"+port+",bind=["+dst+"]", "TCP6:["+dst+"]:"+port
	}
	srv := server.NS.Start(t, "socat-server", nil, "socat", "-u", listen+",reuseaddr", "CREATE:"+got)
	nstest.WaitFor(t, 10*time.Second, "socat listening", func() bool {
		out, err := server.NS.Output("ss", "-Htln", "sport = :"+port)
		return err == nil && strings.TrimSpace(out) != ""
	})
	start := time.Now()
	if out, err := client.NS.Output("timeout", "120", "socat", "-u", "OPEN:"+src, connect); err != nil {
		t.Fatalf("socat client: %v\n%s", err, out)
	}
	if exited, err := srv.Wait(30 * time.Second); !exited || err != nil {
		t.Fatalf("socat server exited=%v err=%v\n%s", exited, err, srv.Output())
	}
	t.Logf("%d bytes in %v", size, time.Since(start).Round(time.Millisecond))
	recv, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(recv) != sha256.Sum256(data) {
		t.Fatalf("transfer corrupted: got %d bytes, sha256 %x, want %d bytes, %x", len(recv), sha256.Sum256(recv), len(data), sha256.Sum256(data))
	}
}

// WriteConfigs writes a's and b's TOML for c (a is the initiating side).
func WriteConfigs(t *testing.T, c Case, a, b *Node) {
	t.Helper()
	WriteConfig(t, c, a, b, true)
	WriteConfig(t, c, b, a, false)
}

// StartDaemons runs bin on b's and then a's configuration (b first, so
// that it answers when a initiates) and waits for both TUN devices.
func StartDaemons(t *testing.T, bin string, a, b *Node) (procA, procB *nstest.Proc) {
	t.Helper()
	procB = b.NS.Start(t, "tinyipsec-b", nil, bin, "run", "-c", b.Config)
	procA = a.NS.Start(t, "tinyipsec-a", nil, bin, "run", "-c", a.Config)
	WaitTUN(t, a)
	WaitTUN(t, b)
	return procA, procB
}

// RunManual runs case c: configs, daemons, ping, a 10 MB transfer, and the
// check that only ESP/AH crossed the wire.
func RunManual(t *testing.T, label string, c Case, start Starter) (a, b *Node) {
	a, b = Topology(t, label, c.V6)
	WriteConfigs(t, c, a, b)
	WireCounters(t, a)
	WireCounters(t, b)
	start(t, a)
	start(t, b)
	WaitTUN(t, a)
	WaitTUN(t, b)
	srcA, dstB := a.Inner, b.Inner
	if c.Transport {
		srcA, dstB = a.Outer, b.Outer
	}
	t0 := time.Now()
	Ping(t, a, srcA, dstB)
	t.Logf("ping after %v", time.Since(t0))
	Transfer(t, a, b, dstB, 10<<20)
	for _, n := range []*Node{a, b} {
		ipsec := Counter(t, n, "netdev", "e2ewire", "protected")
		clear := Counter(t, n, "netdev", "e2ewire", "cleartext")
		if ipsec == 0 || clear != 0 {
			t.Errorf("%s received on the wire: %d IPsec packets, %d cleartext packets (want >0 and 0)", n.NS.Name, ipsec, clear)
		}
	}
	return a, b
}

// CheckCleartextDropped sends cleartext from B's inner address to A's
// inner address straight over the veth (bypassing B's TUN with the data
// plane's bypass mark) and checks that A's cleartext policy dropped it.
func CheckCleartextDropped(t *testing.T, a, b *Node, bypassMark int) {
	t.Helper()
	host := a.Inner + "/32"
	if strings.Contains(a.Inner, ":") {
		host = a.Inner + "/128"
	}
	b.NS.Run(t, "ip", "route", "add", host, "via", a.Outer)
	before := policyDrops(t, a)
	_, err := b.NS.Output("ping", "-c", "2", "-i", "0.2", "-W", "1", "-m", strconv.Itoa(bypassMark), "-I", b.Inner, a.Inner)
	if err == nil {
		t.Error("cleartext ping to a protected address got a reply")
	}
	if after := policyDrops(t, a); after < before+2 {
		t.Errorf("cleartext policy drop counter went from %d to %d, want +2", before, after)
	}
	b.NS.Run(t, "ip", "route", "del", host, "via", a.Outer)
}

func policyDrops(t *testing.T, n *Node) uint64 {
	out := n.NS.Run(t, "nft", "list", "table", "inet", "tinyipsec")
	var sum uint64
	for _, m := range packetsRe.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseUint(m[1], 10, 64)
		sum += v
	}
	return sum
}
