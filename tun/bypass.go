package tun

import (
	"errors"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"tinyipsec/internal/header"
)

// Bypass sends whole cleartext IP packets (IPv4 or IPv6, header included)
// out through the kernel's routing, like a raw socket with IP_HDRINCL: the
// outbound path uses it for traffic that no crypto ACL entry permits. Its
// sockets carry a firewall mark so that policy routing sends the packets
// by the main table, not back into the TUN.
//
// IPv4 uses an IPPROTO_RAW socket (IP_HDRINCL implied); for IPv6 an
// IPPROTO_RAW socket implies IPV6_HDRINCL (Linux 4.5 and newer), so both
// families keep the packet exactly as the TUN delivered it.
type Bypass struct {
	fd4, fd6 int
}

// ListenBypass opens the sockets with firewall mark mark. IPv6 is
// optional: without it, IPv6 packets are refused with an error.
func ListenBypass(mark uint32) (*Bypass, error) {
	b := &Bypass{fd4: -1, fd6: -1}
	var err error
	if b.fd4, err = socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW); err != nil {
		return nil, tunErr("bypass socket", err)
	}
	if fd, err := socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW); err == nil {
		b.fd6 = fd
	} else if !errors.Is(err, unix.EAFNOSUPPORT) {
		b.Close()
		return nil, tunErr("IPv6 bypass socket", err)
	}
	if err := setMark(mark, b.fd4, b.fd6); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// Send sends the packets bufs[i][offset:]; the first error is returned
// after trying them all. It does not allocate (but for errors) and is safe
// for concurrent use.
func (b *Bypass) Send(bufs [][]byte, offset int) error {
	var first error
	for _, buf := range bufs {
		if err := b.send(buf[offset:]); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (b *Bypass) send(p []byte) error {
	if len(p) < 20 {
		return errShort
	}
	switch header.Version(p) {
	case 4:
		return sendIPv4(b.fd4, p)
	case 6:
		if len(p) < ipv6HeaderLen {
			return errShort
		}
		if b.fd6 < 0 {
			return errors.New("tun: IPv6 is not available")
		}
		var sa unix.RawSockaddrInet6
		sa.Family = unix.AF_INET6
		copy(sa.Addr[:], header.IPv6(p).Dst())
		return sendto(b.fd6, p, unsafe.Pointer(&sa), unix.SizeofSockaddrInet6)
	}
	return errors.New("tun: not an IP packet")
}

// Close closes the sockets.
func (b *Bypass) Close() error {
	for _, fd := range []*int{&b.fd4, &b.fd6} {
		if *fd >= 0 {
			syscall.Close(*fd)
			*fd = -1
		}
	}
	return nil
}
