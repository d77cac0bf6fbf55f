package tun

import (
	"encoding/binary"
	"errors"
	"os"
	"syscall"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// nlSocket is RTNL's NETLINK_ROUTE socket, driven with plain blocking
// system calls. The kernel answers an rtnetlink request inside the
// sending call, so a receive never waits for long, and RTNL joins no
// multicast group. Sends and receives, binding and the port ID use
// package syscall's calls, which net links anyway.
//
// The request and its answer are exchanged here, with netlink's message
// coding and its OpError, rather than through netlink.Conn: RTNL uses none
// of what the Conn adds (multicast groups, socket options, BPF filters,
// concurrent receivers, the NLDEBUG message dumper), and the Conn linked
// about 54 KB on MIPS: its dumper, package log, math/rand for its first
// sequence number, the extended acknowledgement decoder and the iterators
// (flash). netlink.Dial's transport (github.com/mdlayher/socket) had gone
// before for the same reason.
type nlSocket struct {
	fd  int
	pid uint32 // the port ID the kernel gave the socket
	seq uint32 // the last request's sequence number
}

// The errors netlink.Conn gives for an answer it cannot use, in its texts.
var (
	errNetlinkTruncated   = errors.New("netlink: malformed or truncated message")
	errShortErrorMessage  = errors.New("not enough data for netlink error code")
	errMismatchedSequence = errors.New("mismatched sequence in netlink reply")
	errMismatchedPID      = errors.New("mismatched PID in netlink reply")
)

// opError is netlink's OpError for op, nil without an error, as
// netlink.Conn reports every failure of an exchange. Not inlined: each
// copy of the allocation cost flash.
//
//go:noinline
func opError(op string, err error) error {
	if err == nil {
		return nil
	}
	return &netlink.OpError{Op: op, Err: err}
}

func (s *nlSocket) Close() error { return opError("close", syscall.Close(s.fd)) }

// execute sends the request q of type typ with flags (Request added) and
// returns every message of the answer, as netlink.Conn's Execute does:
// the acknowledgement included, a multi-part answer read up to its done
// message, which is left out. The caller serialises calls.
func (s *nlSocket) execute(typ netlink.HeaderType, flags netlink.HeaderFlags, q []byte) ([]netlink.Message, error) {
	s.seq++
	m := netlink.Message{Header: netlink.Header{
		Length: uint32(nlmsgAlign(unix.NLMSG_HDRLEN + len(q))),
		Type:   typ, Flags: netlink.Request | flags, Sequence: s.seq, PID: s.pid,
	}, Data: q}
	b, err := m.MarshalBinary()
	for err == nil {
		err = syscall.Sendto(s.fd, b, 0, &syscall.SockaddrNetlink{Family: unix.AF_NETLINK})
		if err != unix.EINTR {
			err = os.NewSyscallError("sendto", err)
			break
		}
	}
	if err != nil {
		return nil, opError("send", err)
	}
	return s.answer(&m.Header)
}

// answer reads the answer to the request with header req: datagrams until
// one without a multi-part message, or a multi-part done message. An
// error message (or a done message carrying an error code) ends it with
// that error; a zero code is an acknowledgement. Every message must carry
// the request's sequence number and port ID. A datagram is read whole
// (its size peeked first, so that a large dump part is never cut) and
// taken apart message by message.
//
// The kernel adds extended acknowledgement attributes (an error's text
// and offset) only for a socket that asked with NETLINK_EXT_ACK, which
// this one never does, so there are none to read.
func (s *nlSocket) answer(req *netlink.Header) ([]netlink.Message, error) {
	var msgs []netlink.Message
	more := false
read:
	for {
		b, err := s.recv()
		if err != nil {
			return nil, opError("receive", err)
		}
		for len(b) > 0 {
			var m netlink.Message
			n := len(b)
			if n >= unix.NLMSG_HDRLEN {
				// Compared unsigned first: on a 32-bit router a length
				// of 2^31 or more is a negative int.
				l := binary.NativeEndian.Uint32(b)
				if uint64(l) > uint64(len(b)) {
					return nil, opError("receive", errNetlinkTruncated)
				}
				n = nlmsgAlign(int(l))
			}
			if n > len(b) || m.UnmarshalBinary(b[:n]) != nil {
				return nil, opError("receive", errNetlinkTruncated)
			}
			b = b[n:]
			multi := m.Header.Flags&netlink.Multi != 0
			done := m.Header.Type == netlink.Done && multi
			if m.Header.Type == netlink.Error || done && len(m.Data) > 0 {
				if len(m.Data) < 4 {
					return nil, opError("receive", errShortErrorMessage)
				}
				if c := int32(binary.NativeEndian.Uint32(m.Data)); c != 0 {
					return nil, &netlink.OpError{Op: "receive", Err: syscall.Errno(-c), Sequence: m.Header.Sequence}
				}
			}
			if done {
				break read
			}
			more = more || multi
			msgs = append(msgs, m)
		}
		if !more {
			break
		}
	}
	for i := range msgs {
		h := &msgs[i].Header
		if h.Sequence != req.Sequence && req.Sequence != 0 {
			return nil, opError("validate", errMismatchedSequence)
		}
		if h.PID != req.PID && req.PID != 0 && h.PID != 0 {
			return nil, opError("validate", errMismatchedPID)
		}
	}
	return msgs, nil
}

// recv reads the next datagram into a buffer of its size.
func (s *nlSocket) recv() ([]byte, error) {
	var b []byte
	flags := unix.MSG_PEEK | unix.MSG_TRUNC
	for {
		n, _, err := syscall.Recvfrom(s.fd, b, flags)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return nil, os.NewSyscallError("recvfrom", err)
		case flags != 0:
			b, flags = make([]byte, nlmsgAlign(n)), 0 // now the real read
			continue
		case n > len(b):
			return nil, errNetlinkTruncated
		}
		return b[:nlmsgAlign(n)], nil
	}
}

func nlmsgAlign(n int) int {
	return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1)
}
