package esp

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// engDevice records what the engine writes into the "TUN".
type engDevice struct {
	mu      sync.Mutex
	want    []byte // when set, Write compares instead of recording
	ok, bad int
	got     [][]byte
	in      chan []byte
}

func (d *engDevice) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	p, ok := <-d.in
	if !ok {
		return 0, errEngClosed
	}
	sizes[0] = copy(bufs[0][offset:], p)
	return 1, nil
}

func (d *engDevice) Write(bufs [][]byte, offset int) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, b := range bufs {
		if d.want != nil {
			if bytes.Equal(b[offset:], d.want) {
				d.ok++
			} else {
				d.bad++
			}
			continue
		}
		d.got = append(d.got, append([]byte(nil), b[offset:]...))
	}
	return len(bufs), nil
}

func (d *engDevice) packets() [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([][]byte(nil), d.got...)
}

type engClosedErr struct{}

func (engClosedErr) Error() string { return "closed" }

var errEngClosed error = engClosedErr{}

// engSender keeps the last packet in a fixed buffer (no allocation), or
// every packet when keep is set.
type engSender struct {
	mu   sync.Mutex
	last [4096]byte
	n    int
	sent int
	keep bool
	all  [][]byte
}

func (s *engSender) Send(bufs [][]byte, offset int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range bufs {
		s.n = copy(s.last[:], b[offset:])
		s.sent++
		if s.keep {
			s.all = append(s.all, append([]byte(nil), b[offset:]...))
		}
	}
	return nil
}

func (s *engSender) packets() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.all...)
}

// engClassifier sends IPv4 packets to 10.2.0.0/16 to entry 0; the third
// address byte is the ACL line.
type engClassifier struct{}

func (engClassifier) Classify(pkt []byte) (int, int, bool) {
	if len(pkt) >= 20 && pkt[0]>>4 == 4 && pkt[16] == 10 && pkt[17] == 2 {
		return 0, int(pkt[18]), true
	}
	return -1, -1, false
}

// engPacket builds an IPv4/UDP packet from 10.1.0.1 to dst with n payload
// bytes.
func engPacket(dst [4]byte, n int, df bool) []byte {
	p := make([]byte, 28+n)
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	if df {
		p[6] = 0x40
	}
	p[8], p[9] = 64, 17
	copy(p[12:], []byte{10, 1, 0, 1})
	copy(p[16:], dst[:])
	binary.BigEndian.PutUint16(p[10:], ^onesSum(0, p[:20]))
	binary.BigEndian.PutUint16(p[20:], 1234)
	binary.BigEndian.PutUint16(p[22:], 5678)
	binary.BigEndian.PutUint16(p[24:], uint16(8+n))
	for i := 28; i < len(p); i++ {
		p[i] = byte(i)
	}
	return p
}

var (
	engAddrA = netip.MustParseAddr("192.168.77.1")
	engAddrB = netip.MustParseAddr("192.168.77.2")
)

func engParams(spi uint32, local, remote netip.Addr) Params {
	return Params{
		Proto: ProtoESP, Mode: Tunnel, SPI: spi, Cipher: "aes128gcm16",
		EncKey: bytes.Repeat([]byte{byte(spi)}, 20), Local: local, Remote: remote,
		ReplayWindow: 64,
	}
}

// engSAs builds A's outbound and B's inbound SA for one SPI.
func engSAs(t testing.TB, spi uint32) (*OutboundSA, *InboundSA) {
	t.Helper()
	return newSAs(t, engParams(spi, engAddrA, engAddrB), engParams(spi, engAddrB, engAddrA))
}

// installOut installs the outbound SA of spi's pair for entry vpn/10 of e,
// and returns the installed pair and the peer's inbound SA.
func installOut(t testing.TB, e *Engine, spi uint32, info PairInfo) (*Pair, *InboundSA) {
	t.Helper()
	out, in := engSAs(t, spi)
	p, err := e.InstallPairFor("vpn/10", nil, out, info)
	if err != nil {
		t.Fatal(err)
	}
	return p, in
}

// linkEngines installs spi's pair for entry vpn/10 from engine a (the
// outbound SA) to engine b (the inbound SA), and returns b's pair with
// a's outbound loop and b's inbound loop.
func linkEngines(t testing.TB, a, b *Engine, spi uint32) (*Pair, *outLoop, *inLoop) {
	t.Helper()
	_, in := installOut(t, a, spi, PairInfo{})
	pb, err := b.InstallPairFor("vpn/10", in, nil, PairInfo{})
	if err != nil {
		t.Fatal(err)
	}
	return pb, newOutLoop(a), newInLoop(b)
}

// one runs the outbound loop on a single packet, as if read alone from
// the TUN.
func (ol *outLoop) one(pkt []byte) {
	ol.sizes[0] = copy(ol.bufs[0][MaxHeadroom:], pkt)
	ol.process(1)
}

// one runs the inbound loop on a single packet, as if received alone.
func (il *inLoop) one(pkt []byte) {
	il.sizes[0] = copy(il.bufs[0][MaxHeadroom:], pkt)
	il.process(1)
}

func newEngTest(t testing.TB, dev Device, snd Sender, cfg EngineConfig) *Engine {
	t.Helper()
	cfg.Device, cfg.Sender, cfg.Classifier = dev, snd, engClassifier{}
	if cfg.Entries == nil {
		cfg.Entries = []string{"vpn/10"}
	}
	e, err := NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(); e.Wait() })
	return e
}

// newEngRoundTrip is engine A sending to engine B over spi's pair, B's
// device expecting pkt: A's sender, B and its device and pair, A's
// outbound loop and B's inbound loop.
func newEngRoundTrip(t testing.TB, spi uint32, pkt []byte) (sndA *engSender, b *Engine, devB *engDevice, pb *Pair, ol *outLoop, il *inLoop) {
	t.Helper()
	sndA, devB = &engSender{}, &engDevice{want: pkt}
	a := newEngTest(t, &engDevice{}, sndA, EngineConfig{})
	b = newEngTest(t, devB, &engSender{}, EngineConfig{})
	pb, ol, il = linkEngines(t, a, b, spi)
	return sndA, b, devB, pb, ol, il
}

// TestPathRoundTrip sends a packet through A's outbound path and B's
// inbound path and checks it arrives unchanged, without allocating.
func TestPathRoundTrip(t *testing.T) {
	pkt := engPacket([4]byte{10, 2, 0, 1}, 1000, false)
	sndA, b, devB, pb, ol, il := newEngRoundTrip(t, 0x1001, pkt)
	roundTrip := func() {
		ol.one(pkt)
		il.one(sndA.last[:sndA.n])
	}
	roundTrip()
	if devB.ok != 1 || devB.bad != 0 {
		t.Fatalf("after one packet: ok=%d bad=%d drops=%v %v", devB.ok, devB.bad, b.Stats().Drops, pairCounts(pb).Drops)
	}
	if sndA.last[9] != ipProtoESP {
		t.Fatalf("wire packet protocol %d, want ESP", sndA.last[9])
	}
	allocs := testing.AllocsPerRun(200, roundTrip)
	if allocs != 0 {
		t.Fatalf("full path allocates %v times per packet", allocs)
	}
	st := b.Stats()
	if len(st.Pairs) != 1 || st.Pairs[0].PktsIn != 202 || st.Pairs[0].BytesIn != uint64(202*len(pkt)) {
		t.Fatalf("inbound stats %+v", st.Pairs)
	}
}

// TestPathDrops checks the counted drop reasons of both paths.
func TestPathDrops(t *testing.T) {
	dev, snd := &engDevice{}, &engSender{}
	e := newEngTest(t, dev, snd, EngineConfig{})
	ol, il := newOutLoop(e), newInLoop(e)
	// No crypto ACL entry permits 10.9.0.1.
	ol.one(engPacket([4]byte{10, 9, 0, 1}, 10, false))
	// Garbage and an unknown SPI on the wire.
	il.sizes[0] = copy(il.bufs[0][MaxHeadroom:], []byte{1, 2, 3})
	out, _ := engSAs(t, 0x2002)
	wire := encapCopy(t, out, engPacket([4]byte{10, 2, 0, 1}, 10, false))
	il.sizes[1] = copy(il.bufs[1][MaxHeadroom:], wire)
	il.process(2)
	got := e.Stats().Drops
	for _, k := range []string{"no_policy", "malformed", "no_sa"} {
		if got[k] != 1 {
			t.Errorf("drops[%s] = %d, want 1 (all: %v)", k, got[k], got)
		}
	}
}

// TestAcquireQueue holds packets for an entry without SA, asks for an SA
// once, drops beyond the queue length and flushes in order on install.
func TestAcquireQueue(t *testing.T) {
	dev, snd := &engDevice{}, &engSender{keep: true}
	var acquired []string
	e := newEngTest(t, dev, snd, EngineConfig{QueueLen: 4, Acquire: func(id string, pkt []byte) {
		acquired = append(acquired, id)
	}})
	ol := newOutLoop(e)
	for i := range 6 {
		p := engPacket([4]byte{10, 2, 0, 1}, 10+i, false)
		ol.one(p)
	}
	if len(acquired) != 1 || acquired[0] != "vpn/10" {
		t.Fatalf("acquire calls %v, want [vpn/10]", acquired)
	}
	st := e.Stats()
	if st.Entries[0].Waiting != 4 || st.Entries[0].Drops["queue_full"] != 2 {
		t.Fatalf("entry stats %+v", st.Entries[0])
	}
	_, in := installOut(t, e, 0x3003, PairInfo{})
	sent := snd.packets()
	if len(sent) != 4 {
		t.Fatalf("flushed %d packets, want 4", len(sent))
	}
	for i, w := range sent {
		got, err := decapCopy(in, w)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 28+10+i {
			t.Fatalf("packet %d has length %d: order not kept", i, len(got))
		}
	}
	if e.Stats().Entries[0].Waiting != 0 {
		t.Fatal("queue not empty after install")
	}
}

// TestReplaceMakeBeforeBreak: after a rekey the old inbound SA still
// decrypts until it is removed; outbound uses the new SA at once.
func TestReplaceMakeBeforeBreak(t *testing.T) {
	devA, sndA := &engDevice{}, &engSender{}
	devB, sndB := &engDevice{}, &engSender{}
	a := newEngTest(t, devA, sndA, EngineConfig{})
	b := newEngTest(t, devB, sndB, EngineConfig{})
	out1, in1 := engSAs(t, 0x4001)
	out2, in2 := engSAs(t, 0x4002)
	pa1, _ := a.InstallPairFor("vpn/10", nil, out1, PairInfo{})
	pb1, _ := b.InstallPairFor("vpn/10", in1, nil, PairInfo{})
	ol, il := newOutLoop(a), newInLoop(b)
	pkt := engPacket([4]byte{10, 2, 0, 1}, 100, false)
	devB.want = pkt
	send := func() []byte {
		ol.one(pkt)
		return append([]byte(nil), sndA.last[:sndA.n]...)
	}
	recv := func(w []byte) {
		il.one(w)
	}
	old := send()
	// B installs the new inbound SA first (responder side of a rekey).
	pb2, err := b.Replace(pb1, in2, nil, PairInfo{})
	if err != nil {
		t.Fatal(err)
	}
	recv(old) // still accepted by the old SA
	if _, err := a.Replace(pa1, nil, out2, PairInfo{}); err != nil {
		t.Fatal(err)
	}
	w := send()
	if spi := binary.BigEndian.Uint32(w[20:]); spi != 0x4002 {
		t.Fatalf("outbound SPI after replace = %#x", spi)
	}
	recv(w)
	if devB.ok != 2 {
		t.Fatalf("delivered %d, want 2 (drops %v)", devB.ok, b.Stats().Drops)
	}
	b.Remove(pb1)
	recv(old)
	if b.Stats().Drops["no_sa"] != 1 {
		t.Fatalf("old SPI still accepted after Remove: %v", b.Stats().Drops)
	}
	st := b.Stats()
	if len(st.Pairs) != 1 || st.Pairs[0].PktsIn != 1 {
		t.Fatalf("pairs after remove: %+v", st.Pairs)
	}
	_ = pb2
}

// TestTooBig: a DF packet that would exceed the wire MTU is answered with
// ICMP "fragmentation needed" written into the TUN.
func TestTooBig(t *testing.T) {
	dev, snd := &engDevice{}, &engSender{}
	e := newEngTest(t, dev, snd, EngineConfig{WireMTU: 1000})
	out, _ := engSAs(t, 0x5005)
	p, _ := e.InstallPairFor("vpn/10", nil, out, PairInfo{})
	ol := newOutLoop(e)
	pkt := engPacket([4]byte{10, 2, 0, 1}, 990, true)
	ol.one(pkt)
	got := dev.packets()
	if snd.sent != 0 || len(got) != 1 {
		t.Fatalf("sent %d, ICMP %d", snd.sent, len(got))
	}
	icmp := got[0]
	if icmp[9] != 1 || icmp[20] != 3 || icmp[21] != 4 {
		t.Fatalf("not an ICMP frag-needed: % x", icmp[:28])
	}
	if onesSum(0, icmp[:20]) != 0xffff || onesSum(0, icmp[20:]) != 0xffff {
		t.Fatal("bad checksum")
	}
	if mtu := int(binary.BigEndian.Uint16(icmp[26:])); mtu != out.MaxInner(1000) || out.WireLen(mtu) > 1000 || p.maxInner != mtu {
		t.Fatalf("announced MTU %d, want %d", mtu, out.MaxInner(1000))
	}
	if !bytes.Equal(icmp[12:16], pkt[16:20]) || !bytes.Equal(icmp[16:20], pkt[12:16]) || !bytes.Equal(icmp[28:48], pkt[:20]) {
		t.Fatal("wrong addresses or quote")
	}
	if e.Stats().Drops["mtu"] != 1 {
		t.Fatal("mtu drop not counted")
	}
}

// TestRunLoops runs the real loops with a device fed by a channel.
func TestRunLoops(t *testing.T) {
	dev, snd := &engDevice{in: make(chan []byte)}, &engSender{}
	e := newEngTest(t, dev, snd, EngineConfig{})
	installOut(t, e, 0x6006, PairInfo{})
	errc := make(chan error, 1)
	go func() { errc <- e.RunOutbound() }()
	for range 3 {
		dev.in <- engPacket([4]byte{10, 2, 0, 1}, 50, false)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		snd.mu.Lock()
		n := snd.sent
		snd.mu.Unlock()
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sent %d of 3", n)
		}
		time.Sleep(time.Millisecond)
	}
	e.Close()
	close(dev.in)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func BenchmarkPathRoundTrip(b *testing.B) {
	pkt := engPacket([4]byte{10, 2, 0, 1}, 1400, false)
	sndA, _, _, _, ol, il := newEngRoundTrip(b, 0x7007, pkt)
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		ol.one(pkt)
		il.one(sndA.last[:sndA.n])
	}
}

// TestFragmentBeforeEncryption: an IPv4 packet without DF that would not
// fit the wire after encapsulation is split into fragments, each sent
// through the SA; the peer's SA decrypts them into fragments of the
// original packet.
func TestFragmentBeforeEncryption(t *testing.T) {
	dev, snd := &engDevice{}, &engSender{keep: true}
	e := newEngTest(t, dev, snd, EngineConfig{WireMTU: 600})
	p, in := installOut(t, e, 0xa00a, PairInfo{})
	ol := newOutLoop(e)
	pkt := engPacket([4]byte{10, 2, 0, 1}, 1300, false)
	ol.one(pkt)
	sent := snd.packets()
	if len(sent) != 3 || len(dev.packets()) != 0 {
		t.Fatalf("%d packets sent, %d ICMP errors; want 3 fragments", len(sent), len(dev.packets()))
	}
	payload := make([]byte, 0, len(pkt))
	for i, w := range sent {
		if len(w) > 600 {
			t.Fatalf("fragment %d is %d bytes on the wire", i, len(w))
		}
		f, err := decapCopy(in, w)
		if err != nil {
			t.Fatal(err)
		}
		if onesSum(0, f[:20]) != 0xffff {
			t.Fatalf("fragment %d: bad header checksum", i)
		}
		fo := binary.BigEndian.Uint16(f[6:])
		if int(fo&0x1fff)*8 != len(payload) || (fo&0x2000 != 0) != (i < len(sent)-1) {
			t.Fatalf("fragment %d: flags/offset %#x with %d bytes before", i, fo, len(payload))
		}
		payload = append(payload, f[20:]...)
	}
	if !bytes.Equal(payload, pkt[20:]) {
		t.Fatal("fragments do not add up to the original payload")
	}
	if n := pairCounts(p).PktsOut; n != 3 {
		t.Fatalf("pkts out %d", n)
	}
	snd.keep = false
	allocs := testing.AllocsPerRun(50, func() {
		ol.one(pkt)
	})
	if allocs != 0 {
		t.Fatalf("fragmenting allocates %v times", allocs)
	}
}

// TestAcquirePerLine: traffic for two ACL lines of one entry starting
// together asks IKE for both lines at once (IKE negotiates one SA per
// line); the second line must not wait for the acquire interval of the
// first. A repeat within the interval asks again for neither.
func TestAcquirePerLine(t *testing.T) {
	dev, snd := &engDevice{}, &engSender{keep: true}
	var lines []byte
	e := newEngTest(t, dev, snd, EngineConfig{Acquire: func(id string, pkt []byte) {
		lines = append(lines, pkt[18])
	}})
	ol := newOutLoop(e)
	for _, line := range []byte{0, 1, 0, 1} {
		ol.one(engPacket([4]byte{10, 2, line, 1}, 30, false))
	}
	if string(lines) != "\x00\x01" {
		t.Fatalf("acquires for lines %v, want [0 1]", lines)
	}
}

// TestPerRulePairs: with one SA per ACL line (IKE's proxy IDs), each
// line's packets use their own SA, and a line without SA waits while the
// others flow.
func TestPerRulePairs(t *testing.T) {
	dev, snd := &engDevice{}, &engSender{keep: true}
	var acquired int
	e := newEngTest(t, dev, snd, EngineConfig{Acquire: func(string, []byte) { acquired++ }})
	out1, _ := engSAs(t, 0xc001)
	out0, _ := engSAs(t, 0xc000)
	p1, _ := e.InstallPairFor("vpn/10", nil, out1, PairInfo{ForRule: true, Rule: 1})
	ol := newOutLoop(e)
	send := func(line byte) {
		ol.one(engPacket([4]byte{10, 2, line, 1}, 30, false))
	}
	spis := func() (out []uint32) {
		for _, w := range snd.packets() {
			out = append(out, binary.BigEndian.Uint32(w[20:]))
		}
		return out
	}
	send(0) // line 0 has no SA: waits
	send(1)
	if got := spis(); len(got) != 1 || got[0] != 0xc001 || acquired != 1 {
		t.Fatalf("sent SPIs %x, acquire calls %d", got, acquired)
	}
	p0, _ := e.InstallPairFor("vpn/10", nil, out0, PairInfo{ForRule: true, Rule: 0})
	send(0)
	if got := spis(); len(got) != 3 || got[1] != 0xc000 || got[2] != 0xc000 {
		t.Fatalf("sent SPIs %x after installing line 0", got)
	}
	st := e.Stats()
	if len(st.Pairs) != 2 || !st.Pairs[0].Current || !st.Pairs[1].Current {
		t.Fatalf("pairs %+v", st.Pairs)
	}
	// Rekey of line 1 keeps it line-specific.
	out1b, _ := engSAs(t, 0xc011)
	if _, err := e.Replace(p1, nil, out1b, PairInfo{}); err != nil {
		t.Fatal(err)
	}
	e.Remove(p1)
	send(1)
	if got := spis(); got[len(got)-1] != 0xc011 {
		t.Fatalf("line 1 after rekey used %x", got[len(got)-1])
	}
	e.Remove(p0)
	send(0)
	if got := spis(); len(got) != 4 || e.Stats().Entries[0].Waiting != 1 {
		t.Fatalf("line 0 after its SA was removed: sent %x", got)
	}
}

// TestQueuedTooBig: packets that waited for their SA take the main path's
// way when they are too big for it: IPv4 without DF is fragmented before
// encryption, DF is answered with ICMP "fragmentation needed"; none is
// dropped silently.
func TestQueuedTooBig(t *testing.T) {
	dev, snd := &engDevice{}, &engSender{keep: true}
	e := newEngTest(t, dev, snd, EngineConfig{WireMTU: 600, QueueLen: 4})
	ol := newOutLoop(e)
	big := engPacket([4]byte{10, 2, 0, 1}, 1300, false)
	df := engPacket([4]byte{10, 2, 0, 1}, 1000, true)
	for _, p := range [][]byte{big, df} {
		ol.one(p)
	}
	if w := e.Stats().Entries[0].Waiting; w != 2 {
		t.Fatalf("%d packets waiting, want 2", w)
	}
	_, in := installOut(t, e, 0xb00b, PairInfo{})
	sent, icmp := snd.packets(), dev.packets()
	if len(sent) != 3 || len(icmp) != 1 {
		t.Fatalf("%d packets sent, %d ICMP errors; want 3 fragments and 1 error", len(sent), len(icmp))
	}
	var payload []byte
	for _, w := range sent {
		f, err := decapCopy(in, w)
		if err != nil || len(w) > 600 {
			t.Fatalf("fragment of %d bytes: %v", len(w), err)
		}
		payload = append(payload, f[20:]...)
	}
	if !bytes.Equal(payload, big[20:]) {
		t.Fatal("fragments do not add up to the queued packet")
	}
	if m := icmp[0]; m[9] != 1 || m[20] != 3 || m[21] != 4 {
		t.Fatalf("ICMP error %x: want type 3 code 4", m[:24])
	}
	if d := e.Stats().Drops["mtu"]; d != 1 {
		t.Fatalf("mtu drops %d, want 1 (the DF packet)", d)
	}
}
