package ike

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tinyipsec/internal/nstest"
	"tinyipsec/internal/unixsock"
)

// TestBenchHub measures a hub under a burst of spokes: tinyipsec as the
// hub, then strongSwan (charon with kernel-libipsec) as the hub, for the
// same spokes in the same run. The spokes are tinyipsec daemons, one per
// site namespace with up to 200 crypto maps whose `local` addresses are
// distinct, so the hub sees that many peers; all start at once.
//
// The spoke daemons start first and wait idle (their crypto maps initiate
// on traffic); once every one answers on its control socket, one UDP
// datagram from each spoke's inner address, all sent within a few
// milliseconds from sockets opened beforehand, starts the burst. That way
// the spokes' own start-up (TUN, routes, nftables) is not counted as the
// hub's time.
//
// It reports handshakes per second (spokes / time from the trigger until
// the last spoke has its IPsec SA), hub CPU per handshake (utime+stime of
// the hub process over the same time, and until the hub is idle again
// after the burst: a tinyipsec hub refills its pool of Diffie-Hellman
// keys made ahead then), the spoke daemons' CPU per handshake over the
// same time as the first, and the hub's resident memory per spoke (one
// IKE SA plus one IPsec SA pair). The spokes' status is read from their
// control sockets (status summary: the counts only), not the hub's, so
// measuring adds no load to the hub.
//
// The rate is the hub's only when the spokes are not the bottleneck. On a
// machine with two or more CPUs the hub runs alone on CPU 1 and
// everything else of the benchmark (the spoke daemons, this test) on CPU
// 0, for both hubs alike (make bench-hub; make test's run with 20 spokes
// does not pin), and the burst starts only once the hub and the
// spokes are idle (their keys made ahead). The spokes keep
// dh_keys_ready = 14 more than their crypto maps: a spoke then
// spends one exponentiation per handshake, so that one CPU of spokes
// outpaces one CPU of hub. The tinyipsec hub keeps dh_keys_ready = the
// number of spokes. TINYIPSEC_BENCH_HUB_NOPIN=1 leaves the CPUs shared.
//
// `make bench-hub` runs it with 200 spokes (TINYIPSEC_BENCH_HUB=200);
// `make test` runs 20 and only checks that every spoke gets its tunnel
// from both hubs.
func TestBenchHub(t *testing.T) {
	if testing.Short() {
		t.Skip("namespace benchmark: skipped in -short mode")
	}
	requireStrongSwan(t)
	n := 20
	if v := os.Getenv("TINYIPSEC_BENCH_HUB"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 1000 {
			t.Fatalf("TINYIPSEC_BENCH_HUB=%q: want a number of spokes 1..1000", v)
		}
	}
	group := 14
	if v := os.Getenv("TINYIPSEC_BENCH_HUB_GROUP"); v != "" {
		group, _ = strconv.Atoi(v)
	}
	hubs := []string{"tinyipsec", "strongswan"}
	if v := os.Getenv("TINYIPSEC_BENCH_HUB_ONLY"); v != "" {
		hubs = []string{v}
	}
	// make bench-hub also runs spokes with two IPsec SA pairs each, which
	// separates the memory of a pair from that of an IKE SA.
	pairsRuns := []int{1}
	if os.Getenv("TINYIPSEC_BENCH_HUB") != "" {
		pairsRuns = []int{1, 2}
	}
	pin := benchPinning(t)
	load := loadAverage()
	var rows, mem []string
	var results []hubBenchResult
	for _, hub := range hubs {
		var per [3]float64
		for _, pairs := range pairsRuns {
			r := benchHubRun(t, hub, n, group, pairs, pin)
			if t.Failed() {
				return
			}
			per[pairs] = r.rssPerSpokeKB
			if pairs == 1 {
				rows = append(rows, r.row())
				results = append(results, r)
			}
		}
		if len(pairsRuns) == 2 {
			pair := per[2] - per[1]
			mem = append(mem, fmt.Sprintf("| %s | %.1f kB | %.1f kB |", hub, per[1]-pair, pair))
		}
	}
	where := "hub and spokes share the CPUs"
	if pin {
		where = "hub alone on CPU 1, spokes on CPU 0"
	}
	t.Logf("hub under a burst of %d spokes (Main Mode PSK, aes128/sha256/group %d, ESP aes128gcm16; %s; load average %s at the start), same run:\n"+
		"| hub | spokes | time to last up | handshakes/s | hub CPU per handshake | with the refill after the burst | spokes' CPU per handshake | hub RSS per spoke (IKE SA + IPsec SA pair) |\n"+
		"|---|---:|---:|---:|---:|---:|---:|---:|\n%s", n, group, where, load, strings.Join(rows, "\n"))
	if len(rows) == 2 && len(results) == 2 {
		t.Logf("tinyipsec / strongSwan: %.2f x the handshakes per second", results[0].rate()/results[1].rate())
	}
	if len(mem) > 0 {
		t.Logf("hub RSS, from spokes with one and with two IPsec SA pairs:\n| hub | per IKE SA | per IPsec SA pair |\n|---|---:|---:|\n%s",
			strings.Join(mem, "\n"))
	}
}

type hubBenchResult struct {
	hub           string
	spokes        int
	took          time.Duration
	cpuPerHS      time.Duration // from the trigger until the last spoke is up
	cpuIdlePerHS  time.Duration // until the hub is idle again
	spokesPerHS   time.Duration // the spoke daemons, from the trigger until the last is up
	rssPerSpokeKB float64
}

func (r hubBenchResult) rate() float64 { return float64(r.spokes) / r.took.Seconds() }

func (r hubBenchResult) row() string {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return fmt.Sprintf("| %s | %d | %.2f s | %.1f | %.2f ms | %.2f ms | %.2f ms | %.1f kB |", r.hub, r.spokes, r.took.Seconds(),
		r.rate(), ms(r.cpuPerHS), ms(r.cpuIdlePerHS), ms(r.spokesPerHS), r.rssPerSpokeKB)
}

// benchPinning puts this test, and so every process it starts, on CPU 0
// (the hub is moved to CPU 1 once started) when the machine has two CPUs
// or more, for make bench-hub (TINYIPSEC_BENCH_HUB set) unless
// TINYIPSEC_BENCH_HUB_NOPIN is set. make test's short run does not pin.
func benchPinning(t *testing.T) bool {
	if runtime.NumCPU() < 2 || os.Getenv("TINYIPSEC_BENCH_HUB") == "" || os.Getenv("TINYIPSEC_BENCH_HUB_NOPIN") != "" {
		return false
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		t.Logf("no taskset: hub and spokes share the CPUs")
		return false
	}
	setAffinity(t, os.Getpid(), "0")
	t.Cleanup(func() { setAffinity(t, os.Getpid(), fmt.Sprintf("0-%d", runtime.NumCPU()-1)) })
	return true
}

// setAffinity pins every thread of process pid to cpus (taskset's list).
func setAffinity(t *testing.T, pid int, cpus string) {
	if out, err := exec.Command("taskset", "-a", "-p", "-c", cpus, strconv.Itoa(pid)).CombinedOutput(); err != nil {
		t.Fatalf("taskset %s %d: %v\n%s", cpus, pid, err, out)
	}
}

// waitIdle waits until the processes have used no CPU for dhQuiet and
// half a second more (keys made ahead, start-up done), at most a minute.
func waitIdle(t *testing.T, what string, pids ...int) {
	t.Helper()
	total := func() time.Duration {
		var d time.Duration
		for _, p := range pids {
			d += procCPU(t, p)
		}
		return d
	}
	last, quiet := total(), 0
	// Longer than a tinyipsec hub waits after its last computation before
	// it refills its pool of keys (dhQuiet), so that "until idle"
	// includes the refill.
	for deadline := time.Now().Add(time.Minute); quiet < int((dhQuiet+500*time.Millisecond)/(100*time.Millisecond)); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Logf("%s still busy after a minute", what)
			return
		}
		if now := total(); now == last {
			quiet++
		} else {
			last, quiet = now, 0
		}
	}
}

// ipsecSAsOf counts the IPsec SAs of a tinyipsec daemon, asked on its
// control socket directly (no process started: nothing else competes with
// the hub for its CPU) for the summary (the counts only: the spokes
// answer it in microseconds, the full report of 50 SAs costs them half a
// millisecond of the CPU the burst needs).
func ipsecSAsOf(n *tisNode) (int, error) {
	var r struct {
		IPsecSAs *int `json:"ipsec_sas"`
	}
	if err := controlJSON(n, "status summary", &r); err != nil {
		return 0, err
	}
	if r.IPsecSAs == nil {
		return 0, fmt.Errorf("status summary without ipsec_sas")
	}
	return *r.IPsecSAs, nil
}

func statusOf(n *tisNode) (*tisStatus, error) {
	var r tisStatus
	if err := controlJSON(n, "status json", &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// controlJSON asks a tinyipsec daemon on its control socket and decodes
// the JSON answer into v.
func controlJSON(n *tisNode, req string, v any) error {
	c, err := unixsock.Dial(n.control, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(req + "\n")); err != nil {
		return err
	}
	return json.NewDecoder(c).Decode(v)
}

// benchSpokesPerSite is how many spokes share a site namespace and its
// spoke daemon (TINYIPSEC_BENCH_HUB_PER_SITE, at most 250: one /24). Each
// daemon costs the spokes' CPU its own runtime (scheduler, collector,
// settling after the burst): 200 spokes in one daemon used about a fifth
// less CPU per handshake than in four.
func benchSpokesPerSite(t *testing.T) int {
	v := os.Getenv("TINYIPSEC_BENCH_HUB_PER_SITE")
	if v == "" {
		return 200
	}
	k, err := strconv.Atoi(v)
	if err != nil || k < 1 || k > 250 {
		t.Fatalf("TINYIPSEC_BENCH_HUB_PER_SITE=%q: want 1..250", v)
	}
	return k
}

func benchHubRun(t *testing.T, hub string, n, group, pairs int, pin bool) hubBenchResult {
	t.Helper()
	l := newHubLab(t)
	proposal := map[int]string{14: "modp2048", 19: "ecp256", 20: "ecp384", 15: "modp3072"}[group]
	if proposal == "" {
		t.Fatalf("group %d: no strongSwan proposal name known", group)
	}

	// The hub.
	var pid int
	var cs *charon
	switch hub {
	case "tinyipsec":
		node := startNode(t, l.hub, func(control string) string {
			cfg := strings.Replace(hubConfig(control), `log_level = "info"`, fmt.Sprintf("log_level = \"warn\"\ndh_keys_ready = %d", max(n, 2)), 1)
			return strings.Replace(cfg, "group = 14", fmt.Sprintf("group = %d", group), 1)
		})
		l.hubNode = node
		pid = node.proc.PID()
	case "strongswan":
		c := startBenchCharon(t, l.hub)
		c.loadConn(t, charonConn{LocalAddr: hubOuter, RemoteAddr: "%any", RemoteID: "%any", PSK: hubPSK,
			IKEProposals: "aes128-sha256-" + proposal, LocalTS: "10.222.0.0/16", RemoteTS: "10.212.0.0/16"})
		pid = c.proc.PID()
		cs = c
	}
	if pin {
		setAffinity(t, pid, "1")
	}

	// The spokes: one tinyipsec per site with up to 50 crypto maps.
	bin := tinyipsecBinary(t)
	type site struct {
		node   *tisNode
		spokes int
	}
	var sites []*site
	perSite := benchSpokesPerSite(t)
	left := n
	for k := 1; left > 0; k++ {
		ns, _ := l.site(t, "bsite"+strconv.Itoa(k))
		m := min(left, perSite)
		left -= m
		dir := t.TempDir()
		s := &site{node: &tisNode{ns: ns, bin: bin}, spokes: m}
		s.node.config, s.node.control = filepath.Join(dir, "tinyipsec.toml"), filepath.Join(dir, "ctl.sock")
		var b strings.Builder
		b.WriteString(strings.Replace(tisHead(benchLogLevel(), s.node.control, group), "[global]\n", fmt.Sprintf("[global]\ndh_keys_ready = %d\n", m+14), 1))
		for j := 1; j <= m; j++ {
			outer, inner := fmt.Sprintf("10.204.%d.%d", k, j), fmt.Sprintf("10.212.%d.%d", k, j)
			if j > 1 {
				ns.Run(t, "ip", "addr", "add", outer+"/24", "dev", benchSiteIf(t, ns))
			}
			ns.Run(t, "ip", "addr", "add", inner+"/32", "dev", "lo")
			rules := fmt.Sprintf("%q", "permit ip host "+inner+" 10.222.0.0/16")
			if pairs == 2 {
				rules = fmt.Sprintf("%q, %q", "permit ip host "+inner+" 10.222.0.0/17", "permit ip host "+inner+" 10.222.128.0/17")
			}
			fmt.Fprintf(&b, `
[acl.A%d]
rules = [%s]

[[crypto_map]]
name = "HUB"
seq = %d
peer = %q
local = %q
match = "A%d"
transform_set = ["TS"]
psk = %q
initiate = "on-traffic"
dpd_delay = 0
`, j, rules, j, hubOuter, outer, j, hubPSK)
		}
		if err := os.WriteFile(s.node.config, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		sites = append(sites, s)
	}

	// Start the spokes and wait until all are idle and ready; open the
	// sockets that will trigger their crypto maps.
	for _, s := range sites {
		s.node.proc = s.node.ns.Start(t, "tinyipsec", nil, bin, "run", "-c", s.node.config)
	}
	var triggers []*net.UDPConn
	dsts := []*net.UDPAddr{{IP: net.IPv4(10, 222, 0, 1), Port: 9}}
	if pairs == 2 {
		dsts = append(dsts, &net.UDPAddr{IP: net.IPv4(10, 222, 128, 1), Port: 9})
	}
	for k, s := range sites {
		nstest.WaitFor(t, 60*time.Second, "spoke daemon in "+s.node.ns.Name, func() bool {
			if s.node.proc.Exited() {
				t.Fatalf("spoke daemon exited:\n%s", s.node.proc.Output())
			}
			_, err := ipsecSAsOf(s.node)
			return err == nil
		})
		var inner []string
		for j := 1; j <= s.spokes; j++ {
			inner = append(inner, fmt.Sprintf("10.212.%d.%d", k+1, j))
		}
		triggers = append(triggers, udpSocketsIn(t, s.node.ns, inner)...)
	}
	// A site that has all its SAs is not asked again: every status
	// answer costs the spokes' CPU, which the hub's rate must not depend
	// on.
	siteUp := make([]int, len(sites))
	up := func() int {
		total := 0
		for k, s := range sites {
			if siteUp[k] < s.spokes*pairs {
				if n, err := ipsecSAsOf(s.node); err == nil {
					siteUp[k] = n
				}
			}
			total += siteUp[k]
		}
		return total
	}
	if got := up(); got != 0 {
		t.Fatalf("%d IPsec SAs up before the trigger", got)
	}

	pids := []int{pid}
	for _, s := range sites {
		pids = append(pids, s.node.proc.PID())
	}
	waitIdle(t, "hub and spokes before the burst", pids...)
	spokesCPU := func() (d time.Duration) {
		for _, p := range pids[1:] {
			d += procCPU(t, p)
		}
		return d
	}
	stopProfiles := benchProfiles(t, hub, pairs, pids)
	scpu0 := spokesCPU()
	cpu0, rss0 := procCPU(t, pid), procRSSKB(t, pid)
	start := time.Now()
	for _, c := range triggers {
		for _, d := range dsts {
			if _, err := c.WriteToUDP([]byte("go"), d); err != nil {
				t.Fatalf("trigger from %v: %v", c.LocalAddr(), err)
			}
		}
	}
	sent := time.Since(start)
	deadline := start.Add(time.Duration(30+n/2) * time.Second)
	got := 0
	// When a quarter, half, three quarters of the SAs were up: a burst
	// that waits for CPU turns on a loaded machine stretches evenly, one
	// that waits for a straggler (a retransmission) at the end.
	var quarters []string
	for {
		got = up()
		for len(quarters) < 3 && got*4 >= (len(quarters)+1)*n*pairs {
			quarters = append(quarters, time.Since(start).Round(time.Millisecond).String())
		}
		if got >= n*pairs {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%s hub: %d/%d IPsec SAs up after %v", hub, got, n*pairs, time.Since(start).Round(time.Second))
			break
		}
		// A summary costs a spoke daemon tens of microseconds: polling
		// every 10 ms takes well under 1% of CPU 0 and times the burst
		// to 10 ms.
		time.Sleep(10 * time.Millisecond)
	}
	took := time.Since(start)
	for _, c := range triggers {
		c.Close()
	}
	cpu1, scpu1 := procCPU(t, pid), spokesCPU()
	stopProfiles()
	waitIdle(t, "hub after the burst", pid)
	cpu2, rss1 := procCPU(t, pid), procRSSKB(t, pid)
	// The summary the burst was timed by must agree with the full report.
	for _, s := range sites {
		st, err := statusOf(s.node)
		if err != nil {
			t.Fatalf("status of the spokes in %s: %v", s.node.ns.Name, err)
		}
		var sum struct {
			IKESAs   int `json:"ike_sas"`
			IPsecSAs int `json:"ipsec_sas"`
		}
		if err := controlJSON(s.node, "status summary", &sum); err != nil {
			t.Fatalf("status summary of the spokes in %s: %v", s.node.ns.Name, err)
		}
		if sum.IKESAs != len(st.IKESAs) || sum.IPsecSAs != len(st.IPsecSAs) || sum.IPsecSAs != s.spokes*pairs {
			t.Errorf("spokes in %s: summary %+v, report %d IKE SAs and %d IPsec SAs, want %d IPsec SAs",
				s.node.ns.Name, sum, len(st.IKESAs), len(st.IPsecSAs), s.spokes*pairs)
		}
	}
	if l.hubNode != nil {
		// What the hub refused or dropped during the burst (after the
		// measurements: this request costs the hub a status report).
		if st, err := statusOf(l.hubNode); err == nil && len(st.IKEDrops) > 0 {
			t.Logf("tinyipsec hub's IKE drops: %v", st.IKEDrops)
		}
	}
	if os.Getenv("TINYIPSEC_BENCH_HUB_DEBUG") != "" {
		t.Logf("first site's log:\n%s", sites[0].node.proc.Output())
		if cs != nil {
			t.Logf("strongSwan's SAs:\n%s", cs.listSAs())
		} else if st, err := l.hubNode.status(); err == nil {
			t.Logf("hub's IKE SAs: %+v", st.IKESAs)
		}
	}
	t.Logf("%s hub, %d pair(s) per spoke: %d/%d IPsec SAs up in %v (a quarter, half, three quarters: %s; trigger sent in %v), hub CPU %v (%v until idle), spokes' CPU %v, hub RSS %d -> %d kB",
		hub, pairs, got, n*pairs, took.Round(time.Millisecond), strings.Join(quarters, ", "), sent.Round(time.Microsecond), cpu1-cpu0, cpu2-cpu0, scpu1-scpu0, rss0, rss1)
	return hubBenchResult{hub: hub, spokes: n, took: took, cpuPerHS: (cpu1 - cpu0) / time.Duration(n),
		cpuIdlePerHS: (cpu2 - cpu0) / time.Duration(n), spokesPerHS: (scpu1 - scpu0) / time.Duration(n),
		rssPerSpokeKB: float64(rss1-rss0) / float64(n)}
}

// benchProfiles starts `perf record` on the hub (pids[0]) and on the
// spokes (the rest) when TINYIPSEC_BENCH_HUB_PERF names a directory, for
// finding where the CPU of a burst goes; the returned function stops them.
func benchProfiles(t *testing.T, hub string, pairs int, pids []int) func() {
	dir := os.Getenv("TINYIPSEC_BENCH_HUB_PERF")
	if dir == "" {
		return func() {}
	}
	var cmds []*exec.Cmd
	for who, procs := range map[string][]int{"hub": pids[:1], "spokes": pids[1:]} {
		var list []string
		for _, p := range procs {
			list = append(list, strconv.Itoa(p))
		}
		out := filepath.Join(dir, fmt.Sprintf("%s-%s-%d.data", who, hub, pairs))
		cmd := exec.Command("perf", "record", "-q", "-g", "-F", "2000", "-o", out, "-p", strings.Join(list, ","))
		if err := cmd.Start(); err != nil {
			t.Fatalf("perf: %v", err)
		}
		cmds = append(cmds, cmd)
	}
	time.Sleep(time.Second) // perf attaches
	stop := func() {
		for _, c := range cmds {
			if c.ProcessState == nil {
				c.Process.Signal(os.Interrupt)
				c.Wait()
			}
		}
	}
	t.Cleanup(stop)
	return stop
}

// udpSocketsIn opens a UDP socket bound to each of addrs inside ns (a
// socket stays in the namespace it was made in). The goroutine enters the
// namespace on a locked thread and goes back before unlocking it: a
// thread that ends locked would take the daemons it started with it
// (nstest.Start's Pdeathsig), so it is only left to end when going back
// failed.
func udpSocketsIn(t *testing.T, ns *nstest.NS, addrs []string) []*net.UDPConn {
	t.Helper()
	type result struct {
		conns []*net.UDPConn
		err   error
	}
	done := make(chan result)
	go func() {
		var r result
		defer func() { done <- r }()
		runtime.LockOSThread()
		home, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			r.err = err
			return
		}
		defer unix.Close(home)
		fd, err := unix.Open("/run/netns/"+ns.Name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			r.err = err
			return
		}
		defer unix.Close(fd)
		if r.err = unix.Setns(fd, unix.CLONE_NEWNET); r.err != nil {
			runtime.UnlockOSThread()
			return
		}
		for _, a := range addrs {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(a)})
			if err != nil {
				r.err = err
				break
			}
			r.conns = append(r.conns, c)
		}
		if err := unix.Setns(home, unix.CLONE_NEWNET); err != nil {
			r.err = fmt.Errorf("back to the test's namespace: %v", err)
			return // the thread stays locked and ends with the goroutine
		}
		runtime.UnlockOSThread()
	}()
	r := <-done
	t.Cleanup(func() {
		for _, c := range r.conns {
			c.Close()
		}
	})
	if r.err != nil {
		t.Fatalf("sockets in %s: %v", ns.Name, r.err)
	}
	return r.conns
}

// benchSiteIf is the site namespace's link towards the router.
func benchSiteIf(t *testing.T, ns *nstest.NS) string {
	out := ns.Run(t, "ip", "-o", "-4", "route", "show", "default")
	f := strings.Fields(out)
	for i := range f {
		if f[i] == "dev" && i+1 < len(f) {
			return f[i+1]
		}
	}
	t.Fatalf("no default route in %s: %s", ns.Name, out)
	return ""
}

// loadAverage is the machine's 1-minute load average, as /proc/loadavg
// has it.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(data)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "unknown"
}

// procCPU is a process's user+system CPU time.
func procCPU(t *testing.T, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// procRSSKB is a process's resident set size in KiB.
func procRSSKB(t *testing.T, pid int) int64 { return nstest.ReadMemory(t, pid).RSS >> 10 }

// startBenchCharon is startCharon with the log quiet: with hundreds of
// SAs, logging would be most of what the hub does.
func startBenchCharon(t *testing.T, ns *nstest.NS) *charon {
	t.Helper()
	c := newCharon(t, ns, "strongswan.conf.tmpl")
	path := filepath.Join(c.dir, "strongswan.conf")
	conf, _ := os.ReadFile(path)
	quiet := strings.NewReplacer("default = 1", "default = -1", "ike = 2", "ike = -1", "cfg = 2", "cfg = -1").Replace(string(conf))
	if err := os.WriteFile(path, []byte(quiet), 0o600); err != nil {
		t.Fatal(err)
	}
	c.start(t)
	return c
}

func benchLogLevel() string {
	if os.Getenv("TINYIPSEC_BENCH_HUB_DEBUG") != "" {
		return "info"
	}
	return "warn"
}
