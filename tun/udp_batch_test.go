package tun

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// recordingBatch is an ESPBatch that remembers what it got.
type recordingBatch struct {
	mu      sync.Mutex
	pkts    []string
	from    []netip.AddrPort
	flushes int
	got     chan struct{}
}

func (b *recordingBatch) Add(p []byte, local, remote netip.AddrPort) {
	b.mu.Lock()
	b.pkts = append(b.pkts, string(p))
	b.from = append(b.from, remote)
	b.mu.Unlock()
}

func (b *recordingBatch) Flush() {
	b.mu.Lock()
	b.flushes++
	b.mu.Unlock()
	select {
	case b.got <- struct{}{}:
	default:
	}
}

// TestUDPBatchReceive: on port 4500 datagrams are read with recvmmsg and
// ESP goes to the batch receiver, IKE (marker) and keepalives still to
// their handlers; a train of ESP datagrams sent with UDP_SEGMENT (which
// the kernel may merge by GRO) comes out as the same datagrams, in order.
func TestUDPBatchReceive(t *testing.T) {
	ns := testNS(t, "tun-udpb")
	lo := netip.MustParseAddr("127.0.0.1")
	u := listenUDPIn(t, ns, []netip.Addr{lo})
	ike := make(chan string, 10)
	u.SetIKEHandler(func(p []byte, l, r netip.AddrPort) { ike <- string(p) })
	b := &recordingBatch{got: make(chan struct{}, 1)}
	u.SetESPBatch(func() ESPBatch { return b })
	u.Start()

	c := loopbackUDP4(t, ns)
	me := netip.MustParseAddrPort(c.LocalAddr().String())
	natt := netip.AddrPortFrom(lo, 4500)
	if _, err := c.WriteToUDPAddrPort([]byte("\x00\x00\x00\x00ike on 4500"), natt); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-ike:
		if m != "ike on 4500" {
			t.Fatalf("IKE handler got %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no IKE message")
	}
	// 20 ESP datagrams of 100 bytes as one UDP_SEGMENT send.
	var train []byte
	var want []string
	for i := 0; i < 20; i++ {
		d := bytes.Repeat([]byte{byte(i + 1)}, 100)
		copy(d, fmt.Sprintf("\x00\x00\x10\x01seq %02d", i))
		want = append(want, string(d))
		train = append(train, d...)
	}
	oob := make([]byte, unix.CmsgSpace(2))
	h := (*unix.Cmsghdr)(unsafePointer(&oob[0]))
	h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	putNative16(oob[unix.CmsgLen(0):], 100)
	if _, _, err := c.WriteMsgUDPAddrPort(train, oob, natt); err != nil {
		t.Skipf("no UDP_SEGMENT here: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		b.mu.Lock()
		n := len(b.pkts)
		b.mu.Unlock()
		if n >= len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("batch receiver got %d of %d datagrams", n, len(want))
		}
		select {
		case <-b.got:
		case <-time.After(100 * time.Millisecond):
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, w := range want {
		if b.pkts[i] != w || b.from[i] != me {
			t.Fatalf("datagram %d: %q from %v, want %q from %v", i, b.pkts[i], b.from[i], w, me)
		}
	}
	if b.flushes == 0 {
		t.Fatal("no Flush after a batch")
	}
}

func TestGROSize(t *testing.T) {
	oob := make([]byte, unix.CmsgSpace(4)+unix.CmsgSpace(unix.SizeofInet4Pktinfo))
	h := (*unix.Cmsghdr)(unsafePointer(&oob[0]))
	h.Level, h.Type = unix.IPPROTO_IP, unix.IP_PKTINFO
	h.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
	next := oob[unix.CmsgSpace(unix.SizeofInet4Pktinfo):]
	h2 := (*unix.Cmsghdr)(unsafePointer(&next[0]))
	h2.Level, h2.Type = unix.SOL_UDP, unix.UDP_GRO
	h2.SetLen(unix.CmsgLen(4))
	putNative32(next[unix.CmsgLen(0):], 1372)
	if got := groSize(oob); got != 1372 {
		t.Fatalf("groSize = %d, want 1372", got)
	}
	if got := groSize(oob[:unix.CmsgSpace(unix.SizeofInet4Pktinfo)]); got != 0 {
		t.Fatalf("groSize without UDP_GRO = %d", got)
	}
}

func unsafePointer(b *byte) unsafe.Pointer { return unsafe.Pointer(b) }

func putNative16(b []byte, v uint16) { binary.NativeEndian.PutUint16(b, v) }

func putNative32(b []byte, v uint32) { binary.NativeEndian.PutUint32(b, v) }

// TestUDPBatchReaderLoopback reads datagrams with recvmmsg on a loopback
// socket without a namespace, so that it also runs under qemu-user in
// -short mode: the mmsghdr and msghdr layouts of 32-bit big-endian MIPS
// and 32-bit ARM are what this checks there.
func TestUDPBatchReaderLoopback(t *testing.T) {
	srv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Skipf("no loopback UDP: %v", err)
	}
	defer srv.Close()
	cli, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	dst := netip.MustParseAddrPort(srv.LocalAddr().String())
	me := netip.MustParseAddrPort(cli.LocalAddr().String())
	s := connSock(t, srv, dst.Port(), dst.Addr())
	r, err := newUDPBatchReader(s, 4)
	if err != nil {
		t.Fatal(err)
	}
	sent := []string{"one", "datagram two", "and three, the longest of them"}
	for _, m := range sent {
		if _, err := cli.WriteToUDPAddrPort([]byte(m), dst); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < len(sent) && time.Now().Before(deadline) {
		n, err := r.read()
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			p, gso, local, remote := r.message(i)
			if gso != 0 || local != dst || remote != me {
				t.Fatalf("message %d: gso %d, %v -> %v, want %v -> %v", i, gso, remote, local, me, dst)
			}
			got = append(got, string(p))
		}
	}
	for i := range sent {
		if i >= len(got) || got[i] != sent[i] {
			t.Fatalf("got %q, want %q", got, sent)
		}
	}
}

// ikeRecorder is an IKEBatch that remembers what it got.
type ikeRecorder struct {
	pkts    []string
	flushes []bool
}

func (b *ikeRecorder) Add(p []byte, local, remote netip.AddrPort) { b.pkts = append(b.pkts, string(p)) }
func (b *ikeRecorder) Flush(full bool)                            { b.flushes = append(b.flushes, full) }

// TestIKEBatchReceive: with an IKE batch receiver set, IKE datagrams on
// port 500, and those with the non-ESP marker on 4500 (marker removed),
// go to it, a Flush after each receive call says whether the call filled
// every slot, ESP and keepalives on 4500 still go where they did, and a
// new factory takes effect at the next receive. Loopback only, so that it
// runs under qemu-user too.
func TestIKEBatchReceive(t *testing.T) {
	listen := func() (*net.UDPConn, netip.AddrPort) {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Skipf("no loopback UDP: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		return c, netip.MustParseAddrPort(c.LocalAddr().String())
	}
	c500, a500 := listen()
	c4500, a4500 := listen()
	cli, _ := listen()
	u := &UDP{}
	var esp []string
	u.SetESPHandler(func(p []byte, l, r netip.AddrPort) { esp = append(esp, string(p)) })
	rec := &ikeRecorder{}
	u.SetIKEBatch(func() IKEBatch { return rec })
	// Socket ports as the daemon's (the bound ones are random).
	s500 := connSock(t, c500, PortIKE, a500.Addr())
	s4500 := connSock(t, c4500, PortNATT, a4500.Addr())
	r500, err := newUDPBatchReader(s500, 4)
	if err != nil {
		t.Fatal(err)
	}
	r4500, err := newUDPBatchReader(s4500, 4)
	if err != nil {
		t.Fatal(err)
	}
	send := func(to netip.AddrPort, msgs ...string) {
		t.Helper()
		for _, m := range msgs {
			if _, err := cli.WriteToUDPAddrPort([]byte(m), to); err != nil {
				t.Fatal(err)
			}
		}
	}
	receive := func(s *udpSock, r *udpBatchReader) {
		t.Helper()
		if err := u.receiveBatch(s, r, nil); err != nil {
			t.Fatal(err)
		}
	}

	// Five on 500: a full receive of four, then one.
	send(a500, "m1", "m2", "m3", "m4", "m5")
	receive(s500, r500)
	receive(s500, r500)
	if fmt.Sprint(rec.pkts) != "[m1 m2 m3 m4 m5]" || fmt.Sprint(rec.flushes) != "[true false]" {
		t.Fatalf("port 500: got %q, flushes (full) %v", rec.pkts, rec.flushes)
	}

	// 4500: IKE with its marker, ESP, a keepalive.
	rec.pkts, rec.flushes = nil, nil
	send(a4500, "\x00\x00\x00\x00ike", "\x00\x00\x10\x01esp", "\xff")
	for i := 0; i < 3 && len(rec.pkts)+len(esp)+int(u.Keepalives.Load()) < 3; i++ {
		receive(s4500, r4500) // loopback queues all three at once: one receive, rarely more
	}
	if fmt.Sprint(rec.pkts) != "[ike]" || fmt.Sprint(esp) != "[\x00\x00\x10\x01esp]" || u.Keepalives.Load() != 1 {
		t.Fatalf("port 4500: IKE %q, ESP %q, %d keepalives", rec.pkts, esp, u.Keepalives.Load())
	}

	// A new factory: the next receive uses its receiver.
	rec2 := &ikeRecorder{}
	u.SetIKEBatch(func() IKEBatch { return rec2 })
	send(a500, "after")
	receive(s500, r500)
	if fmt.Sprint(rec2.pkts) != "[after]" || len(rec.pkts) != 1 {
		t.Fatalf("after a new factory: new receiver %q, old %q", rec2.pkts, rec.pkts)
	}
}
