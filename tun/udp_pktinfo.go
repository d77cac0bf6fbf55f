package tun

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"

	"golang.org/x/sys/unix"
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

// enablePktinfo asks the kernel for the destination address of each
// datagram.
func enablePktinfo(c *net.UDPConn, v6 bool) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		if v6 {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1)
		} else {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
		}
	}); err != nil {
		return err
	}
	return serr
}

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

// oobPool holds send-side control message buffers: senders run
// concurrently (IKE and every packet loop of the engine).
var oobPool = sync.Pool{New: func() any { return new([oobSize]byte) }}

// write sends p to remote from s; on a wildcard socket with a usable
// local address that address becomes the source.
func (s *udpSock) write(p []byte, local, remote netip.AddrPort) error {
	src := local.Addr().Unmap()
	if !s.addr.IsUnspecified() || !src.IsValid() || src.IsUnspecified() ||
		src.Is4() != remote.Addr().Unmap().Is4() || (src.Is6() && !s.addr.Is6()) {
		_, err := s.c.WriteToUDPAddrPort(p, remote)
		return err
	}
	oob := oobPool.Get().(*[oobSize]byte)
	n := putPktinfoSrc(oob[:], src, s.addr.Is6())
	_, _, err := s.c.WriteMsgUDPAddrPort(p, oob[:n], remote)
	oobPool.Put(oob)
	return err
}
