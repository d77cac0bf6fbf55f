package tun

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"tinyipsec/internal/nstest"
)

// TestIKEPortSteersCookies: port 500 has a second socket, and the kernel
// steers every datagram with a non-zero responder cookie to it; first
// messages and runts stay on the first socket; a third socket that joins
// the group (another process) receives nothing; status lists port 500
// once and sends go out of the first socket.
func TestIKEPortSteersCookies(t *testing.T) {
	nstest.Require(t, "ip")
	ns := nstest.New(t, "tun-steer")
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
	var intruder *net.UDPConn
	var err error
	inNS(t, ns, func() { intruder, err = listenReusePort("udp4", netip.AddrPortFrom(lo, PortIKE)) })
	if err != nil {
		t.Fatal(err)
	}
	defer intruder.Close()
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
	read := func(conn *net.UDPConn) map[string]bool {
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
	if got := read(intruder); len(got) != 0 {
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
