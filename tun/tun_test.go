package tun

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tinyipsec/internal/nstest"
)

// The main goroutine keeps the main thread, so that no test goroutine runs
// there: a thread that joined another namespace is discarded when its
// goroutine ends, which the process's main thread cannot be.
func init() { runtime.LockOSThread() }

// testNS gives the test a namespace of its own (loopback up), or skips it
// where namespace tests cannot run (see nstest.Require; ip is always
// needed, tools names any other).
func testNS(t testing.TB, label string, tools ...string) *nstest.NS {
	t.Helper()
	nstest.Require(t, tools...)
	return nstest.New(t, label)
}

// inNS runs fn on an OS thread that has joined ns's network namespace.
// Sockets and devices created there stay in that namespace for good; the
// thread is thrown away afterwards instead of being switched back.
func inNS(t testing.TB, ns *nstest.NS, fn func()) {
	t.Helper()
	f, err := os.Open("/var/run/netns/" + ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- err
			return
		}
		fn()
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func ipv4UDP(src, dst netip.Addr, payload []byte) []byte {
	p := make([]byte, 28+len(payload))
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	p[8], p[9] = 64, 17
	s, d := src.As4(), dst.As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	binary.BigEndian.PutUint16(p[10:], ^csum(p[:20]))
	binary.BigEndian.PutUint16(p[20:], 4000)
	binary.BigEndian.PutUint16(p[22:], 4001)
	binary.BigEndian.PutUint16(p[24:], uint16(8+len(payload)))
	copy(p[28:], payload)
	return p
}

func csum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// TestDeviceRoutesAndRawSockets exercises the kernel side in a namespace:
// the TUN reads what is routed into it (through the policy rule) and
// delivers what is written to it; marked packets skip the TUN table; the
// raw sockets carry ESP over IPv4 and IPv6.
func TestDeviceRoutesAndRawSockets(t *testing.T) {
	ns := testNS(t, "tun")
	var (
		dev  *Device
		rt   *RTNL
		ipc  *IPConn
		derr error
	)
	inNS(t, ns, func() {
		if dev, derr = Open("tistest0", 1300); derr != nil {
			return
		}
		if rt, derr = DialRTNL(); derr != nil {
			return
		}
		ipc, derr = ListenIP()
	})
	if dev == nil || rt == nil || ipc == nil {
		t.Fatal(derr)
	}
	defer dev.Close()
	defer rt.Close()
	defer ipc.Close()
	if got := ns.Run(t, "ip", "-o", "link", "show", "tistest0"); !bytes.Contains([]byte(got), []byte("mtu 1300")) || !bytes.Contains([]byte(got), []byte("UP")) || !bytes.Contains([]byte(got), []byte("qlen 1000")) {
		t.Fatalf("device: %s", got)
	}
	local := netip.MustParsePrefix("10.9.0.1/24")
	if err := rt.AddAddr(dev.Index(), local); err != nil {
		t.Fatal(err)
	}
	const table, mark = 200, 0x55
	route := Route{Dst: netip.MustParsePrefix("10.8.0.0/24"), IfIndex: dev.Index(), Src: local.Addr(), Table: table}
	if err := rt.AddRoute(route); err != nil {
		t.Fatal(err)
	}
	rule := PolicyRule{Priority: 1000, Table: table, Mark: mark, InvertMark: true}
	if err := rt.AddRule(rule); err != nil {
		t.Fatal(err)
	}
	got, err := rt.RouteGet(netip.MustParseAddr("10.8.0.5"), 0)
	if err != nil || got.IfIndex != dev.Index() || got.Src != local.Addr() {
		t.Fatalf("route get: %+v, %v", got, err)
	}
	if got, err := rt.RouteGet(netip.MustParseAddr("10.8.0.5"), mark); err == nil && got.IfIndex == dev.Index() {
		t.Fatalf("marked packets must not use the TUN table: %+v", got)
	}
	addrs, err := rt.Addrs()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range addrs {
		found = found || a == local
	}
	if !found {
		t.Fatalf("Addrs() = %v, missing %v", addrs, local)
	}

	// Read: a datagram routed into the TUN.
	bufs := [][]byte{make([]byte, 2048), make([]byte, 2048)}
	sizes := make([]int, 2)
	var sendErr error
	inNS(t, ns, func() {
		var c *net.UDPConn
		if c, sendErr = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(10, 8, 0, 5), Port: 9}); sendErr == nil {
			_, sendErr = c.Write([]byte("hello tun"))
			c.Close()
		}
	})
	if sendErr != nil {
		t.Fatal(sendErr)
	}
	// Skip the IPv6 router solicitations the kernel sends on a new link.
	var p []byte
	for p == nil {
		n, err := dev.Read(bufs, sizes, 16)
		if err != nil || n < 1 {
			t.Fatalf("read: %d, %v", n, err)
		}
		for i := range n {
			if q := bufs[i][16 : 16+sizes[i]]; q[0]>>4 == 4 {
				p = q
			}
		}
	}
	if p[0]>>4 != 4 || p[9] != 17 || !bytes.HasSuffix(p, []byte("hello tun")) || netip.AddrFrom4([4]byte(p[16:20])) != netip.MustParseAddr("10.8.0.5") {
		t.Fatalf("unexpected packet % x", p)
	}

	// Write: a datagram from 10.8.0.5 to a socket on 10.9.0.1.
	var srv *net.UDPConn
	inNS(t, ns, func() {
		srv, sendErr = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 9, 0, 1), Port: 4001})
	})
	if sendErr != nil {
		t.Fatal(sendErr)
	}
	defer srv.Close()
	in := ipv4UDP(netip.MustParseAddr("10.8.0.5"), local.Addr(), []byte("from the tunnel"))
	wb := make([]byte, 8+len(in))
	copy(wb[8:], in)
	if _, err := dev.Write([][]byte{wb}, 8); err != nil {
		t.Fatal(err)
	}
	srv.SetReadDeadline(time.Now().Add(5 * time.Second))
	rb := make([]byte, 100)
	m, from, err := srv.ReadFromUDPAddrPort(rb)
	if err != nil || string(rb[:m]) != "from the tunnel" || from.Addr() != netip.MustParseAddr("10.8.0.5") {
		t.Fatalf("written packet not delivered: %q from %v, %v", rb[:m], from, err)
	}

	// Raw sockets: ESP to ourselves over lo, IPv4 and IPv6.
	readers := ipc.Readers()
	esp4 := make([]byte, 20+16)
	esp4[0] = 0x45
	binary.BigEndian.PutUint16(esp4[2:], uint16(len(esp4)))
	esp4[8], esp4[9] = 64, ProtoESP
	copy(esp4[12:], []byte{127, 0, 0, 1})
	copy(esp4[16:], []byte{127, 0, 0, 1})
	copy(esp4[20:], "\x00\x00\x10\x01\x00\x00\x00\x01spi+seq!")
	if err := ipc.Send([][]byte{esp4}, 0); err != nil {
		t.Fatal(err)
	}
	n, err := readers[0].Read(bufs, sizes, 0)
	if err != nil || n < 1 || !bytes.Equal(bufs[0][20:sizes[0]], esp4[20:]) || bufs[0][9] != ProtoESP {
		t.Fatalf("raw IPv4 receive: n=%d err=%v % x", n, err, bufs[0][:sizes[0]])
	}
	if len(readers) < 4 {
		t.Skip("no IPv6")
	}
	esp6 := make([]byte, 40+16)
	esp6[0] = 0x60
	binary.BigEndian.PutUint16(esp6[4:], 16)
	esp6[6], esp6[7] = ProtoESP, 64
	esp6[23], esp6[39] = 1, 1 // ::1 -> ::1
	copy(esp6[40:], "\x00\x00\x20\x02\x00\x00\x00\x01v6 spi+seq")
	if err := ipc.Send([][]byte{esp6}, 0); err != nil {
		t.Fatal(err)
	}
	n, err = readers[2].Read(bufs, sizes, 4)
	if err != nil || n < 1 {
		t.Fatalf("raw IPv6 receive: %d %v", n, err)
	}
	g := bufs[0][4 : 4+sizes[0]]
	if !bytes.Equal(g[:6], esp6[:6]) || g[6] != ProtoESP || !bytes.Equal(g[8:], esp6[8:]) {
		t.Fatalf("raw IPv6 receive:\n got % x\nwant % x", g, esp6)
	}
}

// TestCloseEndsRead: closing the device or the sockets wakes a blocked
// reader with an error that says "closed", which the packet loops treat
// as the end rather than a transient failure.
func TestCloseEndsRead(t *testing.T) {
	ns := testNS(t, "tun-close")
	var (
		dev *Device
		ipc *IPConn
		err error
	)
	inNS(t, ns, func() {
		if dev, err = Open("tistest1", 1400); err == nil {
			ipc, err = ListenIP()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	bufs, sizes := [][]byte{make([]byte, 2048)}, []int{0}
	errs := make(chan error, 2)
	go func() {
		for {
			if _, err := dev.Read(bufs, sizes, 0); err != nil {
				errs <- err
				return
			}
		}
	}()
	go func() {
		b, s := [][]byte{make([]byte, 2048)}, []int{0}
		_, err := ipc.Readers()[0].Read(b, s, 0)
		errs <- err
	}()
	dev.Close()
	ipc.Close()
	for range 2 {
		select {
		case err := <-errs:
			if !errors.Is(err, os.ErrClosed) {
				t.Fatalf("read after close: %v, want os.ErrClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("blocked read not woken by Close")
		}
	}
}

// TestOpenErrorText: a failing set-up step names itself, the MTU and the
// device, and the device is gone again.
func TestOpenErrorText(t *testing.T) {
	ns := testNS(t, "tun-open")
	var err error
	inNS(t, ns, func() { _, err = OpenWith("tistest1", 70000, false) })
	if err == nil || err.Error() != "tun: set MTU 70000 on tistest1: invalid argument" || !errors.Is(err, unix.EINVAL) {
		t.Fatalf("Open with MTU 70000: %v", err)
	}
	if out := ns.Run(t, "ip", "-o", "link"); bytes.Contains([]byte(out), []byte("tistest1")) {
		t.Fatalf("device left behind: %s", out)
	}
}
