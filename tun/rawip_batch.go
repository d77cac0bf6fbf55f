package tun

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"tinyipsec/internal/header"
)

// Batched sends on the raw sockets: one sendmmsg per run of packets that
// leave through the same socket, instead of one sendto each. The
// mmsghdr/msghdr layouts are golang.org/x/sys/unix's, generated per
// architecture.
const rawBatch = 64

// rawTx is the send state, shared by the loops under mu.
type rawTx struct {
	_    [0]func() // not comparable: no generated == function (flash)
	mu   sync.Mutex
	msgs [rawBatch]unix.Mmsghdr
	iovs [rawBatch]unix.Iovec
	sa4  [rawBatch]unix.RawSockaddrInet4
	sa6  [rawBatch]unix.RawSockaddrInet6
	oob  [rawBatch][64]byte
}

// prepare fills message k for packet p and returns the socket it leaves
// through.
func (c *IPConn) prepare(k int, p []byte) (int, error) {
	t := c.tx
	m := &t.msgs[k]
	m.Hdr = unix.Msghdr{Iov: &t.iovs[k]}
	m.Hdr.SetIovlen(1)
	m.Len = 0
	if len(p) < 20 {
		return -1, errShort
	}
	switch header.Version(p) {
	case 4:
		t.sa4[k] = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: [4]byte(header.IPv4(p).Dst())}
		m.Hdr.Name = (*byte)(unsafe.Pointer(&t.sa4[k]))
		m.Hdr.Namelen = unix.SizeofSockaddrInet4
		t.iovs[k] = unix.Iovec{Base: &p[0]}
		t.iovs[k].SetLen(len(p))
		return c.send4, nil
	case 6:
		if len(p) <= ipv6HeaderLen {
			return -1, errShort
		}
		i := 0
		ip := header.IPv6(p)
		switch ip.NextHeader() {
		case ProtoESP:
		case ProtoAH:
			i = 1
		default:
			return -1, fmt.Errorf("tun: cannot send IPv6 next header %d", ip.NextHeader())
		}
		if c.send6[i] < 0 {
			return -1, errors.New("tun: IPv6 is not available")
		}
		// The kernel writes the IPv6 header from the socket address and
		// IPV6_PKTINFO (see IPConn).
		t.sa6[k] = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: [16]byte(ip.Dst())}
		m.Hdr.Name = (*byte)(unsafe.Pointer(&t.sa6[k]))
		m.Hdr.Namelen = unix.SizeofSockaddrInet6
		oob := t.oob[k][:]
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		h.Level, h.Type = unix.SOL_IPV6, unix.IPV6_PKTINFO
		h.SetLen(unix.CmsgLen(unix.SizeofInet6Pktinfo))
		info := (*unix.Inet6Pktinfo)(unsafe.Pointer(&oob[unix.CmsgLen(0)]))
		*info = unix.Inet6Pktinfo{Addr: [16]byte(ip.Src())}
		m.Hdr.Control = &oob[0]
		m.Hdr.SetControllen(unix.CmsgSpace(unix.SizeofInet6Pktinfo))
		payload := p[ipv6HeaderLen:]
		t.iovs[k] = unix.Iovec{Base: &payload[0]}
		t.iovs[k].SetLen(len(payload))
		return c.send6[i], nil
	}
	return -1, errors.New("tun: not an IP packet")
}

// Send puts whole IP packets bufs[i][offset:] on the wire, in order, a
// run per sendmmsg. Each packet is sent independently; the first error is
// returned after trying them all. It does not allocate and is safe for
// concurrent use.
func (c *IPConn) Send(bufs [][]byte, offset int) error {
	t := c.tx
	t.mu.Lock()
	defer t.mu.Unlock()
	var first error
	n, fd := 0, -1
	for _, b := range bufs {
		if n == rawBatch {
			first = firstErr(first, c.flush(fd, n))
			n = 0
		}
		pfd, err := c.prepare(n, b[offset:])
		if err != nil {
			first = firstErr(first, c.flush(fd, n))
			first = firstErr(first, err)
			n, fd = 0, -1
			continue
		}
		if n > 0 && pfd != fd {
			// Another socket: send what is collected, then move this
			// packet's message to the front.
			first = firstErr(first, c.flush(fd, n))
			_, _ = c.prepare(0, b[offset:])
			n = 0
		}
		fd = pfd
		n++
	}
	first = firstErr(first, c.flush(fd, n))
	clear(t.iovs[:])
	return first
}

func firstErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// flush sends messages 0..n-1 through fd; a packet the kernel refuses is
// reported and skipped.
func (c *IPConn) flush(fd, n int) error {
	t := c.tx
	var first error
	for sent := 0; sent < n; {
		r, _, e := quickSyscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&t.msgs[sent])), uintptr(n-sent), unix.MSG_DONTWAIT, 0, 0)
		switch {
		case e == unix.EINTR:
			continue
		case e == unix.EAGAIN:
			// MSG_DONTWAIT, as quickSyscall6 must not block: wait until
			// the send buffer has room, as a blocking send would.
			waitWritable(fd)
			continue
		case e != 0:
			if first == nil {
				first = fmt.Errorf("tun: send: %w", e)
			}
			sent++
		default:
			sent += int(r)
		}
	}
	return first
}

// waitWritable blocks until fd may be written to (or fails: the next send
// reports why).
func waitWritable(fd int) {
	pfd := [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	for {
		if _, err := unix.Poll(pfd[:], 1000); err != unix.EINTR {
			return
		}
	}
}
