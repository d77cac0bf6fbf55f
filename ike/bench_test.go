package ike

// Cost of IKE: CPU per Main Mode + Quick Mode handshake for each role, and
// the memory the daemon keeps per IKE SA and per IPsec SA pair.
//
// Both ends are real Managers (phase 1 and Quick Mode state machines, SA
// bookkeeping, installation into a real esp.Engine) joined by a
// synchronous in-memory wire: a datagram sent is queued, and the benchmark
// goroutine delivers the queue one datagram at a time. Because every
// state-machine call of one end runs inside that goroutine, the CPU time
// of the calls into each end is that end's cost, measured separately with
// the thread CPU clock.
//
//	go test ./ike -run '^$' -bench 'Handshake|SAMemory' -benchtime 200ms
//	make bench-tables   (the README's tables)

import (
	"tinyipsec/internal/algo"

	"bytes"
	"fmt"
	"io"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tinyipsec/acl"
	"tinyipsec/conf"
	"tinyipsec/esp"
)

// benchGroups are the DH groups the handshake benchmark covers, strongest
// common choices first.
var benchGroups = []int{14, 19, 31, 2, 15, 20}

// threadCPU is the CPU time consumed by the calling OS thread. The caller
// must hold runtime.LockOSThread for differences to mean anything.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// processCPU is the CPU time of the whole process (user + system), which
// includes the garbage collector's background work.
func processCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// benchWire is a synchronous datagram network between managers.
type benchWire struct {
	ends  map[netip.Addr]*benchEnd
	queue []benchDatagram
}

type benchDatagram struct {
	to            *benchEnd
	pkt           []byte
	local, remote netip.AddrPort // as seen by the receiver
}

// benchEnd is one manager on the wire and the CPU time spent inside it.
type benchEnd struct {
	m     *Manager
	addr  netip.Addr
	plane *benchPlane
	cpu   time.Duration
	calls int
}

func newBenchWire() *benchWire { return &benchWire{ends: map[netip.Addr]*benchEnd{}} }

func (w *benchWire) SendIKE(pkt []byte, local, remote netip.AddrPort) error {
	if to := w.ends[remote.Addr()]; to != nil {
		w.queue = append(w.queue, benchDatagram{to: to, pkt: bytes.Clone(pkt), local: remote, remote: local})
	}
	return nil
}

func (w *benchWire) SendKeepalive(local, remote netip.AddrPort) error { return nil }

// timed runs fn as work of end e.
func (e *benchEnd) timed(fn func()) {
	t0 := threadCPU()
	fn()
	e.cpu += threadCPU() - t0
	e.calls++
}

// pump delivers queued datagrams until the wire is quiet.
func (w *benchWire) pump() {
	for len(w.queue) > 0 {
		d := w.queue[0]
		w.queue = w.queue[1:]
		d.to.timed(func() { d.to.m.HandlePacket(d.pkt, d.local, d.remote) })
	}
	w.queue = w.queue[:0]
}

// benchPlane installs pairs into a real esp.Engine the way the daemon
// does (esp.NewInbound/NewOutbound from the negotiated keys, one engine
// entry per crypto map), or only counts them when engine is nil.
type benchPlane struct {
	engine  *esp.Engine
	entries map[*conf.CryptoMap]int
	live    int
}

type nullDevice struct{}

func (nullDevice) Read(bufs [][]byte, sizes []int, offset int) (int, error) { return 0, io.EOF }
func (nullDevice) Write(bufs [][]byte, offset int) (int, error)             { return len(bufs), nil }

type nullSender struct{}

func (nullSender) Send(bufs [][]byte, offset int) error { return nil }

// nullClassifier is never asked: the engine's packet loops do not run.
type nullClassifier struct{ esp.Classifier }

// newBenchPlane builds an engine with one entry per crypto map of cfg.
func newBenchPlane(tb testing.TB, cfg *conf.Config) *benchPlane {
	tb.Helper()
	p := &benchPlane{entries: map[*conf.CryptoMap]int{}}
	var ids []string
	for i, cm := range cfg.CryptoMaps {
		p.entries[cm] = i
		ids = append(ids, cm.ID())
	}
	e, err := esp.NewEngine(esp.EngineConfig{Device: nullDevice{}, Sender: nullSender{}, Classifier: nullClassifier{}, Entries: ids})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(e.Close)
	p.engine = e
	return p
}

func (p *benchPlane) InstallChild(c *ChildSA) (ChildHandle, error) {
	p.live++
	if p.engine == nil {
		return c, nil
	}
	if c.Protocol != "esp" {
		return nil, fmt.Errorf("bench plane: only ESP, not %s", c.Protocol)
	}
	if _, ok := p.entries[c.CryptoMap]; !ok {
		return nil, fmt.Errorf("bench plane: unknown crypto map %s", c.CryptoMap.ID())
	}
	mode := esp.Tunnel
	if c.Mode == "transport" {
		mode = esp.Transport
	}
	base := esp.Params{Proto: esp.ProtoESP, Mode: mode, Cipher: c.Encryption, Integ: c.Integrity,
		Local: c.Local.Addr(), Remote: c.Remote.Addr(), ESN: c.ESN, ReplayWindow: 64,
		HardTime: c.Lifetime + 30*time.Second}
	if c.Encap {
		base.LocalPort, base.RemotePort = c.Local.Port(), c.Remote.Port()
	}
	in, out := base, base
	in.SPI, in.EncKey, in.AuthKey = c.ESPIn.SPI, c.ESPIn.EncKey, c.ESPIn.AuthKey
	out.SPI, out.EncKey, out.AuthKey = c.ESPOut.SPI, c.ESPOut.EncKey, c.ESPOut.AuthKey
	in.Selector = c.Selector
	inSA, err := esp.NewInbound(in)
	if err != nil {
		return nil, err
	}
	outSA, err := esp.NewOutbound(out)
	if err != nil {
		inSA.Close()
		return nil, err
	}
	pair, err := p.engine.InstallPairFor(c.CryptoMap.ID(), inSA, outSA, esp.PairInfo{
		CryptoMap: c.CryptoMap.ID(), Peer: c.Remote.Addr(), Local: c.Local.Addr(),
		LocalSelector: c.Selector.Local.String(), RemoteSelector: c.Selector.Remote.String(),
		Protocol: esp.ProtoESP, Mode: mode, SPIIn: in.SPI, SPIOut: out.SPI,
		Encryption: string(c.Encryption), Integrity: string(c.Integrity), Keying: "isakmp", Lifetime: c.Lifetime,
	})
	if err != nil {
		inSA.Close()
		outSA.Close()
		return nil, err
	}
	return pair, nil
}

func (p *benchPlane) RemoveChild(h ChildHandle) {
	p.live--
	if pair, ok := h.(*esp.Pair); ok {
		p.engine.Remove(pair)
	}
}

// benchConfig is one end's configuration: PSK, AES-128/SHA-256 phase 1
// with the given DH group, AES-128-GCM tunnel for the pair, optional PFS.
func benchConfig(local, peer netip.Addr, src, dst string, initiate string, group, pfs int) *conf.Config {
	c := testConfig(local, peer, src, dst, initiate, func(cm *conf.CryptoMap) { cm.PFS = algo.Group(pfs) })
	c.Policies[0].Group = algo.Group(group)
	c.Global.AllowWeak = algo.Group(group).Weak() || algo.Group(pfs).Weak()
	return c
}

// newBenchEnd makes a manager on the wire; engine selects a real data
// plane (else pairs are only counted).
func (w *benchWire) newBenchEnd(tb testing.TB, addr netip.Addr, cfg *conf.Config, engine bool) *benchEnd {
	tb.Helper()
	plane := &benchPlane{}
	if engine {
		plane = newBenchPlane(tb, cfg)
	}
	m, err := NewManager(Config{Conf: cfg, Transport: w, DataPlane: plane})
	if err != nil {
		tb.Fatal(err)
	}
	m.inlineCompute = true // each end's CPU time is measured on its caller's thread
	e := &benchEnd{m: m, addr: addr, plane: plane}
	w.ends[addr] = e
	return e
}

// handshake lets the initiator's timer start its "initiate always" crypto
// map (timed as the initiator's work) and runs the exchange to completion.
func (w *benchWire) handshake(tb testing.TB, ini, resp *benchEnd) {
	ini.timed(func() { ini.m.tick(monoNow()) })
	w.pump()
	if ini.plane.live != 1 || resp.plane.live == 0 {
		tb.Fatalf("handshake did not install a pair on both ends (initiator %d, responder %d)\ninitiator: %+v\nresponder: %+v",
			ini.plane.live, resp.plane.live, ini.m.Status(), resp.m.Status())
	}
}

// forgetAll drops every SA of a manager without telling the peer.
func (e *benchEnd) forgetAll() {
	e.m.mu.Lock()
	defer e.m.mu.Unlock()
	for _, sa := range append([]*ikeSA(nil), e.m.sas...) {
		e.m.deleteIKE(sa, false, "benchmark")
	}
}

var (
	benchInitAddr = netip.MustParseAddr("192.0.2.1")
	benchRespAddr = netip.MustParseAddr("192.0.2.2")
)

// handshakeCost measures n complete handshakes (Main Mode + Quick Mode,
// pair installed on both ends) and returns the mean CPU time per
// handshake of each role and of the whole process.
type handshakeCost struct {
	init, resp, process time.Duration
}

func measureHandshakes(tb testing.TB, group, pfs, n int, reset func()) handshakeCost {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	w := newBenchWire()
	ini := w.newBenchEnd(tb, benchInitAddr, benchConfig(benchInitAddr, benchRespAddr, "10.1.0.0/16", "10.2.0.0/16", "always", group, pfs), true)
	resp := w.newBenchEnd(tb, benchRespAddr, benchConfig(benchRespAddr, benchInitAddr, "10.2.0.0/16", "10.1.0.0/16", "never", group, pfs), true)
	// One handshake to warm up (group tables, first allocations).
	w.handshake(tb, ini, resp)
	ini.forgetAll()
	resp.forgetAll()
	ini.cpu, resp.cpu = 0, 0
	if reset != nil {
		reset()
	}
	p0 := processCPU()
	for range n {
		w.handshake(tb, ini, resp)
		// Tearing down is not part of the handshake.
		ini.forgetAll()
		resp.forgetAll()
	}
	total := processCPU() - p0
	return handshakeCost{init: ini.cpu / time.Duration(n), resp: resp.cpu / time.Duration(n), process: total / time.Duration(n)}
}

// BenchmarkHandshake: CPU per Main Mode + Quick Mode handshake (PSK,
// AES-128/SHA-256, AES-128-GCM pair) per DH group. init-ms/op and
// resp-ms/op are the CPU time of each role's state machines and SA
// bookkeeping; cpu-ms/op is the whole process per handshake (both roles
// plus the garbage collector).
func BenchmarkHandshake(b *testing.B) {
	cases := []struct{ group, pfs int }{}
	for _, g := range benchGroups {
		cases = append(cases, struct{ group, pfs int }{g, 0})
	}
	cases = append(cases, struct{ group, pfs int }{14, 14}, struct{ group, pfs int }{19, 19})
	for _, c := range cases {
		name := fmt.Sprintf("group=%d", c.group)
		if c.pfs != 0 {
			name += fmt.Sprintf("/pfs=%d", c.pfs)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			cost := measureHandshakes(b, c.group, c.pfs, b.N, b.ResetTimer)
			b.ReportMetric(float64(cost.init)/1e6, "init-ms/op")
			b.ReportMetric(float64(cost.resp)/1e6, "resp-ms/op")
			b.ReportMetric(float64(cost.process)/1e6, "cpu-ms/op")
		})
	}
}

// saMemory is the heap the responder keeps per IKE SA and per IPsec SA
// pair.
type saMemory struct {
	perIKESA, perPair float64
}

// heapAfterGC is the live heap once everything unreachable was collected.
func heapAfterGC() uint64 {
	var ms runtime.MemStats
	for range 3 {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// measureSAMemory builds a hub that responds to n spokes (one crypto map
// per spoke, as a hub router is configured), runs one handshake with each
// spoke, and forgets the spoke (its memory is garbage). The hub's heap
// growth with n IKE SAs and n installed pairs, and after its pairs were
// removed again, gives the two costs.
func measureSAMemory(tb testing.TB, n, group int) saMemory {
	hubAddr := netip.MustParseAddr("192.0.2.254")
	spokeAddr := func(k int) netip.Addr { return netip.AddrFrom4([4]byte{198, 18, byte(k >> 8), byte(k)}) }
	spokeNet := func(k int) string { return fmt.Sprintf("10.%d.%d.0/24", 16+k>>8, k&255) }
	hubNet := "10.1.0.0/16"

	hubCfg := benchConfig(hubAddr, spokeAddr(0), hubNet, spokeNet(0), "never", group, 0)
	tmpl := hubCfg.CryptoMaps[0]
	hubCfg.CryptoMaps = nil
	hubCfg.ACLs = nil
	for k := range n {
		cm := *tmpl
		cm.Seq = 10 + k
		cm.PeerAddr = spokeAddr(k)
		cm.Peer = cm.PeerAddr.String()
		a := &conf.ACL{Name: fmt.Sprintf("spoke%d", k), Rules: []acl.Rule{{Permit: true,
			Src: netip.MustParsePrefix(hubNet), Dst: netip.MustParsePrefix(spokeNet(k)), SrcPorts: acl.AnyPort, DstPorts: acl.AnyPort}}}
		cm.Match, cm.ACL = a.Name, a
		hubCfg.ACLs = append(hubCfg.ACLs, a)
		hubCfg.CryptoMaps = append(hubCfg.CryptoMaps, &cm)
	}
	w := newBenchWire()
	hub := w.newBenchEnd(tb, hubAddr, hubCfg, true)

	// Baseline: configuration, manager and engine exist, no SA yet.
	h0 := heapAfterGC()
	for k := range n {
		spoke := w.newBenchEnd(tb, spokeAddr(k), benchConfig(spokeAddr(k), hubAddr, spokeNet(k), hubNet, "always", group, 0), false)
		w.handshake(tb, spoke, hub)
		delete(w.ends, spoke.addr)
	}
	if hub.plane.live != n {
		tb.Fatalf("hub has %d pairs, want %d", hub.plane.live, n)
	}
	// Steady state: completed Quick Modes are kept 30 s for
	// retransmissions, then dropped by the timer.
	hub.m.tick(monoNow().add(time.Minute))
	w.queue = nil
	h1 := heapAfterGC()

	// Remove the pairs (as their expiry would), keep the IKE SAs.
	goroutines := runtime.NumGoroutine()
	hub.m.mu.Lock()
	for _, sa := range hub.m.sas {
		for _, c := range append([]*child(nil), sa.children...) {
			hub.m.removeChild(sa, c, false)
		}
	}
	ikeSAs := len(hub.m.sas)
	hub.m.mu.Unlock()
	if ikeSAs != n {
		tb.Fatalf("hub has %d IKE SAs, want %d", ikeSAs, n)
	}
	// The engine wipes removed SAs from a goroutine once no packet loop
	// can hold them; wait until it has let go of them.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	h2 := heapAfterGC()
	runtime.KeepAlive(hub)
	return saMemory{
		perIKESA: (float64(h2) - float64(h0)) / float64(n),
		perPair:  (float64(h1) - float64(h2)) / float64(n),
	}
}

// BenchmarkSAMemory/group=G reports the heap kept per IKE SA (manager
// state and phase 1 keys) and per IPsec SA pair (the manager's child
// record plus the engine's inbound and outbound SA) with 1000 of each on
// a hub, for each DH group.
func BenchmarkSAMemory(b *testing.B) {
	const n = 1000
	measureSAMemory(b, 10, 31) // lazily built tables are not per-SA memory
	for _, g := range benchGroups {
		b.Run(fmt.Sprintf("group=%d", g), func(b *testing.B) {
			var m saMemory
			for range b.N {
				m = measureSAMemory(b, n, g)
			}
			b.ReportMetric(m.perIKESA, "B/ikesa")
			b.ReportMetric(m.perPair, "B/ipsecpair")
		})
	}
}
