package tun

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsgReader is the batched-receive state of one socket, shared by every
// reader that uses recvmmsg (the raw ESP/AH sockets and the UDP sockets of
// IKE and NAT-T): message headers, their iovecs, source addresses and
// control-message buffers, allocated once so that a receive allocates
// nothing. The layouts are golang.org/x/sys/unix's, generated per
// architecture (32-bit MIPS and ARM differ from amd64).
type mmsgReader struct {
	msgs   []unix.Mmsghdr
	iovs   []unix.Iovec
	names  []unix.RawSockaddrAny
	oob    []byte // oobLen bytes per message
	oobLen int
}

func newMmsgReader(batch, oobLen int) *mmsgReader {
	return &mmsgReader{
		msgs:   make([]unix.Mmsghdr, batch),
		iovs:   make([]unix.Iovec, batch),
		names:  make([]unix.RawSockaddrAny, batch),
		oob:    make([]byte, batch*oobLen),
		oobLen: oobLen,
	}
}

// size is the most messages one receive fills.
func (m *mmsgReader) size() int { return len(m.msgs) }

// set makes message i receive into b (not empty), with room for the
// source address and the control messages.
func (m *mmsgReader) set(i int, b []byte) {
	m.iovs[i] = unix.Iovec{Base: &b[0]}
	m.iovs[i].SetLen(len(b))
	h := &m.msgs[i].Hdr
	*h = unix.Msghdr{Iov: &m.iovs[i], Name: (*byte)(unsafe.Pointer(&m.names[i])), Namelen: unix.SizeofSockaddrAny}
	h.SetIovlen(1)
	if m.oobLen > 0 {
		h.Control = &m.oob[i*m.oobLen]
		h.SetControllen(m.oobLen)
	}
	m.msgs[i].Len = 0
}

// recv does one non-blocking recvmmsg on fd into messages 0..k-1 (each
// set before) and returns how many it filled; the error is unix.EAGAIN
// when nothing is queued. It is meant to run inside syscall.RawConn.Read.
func (m *mmsgReader) recv(fd uintptr, k int) (int, error) {
	for {
		n, _, e := quickSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&m.msgs[0])), uintptr(k), unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(n), nil
	}
}

// message returns the length, source address and control messages of
// message i after recv.
func (m *mmsgReader) message(i int) (n int, from *unix.RawSockaddrAny, oob []byte) {
	var c []byte
	if m.oobLen > 0 {
		c = m.oob[i*m.oobLen : i*m.oobLen+int(m.msgs[i].Hdr.Controllen)]
	}
	return int(m.msgs[i].Len), &m.names[i], c
}

// release drops the references to the buffers of messages 0..k-1 (they
// may be the caller's, to be collected once it lets go of them).
func (m *mmsgReader) release(k int) { clear(m.iovs[:k]) }

// cmsgLenSize is the size of cmsghdr's cmsg_len (a size_t); level and
// type (two ints) follow it.
const cmsgLenSize = unix.SizeofCmsghdr - 8

// nextCmsg splits the first control message off oob: its level, type and
// data, and what follows it. ok is false at the end or on a malformed
// message. It reads in place, so walking control messages allocates
// nothing.
func nextCmsg(oob []byte) (level, typ int32, data, rest []byte, ok bool) {
	hdr := unix.CmsgLen(0)
	if len(oob) < hdr {
		return 0, 0, nil, nil, false
	}
	var l int
	if cmsgLenSize == 8 {
		l = int(binary.NativeEndian.Uint64(oob))
	} else {
		l = int(binary.NativeEndian.Uint32(oob))
	}
	if l < hdr || l > len(oob) {
		return 0, 0, nil, nil, false
	}
	level = int32(binary.NativeEndian.Uint32(oob[cmsgLenSize:]))
	typ = int32(binary.NativeEndian.Uint32(oob[cmsgLenSize+4:]))
	data = oob[hdr:l]
	if next := unix.CmsgSpace(l - hdr); next <= len(oob) {
		rest = oob[next:]
	}
	return level, typ, data, rest, true
}
