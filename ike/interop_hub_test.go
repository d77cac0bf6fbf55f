package ike

// A hub with a dynamic crypto map and many spokes, each in its own
// namespace (or behind a NAT router), all reaching the hub through a
// "wan" router namespace. What the tests prove is isolation: every spoke's
// traffic is carried on its own SAs, and the hub's replies leave encrypted
// to that spoke's outer address and no other (tcpdump on the hub's one
// outer interface).

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"tinyipsec/internal/nstest"
)

// Addresses of the hub topology. Site k (1..250) is 10.204.k.0/24 on the
// router's side; spoke inner addresses are 10.212.k.j.
const (
	hubOuter  = "10.203.0.1"
	hubRouter = "10.203.0.254"
	hubInner  = "10.222.0.1"
	hubPSK    = "hub-and-spoke-psk"
)

// hubLab is the router, the hub and the sites hanging off the router.
type hubLab struct {
	router, hub *nstest.NS
	hubIf       string // the hub's outer interface
	hubNode     *tisNode
	sites       int
}

func newHubLab(t *testing.T) *hubLab {
	t.Helper()
	l := &hubLab{router: nstest.New(t, "hub-wan"), hub: nstest.New(t, "hub")}
	l.hubIf, _ = nstest.Link(t, l.hub, l.router, hubOuter+"/24", hubRouter+"/24")
	// The hub sends ESP in UDP with segmentation offload: several spokes'
	// packets to one address and port (spokes behind one NAT, connections
	// of one strongSwan) leave as one super-packet that tcpdump would show
	// as its first ESP packet only. One segment per packet on this
	// interface makes the kernel split them before tcpdump sees them.
	l.hub.Run(t, "ip", "link", "set", "dev", l.hubIf, "gso_max_segs", "1")
	l.router.Run(t, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
	l.hub.Run(t, "ip", "route", "add", "default", "via", hubRouter)
	l.hub.Run(t, "ip", "addr", "add", hubInner+"/32", "dev", "lo")
	l.hub.Run(t, "sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0")
	return l
}

// site adds a namespace on its own router port (10.204.k.0/24) and
// returns it with its outer address.
func (l *hubLab) site(t *testing.T, label string) (*nstest.NS, string) {
	ns, outer, _ := l.siteIf(t, label)
	return ns, outer
}

// siteIf is site that also returns the site's interface towards the router.
func (l *hubLab) siteIf(t *testing.T, label string) (*nstest.NS, string, string) {
	t.Helper()
	l.sites++
	k := l.sites
	ns := nstest.New(t, label)
	outer := fmt.Sprintf("10.204.%d.1", k)
	ifn, _ := nstest.Link(t, ns, l.router, outer+"/24", fmt.Sprintf("10.204.%d.254/24", k))
	ns.Run(t, "ip", "route", "add", "default", "via", fmt.Sprintf("10.204.%d.254", k))
	ns.Run(t, "sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0")
	return ns, outer, ifn
}

// natSite adds a site that is a masquerading NAT router (nftables) with n
// spokes behind it, each in its own namespace on its own private /24
// (192.168.k.2 behind 192.168.k.1).
func (l *hubLab) natSite(t *testing.T, n int, id func(k int) string) (public string, spokes []*hubSpoke) {
	t.Helper()
	nat, public, wan := l.siteIf(t, "nat")
	nat.Run(t, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
	nat.Run(t, "nft", "add table ip tisnat")
	nat.Run(t, "nft", "add chain ip tisnat post { type nat hook postrouting priority 100 ; }")
	nat.Run(t, "nft", "add rule ip tisnat post oifname "+wan+" masquerade")
	for k := 1; k <= n; k++ {
		ns := nstest.New(t, "natspoke"+strconv.Itoa(k))
		gw := fmt.Sprintf("192.168.%d.1", k)
		s := &hubSpoke{ns: ns, outer: fmt.Sprintf("192.168.%d.2", k), inner: fmt.Sprintf("10.212.%d.1", 100+k)}
		if id != nil {
			s.id = id(k)
		}
		nstest.Link(t, ns, nat, s.outer+"/24", gw+"/24")
		ns.Run(t, "ip", "route", "add", "default", "via", gw)
		ns.Run(t, "ip", "addr", "add", s.inner+"/32", "dev", "lo")
		ns.Run(t, "sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0")
		spokes = append(spokes, s)
	}
	return public, spokes
}

// hubIKEPeer is what the hub's status says about one IKE SA.
type hubIKEPeer struct {
	Peer       string `json:"peer"`
	State      string `json:"state"`
	RemoteID   string `json:"remote_id"`
	RemotePort uint16 `json:"remote_port"`
	NATT       bool   `json:"nat_t"`
}

// hubIKEPeers reads the hub's IKE SAs from `status --json`.
func hubIKEPeers(t *testing.T, n *tisNode) []hubIKEPeer {
	t.Helper()
	out, err := n.ns.Output(n.bin, "status", "-c", n.config, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		IKESAs []hubIKEPeer `json:"ike_sas"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status JSON: %v: %s", err, out)
	}
	return st.IKESAs
}

// hubConfig is the hub: one dynamic crypto map for 10.222.0.0/16 <->
// 10.212.0.0/16, responder only, one PSK for every spoke.
func hubConfig(control string) string { return hubConfigAt("info")(control) }

func hubConfigAt(level string) func(control string) string {
	return func(control string) string { return hubConfigText(control, level) }
}

func hubConfigText(control, level string) string {
	return tisConn{LogLevel: level, Peer: "dynamic", ACL: "permit ip 10.222.0.0/16 10.212.0.0/16",
		Initiate: "never", PSK: hubPSK}.TOML(control)
}

// hubSpoke describes one tinyipsec spoke.
type hubSpoke struct {
	ns    *nstest.NS
	outer string // its own outer address (before any NAT)
	inner string // the host behind it, 10.212.x.y
	id    string // local_id, e.g. fqdn:spoke1.example
	node  *tisNode
	// ss and conn: a strongSwan spoke is connection conn of charon ss
	// (node is nil then).
	ss   *charon
	conn string
	// wireDst is where the hub must send this spoke's ESP, as tcpdump
	// prints it ("10.204.1.1", or "10.204.9.1.4500" with a port for
	// NAT-T); empty: outer.
	wireDst string
}

func spokeConfig(control string, s *hubSpoke) string { return spokeConn(s).TOML(control) }

// spokeConn is a tinyipsec spoke's configuration: its host to the hub's
// side, initiated at once.
func spokeConn(s *hubSpoke) tisConn {
	return tisConn{LogLevel: "info", Peer: hubOuter, Local: s.outer, LocalID: s.id,
		ACL: "permit ip host " + s.inner + " 10.222.0.0 0.0.255.255", PSK: hubPSK}
}

// startNode writes config and runs the daemon in ns until its control
// socket answers.
func startNode(t *testing.T, ns *nstest.NS, config func(control string) string) *tisNode {
	t.Helper()
	dir := t.TempDir()
	n := &tisNode{ns: ns, bin: tinyipsecBinary(t)}
	n.config, n.control = filepath.Join(dir, "tinyipsec.toml"), filepath.Join(dir, "ctl.sock")
	if err := os.WriteFile(n.config, []byte(config(n.control)), 0o600); err != nil {
		t.Fatal(err)
	}
	n.run(t)
	return n
}

func (l *hubLab) startHub(t *testing.T) {
	t.Helper()
	l.hubNode = startNode(t, l.hub, hubConfig)
}

// startSpokes starts every spoke at once (a burst towards the hub).
func startSpokes(t *testing.T, spokes []*hubSpoke) {
	t.Helper()
	// The daemons are started from this goroutine (see nstest.Start); the
	// waits for their control sockets run in parallel.
	bin := tinyipsecBinary(t)
	for _, s := range spokes {
		dir := t.TempDir()
		s.node = &tisNode{ns: s.ns, bin: bin}
		s.node.config, s.node.control = filepath.Join(dir, "tinyipsec.toml"), filepath.Join(dir, "ctl.sock")
		if err := os.WriteFile(s.node.config, []byte(spokeConfig(s.node.control, s)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range spokes {
		s.node.proc = s.ns.Start(t, "tinyipsec", nil, bin, "run", "-c", s.node.config)
	}
}

// spokeUp reports whether the spoke has an IKE SA and an IPsec SA.
func spokeUp(s *hubSpoke) bool {
	if s.ss != nil {
		_, ok := charonChildren(s.ss.listSAs())[s.conn]
		return ok
	}
	return s.node.established()
}

// capture is tcpdump on the hub's outer interface, recording the ESP the
// hub sends (plain or in UDP).
type capture struct {
	proc *nstest.Proc
}

func (l *hubLab) capture(t *testing.T) *capture {
	t.Helper()
	p := l.hub.Start(t, "tcpdump", nil, "tcpdump", "-l", "-n", "-i", l.hubIf,
		"src", hubOuter, "and", "(esp", "or", "udp", "port", "4500)")
	nstest.WaitFor(t, 10*time.Second, "tcpdump listening", func() bool {
		if p.Exited() {
			t.Fatalf("tcpdump exited: %s", p.Output())
		}
		return strings.Contains(p.Output(), "listening on")
	})
	return &capture{proc: p}
}

// espOutRE matches tcpdump's line for an ESP packet, plain or UDP-encapsulated.
var espOutRE = regexp.MustCompile(`IP (\S+) > (\S+): (?:UDP-encap: )?ESP\(spi=0x([0-9a-f]+)`)

// sent returns the ESP packets seen so far: destination (as tcpdump prints
// it) and SPI (8 hex digits).
func (c *capture) sent() (dst, spi []string) {
	for _, m := range espOutRE.FindAllStringSubmatch(c.proc.Output(), -1) {
		dst = append(dst, m[2])
		spi = append(spi, fmt.Sprintf("%08s", m[3]))
	}
	return dst, spi
}

// spokeSAs returns the spoke's inbound SPIs (hex, 8 digits) and the
// packets its IPsec SAs sent. lists caches one listing per strongSwan.
func spokeSAs(t *testing.T, s *hubSpoke, lists map[*charon]map[string]charonChild) (spis map[string]bool, pktsOut uint64) {
	t.Helper()
	if s.ss != nil {
		if lists[s.ss] == nil {
			lists[s.ss] = charonChildren(s.ss.listSAs())
		}
		c, ok := lists[s.ss][s.conn]
		if !ok {
			t.Fatalf("strongSwan spoke %s has no installed child", s.conn)
		}
		return map[string]bool{c.spiIn: true}, c.pktsOut
	}
	st, err := s.node.status()
	if err != nil {
		t.Fatalf("status of spoke %s: %v", s.inner, err)
	}
	spis = map[string]bool{}
	for _, sa := range st.IPsecSAs {
		spis[fmt.Sprintf("%08s", strings.TrimPrefix(sa.SPIIn, "0x"))] = true
		pktsOut += sa.PktsOut
	}
	return spis, pktsOut
}

// pingOnce pings hubInner from the spoke's inner address until a reply
// comes (the first may race the SA).
func pingOnce(t *testing.T, s *hubSpoke) {
	t.Helper()
	var last string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		out, err := s.ns.Output("ping", "-c", "1", "-W", "2", "-I", s.inner, hubInner)
		if err == nil {
			return
		}
		last = out + err.Error()
	}
	t.Errorf("spoke %s (%s): no ping reply from the hub: %s", s.inner, s.id, last)
}

// forSpokes runs f for every spoke, eight at a time: the spokes are
// independent, and more at once would only queue for the CPUs.
func forSpokes(spokes []*hubSpoke, f func(s *hubSpoke)) { forSpokesN(spokes, 8, f) }

// forSpokesN runs f for every spoke, n at a time.
func forSpokesN(spokes []*hubSpoke, n int, f func(s *hubSpoke)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, n)
	for _, s := range spokes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f(s)
		}()
	}
	wg.Wait()
}

// checkIsolation pings the hub from every spoke, one spoke after the
// other, while tcpdump watches the hub's outer interface; then it checks
// that every ESP packet the hub sent went to the outer address of the spoke
// owning its SPI, and that each spoke got exactly as many packets as it
// sent echo requests through its SAs: its own replies and no one else's.
func checkIsolation(t *testing.T, l *hubLab, spokes []*hubSpoke) {
	t.Helper()
	// Packets the spokes sent before this check are not in this capture.
	before := map[*hubSpoke]uint64{}
	lists := map[*charon]map[string]charonChild{}
	for _, s := range spokes {
		_, before[s] = spokeSAs(t, s, lists)
	}
	c := l.capture(t)
	// Pings run in parallel groups: independent spokes, and each reply is
	// still attributable by its SPI.
	pingStart := time.Now()
	forSpokes(spokes, func(s *hubSpoke) { pingOnce(t, s) })
	pingsFailed := t.Failed()
	t.Logf("pings done in %v", time.Since(pingStart).Round(10*time.Millisecond))
	owner := map[string]*hubSpoke{}
	requests := map[*hubSpoke]uint64{}
	lists = map[*charon]map[string]charonChild{}
	for _, s := range spokes {
		spis, out := spokeSAs(t, s, lists)
		for spi := range spis {
			owner[spi] = s
		}
		requests[s] = out - before[s]
	}
	// Every reply has been on the wire before ping returned; the capture
	// only has to print it.
	var got map[*hubSpoke]uint64
	var bad []string
	tally := func() bool {
		got, bad = map[*hubSpoke]uint64{}, nil
		dsts, spis := c.sent()
		for i, spi := range spis {
			s := owner[spi]
			want := ""
			if s != nil {
				want = s.wireDst
				if want == "" {
					want = s.outer
				}
			}
			if s == nil || dsts[i] != want {
				bad = append(bad, fmt.Sprintf("SPI %s to %s (owner %v)", spi, dsts[i], want))
				continue
			}
			got[s]++
		}
		for _, s := range spokes {
			if got[s] < requests[s] {
				return false
			}
		}
		return true
	}
	// Wait (up to 10 s) until the capture shows a reply for every request;
	// on a loaded machine a request or a captured copy may be lost, which
	// says nothing about isolation, so a shortfall is only logged.
	for deadline := time.Now().Add(10 * time.Second); !tally() && !pingsFailed && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	c.proc.Stop()
	tally()
	if len(bad) > 0 {
		t.Errorf("the hub sent ESP that does not belong to its destination: %s", strings.Join(bad, "; "))
	}
	for _, s := range spokes {
		switch {
		case got[s] > requests[s]:
			t.Errorf("spoke %s: sent %d packets through its SAs, the hub sent it %d: someone else's traffic", s.inner, requests[s], got[s])
		case got[s] == 0:
			t.Errorf("spoke %s: sent %d packets through its SAs, the hub sent it none", s.inner, requests[s])
		case got[s] < requests[s]:
			t.Logf("spoke %s: sent %d packets, %d replies captured (tcpdump: %s)", s.inner, requests[s], got[s],
				regexp.MustCompile(`\d+ packets dropped by kernel`).FindString(c.proc.Output()))
		}
	}
}

// newSpokes makes n spokes, each in its own site namespace.
func newSpokes(t *testing.T, l *hubLab, n int, id func(k int) string) []*hubSpoke {
	t.Helper()
	var spokes []*hubSpoke
	for k := 1; k <= n; k++ {
		ns, outer := l.site(t, "spoke"+strconv.Itoa(k))
		s := &hubSpoke{ns: ns, outer: outer, inner: fmt.Sprintf("10.212.%d.1", k)}
		if id != nil {
			s.id = id(k)
		}
		ns.Run(t, "ip", "addr", "add", s.inner+"/32", "dev", "lo")
		spokes = append(spokes, s)
	}
	return spokes
}

// waitAllUp waits until every spoke has its tunnel and the hub one IPsec
// SA pair per spoke.
func waitAllUp(t *testing.T, l *hubLab, spokes []*hubSpoke, timeout time.Duration) {
	t.Helper()
	start := time.Now()
	up := 0
	deadline := time.Now().Add(timeout)
	for {
		up = 0
		for _, s := range spokes {
			if spokeUp(s) {
				up++
			}
		}
		if up == len(spokes) {
			break
		}
		if time.Now().After(deadline) {
			st, _ := l.hubNode.status()
			n := 0
			if st != nil {
				n = len(st.IPsecSAs)
			}
			t.Fatalf("%d/%d spokes up after %v (hub has %d IPsec SAs)", up, len(spokes), timeout, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%d/%d spokes up in %v; the hub refused %d phase 1 negotiations", up, len(spokes), time.Since(start).Round(10*time.Millisecond),
		strings.Count(l.hubNode.proc.Output(), "phase 1 refused"))
}

// TestHubTwoSpokes: two tinyipsec spokes, each negotiating its own /32
// inside the hub's dynamic crypto map line. The hub's replies to each
// spoke leave on that spoke's SA, to that spoke's address.
func TestHubTwoSpokes(t *testing.T) {
	nstest.Require(t, "tcpdump", "ping")
	l := newHubLab(t)
	spokes := newSpokes(t, l, 2, func(k int) string { return fmt.Sprintf("fqdn:spoke%d.example", k) })
	l.startHub(t)
	startSpokes(t, spokes)
	waitAllUp(t, l, spokes, 60*time.Second)
	checkIsolation(t, l, spokes)
}

// TestHubTwoSpokesBehindOneNAT: two tinyipsec spokes behind one
// masquerading NAT (one public address, NAT-T), with different identities,
// both sending INITIAL-CONTACT. Both stay up, and the hub's replies to
// each leave to that spoke's own NAT port on its own SA.
func TestHubTwoSpokesBehindOneNAT(t *testing.T) {
	nstest.Require(t, "tcpdump", "ping", "nft")
	l := newHubLab(t)
	public, spokes := l.natSite(t, 2, func(k int) string { return fmt.Sprintf("fqdn:natspoke%d.example", k) })
	l.startHub(t)
	startSpokes(t, spokes)
	waitAllUp(t, l, spokes, 60*time.Second)
	// The hub holds one IKE SA per identity, at the same address, from
	// two ports: where each spoke's ESP must go.
	var peers []hubIKEPeer
	nstest.WaitFor(t, 20*time.Second, "two IKE SAs on the hub", func() bool {
		peers = hubIKEPeers(t, l.hubNode)
		return len(peers) == 2
	})
	for _, s := range spokes {
		want := `"` + strings.TrimPrefix(s.id, "fqdn:") + `"`
		for _, p := range peers {
			if p.RemoteID == want {
				if p.Peer != public || !p.NATT {
					t.Fatalf("spoke %s seen as %+v, want NAT-T from %s", s.id, p, public)
				}
				s.wireDst = fmt.Sprintf("%s.%d", public, p.RemotePort)
			}
		}
		if s.wireDst == "" {
			t.Fatalf("no IKE SA for %s on the hub: %+v", s.id, peers)
		}
	}
	if spokes[0].wireDst == spokes[1].wireDst {
		t.Fatalf("both spokes at %s", spokes[0].wireDst)
	}
	checkIsolation(t, l, spokes)
	// Both are still up (nobody's INITIAL-CONTACT or new IKE SA removed
	// the other's).
	for _, s := range spokes {
		if !spokeUp(s) {
			t.Errorf("spoke %s lost its tunnel", s.id)
		}
	}
	if peers := hubIKEPeers(t, l.hubNode); len(peers) != 2 {
		t.Errorf("hub IKE SAs after the pings: %+v", peers)
	}
}

// charonChild is one installed child SA in swanctl --list-sas.
type charonChild struct {
	spiIn   string
	pktsOut uint64
}

var (
	charonChildRE = regexp.MustCompile(`^\s+(c\d+): #\d+, reqid \d+, INSTALLED`)
	charonInRE    = regexp.MustCompile(`^\s+in\s+([0-9a-f]{8})`)
	charonOutRE   = regexp.MustCompile(`^\s+out\s+[0-9a-f]{8}.*?(\d+) packets`)
)

// charonChildren parses swanctl --list-sas into the installed children
// by name (the spokes' children are named after their connections).
func charonChildren(list string) map[string]charonChild {
	out := map[string]charonChild{}
	cur := ""
	for _, line := range strings.Split(list, "\n") {
		if m := charonChildRE.FindStringSubmatch(line); m != nil {
			cur = m[1]
			out[cur] = charonChild{}
			continue
		}
		if cur == "" {
			continue
		}
		c := out[cur]
		if m := charonInRE.FindStringSubmatch(line); m != nil {
			c.spiIn = m[1]
		} else if m := charonOutRE.FindStringSubmatch(line); m != nil {
			c.pktsOut, _ = strconv.ParseUint(m[1], 10, 64)
		} else if strings.TrimSpace(line) != "" && !strings.HasPrefix(line, "    ") {
			cur = ""
			continue
		}
		out[cur] = c
	}
	return out
}

// charonSpokes runs one strongSwan with n connections to the hub, all
// started at once (start_action = start). Connection cJ uses outer
// address addr(J) (added to the site's interface when new), inner address
// 10.212.<site>.J and identity id(J) ("" keeps strongSwan's default: the
// address).
func (l *hubLab) charonSpokes(t *testing.T, n int, addr func(j int) string, id func(j int) string) []*hubSpoke {
	t.Helper()
	ns, outer, ifn := l.siteIf(t, "ss")
	site := l.sites
	seen := map[string]bool{outer: true}
	var spokes []*hubSpoke
	var b, addrs strings.Builder
	b.WriteString("connections {\n")
	for j := 1; j <= n; j++ {
		a := addr(j)
		if !seen[a] {
			seen[a] = true
			fmt.Fprintf(&addrs, "addr add %s/24 dev %s\n", a, ifn)
		}
		s := &hubSpoke{ns: ns, outer: a, inner: fmt.Sprintf("10.212.%d.%d", site, j), conn: fmt.Sprintf("c%d", j), wireDst: a + ".4500"}
		if id != nil {
			s.id = id(j)
		}
		fmt.Fprintf(&addrs, "addr add %s/32 dev lo\n", s.inner)
		localID := s.id
		if localID == "" {
			localID = a
		}
		fmt.Fprintf(&b, `  %[1]s {
    version = 1
    local_addrs = %[2]s
    remote_addrs = %[3]s
    proposals = aes128-sha256-modp2048
    rekey_time = 4h
    dpd_delay = 0s
    local {
      auth = psk
      id = %[4]s
    }
    remote {
      auth = psk
      id = %[3]s
    }
    children {
      %[1]s {
        local_ts = %[5]s/32
        remote_ts = 10.222.0.0/16
        esp_proposals = aes128gcm16
        mode = tunnel
        rekey_time = 1h
        life_time = 66m
        start_action = start
      }
    }
  }
`, s.conn, a, hubOuter, localID, s.inner)
		spokes = append(spokes, s)
	}
	fmt.Fprintf(&b, "}\nsecrets {\n  ike-hub {\n    secret = %q\n  }\n}\n", hubPSK)
	batch := filepath.Join(t.TempDir(), "addrs")
	if err := os.WriteFile(batch, []byte(addrs.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	ns.Run(t, "ip", "-batch", batch)
	c := startCharon(t, ns)
	for _, s := range spokes {
		s.ss = c
	}
	file := filepath.Join(c.dir, "swanctl.conf")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	// Loading starts every connection at once: the burst.
	if out, err := c.swanctl("--load-all", "--noprompt", "--file", file); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return spokes
}

// TestHubStrongSwanIdentitiesOneAddress: one strongSwan opens twenty
// connections to the hub from one address, under twenty identities, each
// sending INITIAL-CONTACT (strongSwan does in every Main Mode towards a
// peer it has no SA with under those identities). All twenty come up and
// stay up, and each passes its own traffic and only its own.
func TestHubStrongSwanIdentitiesOneAddress(t *testing.T) {
	requireStrongSwan(t, "tcpdump")
	l := newHubLab(t)
	l.startHub(t)
	const n = 20
	spokes := l.charonSpokes(t, n, func(int) string { return "10.204.1.1" }, func(j int) string { return fmt.Sprintf("spoke%d@hub.example", j) })
	waitAllUp(t, l, spokes, 90*time.Second)
	checkIsolation(t, l, spokes)
	// Kept: still twenty IKE SAs on the hub, one per identity, and every
	// child still installed on strongSwan's side.
	peers := hubIKEPeers(t, l.hubNode)
	ids := map[string]bool{}
	for _, p := range peers {
		ids[p.RemoteID] = true
	}
	if len(peers) != n || len(ids) != n {
		t.Errorf("hub IKE SAs: %d with %d identities, want %d", len(peers), len(ids), n)
	}
	if got := len(charonChildren(spokes[0].ss.listSAs())); got != n {
		t.Errorf("strongSwan has %d of %d children installed", got, n)
	}
}

// TestHubStrongSwanBurst100: one hundred strongSwan spokes, each from its
// own address, all start at once. All come up, and each passes its own
// traffic and only its own.
func TestHubStrongSwanBurst100(t *testing.T) {
	requireStrongSwan(t, "tcpdump")
	l := newHubLab(t)
	l.startHub(t)
	const n = 100
	spokes := l.charonSpokes(t, n, func(j int) string { return fmt.Sprintf("10.204.1.%d", j) }, nil)
	waitAllUp(t, l, spokes, 120*time.Second)
	checkIsolation(t, l, spokes)
}

// TestHubTinyipsecBurst: tinyipsec spokes, each in its own namespace with
// its own address and identity, all started at once. `make test` runs 10;
// TINYIPSEC_HUB_SPOKES raises it (make test-hub: 100).
func TestHubTinyipsecBurst(t *testing.T) {
	nstest.Require(t, "tcpdump", "ping")
	n := 10
	if v := os.Getenv("TINYIPSEC_HUB_SPOKES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 250 {
			t.Fatalf("TINYIPSEC_HUB_SPOKES=%q: want 1..250", v)
		}
	}
	l := newHubLab(t)
	spokes := newSpokes(t, l, n, func(k int) string { return fmt.Sprintf("fqdn:spoke%d.example", k) })
	l.startHub(t)
	startSpokes(t, spokes)
	waitAllUp(t, l, spokes, time.Duration(30+n)*time.Second)
	checkIsolation(t, l, spokes)
}
