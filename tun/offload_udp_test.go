package tun

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"tinyipsec/internal/nstest"
)

// TestOffloadUDP writes 20 datagrams of one flow in one Write to a real
// UDP socket in a namespace, over IPv4 and IPv6: with USO accepted they
// are merged into one UDP_L4 super-packet (the kernel counts at most a few
// packets), and the socket still receives 20 intact datagrams in order.
func TestOffloadUDP(t *testing.T) {
	nstest.Require(t, "ip")
	t.Run("ipv4", func(t *testing.T) { testOffloadUDP(t, false) })
	t.Run("ipv6", func(t *testing.T) { testOffloadUDP(t, true) })
}

func testOffloadUDP(t *testing.T, v6 bool) {
	prefix, network, addr := netip.MustParsePrefix("10.9.0.1/24"), "udp4", "10.9.0.1:5556"
	if v6 {
		prefix, network, addr = netip.MustParsePrefix("fd09::1/64"), "udp6", "[fd09::1]:5556"
	}
	var pc net.PacketConn
	ns, dev := openAddressed(t, "tunuso", "tisuso0", prefix, func() (err error) {
		pc, err = net.ListenPacket(network, addr)
		return err
	})
	defer pc.Close()
	vh, _, uso := dev.Offloads()
	if !vh || !uso {
		t.Skipf("the kernel did not accept USO on the TUN (vnet header %v, USO %v): UDP is written unmerged", vh, uso)
	}

	const n, size = 20, 1000
	var batch [][]byte
	for i := 0; i < n; i++ {
		l := size
		if i == n-1 {
			l = 300 // the last may be shorter
		}
		payload := make([]byte, l)
		for j := range payload {
			payload[j] = byte(i*31 + j)
		}
		batch = append(batch, udpPacketFamily(v6, payload))
	}
	hl := 28
	from := "10.9.0.2:40000"
	if v6 {
		hl, from = 48, "[fd09::2]:40000"
	}
	want := make([][]byte, n)
	for i, p := range batch {
		want[i] = append([]byte(nil), p[hl:]...)
	}
	rx0, _ := devCounters(t, ns, "tisuso0")
	if _, err := dev.Write(batch, 0); err != nil {
		t.Fatal(err)
	}
	expectDatagrams(t, pc, want, from)
	rx1, _ := devCounters(t, ns, "tisuso0")
	if rx1-rx0 > 3 {
		t.Fatalf("kernel counted %d packets for %d merged datagrams", rx1-rx0, n)
	}
	t.Logf("%d datagrams written as %d packets", n, rx1-rx0)
}

// expectDatagrams reads len(want) datagrams from pc (10 s at most) and
// checks each one's bytes and source address.
func expectDatagrams(t *testing.T, pc net.PacketConn, want [][]byte, from string) {
	t.Helper()
	pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 65536)
	for i := range want {
		m, src, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if !bytes.Equal(buf[:m], want[i]) {
			t.Fatalf("datagram %d differs (%d bytes, want %d)", i, m, len(want[i]))
		}
		if src.String() != from {
			t.Fatalf("datagram %d from %v, want %s", i, src, from)
		}
	}
}

// udpPacketFamily builds udpPacket's datagram, or over IPv6
// [fd09::2]:40000 -> [fd09::1]:5556.
func udpPacketFamily(v6 bool, payload []byte) []byte {
	if !v6 {
		return udpPacket(payload)
	}
	p := make([]byte, 48+len(payload))
	p[0] = 0x60
	binary.BigEndian.PutUint16(p[4:], uint16(len(p)-40))
	p[6], p[7] = 17, 64
	copy(p[8:24], []byte{0xfd, 0x09, 15: 2})
	copy(p[24:40], []byte{0xfd, 0x09, 15: 1})
	putTestUDP(p[40:], payload, checksumOf(0, p[8:40]))
	return p
}

// testIPv4 writes the IPv4 header of the test packets into p: 10.9.0.2 ->
// 10.9.0.1, DF, protocol proto, the length of p, and the checksum.
func testIPv4(p []byte, proto byte) {
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	p[6] = 0x40
	p[8], p[9] = 64, proto
	copy(p[12:16], []byte{10, 9, 0, 2})
	copy(p[16:20], []byte{10, 9, 0, 1})
	binary.BigEndian.PutUint16(p[10:], ^foldSum(checksumOf(0, p[:20])))
}

// udpPacket builds 10.9.0.2:40000 -> 10.9.0.1:5556 with a full checksum.
func udpPacket(payload []byte) []byte {
	p := make([]byte, 28+len(payload))
	testIPv4(p, 17)
	putTestUDP(p[20:], payload, checksumOf(0, p[12:20]))
	return p
}

// putTestUDP writes port 40000 -> 5556, the length, payload and the
// checksum into u, given the sum of the pseudo-header's addresses.
func putTestUDP(u, payload []byte, addrs uint64) {
	binary.BigEndian.PutUint16(u[0:], 40000)
	binary.BigEndian.PutUint16(u[2:], 5556)
	binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
	copy(u[8:], payload)
	c := ^foldSum(addrs + 17 + uint64(len(u)) + checksumOf(0, u))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(u[6:], c)
}
