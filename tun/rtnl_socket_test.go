package tun

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// testSocketPair returns an nlSocket reading datagrams written to w.
func testSocketPair(t *testing.T) (s *nlSocket, w int) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return &nlSocket{fd: fds[0]}, fds[1]
}

// datagram is msgs as the kernel writes them into one datagram: each
// length without the padding that aligns the next message. It sets each
// message's Length.
func datagram(msgs []netlink.Message) []byte {
	var dgram []byte
	for i := range msgs {
		msgs[i].Header.Length = uint32(unix.NLMSG_HDRLEN + len(msgs[i].Data))
		h := msgs[i].Header
		dgram = binary.NativeEndian.AppendUint32(dgram, h.Length)
		dgram = binary.NativeEndian.AppendUint16(dgram, uint16(h.Type))
		dgram = binary.NativeEndian.AppendUint16(dgram, uint16(h.Flags))
		dgram = binary.NativeEndian.AppendUint32(dgram, h.Sequence)
		dgram = binary.NativeEndian.AppendUint32(dgram, h.PID)
		dgram = append(dgram, msgs[i].Data...)
		for len(dgram)%unix.NLMSG_ALIGNTO != 0 {
			dgram = append(dgram, 0)
		}
	}
	return dgram
}

// errCode is the body of an NLMSG_ERROR message: the negative errno
// (0 for an acknowledgement), then the request's header.
func errCode(errno unix.Errno) []byte {
	b := binary.NativeEndian.AppendUint32(nil, uint32(-int32(errno)))
	return append(b, make([]byte, unix.NLMSG_HDRLEN)...)
}

// TestNLSocketAnswer: an answer of several datagrams and messages
// (unaligned data lengths included, a datagram larger than a page) comes
// back message by message up to the multi-part done message, which is
// left out, as netlink.Conn's Execute returns them.
func TestNLSocketAnswer(t *testing.T) {
	s, w := testSocketPair(t)
	req := netlink.Header{Sequence: 7, PID: 42}
	want := []netlink.Message{
		{Header: netlink.Header{Type: unix.RTM_NEWADDR, Flags: netlink.Multi, Sequence: 7, PID: 42}, Data: []byte{1, 2, 3}},
		{Header: netlink.Header{Type: unix.RTM_NEWADDR, Flags: netlink.Multi, Sequence: 7, PID: 42}, Data: bytes.Repeat([]byte{9}, 9000)},
		{Header: netlink.Header{Type: unix.RTM_NEWADDR, Flags: netlink.Multi, Sequence: 7, PID: 42}, Data: []byte{4, 5, 6, 7, 8}},
	}
	done := []netlink.Message{{Header: netlink.Header{Type: unix.NLMSG_DONE, Flags: netlink.Multi, Sequence: 7, PID: 42}, Data: []byte{0, 0, 0, 0}}}
	for _, dgram := range [][]byte{datagram(want[:2]), datagram(want[2:]), datagram(done)} {
		if _, err := unix.Write(w, dgram); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.answer(&req)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Header != want[i].Header || !bytes.Equal(got[i].Data, want[i].Data) {
			t.Errorf("message %d: got %+v (%d bytes of data), want %+v (%d)", i, got[i].Header, len(got[i].Data), want[i].Header, len(want[i].Data))
		}
	}
}

// TestNLSocketAnswerErrors: acknowledgements, error codes and answers to
// another request read as netlink.Conn reported them (its texts and its
// OpError, which RTNL's callers unwrap).
func TestNLSocketAnswerErrors(t *testing.T) {
	req := netlink.Header{Sequence: 7, PID: 42}
	hdr := func(typ netlink.HeaderType, flags netlink.HeaderFlags) netlink.Header {
		return netlink.Header{Type: typ, Flags: flags, Sequence: 7, PID: 42}
	}
	for _, tc := range []struct {
		name string
		msgs []netlink.Message
		n    int    // messages returned
		err  string // or this error
		is   error
	}{
		{name: "ack", msgs: []netlink.Message{{Header: hdr(netlink.Error, 0), Data: errCode(0)}}, n: 1},
		{name: "error", msgs: []netlink.Message{{Header: hdr(netlink.Error, 0), Data: errCode(unix.EEXIST)}},
			err: "netlink receive: file exists", is: unix.EEXIST},
		{name: "error in a dump", msgs: []netlink.Message{
			{Header: hdr(unix.RTM_NEWROUTE, netlink.Multi), Data: []byte{1}},
			{Header: hdr(netlink.Done, netlink.Multi), Data: errCode(unix.EPERM)[:4]},
		}, err: "netlink receive: operation not permitted", is: unix.EPERM},
		{name: "empty done", msgs: []netlink.Message{
			{Header: hdr(unix.RTM_NEWROUTE, netlink.Multi), Data: []byte{1}},
			{Header: hdr(netlink.Done, netlink.Multi)},
		}, n: 1},
		{name: "short error", msgs: []netlink.Message{{Header: hdr(netlink.Error, 0), Data: []byte{1, 2}}},
			err: "netlink receive: not enough data for netlink error code"},
		{name: "sequence", msgs: []netlink.Message{{Header: netlink.Header{Type: netlink.Error, Sequence: 6, PID: 42}, Data: errCode(0)}},
			err: "netlink validate: mismatched sequence in netlink reply"},
		{name: "port", msgs: []netlink.Message{{Header: netlink.Header{Type: netlink.Error, Sequence: 7, PID: 41}, Data: errCode(0)}},
			err: "netlink validate: mismatched PID in netlink reply"},
		{name: "kernel port", msgs: []netlink.Message{{Header: netlink.Header{Type: unix.RTM_NEWROUTE, Sequence: 7}, Data: []byte{1}}}, n: 1},
	} {
		s, w := testSocketPair(t)
		if _, err := unix.Write(w, datagram(tc.msgs)); err != nil {
			t.Fatal(err)
		}
		got, err := s.answer(&req)
		switch {
		case tc.err == "" && (err != nil || len(got) != tc.n):
			t.Errorf("%s: %d messages, %v; want %d", tc.name, len(got), err, tc.n)
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
		case tc.err != "":
			if _, ok := errors.AsType[*netlink.OpError](err); !ok || tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("%s: %#v is no OpError of %v", tc.name, err, tc.is)
			}
		}
	}
}

// TestNLSocketMalformed: a header whose length is shorter than a header
// or runs past the datagram is an error, never a hang or a panic (the
// last two are negative as an int on 32-bit: make test-qemu runs this).
func TestNLSocketMalformed(t *testing.T) {
	for _, length := range []uint32{0, 4, 15, 64, 0x80000010, 0xfffffff0} {
		s, w := testSocketPair(t)
		b := make([]byte, 20)
		binary.NativeEndian.PutUint32(b, length)
		if _, err := unix.Write(w, b); err != nil {
			t.Fatal(err)
		}
		if ms, err := s.answer(&netlink.Header{}); err == nil {
			t.Errorf("length %d: no error, %d messages", length, len(ms))
		}
	}
}

// TestRTNLErrors: the kernel's refusals read as they did through
// netlink.Conn, and the ones a request says are no error (a route or rule
// already gone) are none.
func TestRTNLErrors(t *testing.T) {
	ns := testNS(t, "rtnl")
	var rt *RTNL
	var err error
	inNS(t, ns, func() { rt, err = DialRTNL() })
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	route := Route{Dst: netip.MustParsePrefix("10.1.0.0/24"), IfIndex: 999}
	err = rt.AddRoute(route)
	if want := "rtnetlink: add route 10.1.0.0/24: netlink receive: no such device"; err == nil || err.Error() != want {
		t.Errorf("AddRoute on a missing interface: %v, want %q", err, want)
	}
	if !errors.Is(err, unix.ENODEV) {
		t.Errorf("AddRoute's error %v does not unwrap to ENODEV", err)
	}
	if err := rt.DelRoute(route); err != nil {
		t.Errorf("DelRoute of a missing route: %v", err)
	}
	if err := rt.DelRule(PolicyRule{Priority: 1234, Table: 99, Mark: 1}); err != nil {
		t.Errorf("DelRule of a missing rule: %v", err)
	}
	err = rt.DelAddr(1, netip.MustParsePrefix("192.0.2.1/24"))
	if want := "rtnetlink: delete address 192.0.2.1/24: netlink receive: cannot assign requested address"; err == nil || err.Error() != want {
		t.Errorf("DelAddr of a missing address: %v, want %q", err, want)
	}
	// A dump of several datagrams (multi-part) and requests one after
	// another on the socket: each answer is checked against its request.
	for range 3 {
		if _, err := rt.Addrs(); err != nil {
			t.Fatal(err)
		}
	}
}
