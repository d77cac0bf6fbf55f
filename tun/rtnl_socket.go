package tun

import (
	"encoding/binary"
	"errors"
	"iter"
	"os"
	"syscall"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// nlSocket is the transport under RTNL's netlink.Conn: a NETLINK_ROUTE
// socket driven with plain blocking system calls. The kernel answers an
// rtnetlink request inside the sending call, so a receive never waits
// for long, and RTNL joins no multicast group. netlink.Dial's own
// transport (github.com/mdlayher/socket: the runtime poller, contexts,
// network namespaces, BPF filters and their generic wrappers) cost about
// 23 KB of code on MIPS for none of which RTNL has a use (flash). Sends
// and receives, binding and the port ID use package syscall's calls,
// which net links anyway.
type nlSocket struct {
	fd int
}

func (s *nlSocket) Close() error { return syscall.Close(s.fd) }

// Send sends one message; RTNL never sends more at once.
func (s *nlSocket) Send(m netlink.Message) error {
	b, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	for {
		err = syscall.Sendto(s.fd, b, 0, &syscall.SockaddrNetlink{Family: unix.AF_NETLINK})
		if err != unix.EINTR {
			return os.NewSyscallError("sendto", err)
		}
	}
}

// SendMessages sends the messages one datagram each. netlink.Conn calls
// it only from its own SendMessages, which RTNL does not use, so the
// linker leaves it out: a loop over Send rather than one datagram.
func (s *nlSocket) SendMessages(ms []netlink.Message) error {
	for _, m := range ms {
		if err := s.Send(m); err != nil {
			return err
		}
	}
	return nil
}

func (s *nlSocket) Receive() ([]netlink.Message, error) {
	var ms []netlink.Message
	for m, err := range s.ReceiveIter() {
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, nil
}

var errNetlinkTruncated = errors.New("netlink: malformed or truncated message")

// ReceiveIter receives one datagram (its size peeked first, so that a
// large dump part is never cut) and yields the messages in it.
func (s *nlSocket) ReceiveIter() iter.Seq2[netlink.Message, error] {
	return func(yield func(netlink.Message, error) bool) {
		b, err := s.recv()
		if err != nil {
			yield(netlink.Message{}, err)
			return
		}
		for len(b) > 0 {
			var m netlink.Message
			n := len(b)
			if n >= unix.NLMSG_HDRLEN {
				n = nlmsgAlign(int(binary.NativeEndian.Uint32(b)))
			}
			if n > len(b) || m.UnmarshalBinary(b[:n]) != nil {
				yield(netlink.Message{}, errNetlinkTruncated)
				return
			}
			if !yield(m, nil) {
				return
			}
			b = b[n:]
		}
	}
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
