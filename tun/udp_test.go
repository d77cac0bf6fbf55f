package tun

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tinyipsec/internal/nstest"
)

type udpEvent struct {
	kind          string
	pkt           string
	local, remote netip.AddrPort
}

// listenUDPIn opens the IKE sockets on addrs inside ns, closed when the
// test ends.
func listenUDPIn(t *testing.T, ns *nstest.NS, addrs []netip.Addr) *UDP {
	t.Helper()
	var u *UDP
	var err error
	inNS(t, ns, func() { u, err = ListenUDP(addrs) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

// listenIPIn opens the raw ESP/AH sockets inside ns, closed when the test
// ends.
func listenIPIn(t *testing.T, ns *nstest.NS) *IPConn {
	t.Helper()
	var ipc *IPConn
	var err error
	inNS(t, ns, func() { ipc, err = ListenIP() })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ipc.Close() })
	return ipc
}

// loopbackUDP4 opens a UDP socket on 127.0.0.1 (any port) inside ns,
// closed when the test ends.
func loopbackUDP4(t *testing.T, ns *nstest.NS) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	var err error
	inNS(t, ns, func() { c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// recordEvents starts u with handlers that report every IKE and ESP
// datagram on the returned channel.
func recordEvents(u *UDP) chan udpEvent {
	events := make(chan udpEvent, 10)
	u.SetIKEHandler(func(p []byte, l, r netip.AddrPort) { events <- udpEvent{"ike", string(p), l, r} })
	u.SetESPHandler(func(p []byte, l, r netip.AddrPort) { events <- udpEvent{"esp", string(p), l, r} })
	u.Start()
	return events
}

// nattPacket is what the transforms hand the wire for UDP-encapsulated
// ESP: an IPv4 packet from lo port 4500 to dst carrying esp.
func nattPacket(lo netip.Addr, dst netip.AddrPort, esp []byte) []byte {
	p := ipv4UDP(lo, lo, esp)
	p[20], p[21] = 0x11, 0x94 // source port 4500
	p[22], p[23] = byte(dst.Port()>>8), byte(dst.Port())
	return p
}

// TestUDPDemux checks RFC 3948 demultiplexing on real sockets: port 500 is
// IKE, 4500 with the non-ESP marker is IKE (marker stripped), a single 0xff
// is a keepalive, anything else on 4500 is ESP.
func TestUDPDemux(t *testing.T) {
	ns := testNS(t, "tun-udp")
	lo := netip.MustParseAddr("127.0.0.1")
	u := listenUDPIn(t, ns, []netip.Addr{lo})
	events := recordEvents(u)
	c := loopbackUDP4(t, ns)
	me := netip.MustParseAddrPort(c.LocalAddr().String())
	send := func(port uint16, p string) {
		if _, err := c.WriteToUDPAddrPort([]byte(p), netip.AddrPortFrom(lo, port)); err != nil {
			t.Fatal(err)
		}
	}
	send(500, "ikev1 on 500")
	send(4500, "\x00\x00\x00\x00ikev1 on 4500")
	send(4500, "\xff")
	send(4500, "\x00\x00\x10\x01esp")
	want := []udpEvent{
		{"ike", "ikev1 on 500", netip.AddrPortFrom(lo, 500), me},
		{"ike", "ikev1 on 4500", netip.AddrPortFrom(lo, 4500), me},
		{"esp", "\x00\x00\x10\x01esp", netip.AddrPortFrom(lo, 4500), me},
	}
	// Each socket has its own goroutine: compare without order.
	got := map[udpEvent]bool{}
	for range want {
		select {
		case e := <-events:
			got[e] = true
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d events: %v", len(got), got)
		}
	}
	for _, w := range want {
		if !got[w] {
			t.Fatalf("missing %+v in %+v", w, got)
		}
	}
	if u.Keepalives.Load() != 1 {
		t.Fatalf("keepalives = %d", u.Keepalives.Load())
	}
	// Sending: IKE on 4500 gets the marker, and the reply reaches c.
	if err := u.SendIKE([]byte("reply"), netip.AddrPortFrom(lo, 4500), me); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 64)
	n, from, err := c.ReadFromUDPAddrPort(b)
	if err != nil || string(b[:n]) != "\x00\x00\x00\x00reply" || from.Port() != 4500 {
		t.Fatalf("reply %q from %v: %v", b[:n], from, err)
	}
}

// FuzzUDPDispatch feeds arbitrary datagrams to the demultiplexer: it must
// never panic, and whatever reaches the ESP handler starts with a non-zero
// SPI.
func FuzzUDPDispatch(f *testing.F) {
	for _, s := range []string{"", "\xff", "\x00\x00\x00\x00ike", "\x00\x00\x10\x01esp", "\x00\x00"} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	u := &UDP{}
	u.SetIKEHandler(func(p []byte, l, r netip.AddrPort) {})
	u.SetESPHandler(func(p []byte, l, r netip.AddrPort) {
		if len(p) < 4 || p[0]|p[1]|p[2]|p[3] == 0 {
			panic("non-ESP datagram dispatched as ESP")
		}
	})
	f.Fuzz(func(t *testing.T, p []byte, natt bool) {
		port := uint16(PortIKE)
		if natt {
			port = PortNATT
		}
		u.dispatch(p, port, netip.AddrPort{}, netip.AddrPort{})
	})
}

// TestWireSendsNATT: a UDP-encapsulated ESP packet from the transforms
// leaves through the IKE socket on its source port, without IP and UDP
// headers.
func TestWireSendsNATT(t *testing.T) {
	ns := testNS(t, "tun-wire")
	lo := netip.MustParseAddr("127.0.0.1")
	u, ipc, c := listenUDPIn(t, ns, []netip.Addr{lo}), listenIPIn(t, ns), loopbackUDP4(t, ns)
	dst := netip.MustParseAddrPort(c.LocalAddr().String())
	esp := []byte("\x00\x00\x30\x03encrypted")
	pkt := nattPacket(lo, dst, esp)
	w := NewWire(ipc, u)
	if err := w.Send([][]byte{pkt}, 0); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 100)
	n, from, err := c.ReadFromUDPAddrPort(b)
	if err != nil || string(b[:n]) != string(esp) || from.Port() != PortNATT {
		t.Fatalf("got %q from %v: %v", b[:n], from, err)
	}
}

// TestUDPWildcardAddresses: on the default wildcard (dual-stack) sockets a
// datagram reports the address it was really sent to, for IPv4 and IPv6,
// and a reply from that address leaves from it, not from the address the
// kernel would pick towards the peer. The same on an IPv4-only wildcard
// socket (what a kernel without IPv6 gets).
func TestUDPWildcardAddresses(t *testing.T) {
	t.Run("dual-stack", func(t *testing.T) { testUDPWildcard(t, nil, true) })
	t.Run("ipv4-only", func(t *testing.T) { testUDPWildcard(t, []netip.Addr{netip.IPv4Unspecified()}, false) })
}

func testUDPWildcard(t *testing.T, listen []netip.Addr, v6 bool) {
	ns := testNS(t, "tun-pki")
	ns.Run(t, "ip", "addr", "add", "10.77.0.1/32", "dev", "lo")
	ns.Run(t, "ip", "addr", "add", "10.77.0.2/32", "dev", "lo")
	ns.Run(t, "ip", "addr", "add", "fd00:77::1/128", "dev", "lo", "nodad")
	ns.Run(t, "ip", "addr", "add", "fd00:77::2/128", "dev", "lo", "nodad")
	u := listenUDPIn(t, ns, listen)
	events := recordEvents(u)

	cases := []struct{ peer, dst string }{{"10.77.0.1", "10.77.0.2"}}
	if v6 {
		cases = append(cases, struct{ peer, dst string }{"fd00:77::1", "fd00:77::2"})
	}
	for _, tc := range cases {
		peer, dst := netip.MustParseAddr(tc.peer), netip.MustParseAddr(tc.dst)
		var c *net.UDPConn
		var err error
		inNS(t, ns, func() { c, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(peer, 0))) })
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		me := netip.MustParseAddrPort(c.LocalAddr().String())
		for _, m := range []struct {
			port uint16
			p    string
			want udpEvent
		}{
			{500, "ike", udpEvent{"ike", "ike", netip.AddrPortFrom(dst, 500), me}},
			{4500, "\x00\x00\x10\x01esp", udpEvent{"esp", "\x00\x00\x10\x01esp", netip.AddrPortFrom(dst, 4500), me}},
		} {
			if _, err := c.WriteToUDPAddrPort([]byte(m.p), netip.AddrPortFrom(dst, m.port)); err != nil {
				t.Fatal(err)
			}
			select {
			case e := <-events:
				if e != m.want {
					t.Fatalf("got %+v, want %+v", e, m.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("nothing received for %+v", m.want)
			}
		}
		// Replies: IKE on 500 and ESP on 4500 from dst, although the
		// kernel would answer peer from peer's own address.
		if err := u.SendIKE([]byte("reply"), netip.AddrPortFrom(dst, 500), me); err != nil {
			t.Fatal(err)
		}
		if err := u.SendESP([]byte("\x00\x00\x10\x02esp"), netip.AddrPortFrom(dst, 4500), me); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 64)
		for _, want := range []netip.AddrPort{netip.AddrPortFrom(dst, 500), netip.AddrPortFrom(dst, 4500)} {
			n, from, err := c.ReadFromUDPAddrPort(b)
			if err != nil {
				t.Fatal(err)
			}
			if from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port()); from != want {
				t.Fatalf("%q came from %v, want %v", b[:n], from, want)
			}
		}
	}
}

// TestUDPWildcardNoAllocs: reading a datagram with its destination
// address and sending one with a chosen source allocate nothing.
func TestUDPWildcardNoAllocs(t *testing.T) {
	ns := testNS(t, "tun-pka")
	ns.Run(t, "ip", "addr", "add", "10.77.1.1/32", "dev", "lo")
	u := listenUDPIn(t, ns, nil)
	var s *udpSock
	for _, x := range u.socks {
		if x.port == PortNATT {
			s = x
		}
	}
	// The socket sends to itself: the same call pair covers both paths.
	local := netip.MustParseAddrPort("10.77.1.1:4500")
	rd, err := newUDPBatchReader(s, 1)
	if err != nil {
		t.Fatal(err)
	}
	pkt := []byte("\x00\x00\x10\x01esp payload")
	roundTrip := func() {
		if err := u.SendESP(pkt, local, local); err != nil {
			t.Fatal(err)
		}
		n, err := rd.read()
		if err != nil || n != 1 {
			t.Fatalf("read %d datagrams: %v", n, err)
		}
		p, _, l, r := rd.message(0)
		if l != local || r != local || string(p) != string(pkt) {
			t.Fatalf("read %q %v %v", p, l, r)
		}
	}
	if a := testing.AllocsPerRun(100, roundTrip); a != 0 {
		t.Fatalf("%v allocations per datagram sent and received", a)
	}
}

// FuzzPktinfo: the control message walker never panics and never reads
// past its input.
func FuzzPktinfo(f *testing.F) {
	oob := make([]byte, oobSize)
	f.Add(oob[:putPktinfoSrc(oob, netip.MustParseAddr("10.0.0.1"), true)])
	f.Add(oob[:putPktinfoSrc(oob, netip.MustParseAddr("10.0.0.1"), false)])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		pktinfoDst(b)
	})
}

// TestPktinfoWalk: the control message walker finds IPV6_PKTINFO behind
// another message, with this platform's cmsghdr layout (size_t length
// field: 32-bit on mips/arm, also under qemu in -short runs).
func TestPktinfoWalk(t *testing.T) {
	want := netip.MustParseAddr("10.9.8.7")
	oob := make([]byte, 2*oobSize)
	// A first message of another type (IP_TOS-like, one int of data).
	hdr := unix.CmsgLen(0)
	first := unix.CmsgSpace(4)
	n := putPktinfoSrc(oob[first:], want, true)
	if cmsgLenSize == 8 {
		binary.NativeEndian.PutUint64(oob, uint64(hdr+4))
	} else {
		binary.NativeEndian.PutUint32(oob, uint32(hdr+4))
	}
	binary.NativeEndian.PutUint32(oob[cmsgLenSize:], unix.IPPROTO_IP)
	binary.NativeEndian.PutUint32(oob[cmsgLenSize+4:], unix.IP_TOS)
	got, ok := pktinfoDst(oob[:first+n])
	if !ok || got != want {
		t.Fatalf("got %v %v, want %v (unmapped)", got, ok, want)
	}
	if _, ok := pktinfoDst(oob[:first+hdr+unix.SizeofInet6Pktinfo-1]); ok {
		t.Fatal("truncated message accepted")
	}
}

// TestWireSendsNATTRun: a batch of NAT-T packets - a run of equal sizes
// ending with a shorter one, then one to another port - arrives as the
// same datagrams in the same order, whether the kernel segmented the run
// (UDP_SEGMENT) or the wire fell back to single sends; and the send
// allocates nothing.
func TestWireSendsNATTRun(t *testing.T) {
	ns := testNS(t, "tun-gso")
	lo := netip.MustParseAddr("127.0.0.1")
	u, ipc := listenUDPIn(t, ns, []netip.Addr{lo}), listenIPIn(t, ns)
	c1, c2 := loopbackUDP4(t, ns), loopbackUDP4(t, ns)
	packet := func(dst netip.AddrPort, esp string) []byte {
		return nattPacket(lo, dst, []byte(esp))
	}
	d1 := netip.MustParseAddrPort(c1.LocalAddr().String())
	d2 := netip.MustParseAddrPort(c2.LocalAddr().String())
	var batch [][]byte
	var want []string
	for i := 0; i < 10; i++ {
		m := fmt.Sprintf("\x00\x00\x30\x03esp packet %03d of the run", i)
		want = append(want, m)
		batch = append(batch, packet(d1, m))
	}
	want = append(want, "\x00\x00\x30\x03short")
	batch = append(batch, packet(d1, "\x00\x00\x30\x03short"))
	batch = append(batch, packet(d2, "\x00\x00\x30\x03to the other socket"))
	if n := udpRun(batch, 0, 20); n != 11 {
		t.Fatalf("udpRun = %d, want 11", n)
	}
	// Another SA to the same address and port is not merged.
	other := packet(d1, "\x00\x00\x30\x04esp packet 000 of the run")
	if n := udpRun([][]byte{batch[0], other, batch[1]}, 0, 20); n != 1 {
		t.Fatalf("udpRun across two SPIs = %d, want 1", n)
	}
	w := NewWire(ipc, u)
	if err := w.Send(batch, 0); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 200)
	c1.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i, m := range want {
		n, from, err := c1.ReadFromUDPAddrPort(b)
		if err != nil || string(b[:n]) != m || from.Port() != PortNATT {
			t.Fatalf("datagram %d: %q from %v (%v), want %q", i, b[:n], from, err, m)
		}
	}
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, _, err := c2.ReadFromUDPAddrPort(b); err != nil || string(b[:n]) != "\x00\x00\x30\x03to the other socket" {
		t.Fatalf("second socket: %q, %v", b[:n], err)
	}
	t.Logf("segmented sends refused: %v", u.gsoOff.Load())
	allocs := testing.AllocsPerRun(50, func() {
		if err := w.Send(batch[:11], 0); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per batch, want 0", allocs)
	}
}

// TestIKEPortSteersCookies: port 500 has a second socket, and the kernel
// steers every datagram with a non-zero responder cookie to it; first
// messages and runts stay on the first socket; a third socket that joins
// the group (another process) receives nothing; status lists port 500
// once and sends go out of the first socket.
func TestIKEPortSteersCookies(t *testing.T) {
	ns := testNS(t, "tun-steer")
	lo := netip.MustParseAddr("127.0.0.1")
	u := listenUDPIn(t, ns, []netip.Addr{lo})
	var first, steered *udpSock
	for _, s := range u.socks {
		switch {
		case s.port == PortIKE && s.steered:
			steered = s
		case s.port == PortIKE:
			first = s
		}
	}
	if steered == nil {
		t.Skip("the kernel refused the steering program")
	}
	var intruder *udpSock
	var err error
	inNS(t, ns, func() { intruder, err = openUDP("udp4", lo, PortIKE) })
	if err != nil {
		t.Fatal(err)
	}
	defer intruder.c.Close()
	c := loopbackUDP4(t, ns)
	header := func(ckyR byte, tag string) []byte {
		h := make([]byte, 28, 28+len(tag))
		h[0], h[15] = 0x11, ckyR
		return append(h, tag...)
	}
	sent := map[string]*udpSock{}
	for i := range 20 {
		for _, d := range []struct {
			pkt []byte
			to  *udpSock
		}{
			{header(0, "first"), first},
			{header(byte(i+1), "cookie"), steered},
			{[]byte("runt"), first},
		} {
			if _, err := c.WriteToUDPAddrPort(d.pkt, netip.AddrPortFrom(lo, PortIKE)); err != nil {
				t.Fatal(err)
			}
			sent[string(d.pkt)] = d.to
		}
	}
	read := func(conn *os.File) map[string]bool {
		got := map[string]bool{}
		b := make([]byte, 128)
		for {
			conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			n, err := conn.Read(b)
			if err != nil {
				return got
			}
			got[string(b[:n])] = true
		}
	}
	for _, s := range []*udpSock{first, steered} {
		for p := range read(s.c) {
			if sent[p] != s {
				t.Fatalf("%q arrived on the steered=%v socket", p, s.steered)
			}
			delete(sent, p)
		}
	}
	if len(sent) != 0 {
		t.Fatalf("%d datagrams not received on their socket", len(sent))
	}
	if got := read(intruder.c); len(got) != 0 {
		t.Fatalf("a third socket in the group received %d datagrams", len(got))
	}
	n := 0
	for _, p := range u.LocalPorts() {
		if p.Port() == PortIKE {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("status lists port 500 %d times", n)
	}
	if err := u.SendIKE([]byte("reply"), netip.AddrPortFrom(lo, PortIKE), netip.MustParseAddrPort(c.LocalAddr().String())); err != nil {
		t.Fatal(err)
	}
}

// connSock is a udpSock on a duplicate of c's socket, closed when the
// test ends: the daemon's sockets are *os.File, tests make theirs with
// net.
func connSock(t testing.TB, c *net.UDPConn, port uint16, addr netip.Addr) *udpSock {
	t.Helper()
	f, err := c.File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return fileSock(f, port, addr)
}

// fileSock wraps f, bound to port on addr, as openUDP does its socket.
// (Fd makes f blocking: test sockets only.)
func fileSock(f *os.File, port uint16, addr netip.Addr) *udpSock {
	rc, _ := f.SyscallConn()
	return &udpSock{c: f, rc: rc, fd: int(f.Fd()), port: port, addr: addr.Unmap(), v6: !addr.Is4()}
}

// TestListenErrorText: a socket that cannot be bound gives the text
// net.ListenUDP gives (its *net.OpError), under this package's prefix, and
// the system error stays reachable with errors.Is.
func TestListenErrorText(t *testing.T) {
	ns := testNS(t, "tun-listen")
	var busy *udpSock
	var err error
	inNS(t, ns, func() { busy, err = openUDP("udp", netip.IPv6Unspecified(), 4500) })
	if err != nil {
		t.Fatal(err)
	}
	defer busy.c.Close()
	for _, tc := range []struct {
		network, addr string
		errno         error // nil: not a system error
	}{
		{"udp4", "192.0.2.1:500", syscall.EADDRNOTAVAIL},
		{"udp", "[::]:4500", syscall.EADDRINUSE},
		{"udp", "[2001:db8::1]:500", syscall.EADDRNOTAVAIL},
		{"udp", "[fe80::1%nosuch0]:500", nil},
		{"udp4", "[::ffff:192.0.2.1]:4500", syscall.EADDRNOTAVAIL},
	} {
		ap := netip.MustParseAddrPort(tc.addr)
		var s *udpSock
		inNS(t, ns, func() { s, err = openUDP(tc.network, ap.Addr(), ap.Port()) })
		if err == nil {
			s.c.Close()
			t.Errorf("%s %s: bound", tc.network, ap)
			continue
		}
		cause := errors.Unwrap(err)
		want := "tun: listen on " + ap.String() + ": " +
			(&net.OpError{Op: "listen", Net: tc.network, Addr: net.UDPAddrFromAddrPort(ap), Err: cause}).Error()
		var se *os.SyscallError
		if err.Error() != want || (tc.errno != nil && (!errors.Is(err, tc.errno) || !errors.As(err, &se) || se.Syscall != "bind")) {
			t.Errorf("%s %s: %q, want %q (%v)", tc.network, ap, err, want, tc.errno)
		}
	}
}
