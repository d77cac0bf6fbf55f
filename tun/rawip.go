package tun

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"tinyipsec/internal/header"
)

// IP protocol numbers carried by the raw sockets.
const (
	ProtoESP = 50
	ProtoAH  = 51
)

const ipv6HeaderLen = header.IPv6Len

// IPConn carries ESP and AH over raw IP sockets, as whole IP packets.
//
// IPv4: the receive sockets (one per protocol) deliver the packet with its
// IP header; sends go through one IPPROTO_RAW socket, which implies
// IP_HDRINCL, because AH's ICV covers the outer header and the transforms
// build that header themselves.
//
// IPv6: raw sockets never carry the IPv6 header in either direction. On
// receive, the header is rebuilt in front of the payload from the source
// address and IPV6_PKTINFO, so the packet paths see one packet format for
// both families. On send, the header the transforms built is stripped and
// its source and destination are passed as IPV6_PKTINFO and the socket
// address; the kernel writes an identical header (AH treats the fields it
// may change - traffic class, flow label, hop limit - as zero anyway).
// A packet socket would keep full control but needs the link layer
// (neighbour resolution), which the kernel already does well.
type IPConn struct {
	send4    int // IPPROTO_RAW, blocking
	send6    [2]int
	tx       *rawTx
	readers  []*rawReader
	closeErr error
}

// ListenIP opens the raw sockets. IPv6 is optional: a kernel without IPv6
// gives an IPv4-only IPConn.
func ListenIP() (*IPConn, error) {
	c := &IPConn{send4: -1, send6: [2]int{-1, -1}, tx: new(rawTx)}
	var err error
	if c.send4, err = socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW); err != nil {
		return nil, tunErr("raw IPv4 socket", err)
	}
	sizeBuffers(c.send4)
	// The receive sockets of ESP and AH in each family, and IPv6's send
	// sockets, by one loop (flash).
	for i, proto := range [4]int{ProtoESP, ProtoAH, ProtoESP, ProtoAH} {
		fam := unix.AF_INET
		if i >= 2 {
			fam = unix.AF_INET6
			fd, err := socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
			if err != nil {
				if errors.Is(err, unix.EAFNOSUPPORT) {
					return c, nil
				}
				c.Close()
				return nil, tunErr("raw IPv6 socket", err)
			}
			c.send6[i-2] = fd
			sizeBuffers(fd)
		}
		fd, err := socket(fam, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, proto)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("tun: raw socket (family %d, protocol %d): %w", fam, proto, err)
		}
		if fam == unix.AF_INET6 {
			for j, opt := range [2]int{unix.IPV6_RECVPKTINFO, unix.IPV6_RECVHOPLIMIT} {
				if err := setsockoptInt(fd, unix.SOL_IPV6, opt, 1); err != nil {
					syscall.Close(fd)
					c.Close()
					return nil, tunErr([2]string{"IPV6_RECVPKTINFO", "IPV6_RECVHOPLIMIT"}[j], err)
				}
			}
		}
		// A larger receive buffer absorbs bursts while the decrypting
		// goroutine is busy.
		sizeBuffers(fd)
		r := &rawReader{family: fam, proto: proto, file: os.NewFile(uintptr(fd), "raw"), m: newMmsgReader(rawBatch, rawOOBSize), fd: fd}
		r.raw, _ = r.file.SyscallConn() // fails only on a nil file
		r.what, r.fn = "raw read", r.ready
		c.readers = append(c.readers, r)
	}
	return c, nil
}

// Readers returns one batch reader per receive socket; the caller runs a
// loop per reader.
func (c *IPConn) Readers() []*RawReader {
	out := make([]*RawReader, len(c.readers))
	for i, r := range c.readers {
		out[i] = &RawReader{r: r}
	}
	return out
}

// KernelDrops is the number of ESP and AH packets the kernel dropped on
// the receive sockets, mostly because a receive buffer was full.
// It reads the descriptors as UDP.KernelDrops does.
func (c *IPConn) KernelDrops() uint64 {
	var n uint64
	for _, r := range c.readers {
		if !r.closed.Load() {
			n += socketDrops(r.fd)
		}
	}
	return n
}

// Close closes every socket; blocked readers return an error.
func (c *IPConn) Close() error {
	if c.send4 >= 0 {
		syscall.Close(c.send4)
		c.send4 = -1
	}
	for i, fd := range c.send6 {
		if fd >= 0 {
			syscall.Close(fd)
			c.send6[i] = -1
		}
	}
	for _, r := range c.readers {
		r.closed.Store(true)
		r.file.Close()
	}
	return nil
}

var errShort = errors.New("tun: packet too short")

// sendIPv4 sends a complete IPv4 packet, header included (an IP_HDRINCL
// or IPPROTO_RAW socket), to the destination its header names.
func sendIPv4(fd int, p []byte) error {
	var sa unix.RawSockaddrInet4
	sa.Family = unix.AF_INET
	copy(sa.Addr[:], header.IPv4(p).Dst())
	return sendto(fd, p, unsafe.Pointer(&sa), unix.SizeofSockaddrInet4)
}

func sendto(fd int, p []byte, sa unsafe.Pointer, salen uintptr) error {
	for {
		_, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), 0, uintptr(sa), salen)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return fmt.Errorf("tun: send: %w", e)
		}
		return nil
	}
}

// RawReader reads batches of received ESP or AH packets, each a whole IP
// packet. One goroutine may use a RawReader at a time.
type RawReader struct{ r *rawReader }

// Read waits for at least one packet and fills up to len(bufs) buffers at
// bufs[i][offset:], setting sizes[i]. For IPv6 the rebuilt header takes the
// first 40 bytes.
func (rr *RawReader) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	return rr.r.read(bufs, sizes, offset)
}

type rawReader struct {
	family int
	proto  int
	file   *os.File

	batchRead
	eagain bool

	// recvmmsg state; source addresses and control messages are used for
	// IPv6 only.
	m *mmsgReader

	fd int // file's descriptor, for KernelDrops
}

// ready runs inside RawConn.Read: one recvmmsg fills as many buffers as
// packets are queued (up to the batch).
func (r *rawReader) ready(fd uintptr) bool {
	for !r.receive(fd) {
		if r.eagain {
			return false
		}
		// Only unusable packets: read again (the poller only wakes for
		// new packets, not for ones still queued).
	}
	return true
}

// rawOOBSize has room for the IPV6_PKTINFO and IPV6_HOPLIMIT messages.
const rawOOBSize = 64

// receive does one recvmmsg; false means no usable packet (r.eagain: none
// queued).
func (r *rawReader) receive(fd uintptr) bool {
	r.eagain = false
	k := min(len(r.bufs), r.m.size())
	v6 := r.family == unix.AF_INET6
	for i := 0; i < k; i++ {
		b := r.bufs[i][r.off:]
		if v6 {
			if len(b) <= ipv6HeaderLen {
				k = i
				break
			}
			b = b[ipv6HeaderLen:]
		}
		r.m.set(i, b)
	}
	if k == 0 {
		r.err = errShort
		return true
	}
	got, err := r.m.recv(fd, k)
	r.m.release(k)
	switch {
	case err == unix.EAGAIN:
		r.eagain = true
		return false
	case err != nil:
		r.err = fmt.Errorf("tun: raw read: %w", err)
		return true
	}
	for i := 0; i < got; i++ {
		n, from, oob := r.m.message(i)
		if v6 {
			n = r.header6(r.bufs[i][r.off:], n, (*unix.RawSockaddrInet6)(unsafe.Pointer(from)), oob)
		}
		if n == 0 {
			continue // not a usable packet (e.g. missing PKTINFO)
		}
		// Keep the packets at the front: a skipped one leaves its
		// buffer behind.
		r.bufs[r.n], r.bufs[i] = r.bufs[i], r.bufs[r.n]
		r.sizes[r.n] = n
		r.n++
	}
	return r.n > 0
}

// header6 writes an IPv6 header into the 40-byte gap in front of the n
// payload bytes received into b[40:], from the source address and the
// IPV6_PKTINFO and IPV6_HOPLIMIT messages in oob, and returns the packet
// length (0 when the packet cannot be used).
func (r *rawReader) header6(b []byte, n int, sa *unix.RawSockaddrInet6, oob []byte) int {
	var dst netip.Addr
	hop := byte(64)
	for {
		level, typ, data, rest, ok := nextCmsg(oob)
		if !ok {
			break
		}
		if level == unix.SOL_IPV6 {
			switch {
			case typ == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
				dst = netip.AddrFrom16([16]byte(data[:16]))
			case typ == unix.IPV6_HOPLIMIT && len(data) >= 4:
				hop = byte(binary.NativeEndian.Uint32(data))
			}
		}
		oob = rest
	}
	if !dst.IsValid() || n > 0xffff {
		return 0
	}
	h := header.IPv6(b[:ipv6HeaderLen])
	h.SetVersionClass(0)
	h.SetPayloadLen(n)
	h.SetNextHeader(byte(r.proto))
	h.SetHopLimit(hop)
	copy(h.Src(), sa.Addr[:])
	d := dst.As16()
	copy(h.Dst(), d[:])
	return ipv6HeaderLen + n
}

// SetMark sets the firewall mark (SO_MARK) of every sending socket, so
// that policy routing can keep the encrypted packets off the TUN.
func (c *IPConn) SetMark(mark uint32) error {
	return setMark(mark, c.send4, c.send6[0], c.send6[1])
}

// setMark sets the firewall mark of the sockets fds (those not -1).
func setMark(mark uint32, fds ...int) error {
	for _, fd := range fds {
		if fd < 0 {
			continue
		}
		if err := setsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, int(mark)); err != nil {
			return tunErr("SO_MARK", err)
		}
	}
	return nil
}

// tunErr says which set-up step failed ("tun: what: err"). Not inlined:
// the set-up paths call it at a dozen places, and each copy of the
// formatting call cost flash.
//
//go:noinline
func tunErr(what string, err error) error {
	return fmt.Errorf("tun: %s: %w", what, err)
}
