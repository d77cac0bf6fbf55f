package tun

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"tinyipsec/internal/netif"
)

// IKE ports.
const (
	PortIKE  = 500
	PortNATT = 4500
)

// UDPHandler receives one datagram. local is the address and port it was
// sent to, remote where it came from. pkt is only valid during the call.
type UDPHandler func(pkt []byte, local, remote netip.AddrPort)

// UDP owns the IKE sockets on ports 500 and 4500, shared by IKE and
// UDP-encapsulated ESP (RFC 3948):
//   - on 500 every datagram is IKE;
//   - on 4500 a datagram starting with the 4-byte non-ESP marker (zero) is
//     IKE (the marker is stripped before the IKE handler sees it), a single
//     0xff byte is a NAT-keepalive and is ignored, anything else is ESP
//     whose first 4 bytes are the (non-zero) SPI.
type UDP struct {
	socks []*udpSock
	ike   atomic.Pointer[UDPHandler]
	esp   atomic.Pointer[UDPHandler]
	wg    sync.WaitGroup

	espBatch func() ESPBatch
	// ikeBatch, when set, takes IKE instead of ike (SetIKEBatch).
	ikeBatch atomic.Pointer[func() IKEBatch]
	// gsoOff is set once the kernel refused a segmented send: runs of
	// ESP packets then go out one datagram at a time.
	gsoOff atomic.Bool

	// Ignored counts datagrams dropped before any handler: keepalives,
	// runts on 4500, and packets arriving while no handler is set.
	Keepalives atomic.Uint64
	Ignored    atomic.Uint64
}

type udpSock struct {
	_  [0]func() // not comparable: no generated == function (flash)
	tx *udpTx    // segmented sends (NAT-T)
	c  *os.File
	rc syscall.RawConn // c's, for every send
	// fd is c's descriptor, for the socket options set while c is
	// surely open (set-up): directly rather than through a closure
	// passed to rc.Control each (flash).
	fd   int
	port uint16
	addr netip.Addr // bound address; unspecified for the wildcard socket
	v6   bool       // an AF_INET6 socket (dual-stack on the wildcard)
	// closed: Close was called (the poller's "file closing" error is
	// not os.ErrClosed).
	closed atomic.Bool

	// steered: port 500's second socket, which receives only what
	// carries a responder cookie (udp_steer.go) and never sends.
	steered bool

	// The socket reader's IKE batch receiver and the factory it came
	// from (only the reader touches them).
	ikeFactory *func() IKEBatch
	ikeIn      IKEBatch
}

// ListenUDP binds ports 500 and 4500 on each address in addrs, or on the
// wildcard address (both families when the kernel has IPv6) when addrs is
// empty. Call Start to begin delivering packets.
func ListenUDP(addrs []netip.Addr) (*UDP, error) {
	u := &UDP{}
	if len(addrs) == 0 {
		addrs = []netip.Addr{netip.IPv6Unspecified()}
	}
	// The steering program for port 500's group (udp_steer.go).
	prog := unix.SockFprog{Len: uint16(len(cookieSteer)), Filter: &cookieSteer[0]}
	for _, a := range addrs {
		for _, port := range []uint16{PortIKE, PortNATT} {
			network := "udp"
			if a.Is4() {
				network = "udp4"
			}
			s, err := openUDP(network, a, port)
			if err != nil && a == netip.IPv6Unspecified() {
				// No IPv6 in this kernel: fall back to IPv4 only.
				a, network = netip.IPv4Unspecified(), "udp4"
				s, err = openUDP(network, a, port)
			}
			if err != nil {
				u.Close()
				return nil, err
			}
			if port == PortNATT {
				s.tx = newUDPTx()
			}
			// Port 500: a second queue for what carries a responder
			// cookie (udp_steer.go); best effort. Both sockets are
			// appended at once (one append: flash).
			socks, n := [2]*udpSock{s}, 1
			if port == PortIKE && unix.SetsockoptSockFprog(s.fd, unix.SOL_SOCKET, unix.SO_ATTACH_REUSEPORT_CBPF, &prog) == nil {
				if s2, err := openUDP(network, a, port); err == nil {
					s2.steered = true
					socks[1], n = s2, 2
				}
			}
			u.socks = append(u.socks, socks[:n]...)
		}
	}
	return u, nil
}

// openUDP binds one socket (port 500 with SO_REUSEPORT, for the steering
// group) with the data plane's buffer sizes and, on a wildcard address,
// packet info. The socket is made here, as net.ListenUDP would make it
// ("udp" on an IPv6 address is dual-stack), and handed to the runtime's
// poller as an *os.File: net's socket constructor (its dialer, listener
// and address-family probing) and FilePacketConn are linked for nothing
// else (flash); the send and receive paths use only the RawConn.
func openUDP(network string, a netip.Addr, port uint16) (*udpSock, error) {
	// The steps in one chain, so that a failure is reported and cleaned
	// up at one place; op names the system call that failed.
	family := unix.AF_INET6
	var sa syscall.Sockaddr
	var err error
	op := ""
	// The address as the socket reports it, unmapped once for every use;
	// the address and port as given, for the error. The two parts are
	// passed rather than an AddrPort that each caller builds (flash).
	addr, ap := a.Unmap(), netip.AddrPortFrom(a, port)
	if network == "udp4" {
		family = unix.AF_INET
		sa = &syscall.SockaddrInet4{Port: int(port), Addr: addr.As4()}
	} else {
		sa6 := &syscall.SockaddrInet6{Port: int(port), Addr: a.As16()}
		if z := a.Zone(); z != "" {
			var i int
			i, err = netif.Index(z)
			sa6.ZoneId = uint32(i)
		}
		sa = sa6
	}
	fd := -1
	if err == nil {
		op = "socket"
		var s int
		if s, err = socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0); err == nil {
			fd = s
			op = "setsockopt"
			err = setsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1)
		}
	}
	if err == nil && family == unix.AF_INET6 {
		err = setsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
	}
	if err == nil && port == PortIKE {
		err = setsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}
	if err == nil {
		op = "bind"
		err = syscall.Bind(fd, sa)
	}
	if err != nil {
		if fd >= 0 {
			syscall.Close(fd)
		}
		if op != "" {
			err = os.NewSyscallError(op, err)
		}
		// The error net.ListenUDP returns (the text of its *net.OpError,
		// which with its address type would be linked for this alone),
		// with this package's prefix.
		return nil, fmt.Errorf("tun: listen on %s: listen %s %s: %w", ap, network, netip.AddrPortFrom(addr, port), err)
	}
	sizeBuffers(fd)
	if a.IsUnspecified() {
		// Packet info: the kernel tells the destination address of each
		// datagram (udp_pktinfo.go).
		level, opt := unix.IPPROTO_IP, unix.IP_PKTINFO
		if family == unix.AF_INET6 {
			level, opt = unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO
		}
		if err := setsockoptInt(fd, level, opt, 1); err != nil {
			syscall.Close(fd)
			return nil, fmt.Errorf("tun: packet info on %s: %w", ap, err)
		}
	}
	f := os.NewFile(uintptr(fd), "udp")
	rc, _ := f.SyscallConn() // fails only on a nil file
	return &udpSock{c: f, rc: rc, fd: fd, port: port, addr: addr, v6: family == unix.AF_INET6}, nil
}

// SetIKEHandler sets the function that receives IKE messages (non-ESP
// marker already removed) one by one when no batch receiver is set
// (SetIKEBatch, which the daemon uses; tests use this). Safe to call at
// any time.
func (u *UDP) SetIKEHandler(h UDPHandler) { u.ike.Store(&h) }

// SetESPHandler sets the function that receives UDP-encapsulated ESP (the
// datagram payload, starting with the SPI).
func (u *UDP) SetESPHandler(h UDPHandler) { u.esp.Store(&h) }

// Start runs one receive goroutine per socket until Close. Every socket
// is read in batches (recvmmsg); on the NAT-T port, with an ESP batch
// receiver set, the kernel may also merge ESP datagrams (GRO).
func (u *UDP) Start() {
	for _, s := range u.socks {
		r, err := newUDPBatchReader(s, udpBatch)
		if err != nil {
			continue // not a socket with a descriptor: nothing to read
		}
		var b ESPBatch
		if s.port == PortNATT && u.espBatch != nil {
			enableGRO(s.fd)
			b = u.espBatch()
		}
		u.wg.Add(1)
		go func() {
			u.batchLoop(s, r, b)
			u.wg.Done()
		}()
	}
}

// LocalPorts lists the bound addresses (for status).
func (u *UDP) LocalPorts() []netip.AddrPort {
	var out []netip.AddrPort
	for _, s := range u.socks {
		if s.steered {
			continue
		}
		out = append(out, netip.AddrPortFrom(s.addr, s.port))
	}
	return out
}

func (u *UDP) dispatch(p []byte, port uint16, local, remote netip.AddrPort) {
	var h *UDPHandler
	switch {
	case port == PortIKE:
		h = u.ike.Load()
	case len(p) == 1 && p[0] == 0xff:
		u.Keepalives.Add(1)
		return
	case len(p) < 4:
		u.Ignored.Add(1)
		return
	case binary.BigEndian.Uint32(p) == 0:
		p = p[4:]
		h = u.ike.Load()
	default:
		h = u.esp.Load()
	}
	if h == nil {
		u.Ignored.Add(1)
		return
	}
	(*h)(p, local, remote)
}

func (u *UDP) sock(local netip.AddrPort) (*udpSock, error) {
	var wild *udpSock
	for _, s := range u.socks {
		if s.port != local.Port() || s.steered {
			continue
		}
		if s.addr == local.Addr().Unmap() {
			return s, nil
		}
		if s.addr.IsUnspecified() && (wild == nil || s.addr.Is6()) {
			wild = s
		}
	}
	if wild == nil {
		return nil, fmt.Errorf("tun: no socket bound to %s", local)
	}
	return wild, nil
}

// SendIKE sends an IKE message from local (its port chooses the socket;
// its address is the source, also on a wildcard socket) to remote. On
// port 4500 the non-ESP marker is prepended.
func (u *UDP) SendIKE(pkt []byte, local, remote netip.AddrPort) error {
	s, err := u.sock(local)
	if err != nil {
		return err
	}
	if s.port == PortNATT {
		m := make([]byte, 4+len(pkt))
		copy(m[4:], pkt)
		pkt = m
	}
	return s.write(pkt, local, remote)
}

// SendESP sends a UDP-encapsulated ESP packet (starting with the SPI) from
// local (port 4500, and its address as the source) to remote.
func (u *UDP) SendESP(pkt []byte, local, remote netip.AddrPort) error {
	s, err := u.sock(local)
	if err != nil {
		return err
	}
	return s.write(pkt, local, remote)
}

// SendKeepalive sends an RFC 3948 NAT-keepalive (one 0xff byte).
func (u *UDP) SendKeepalive(local, remote netip.AddrPort) error {
	return u.SendESP([]byte{0xff}, local, remote)
}

// KernelDrops is the number of datagrams (IKE and UDP-encapsulated ESP)
// the kernel dropped on the sockets, mostly because a receive buffer was
// full.
// It reads the descriptors directly rather than through a closure passed
// to RawConn.Control each (flash), skipping the sockets Close has marked:
// the read changes nothing, so even a descriptor closed meanwhile could
// only make this status figure wrong once.
func (u *UDP) KernelDrops() uint64 {
	var n uint64
	for _, s := range u.socks {
		if !s.closed.Load() {
			n += socketDrops(s.fd)
		}
	}
	return n
}

// Close closes every socket and waits for the receive goroutines.
func (u *UDP) Close() error {
	for _, s := range u.socks {
		s.closed.Store(true)
		s.c.Close()
	}
	u.wg.Wait()
	return nil
}

// SetMark sets the firewall mark (SO_MARK) of the sockets, so that IKE
// and NAT-T packets to a peer inside a protected prefix bypass the TUN.
func (u *UDP) SetMark(mark uint32) error {
	for _, s := range u.socks {
		if err := setMark(mark, s.fd); err != nil {
			return err
		}
	}
	return nil
}
