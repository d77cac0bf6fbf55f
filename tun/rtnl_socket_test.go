package tun

import (
	"bytes"
	"encoding/binary"
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

// TestNLSocketReceive: a datagram of several messages (unaligned data
// lengths included) comes back message by message, as netlink's own
// transport returns them; a datagram larger than a page is read whole.
func TestNLSocketReceive(t *testing.T) {
	s, w := testSocketPair(t)
	want := []netlink.Message{
		{Header: netlink.Header{Type: unix.RTM_NEWADDR, Flags: netlink.Multi, Sequence: 7, PID: 42}, Data: []byte{1, 2, 3}},
		{Header: netlink.Header{Type: unix.RTM_NEWADDR, Flags: netlink.Multi, Sequence: 7, PID: 42}, Data: bytes.Repeat([]byte{9}, 9000)},
		{Header: netlink.Header{Type: unix.NLMSG_DONE, Flags: netlink.Multi, Sequence: 7, PID: 42}, Data: []byte{0, 0, 0, 0}},
	}
	// As the kernel writes them: the length without the padding that
	// aligns the next message.
	var dgram []byte
	for i := range want {
		want[i].Header.Length = uint32(unix.NLMSG_HDRLEN + len(want[i].Data))
		h := want[i].Header
		dgram = binary.NativeEndian.AppendUint32(dgram, h.Length)
		dgram = binary.NativeEndian.AppendUint16(dgram, uint16(h.Type))
		dgram = binary.NativeEndian.AppendUint16(dgram, uint16(h.Flags))
		dgram = binary.NativeEndian.AppendUint32(dgram, h.Sequence)
		dgram = binary.NativeEndian.AppendUint32(dgram, h.PID)
		dgram = append(dgram, want[i].Data...)
		for len(dgram)%unix.NLMSG_ALIGNTO != 0 {
			dgram = append(dgram, 0)
		}
	}
	if _, err := unix.Write(w, dgram); err != nil {
		t.Fatal(err)
	}
	got, err := s.Receive()
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

// TestNLSocketMalformed: a header whose length is shorter than a header
// or runs past the datagram is an error, never a hang or a panic.
func TestNLSocketMalformed(t *testing.T) {
	for _, length := range []uint32{0, 4, 15, 64} {
		s, w := testSocketPair(t)
		b := make([]byte, 20)
		binary.NativeEndian.PutUint32(b, length)
		if _, err := unix.Write(w, b); err != nil {
			t.Fatal(err)
		}
		if ms, err := s.Receive(); err == nil {
			t.Errorf("length %d: no error, %d messages", length, len(ms))
		}
	}
}
