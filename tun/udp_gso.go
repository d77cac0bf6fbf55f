package tun

import (
	"encoding/binary"
	"net/netip"
	"sync"

	"golang.org/x/sys/unix"
)

// UDP segmentation offload for NAT-T (UDP_SEGMENT, Linux 4.18): a run of
// ESP packets to one peer, all of one size but the last, leaves in one
// sendmsg whose iovecs are the packets; the kernel cuts the datagrams
// (in hardware where the NIC can). This is what TSO on the TUN makes
// common: one super-packet read from the TUN becomes a run of equally
// sized ESP packets.
const (
	maxGSOSegments = 64
	maxGSOBytes    = 65000
)

// udpTx is a socket's send state for segmented sends, one at a time.
type udpTx struct {
	mu   sync.Mutex
	m    udpMsg
	iovs [maxGSOSegments]unix.Iovec
}

func newUDPTx() *udpTx {
	t := new(udpTx)
	t.m.fn = t.m.ready
	return t
}

// sendESPRun sends the ESP payloads of pkts (whole IP+UDP packets from
// local to remote, hl the IP header length) as one segmented send.
func (u *UDP) sendESPRun(pkts [][]byte, offset, hl int, local, remote netip.AddrPort) error {
	s, err := u.sock(local)
	if err != nil {
		return err
	}
	if len(pkts) == 1 || u.gsoOff.Load() || s.tx == nil {
		return u.sendEach(s, pkts, offset, hl, local, remote)
	}
	t := s.tx
	t.mu.Lock()
	size := len(pkts[0]) - offset - hl - 8
	for i, b := range pkts {
		p := b[offset+hl+8:]
		t.iovs[i] = unix.Iovec{Base: &p[0]}
		t.iovs[i].SetLen(len(p))
	}
	n := 0
	if src := local.Addr().Unmap(); usePktinfo(s, src, remote) {
		n = putPktinfoSrc(t.m.oob[:], src, s.v6)
	}
	n += putUDPSegment(t.m.oob[n:], uint16(size))
	err = t.m.send(s, &t.iovs[0], len(pkts), remote, n)
	clear(t.iovs[:len(pkts)])
	t.mu.Unlock()
	switch err {
	case unix.EIO, unix.EINVAL, unix.ENOPROTOOPT, unix.EOPNOTSUPP:
		// No UDP GSO on this kernel or path: from now on, one by one.
		u.gsoOff.Store(true)
		return u.sendEach(s, pkts, offset, hl, local, remote)
	}
	return err
}

func (u *UDP) sendEach(s *udpSock, pkts [][]byte, offset, hl int, local, remote netip.AddrPort) error {
	var first error
	for _, b := range pkts {
		if err := s.write(b[offset+hl+8:], local, remote); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// usePktinfo reports whether a datagram from src to remote on s needs an
// explicit source address (a wildcard socket), as write decides.
func usePktinfo(s *udpSock, src netip.Addr, remote netip.AddrPort) bool {
	return s.addr.IsUnspecified() && src.IsValid() && !src.IsUnspecified() &&
		src.Is4() == remote.Addr().Unmap().Is4() && (!src.Is6() || s.addr.Is6())
}

// putUDPSegment writes a UDP_SEGMENT control message (the size of each
// datagram) into oob and returns its length.
func putUDPSegment(oob []byte, size uint16) int {
	hdr := unix.CmsgLen(0)
	n := unix.CmsgSpace(2)
	clear(oob[:n])
	if cmsgLenSize == 8 {
		binary.NativeEndian.PutUint64(oob, uint64(hdr+2))
	} else {
		binary.NativeEndian.PutUint32(oob, uint32(hdr+2))
	}
	binary.NativeEndian.PutUint32(oob[cmsgLenSize:], uint32(unix.SOL_UDP))
	binary.NativeEndian.PutUint32(oob[cmsgLenSize+4:], uint32(unix.UDP_SEGMENT))
	binary.NativeEndian.PutUint16(oob[hdr:], size)
	return n
}

// udpRun returns how many packets from bufs[0] on form one segmented
// send: ESP of one SA (same SPI, so the same addresses and ports), each
// with the first one's payload size except the last, which may be
// smaller. Packets of different SAs are never merged, even towards one
// address and port (several peers behind one NAT, or one peer with
// several identities): a capture on the sending host then shows each SA's
// packets under its own SPI.
func udpRun(bufs [][]byte, offset, hl int) int {
	p := bufs[0][offset:]
	size := len(p) - hl - 8
	total := size
	n := 1
	for n < len(bufs) && n < maxGSOSegments {
		q := bufs[n][offset:]
		qhl, ok := udpEncapsulated(q)
		if !ok || qhl != hl || q[0] != p[0] {
			break
		}
		qsize := len(q) - hl - 8
		if qsize > size || qsize <= 0 || total+qsize > maxGSOBytes || !sameUDPFlow(p, q, hl) {
			break
		}
		total += qsize
		n++
		if qsize < size {
			break
		}
	}
	return n
}

func sameUDPFlow(p, q []byte, hl int) bool {
	if len(p) < hl+12 || len(q) < hl+12 || string(p[hl+8:hl+12]) != string(q[hl+8:hl+12]) {
		return false // another SPI, or too short to carry one
	}
	if hl == 40 {
		return string(p[8:40]) == string(q[8:40]) && string(p[40:44]) == string(q[40:44])
	}
	return string(p[12:20]) == string(q[12:20]) && string(p[hl:hl+4]) == string(q[hl:hl+4])
}
