package tun

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"tinyipsec/internal/netif"
)

// A wildcard socket does not know by itself which of the router's
// addresses a datagram was sent to, nor which one its replies leave from.
// Both matter: IKE's NAT-D hashes cover the local address, the peer
// expects answers from the address it talked to, and UDP-encapsulated ESP
// is rebuilt into an IP packet with the real destination. The kernel
// reports the destination in an IP_PKTINFO / IPV6_PKTINFO control message
// and takes the source from the same message on send. On the dual-stack
// IPv6 socket, IPv4 datagrams come with IPV6_PKTINFO holding the
// IPv4-mapped address, and an IPv4-mapped IPV6_PKTINFO sets their source.

// oobSize has room for one in6_pktinfo (or in_pktinfo) control message.
const oobSize = 64

// pktinfoDst returns the destination address from the IP_PKTINFO or
// IPV6_PKTINFO message in oob (unmapped). It walks the control messages
// in place: no allocation on the receive path.
func pktinfoDst(oob []byte) (netip.Addr, bool) {
	for {
		level, typ, data, rest, ok := nextCmsg(oob)
		if !ok {
			return netip.Addr{}, false
		}
		switch {
		case level == unix.IPPROTO_IPV6 && typ == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			return netip.AddrFrom16([16]byte(data[:16])).Unmap(), true
		case level == unix.IPPROTO_IP && typ == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			// in_pktinfo: ifindex, spec_dst, then the header's destination.
			return netip.AddrFrom4([4]byte(data[8:12])), true
		}
		oob = rest
	}
}

// putPktinfoSrc writes into oob a control message that makes src the
// source address of a datagram sent on a wildcard socket of the given
// family, and returns its length.
func putPktinfoSrc(oob []byte, src netip.Addr, v6sock bool) int {
	hdr := unix.CmsgLen(0)
	var level, typ, dlen int
	if v6sock {
		level, typ, dlen = unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, unix.SizeofInet6Pktinfo
	} else {
		level, typ, dlen = unix.IPPROTO_IP, unix.IP_PKTINFO, unix.SizeofInet4Pktinfo
	}
	n := unix.CmsgSpace(dlen)
	clear(oob[:n])
	if cmsgLenSize == 8 {
		binary.NativeEndian.PutUint64(oob, uint64(hdr+dlen))
	} else {
		binary.NativeEndian.PutUint32(oob, uint32(hdr+dlen))
	}
	binary.NativeEndian.PutUint32(oob[cmsgLenSize:], uint32(level))
	binary.NativeEndian.PutUint32(oob[cmsgLenSize+4:], uint32(typ))
	data := oob[hdr:]
	if v6sock {
		a := src.As16() // IPv4-mapped for an IPv4 source
		copy(data[:16], a[:])
	} else {
		a := src.As4()
		copy(data[4:8], a[:]) // ipi_spec_dst; ifindex 0 lets routing choose
	}
	return n
}

// udpMsg is the argument block of one sendmsg on an IKE socket: the
// destination, an optional source address or segment size as control
// messages, and the iovecs. Every send on these sockets goes through it,
// with the system call made in the socket's RawConn.Write: one send path
// instead of net's WriteToUDPAddrPort and WriteMsgUDPAddrPort, each with
// its IPv4 and IPv6 variants down to package syscall (flash).
type udpMsg struct {
	msg unix.Msghdr
	sa4 unix.RawSockaddrInet4
	sa6 unix.RawSockaddrInet6
	oob [oobSize + 32]byte
	err syscall.Errno
	fn  func(fd uintptr) bool // ready, bound once
	iov unix.Iovec            // a single datagram's
}

func newUDPMsg() *udpMsg {
	m := new(udpMsg)
	m.fn = m.ready
	return m
}

// ready makes the system call when the socket is writable.
func (m *udpMsg) ready(fd uintptr) bool {
	for {
		_, _, e := unix.Syscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&m.msg)), 0)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		m.err = e
		return true
	}
}

// send sends the niov iovecs at iov as one datagram (or, with a
// UDP_SEGMENT message among the oobLen bytes of m.oob, as a run of them)
// from s to remote. An IPv6 destination on an IPv4 socket is refused, as
// net refuses it.
func (m *udpMsg) send(s *udpSock, iov *unix.Iovec, niov int, remote netip.AddrPort, oobLen int) error {
	m.msg = unix.Msghdr{Iov: iov}
	m.msg.SetIovlen(niov)
	ra := remote.Addr()
	if s.v6 {
		m.sa6 = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: ra.As16()} // IPv4-mapped for IPv4
		if z := ra.Zone(); z != "" {
			i, err := netif.Index(z)
			if err != nil {
				return err
			}
			m.sa6.Scope_id = uint32(i)
		}
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&m.sa6.Port))[:], remote.Port())
		m.msg.Name = (*byte)(unsafe.Pointer(&m.sa6))
		m.msg.Namelen = unix.SizeofSockaddrInet6
	} else if ra = ra.Unmap(); ra.Is4() {
		m.sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: ra.As4()}
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&m.sa4.Port))[:], remote.Port())
		m.msg.Name = (*byte)(unsafe.Pointer(&m.sa4))
		m.msg.Namelen = unix.SizeofSockaddrInet4
	} else {
		return unix.EAFNOSUPPORT
	}
	if oobLen > 0 {
		m.msg.Control = &m.oob[0]
		m.msg.SetControllen(oobLen)
	}
	m.err = 0
	if err := s.rc.Write(m.fn); err != nil {
		return err
	}
	if m.err != 0 {
		return m.err
	}
	return nil
}

// msgPool holds the argument blocks of single sends: senders run
// concurrently (IKE and every packet loop of the engine).
var msgPool = sync.Pool{New: func() any { return newUDPMsg() }}

// write sends p to remote from s; on a wildcard socket with a usable
// local address that address becomes the source.
func (s *udpSock) write(p []byte, local, remote netip.AddrPort) error {
	m := msgPool.Get().(*udpMsg)
	m.iov = unix.Iovec{Base: unsafe.SliceData(p)}
	m.iov.SetLen(len(p))
	n := 0
	if src := local.Addr().Unmap(); usePktinfo(s, src, remote) {
		n = putPktinfoSrc(m.oob[:], src, s.v6)
	}
	err := m.send(s, &m.iov, 1, remote, n)
	m.iov = unix.Iovec{} // no reference to p kept in the pool
	msgPool.Put(m)
	return err
}
