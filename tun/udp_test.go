package tun

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"tinyipsec/internal/nstest"
)

type udpEvent struct {
	kind          string
	pkt           string
	local, remote netip.AddrPort
}

// TestUDPDemux checks RFC 3948 demultiplexing on real sockets: port 500 is
// IKE, 4500 with the non-ESP marker is IKE (marker stripped), a single 0xff
// is a keepalive, anything else on 4500 is ESP.
func TestUDPDemux(t *testing.T) {
	nstest.Require(t, "ip")
	ns := nstest.New(t, "tun-udp")
	var u *UDP
	var err error
	lo := netip.MustParseAddr("127.0.0.1")
	inNS(t, ns, func() { u, err = ListenUDP([]netip.Addr{lo}) })
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	events := make(chan udpEvent, 10)
	u.SetIKEHandler(func(p []byte, l, r netip.AddrPort) { events <- udpEvent{"ike", string(p), l, r} })
	u.SetESPHandler(func(p []byte, l, r netip.AddrPort) { events <- udpEvent{"esp", string(p), l, r} })
	u.Start()

	var c *net.UDPConn
	inNS(t, ns, func() { c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}) })
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
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
	nstest.Require(t, "ip")
	ns := nstest.New(t, "tun-wire")
	lo := netip.MustParseAddr("127.0.0.1")
	var (
		u   *UDP
		ipc *IPConn
		c   *net.UDPConn
		err error
	)
	inNS(t, ns, func() {
		if u, err = ListenUDP([]netip.Addr{lo}); err != nil {
			return
		}
		if ipc, err = ListenIP(); err != nil {
			return
		}
		c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	defer ipc.Close()
	defer c.Close()
	dst := netip.MustParseAddrPort(c.LocalAddr().String())
	esp := []byte("\x00\x00\x30\x03encrypted")
	pkt := ipv4UDP(lo, lo, esp)
	pkt[20], pkt[21] = 0x11, 0x94 // source port 4500
	pkt[22], pkt[23] = byte(dst.Port()>>8), byte(dst.Port())
	w := &Wire{IP: ipc, UDP: u}
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
