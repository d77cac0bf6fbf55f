package tun

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"tinyipsec/internal/nstest"
)

// TestWireSendsNATTRun: a batch of NAT-T packets - a run of equal sizes
// ending with a shorter one, then one to another port - arrives as the
// same datagrams in the same order, whether the kernel segmented the run
// (UDP_SEGMENT) or the wire fell back to single sends; and the send
// allocates nothing.
func TestWireSendsNATTRun(t *testing.T) {
	nstest.Require(t, "ip")
	ns := nstest.New(t, "tun-gso")
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
