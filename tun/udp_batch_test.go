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

	"tinyipsec/internal/nstest"
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
	nstest.Require(t, "ip")
	ns := nstest.New(t, "tun-udpb")
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
	s := &udpSock{c: srv, port: dst.Port(), addr: dst.Addr()}
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
