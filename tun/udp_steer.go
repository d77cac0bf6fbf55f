package tun

import (
	"net"
	"net/netip"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"tinyipsec/internal/netif"
)

// Two queues for port 500. Under a flood of forged first messages the
// socket's queue fills, and the kernel drops whatever arrives next: the
// third message of a real peer as likely as a forged first one. So port
// 500 gets a second socket in a SO_REUSEPORT group, and a classic BPF
// program, run by the kernel for each datagram, steers every message
// that carries a responder cookie (bytes 8 to 15 of the ISAKMP header
// not zero: third message on, Quick Mode, Informational) to it; first
// messages stay on the first socket. A flood can then only fill the first
// queue. Where the kernel refuses the program (before Linux 4.5), the
// port has its one socket as before.
//
// The group also lets another process of the same user bind port 500;
// such a socket gets index 2 or more, which the program never returns,
// so it receives nothing (and tinyipsec everything).

// cookieSteer is the program: the datagram's payload starts at the
// ISAKMP header (the kernel has pulled the UDP header); a load past the
// end (a runt) ends the program with 0, the first socket.
var cookieSteer = []unix.SockFilter{
	{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 8},                // A = responder cookie, high word
	{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: 0, Jt: 0, Jf: 2}, // not zero: socket 1
	{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 12},               // A = low word
	{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: 0, Jt: 1, Jf: 0}, // zero: socket 0
	{Code: unix.BPF_RET | unix.BPF_K, K: 1},
	{Code: unix.BPF_RET | unix.BPF_K, K: 0},
}

// listenReusePort binds like net.ListenUDP with SO_REUSEPORT set first.
// The socket is made here and handed to net with FilePacketConn because
// net.ListenConfig.ListenPacket takes the address as a string and so
// links net's whole DNS resolver (0.3 MB of a router binary) for an
// address that is never a name.
func listenReusePort(network string, a netip.AddrPort) (*net.UDPConn, error) {
	fail := func(op string, err error) (*net.UDPConn, error) {
		return nil, listenError(network, a, os.NewSyscallError(op, err))
	}
	family := unix.AF_INET6
	var sa syscall.Sockaddr
	if network == "udp4" {
		family = unix.AF_INET
		sa = &syscall.SockaddrInet4{Port: int(a.Port()), Addr: a.Addr().Unmap().As4()}
	} else {
		sa6 := &syscall.SockaddrInet6{Port: int(a.Port()), Addr: a.Addr().As16()}
		if z := a.Addr().Zone(); z != "" {
			i, err := netif.Index(z)
			if err != nil {
				return nil, listenError(network, a, err)
			}
			sa6.ZoneId = uint32(i)
		}
		sa = sa6
	}
	fd, err := syscall.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fail("socket", err)
	}
	f := os.NewFile(uintptr(fd), "udp") // closes fd on every path below
	defer f.Close()
	if family == unix.AF_INET6 {
		// "udp" on an IPv6 address is dual-stack, as net.ListenUDP makes it.
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0); err != nil {
			return fail("setsockopt", err)
		}
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
		return fail("setsockopt", err)
	}
	if err := syscall.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	pc, err := net.FilePacketConn(f) // a duplicate of fd
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// listenError is the error net.ListenUDP returns, built out of line: the
// error paths are set-up code, and each inlined copy cost flash.
//
//go:noinline
func listenError(network string, a netip.AddrPort, err error) error {
	return &net.OpError{Op: "listen", Net: network, Addr: net.UDPAddrFromAddrPort(a), Err: err}
}

// attachSteer installs cookieSteer on the group of c.
func attachSteer(c *net.UDPConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	prog := unix.SockFprog{Len: uint16(len(cookieSteer)), Filter: &cookieSteer[0]}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_REUSEPORT_CBPF, &prog)
	}); err != nil {
		return err
	}
	return serr
}
