package tun

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ESPBatch takes UDP-encapsulated ESP a batch at a time: Add for each
// datagram (the payload starts with the SPI, valid only during the call),
// Flush after the last datagram of what one receive call returned, so the
// decrypted packets can go into the TUN together.
type ESPBatch interface {
	Add(pkt []byte, local, remote netip.AddrPort)
	Flush()
}

// SetESPBatch sets the factory of the per-socket ESP batch receivers; it
// takes precedence over SetESPHandler. Call it before Start.
func (u *UDP) SetESPBatch(newBatch func() ESPBatch) { u.espBatch = newBatch }

// Batched receive. recvmmsg fills several datagrams per system call; on
// the NAT-T port UDP GRO lets the kernel hand over a train of
// equally-sized ESP datagrams from one peer as one buffer (the size of
// each in a UDP_GRO control message), which is cut apart here.
const (
	udpBatch   = 8 // datagrams per recvmmsg
	udpBufSize = 65535
	udpOOBSize = 128 // IPV6_PKTINFO and UDP_GRO messages
)

type udpBatchReader struct {
	s    *udpSock
	rc   syscall.RawConn
	m    *mmsgReader
	bufs [][]byte
	n    int
	err  error
	fn   func(fd uintptr) bool
}

func newUDPBatchReader(s *udpSock, batch int) (*udpBatchReader, error) {
	if s.rc == nil {
		return nil, errors.New("tun: not a socket")
	}
	r := &udpBatchReader{s: s, rc: s.rc, m: newMmsgReader(batch, udpOOBSize), bufs: make([][]byte, batch)}
	for i := range r.bufs {
		r.bufs[i] = make([]byte, udpBufSize)
	}
	r.fn = r.ready
	return r, nil
}

// enableGRO asks the kernel to merge datagrams (best effort: Linux 5.0).
func enableGRO(fd int) bool {
	return setsockoptInt(fd, unix.SOL_UDP, unix.UDP_GRO, 1) == nil
}

// read waits for datagrams and returns how many messages were filled.
func (r *udpBatchReader) read() (int, error) {
	for i, b := range r.bufs {
		r.m.set(i, b)
	}
	r.n, r.err = 0, nil
	if err := r.rc.Read(r.fn); err != nil {
		if r.s.closed.Load() || errors.Is(err, os.ErrClosed) || errors.Is(err, net.ErrClosed) {
			return 0, net.ErrClosed
		}
		return 0, err
	}
	return r.n, r.err
}

func (r *udpBatchReader) ready(fd uintptr) bool {
	r.n, r.err = r.m.recv(fd, r.m.size())
	return r.err != unix.EAGAIN
}

// message returns datagram i: its bytes, the GRO segment size (0: one
// datagram), and its addresses.
func (r *udpBatchReader) message(i int) (p []byte, gso int, local, remote netip.AddrPort) {
	n, from, oob := r.m.message(i)
	p = r.bufs[i][:n]
	la := r.s.addr
	if la.IsUnspecified() {
		if a, ok := pktinfoDst(oob); ok {
			la = a
		}
	}
	gso = groSize(oob)
	return p, gso, netip.AddrPortFrom(la, r.s.port), sockaddrAddrPort(from)
}

// sockaddrAddrPort converts a received source address (unmapped).
func sockaddrAddrPort(sa *unix.RawSockaddrAny) netip.AddrPort {
	switch sa.Addr.Family {
	case unix.AF_INET:
		s := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		p := (*[2]byte)(unsafe.Pointer(&s.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(s.Addr), binary.BigEndian.Uint16(p[:]))
	case unix.AF_INET6:
		s := (*unix.RawSockaddrInet6)(unsafe.Pointer(sa))
		p := (*[2]byte)(unsafe.Pointer(&s.Port))
		return netip.AddrPortFrom(netip.AddrFrom16(s.Addr).Unmap(), binary.BigEndian.Uint16(p[:]))
	}
	return netip.AddrPort{}
}

// groSize finds the UDP_GRO control message (the size of each merged
// datagram) in oob; 0 when there is none.
func groSize(oob []byte) int {
	for {
		level, typ, data, rest, ok := nextCmsg(oob)
		if !ok {
			return 0
		}
		if level == unix.SOL_UDP && typ == unix.UDP_GRO && len(data) >= 2 {
			// An int on most kernels, a u16 on some: the low bytes.
			if len(data) >= 4 {
				return int(binary.NativeEndian.Uint32(data))
			}
			return int(binary.NativeEndian.Uint16(data))
		}
		oob = rest
	}
}

// batchLoop reads s until it is closed. With an ESP batch receiver b,
// UDP-encapsulated ESP goes to b, and b is flushed after each receive;
// without, every datagram goes through dispatch.
func (u *UDP) batchLoop(s *udpSock, r *udpBatchReader, b ESPBatch) {
	for {
		if err := u.receiveBatch(s, r, b); errors.Is(err, net.ErrClosed) {
			return
		}
	}
}

// receiveBatch waits for one recvmmsg worth of datagrams, cuts GRO trains
// into their datagrams and dispatches them (ESP to b, IKE to the IKE batch
// receiver if one is set; both flushed at the end).
func (u *UDP) receiveBatch(s *udpSock, r *udpBatchReader, b ESPBatch) error {
	n, err := r.read()
	if err != nil {
		return err
	}
	ib := s.ikeReceiver(u)
	for i := 0; i < n; i++ {
		p, gso, local, remote := r.message(i)
		if gso <= 0 || gso >= len(p) {
			u.dispatchBatch(p, s.port, local, remote, b, ib)
			continue
		}
		for len(p) > 0 {
			seg := p[:min(gso, len(p))]
			p = p[len(seg):]
			u.dispatchBatch(seg, s.port, local, remote, b, ib)
		}
	}
	if b != nil {
		b.Flush()
	}
	if ib != nil {
		ib.Flush(n == r.m.size())
	}
	return nil
}

// dispatchBatch is dispatch with ESP going to the ESP batch receiver and
// IKE (non-ESP marker removed) to the IKE one, where they are set.
func (u *UDP) dispatchBatch(p []byte, port uint16, local, remote netip.AddrPort, b ESPBatch, ib IKEBatch) {
	switch {
	case port == PortNATT && len(p) >= 4 && binary.BigEndian.Uint32(p) != 0:
		if b != nil {
			b.Add(p, local, remote)
			return
		}
	case ib != nil && port == PortIKE:
		ib.Add(p, local, remote)
		return
	case ib != nil && len(p) >= 4:
		ib.Add(p[4:], local, remote)
		return
	}
	u.dispatch(p, port, local, remote)
}

// IKEBatch takes IKE messages a batch at a time, as ESPBatch does ESP:
// Add for each message (non-ESP marker removed; valid only during the
// call), Flush after the last one of a receive call. full reports that
// the call filled every slot: the socket probably holds more, the reader
// is behind, and the receiver may shed what it can best do without.
type IKEBatch interface {
	Add(pkt []byte, local, remote netip.AddrPort)
	Flush(full bool)
}

// SetIKEBatch sets the factory of the per-socket IKE batch receivers;
// it takes precedence over SetIKEHandler. Safe to call at any time: each
// socket's reader makes its receiver when it sees a new factory.
func (u *UDP) SetIKEBatch(newBatch func() IKEBatch) { u.ikeBatch.Store(&newBatch) }

// ikeReceiver is the socket's IKE batch receiver (nil: none set), made
// anew when the factory changed. Only the socket's reader calls it.
func (s *udpSock) ikeReceiver(u *UDP) IKEBatch {
	if f := u.ikeBatch.Load(); f != s.ikeFactory {
		s.ikeFactory, s.ikeIn = f, nil
		if f != nil && *f != nil {
			s.ikeIn = (*f)()
		}
	}
	return s.ikeIn
}
