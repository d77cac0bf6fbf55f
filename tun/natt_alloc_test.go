package tun

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tinyipsec/esp"
	"tinyipsec/internal/algo"
)

// countingDevice is the TUN side of an engine that only receives: it
// counts the packets written into it and checks nothing else.
type countingDevice struct{ pkts, batches atomic.Int64 }

func (d *countingDevice) Read([][]byte, []int, int) (int, error) { select {} }

func (d *countingDevice) Write(bufs [][]byte, _ int) (int, error) {
	d.pkts.Add(int64(len(bufs)))
	d.batches.Add(1)
	return len(bufs), nil
}

type noSender struct{}

func (noSender) Send([][]byte, int) error { return errors.New("no sending here") }

type noClassifier struct{}

func (noClassifier) Classify([]byte) (int, int, bool) { return 0, 0, false }

// TestNATTReceiveZeroAlloc runs the NAT-T receive path as the daemon does
// - recvmmsg on the port 4500 socket, a UDP GRO train cut into its
// datagrams, each ESP packet verified and decrypted by the engine's batch
// receiver, the batch written into the device - and asserts that it
// allocates nothing per batch. The peer sends trains of freshly encrypted
// AES-GCM packets with UDP_SEGMENT where the kernel has it (one datagram
// per send otherwise), so the anti-replay window stays on.
func TestNATTReceiveZeroAlloc(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation allocates")
	}
	srv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Skipf("no loopback UDP: %v", err)
	}
	defer srv.Close()
	cli, err := net.DialUDP("udp4", nil, srv.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	lo := netip.MustParseAddr("127.0.0.1")
	peer := netip.MustParseAddrPort(cli.LocalAddr().String())
	// The socket plays the NAT-T port: that is where ESP goes to the
	// batch receiver.
	s := connSock(t, srv, PortNATT, lo)
	r, err := newUDPBatchReader(s, udpBatch)
	if err != nil {
		t.Fatal(err)
	}
	gro := groUsable(t) && enableGRO(s.fd)

	dev := &countingDevice{}
	eng, err := esp.NewEngine(esp.EngineConfig{Device: dev, Sender: noSender{}, Classifier: noClassifier{}, Entries: []string{"natt/10"}, Batch: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	key := make([]byte, 20)
	for i := range key {
		key[i] = byte(i*7 + 1)
	}
	params := esp.Params{
		Proto: esp.ProtoESP, Mode: esp.Tunnel, SPI: 0x4500aa01, Cipher: algo.AES128GCM16, EncKey: key,
		Local: lo, Remote: lo, LocalPort: PortNATT, RemotePort: peer.Port(), ReplayWindow: 128,
	}
	in, err := esp.NewInbound(params)
	if err != nil {
		t.Fatal(err)
	}
	params.LocalPort, params.RemotePort = peer.Port(), PortNATT
	out, err := esp.NewOutbound(params)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := eng.InstallPairFor("natt/10", in, nil, esp.PairInfo{}); err != nil {
		t.Fatal(err)
	}

	// The peer's side: k inner packets of one size make k ESP datagrams
	// of one size, sent as one train.
	const k = 16
	inner := make([]byte, 1200)
	inner[0] = 0x45
	binary.BigEndian.PutUint16(inner[2:], uint16(len(inner)))
	inner[8], inner[9] = 64, 17
	copy(inner[12:], []byte{10, 1, 0, 1, 10, 2, 0, 1})
	bufs := make([][]byte, k)
	for i := range bufs {
		bufs[i] = make([]byte, esp.MaxHeadroom+len(inner)+esp.MaxTailroom)
	}
	var dgram int // ESP bytes per datagram
	train := make([]byte, 0, k*len(bufs[0]))
	const outer = 20 + 8 // the IPv4 and UDP headers Encap writes: the socket adds its own
	encrypt := func() {
		train = train[:0]
		for _, b := range bufs {
			copy(b[esp.MaxHeadroom:], inner)
			start, end, err := out.Encap(b, esp.MaxHeadroom, len(inner))
			if err != nil {
				t.Fatal(err)
			}
			dgram = end - start - outer
			train = append(train, b[start+outer:end]...)
		}
	}
	rc, err := cli.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	_ = rc.Control(func(f uintptr) { fd = int(f) })
	encrypt()
	gso := unix.SetsockoptInt(fd, unix.SOL_UDP, unix.UDP_SEGMENT, dgram) == nil
	send := func() {
		if gso {
			if _, err := unix.Write(fd, train); err != nil {
				t.Fatal(err)
			}
			return
		}
		for off := 0; off < len(train); off += dgram {
			if _, err := unix.Write(fd, train[off:off+dgram]); err != nil {
				t.Fatal(err)
			}
		}
	}
	u := &UDP{}
	b := &countingBatch{b: eng.NewUDPBatch()}
	// A lost datagram would leave the receive blocked: the watchdog
	// closes the socket, the read fails and the test with it.
	watchdog := time.AfterFunc(time.Minute, func() { srv.Close() })
	defer watchdog.Stop()
	want := int64(0)
	receive := func() {
		want += k
		for b.adds < want {
			if err := u.receiveBatch(s, r, b); err != nil {
				t.Fatalf("receive: %v (%d of %d datagrams received)", err, b.adds, want)
			}
		}
		if got := dev.pkts.Load(); got != want {
			t.Fatalf("%d of %d packets decrypted", got, want)
		}
	}

	// First round, checked in detail: with GRO the kernel hands the whole
	// train over as one buffer that receiveBatch cuts apart.
	send()
	receive()
	if st := eng.Stats(); len(st.Drops) != 0 {
		t.Fatalf("drops: %v", st.Drops)
	}
	t.Logf("UDP_SEGMENT %v, UDP_GRO %v: %d datagrams in %d device writes", gso, gro, dev.pkts.Load(), dev.batches.Load())
	if gso && gro && dev.batches.Load() != 1 {
		t.Errorf("a GRO train of %d datagrams went into the device in %d writes, want 1", k, dev.batches.Load())
	}

	allocs := testing.AllocsPerRun(50, func() {
		encrypt()
		send()
		receive()
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per received train, want 0", allocs)
	}
	if got := dev.pkts.Load(); got != want {
		t.Fatalf("%d packets decrypted, want %d", got, want)
	}
	if st := eng.Stats(); len(st.Drops) != 0 {
		t.Fatalf("drops: %v", st.Drops)
	}
}

// countingBatch counts the ESP datagrams receiveBatch hands over.
type countingBatch struct {
	b    *esp.UDPBatch
	adds int64
}

func (c *countingBatch) Add(p []byte, local, remote netip.AddrPort) {
	c.adds++
	c.b.Add(p, local, remote)
}

func (c *countingBatch) Flush() { c.b.Flush() }

// groUsable reports whether a UDP GRO train arrives here with its segment
// size: an emulator (qemu-user runs these tests for MIPS and ARM) may pass
// the UDP_GRO control message through without converting its byte order.
func groUsable(t *testing.T) bool {
	srv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return false
	}
	defer srv.Close()
	cli, err := net.DialUDP("udp4", nil, srv.LocalAddr().(*net.UDPAddr))
	if err != nil {
		return false
	}
	defer cli.Close()
	s := connSock(t, srv, 1, netip.MustParseAddr("127.0.0.1"))
	if !enableGRO(s.fd) {
		return false
	}
	oob := make([]byte, unix.CmsgSpace(2))
	h := (*unix.Cmsghdr)(unsafePointer(&oob[0]))
	h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	putNative16(oob[unix.CmsgLen(0):], 100)
	if _, _, err := cli.WriteMsgUDP(make([]byte, 300), oob, nil); err != nil {
		return false
	}
	r, err := newUDPBatchReader(s, 4)
	if err != nil {
		return false
	}
	s.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := r.read()
	if err != nil || n == 0 {
		return false
	}
	p, gso, _, _ := r.message(0)
	if len(p) == 300 && gso != 100 {
		t.Logf("UDP GRO train of 3 x 100 bytes reported segment size %d: GRO left off", gso)
		return false
	}
	return true
}
