package tun

import (
	"net/netip"
	"syscall"
	"testing"
)

// BenchmarkUDPSend: one datagram of 1400 bytes sent the way SendESP and
// SendIKE send it (udpSock.write), on a socket bound to its address and on
// the daemon's dual-stack wildcard socket (source address by
// IPV6_PKTINFO), and a run of 16 through the wire (one segmented send),
// beside a plain sendto system call on a blocking socket in the same run:
// the ratio to it is the figure to compare. The datagrams leave through a
// veth whose peer is down, in a namespace of the benchmark's own, so the
// kernel's share is the send path alone (no receive processing, which on
// loopback costs more than the send and varies with the machine's load).
func BenchmarkUDPSend(b *testing.B) {
	ns := testNS(b, "tun-bsend", "ip")
	ns.Run(b, "ip", "link", "add", "bs0", "type", "veth", "peer", "name", "bs1")
	ns.Run(b, "ip", "addr", "add", "10.93.0.1/24", "dev", "bs0")
	ns.Run(b, "ip", "link", "set", "bs0", "up")
	ns.Run(b, "ip", "neigh", "replace", "10.93.0.2", "lladdr", "02:00:00:00:00:02", "dev", "bs0", "nud", "permanent")
	remote := netip.MustParseAddrPort("10.93.0.2:4500")
	local := netip.MustParseAddrPort("10.93.0.1:4500")
	p := make([]byte, 1400)
	p[3] = 1 // an SPI
	listen := func(network, bind string) *udpSock {
		var s *udpSock
		var err error
		ap := netip.MustParseAddrPort(bind)
		inNS(b, ns, func() { s, err = openUDP(network, ap.Addr(), ap.Port()) })
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.c.Close() })
		return s
	}

	b.Run("raw", func(b *testing.B) {
		var fd int
		var err error
		inNS(b, ns, func() { fd, err = syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0) })
		if err != nil {
			b.Fatal(err)
		}
		defer syscall.Close(fd)
		to := &syscall.SockaddrInet4{Port: int(remote.Port()), Addr: remote.Addr().As4()}
		b.SetBytes(int64(len(p)))
		for b.Loop() {
			if err := syscall.Sendto(fd, p, 0, to); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, tc := range []struct {
		name, network, bind string
	}{
		{"bound", "udp4", "10.93.0.1:0"},
		{"wildcard", "udp", "[::]:0"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := listen(tc.network, tc.bind)
			s.port, s.tx = PortNATT, newUDPTx()
			b.SetBytes(int64(len(p)))
			for b.Loop() {
				if err := s.write(p, local, remote); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("run16", func(b *testing.B) {
		s := listen("udp", "[::]:0")
		s.port, s.tx = PortNATT, newUDPTx()
		w := NewWire(nil, &UDP{socks: []*udpSock{s}})
		batch := make([][]byte, 16)
		for i := range batch {
			batch[i] = nattPacket(local.Addr(), remote, p)
		}
		b.SetBytes(int64(len(batch) * len(p)))
		for b.Loop() {
			if err := w.Send(batch, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
}
