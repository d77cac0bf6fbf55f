package tun

import (
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSocketBufferSize(t *testing.T) {
	n := SocketBufferSize()
	if n < minSocketBuffer || n > maxSocketBuffer {
		t.Fatalf("SocketBufferSize() = %d, want within [%d, %d]", n, minSocketBuffer, maxSocketBuffer)
	}
}

// TestSocketDrops overflows a tiny loopback UDP receive buffer and checks
// that the kernel's drop count (what status shows as esp_socket and
// udp_socket) sees every datagram that did not fit.
func TestSocketDrops(t *testing.T) {
	if testing.Short() {
		t.Skip("SO_MEMINFO is not emulated everywhere (qemu-user)")
	}
	rx, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rx)
	if err := unix.SetsockoptInt(rx, unix.SOL_SOCKET, unix.SO_RCVBUF, 4096); err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(rx, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(rx)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(tx)
	if got := socketDrops(rx); got != 0 {
		t.Fatalf("fresh socket reports %d drops", got)
	}
	const sent = 200
	msg := make([]byte, 1000)
	for i := 0; i < sent; i++ {
		if err := unix.Sendto(tx, msg, 0, sa); err != nil {
			t.Fatal(err)
		}
	}
	queued := 0
	buf := make([]byte, 2000)
	for {
		if _, _, err := unix.Recvfrom(rx, buf, unix.MSG_DONTWAIT); err != nil {
			break
		}
		queued++
	}
	if drops := socketDrops(rx); drops == 0 || int(drops)+queued != sent {
		t.Fatalf("socketDrops = %d, %d datagrams queued, %d sent", drops, queued, sent)
	}
}

// TestInterfaceDrops: a device's counters are lo's columns of
// /proc/net/dev, the same as sysfs shows (read before and after, as lo may
// drop meanwhile); a missing interface has none.
func TestInterfaceDrops(t *testing.T) {
	sysfs := func(name string) uint64 {
		data, err := os.ReadFile("/sys/class/net/lo/statistics/" + name)
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	rx0, tx0 := sysfs("rx_dropped"), sysfs("tx_dropped")
	rx, tx := (&Device{name: "lo"}).KernelDrops()
	if rx < rx0 || rx > sysfs("rx_dropped") || tx < tx0 || tx > sysfs("tx_dropped") {
		t.Fatalf("lo: KernelDrops %d %d, sysfs rx_dropped %d, tx_dropped %d", rx, tx, rx0, tx0)
	}
	if rx, tx := (&Device{name: "no-such-if0"}).KernelDrops(); rx != 0 || tx != 0 {
		t.Fatalf("counters for a missing interface: %d %d", rx, tx)
	}
	// A name that is a prefix of a listed one is not that interface.
	if rx, tx := (&Device{name: "l"}).KernelDrops(); rx != 0 || tx != 0 {
		t.Fatalf("counters for l: %d %d", rx, tx)
	}
}

// TestKernelDropsOfSockets: the IKE/NAT-T and raw sockets' drop counts
// reach UDP.KernelDrops and IPConn.KernelDrops, and closed sockets are
// no longer read.
func TestKernelDropsOfSockets(t *testing.T) {
	if testing.Short() {
		t.Skip("SO_MEMINFO is not emulated everywhere (qemu-user)")
	}
	ns := testNS(t, "tun-drops")
	lo := netip.MustParseAddr("127.0.0.1")
	u := listenUDPIn(t, ns, []netip.Addr{lo})
	ipc := listenIPIn(t, ns)
	if n := u.KernelDrops() + ipc.KernelDrops(); n != 0 {
		t.Fatalf("fresh sockets report %d drops", n)
	}
	// Nothing reads the sockets (no Start): a small buffer on port 4500
	// and on the raw ESP socket overflows.
	var natt *udpSock
	for _, s := range u.socks {
		if s.port == PortNATT {
			natt = s
		}
	}
	esp4 := ipc.readers[0]
	for _, fd := range []int{natt.fd, esp4.fd} {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4096); err != nil {
			t.Fatal(err)
		}
	}
	c := loopbackUDP4(t, ns)
	var raw int
	var err error
	inNS(t, ns, func() { raw, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, ProtoESP) })
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(raw)
	msg := make([]byte, 1000)
	msg[3] = 1 // an SPI: ESP, not IKE
	for range 100 {
		if _, err := c.WriteToUDPAddrPort(msg, netip.AddrPortFrom(lo, PortNATT)); err != nil {
			t.Fatal(err)
		}
		if err := unix.Sendto(raw, msg, 0, &unix.SockaddrInet4{Addr: lo.As4()}); err != nil {
			t.Fatal(err)
		}
	}
	if n := u.KernelDrops(); n == 0 {
		t.Error("UDP.KernelDrops = 0 after overflowing port 4500")
	}
	if n := ipc.KernelDrops(); n == 0 {
		t.Error("IPConn.KernelDrops = 0 after overflowing the raw ESP socket")
	}
	u.Close()
	ipc.Close()
	if n := u.KernelDrops() + ipc.KernelDrops(); n != 0 {
		t.Errorf("closed sockets report %d drops", n)
	}
}
