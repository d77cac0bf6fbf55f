package tun

import (
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

func TestInterfaceDrops(t *testing.T) {
	if _, _, ok := interfaceDrops("lo"); !ok {
		t.Fatal("no counters for lo in /proc/self/net/dev")
	}
	if _, _, ok := interfaceDrops("no-such-if0"); ok {
		t.Fatal("counters for a missing interface")
	}
}
