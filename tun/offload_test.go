package tun

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tinyipsec/internal/header"
	"tinyipsec/internal/nstest"
)

// TestOffloadTCP plays a TCP client through the TUN against a real
// listener in the namespace, with offloads on and forced off: the data
// the client writes as a batch of segments (merged into one super-packet
// with offloads) arrives intact, and the answer the kernel sends as TSO
// super-packets is read back as MSS-sized segments with valid checksums
// and consecutive sequence numbers. The interface counters show the
// merging: with offloads the kernel sees far fewer packets than segments.
func TestOffloadTCP(t *testing.T) {
	for _, offload := range []bool{true, false} {
		name := "on"
		if !offload {
			name = "off"
		}
		t.Run(name, func(t *testing.T) {
			if !offload {
				t.Setenv(OffloadEnv, "off")
			}
			testOffloadTCP(t, offload, offload)
		})
	}
}

// TestOffloadTCPRefusedTSO: a kernel that takes virtio-net headers but
// refuses TSO (checksum offload only) still takes merged TCP segments
// from the daemon - the kernel accepts GSO packets written into a TUN
// whatever TUNSETOFFLOAD allowed it to send - so decrypted segments are
// still merged, while what the kernel sends comes as plain segments.
func TestOffloadTCPRefusedTSO(t *testing.T) {
	refusingKernel(t, tunFTSO4|tunFTSO6|tunFUSO4|tunFUSO6, false)
	testOffloadTCP(t, true, false)
}

// openAddressed opens a TUN named name in a new namespace, puts prefix on
// it (without duplicate address detection for IPv6, so the address is usable
// at once) and runs listen there, for the socket the test talks to. The
// device is closed when the test ends; the namespace is returned for the
// interface counters.
func openAddressed(t *testing.T, label, name string, prefix netip.Prefix, listen func() error) (*nstest.NS, *Device) {
	t.Helper()
	ns := testNS(t, label)
	var (
		dev  *Device
		derr error
	)
	inNS(t, ns, func() {
		if dev, derr = Open(name, 1400); derr != nil {
			return
		}
		var rt *RTNL
		if rt, derr = DialRTNL(); derr != nil {
			return
		}
		defer rt.Close()
		if prefix.Addr().Is6() {
			derr = rt.AddAddrNoDAD(dev.Index(), prefix)
		} else {
			derr = rt.AddAddr(dev.Index(), prefix)
		}
		if derr != nil {
			return
		}
		derr = listen()
	})
	if dev != nil {
		t.Cleanup(func() { dev.Close() })
	}
	if derr != nil {
		t.Fatal(derr)
	}
	return ns, dev
}

// testOffloadTCP runs the TCP exchange with virtio-net headers (offload)
// and TSO accepted by the kernel (tso) or not.
func testOffloadTCP(t *testing.T, offload, tso bool) {
	var ln net.Listener
	ns, dev := openAddressed(t, "tunoff", "tisoff0", netip.MustParsePrefix("10.9.0.1/24"), func() (err error) {
		ln, err = net.Listen("tcp4", "10.9.0.1:5555")
		return err
	})
	defer ln.Close()
	if vh, gotTSO, _ := dev.Offloads(); vh != offload || gotTSO != tso {
		t.Fatalf("Offloads() = vnet %v tso %v, want %v %v", vh, gotTSO, offload, tso)
	}

	const mss = 1360
	c := &tcpClient{t: t, dev: dev, seq: 1000}
	c.bufs = make([][]byte, 64)
	for i := range c.bufs {
		c.bufs[i] = make([]byte, 2048)
	}
	c.send(tcpSYN, nil)
	c.seq++
	synAck := c.recv(func(p []byte) bool { return p[33]&tcpSYN != 0 })
	c.ack = binary.BigEndian.Uint32(synAck[24:]) + 1
	c.send(tcpACK, nil)

	accepted := make(chan net.Conn, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			t.Error(err)
			close(accepted)
			return
		}
		accepted <- conn
	}()
	// 20 segments in one Write call.
	data := make([]byte, 20*mss)
	for i := range data {
		data[i] = byte(i*13 + i>>8)
	}
	rx0, _ := devCounters(t, ns, "tisoff0")
	var batch [][]byte
	for off := 0; off < len(data); off += mss {
		flags := byte(tcpACK)
		if off+mss >= len(data) {
			flags |= tcpPSH
		}
		batch = append(batch, c.packet(flags, data[off:off+mss]))
		c.seq += mss
	}
	pristine := make([][]byte, len(batch))
	for i, p := range batch {
		pristine[i] = append([]byte(nil), p...)
	}
	if _, err := dev.Write(batch, 0); err != nil {
		t.Fatal(err)
	}
	conn := <-accepted
	if conn == nil {
		t.FailNow()
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len(data))
	if _, err := io.ReadFull(conn, got); err != nil {
		t.Fatalf("listener read: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("data through the TUN differs")
	}
	rx1, tx1 := devCounters(t, ns, "tisoff0")
	if offload && rx1-rx0 > 3 {
		t.Fatalf("kernel counted %d packets for 20 merged segments", rx1-rx0)
	}
	if !offload && rx1-rx0 < 20 {
		t.Fatalf("kernel counted %d packets for 20 segments without offloads", rx1-rx0)
	}

	// The answer: 60 KB, read as segments.
	answer := make([]byte, 60000)
	for i := range answer {
		answer[i] = byte(i * 7)
	}
	go conn.Write(answer)
	recv := make([]byte, 0, len(answer))
	segs := 0
	deadline := time.Now().Add(10 * time.Second)
	for len(recv) < len(answer) && time.Now().Before(deadline) {
		p := c.recv(func(p []byte) bool { return len(p) > 40 })
		if !validTCP(p) {
			t.Fatalf("segment with a bad checksum: % x", p[:40])
		}
		if len(p)-40 > mss {
			t.Fatalf("segment of %d payload bytes, MSS %d", len(p)-40, mss)
		}
		if seq := binary.BigEndian.Uint32(p[24:]); seq != c.ack {
			t.Fatalf("segment seq %d, want %d", seq, c.ack)
		}
		recv = append(recv, p[40:]...)
		c.ack += uint32(len(p) - 40)
		segs++
		c.send(tcpACK, nil)
	}
	if !bytes.Equal(recv, answer) {
		t.Fatalf("answer differs (%d of %d bytes)", len(recv), len(answer))
	}
	_, tx2 := devCounters(t, ns, "tisoff0")
	if tso && tx2-tx1 >= uint64(segs) {
		t.Fatalf("kernel sent %d packets for %d segments: no TSO", tx2-tx1, segs)
	}
	if !tso && tx2-tx1 < uint64(segs) {
		t.Fatalf("kernel sent %d packets for %d segments without TSO", tx2-tx1, segs)
	}
	t.Logf("offload %v: %d segments read, the kernel sent %d packets", offload, segs, tx2-tx1)
	// Writing (and merging) allocates nothing; the kernel's TCP takes the
	// repeats as old data.
	allocs := testing.AllocsPerRun(20, func() {
		for i := range batch {
			copy(batch[i], pristine[i])
		}
		if _, err := dev.Write(batch, 0); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per batch write, want 0", allocs)
	}
	if tso {
		c.readSegmentsZeroAlloc(ns, conn, mss)
	}
}

// readSegmentsZeroAlloc has the listener send a long stream and reads it
// as the outbound loop does, a batch per Read, acknowledging each batch
// with one prepared ACK: the kernel hands over TSO super-packets, Read
// cuts them into segments, and neither allocates.
func (c *tcpClient) readSegmentsZeroAlloc(ns *nstest.NS, conn net.Conn, mss int) {
	t := c.t
	stream := make([]byte, 32<<20)
	sent := make(chan error, 1)
	go func() {
		_, err := conn.Write(stream)
		sent <- err
	}()
	ack := [][]byte{c.packet(tcpACK, nil)}
	var segs, reads int
	step := func() {
		n, err := c.dev.Read(c.bufs, c.sizes[:], 0)
		if err != nil {
			t.Fatal(err)
		}
		reads++
		for i := 0; i < n; i++ {
			p := c.bufs[i][:c.sizes[i]]
			if len(p) <= 40 || p[9] != 6 {
				continue
			}
			if !validTCP(p) {
				t.Fatalf("segment %d of a read: bad checksum", i)
			}
			if len(p)-40 > mss {
				t.Fatalf("segment %d of a read: %d payload bytes, MSS %d", i, len(p)-40, mss)
			}
			segs++
			// On a busy machine the kernel may retransmit (old data) or
			// drop at the TUN queue (a gap it fills after our duplicate
			// ACKs): only new data in order moves the ACK on.
			seq, end := binary.BigEndian.Uint32(p[24:]), binary.BigEndian.Uint32(p[24:])+uint32(len(p)-40)
			if int32(seq-c.ack) <= 0 && int32(end-c.ack) > 0 {
				c.ack = end
			}
		}
		// The prepared ACK, acknowledging everything read so far.
		a := ack[0]
		binary.BigEndian.PutUint32(a[28:], c.ack)
		a[36], a[37] = 0, 0
		binary.BigEndian.PutUint16(a[36:], ^foldSum(checksumOf(pseudo(a), a[20:])))
		if _, err := c.dev.Write(ack, 0); err != nil {
			t.Fatal(err)
		}
	}
	// A stalled stream would leave Read blocked: the watchdog closes the
	// device and the read fails.
	watchdog := time.AfterFunc(time.Minute, func() { c.dev.Close() })
	defer watchdog.Stop()
	step()
	_, tx0 := devCounters(t, ns, "tisoff0")
	segs0 := segs
	allocs := testing.AllocsPerRun(100, step)
	_, tx1 := devCounters(t, ns, "tisoff0")
	conn.Close()
	<-sent
	if allocs != 0 {
		t.Fatalf("%v allocs per segmenting Read, want 0", allocs)
	}
	// The interface counts super-packets: more segments than packets
	// means Read did the cutting.
	if got := segs - segs0; uint64(got) <= tx1-tx0 {
		t.Fatalf("%d segments read from %d packets the kernel sent: no super-packets cut", got, tx1-tx0)
	}
	t.Logf("%d segments in %d reads from %d kernel packets", segs-segs0, reads, tx1-tx0)
}

const (
	tcpSYN = 0x02
	tcpPSH = 0x08
	tcpACK = 0x10
)

// tcpClient is just enough TCP to talk to a listener through the TUN,
// from 10.9.0.2:40000.
type tcpClient struct {
	t        *testing.T
	dev      *Device
	seq, ack uint32
	bufs     [][]byte
	sizes    [64]int
	queue    [][]byte
}

func (c *tcpClient) packet(flags byte, payload []byte) []byte {
	hl := 20
	if flags&tcpSYN != 0 {
		hl = 24
	}
	p := make([]byte, 20+hl+len(payload))
	testIPv4(p, 6)
	tcp := p[20:]
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 5555)
	binary.BigEndian.PutUint32(tcp[4:], c.seq)
	binary.BigEndian.PutUint32(tcp[8:], c.ack)
	tcp[12] = byte(hl/4) << 4
	tcp[13] = flags
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	if hl == 24 {
		copy(tcp[20:], []byte{2, 4, 0x05, 0x50}) // MSS 1360
	}
	copy(tcp[hl:], payload)
	binary.BigEndian.PutUint16(tcp[16:], ^foldSum(checksumOf(pseudo(p), tcp)))
	return p
}

func (c *tcpClient) send(flags byte, payload []byte) {
	if _, err := c.dev.Write([][]byte{c.packet(flags, payload)}, 0); err != nil {
		c.t.Fatal(err)
	}
}

// recv returns the next TCP packet to the client that want accepts.
func (c *tcpClient) recv(want func([]byte) bool) []byte {
	for {
		for len(c.queue) > 0 {
			p := c.queue[0]
			c.queue = c.queue[1:]
			if len(p) >= 40 && p[9] == 6 && want(p) {
				return p
			}
		}
		done := make(chan struct{})
		timer := time.AfterFunc(5*time.Second, func() {
			select {
			case <-done:
			default:
				c.t.Error("no packet from the TUN")
				c.dev.Close()
			}
		})
		n, err := c.dev.Read(c.bufs, c.sizes[:], 0)
		close(done)
		timer.Stop()
		if err != nil {
			c.t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			c.queue = append(c.queue, append([]byte(nil), c.bufs[i][:c.sizes[i]]...))
		}
	}
}

// checksumOf and foldSum: the one's-complement arithmetic (RFC 1071),
// checked against a plain reference in the header package's tests.
func checksumOf(acc uint64, b []byte) uint64 { return header.ChecksumAdd(acc, b) }
func foldSum(acc uint64) uint16              { return header.ChecksumFold(acc) }

func pseudo(p []byte) uint64 {
	return checksumOf(0, p[12:20]) + 6 + uint64(len(p)-20)
}

func validTCP(p []byte) bool {
	return foldSum(checksumOf(0, p[:20])) == 0xffff && foldSum(checksumOf(pseudo(p), p[20:])) == 0xffff
}

// devCounters reads the interface's rx and tx packet counters in ns.
func devCounters(t *testing.T, ns *nstest.NS, dev string) (rx, tx uint64) {
	t.Helper()
	for _, line := range strings.Split(ns.Run(t, "cat", "/proc/net/dev"), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) != dev {
			continue
		}
		f := strings.Fields(rest)
		rx, _ = strconv.ParseUint(f[1], 10, 64)
		tx, _ = strconv.ParseUint(f[9], 10, 64)
		return rx, tx
	}
	t.Fatalf("no counters for %s", dev)
	return 0, 0
}

// refusingKernel replaces TUNSETOFFLOAD with one that refuses every flag
// set containing a bit of refuse (all sets, with refuseAll) and passes the
// others to the real ioctl. It records the sets asked for.
func refusingKernel(t *testing.T, refuse int, refuseAll bool) *[]int {
	asked := new([]int)
	kernel := setOffload
	setOffload = func(fd, flags int) error {
		*asked = append(*asked, flags)
		if refuseAll || flags&refuse != 0 {
			return unix.EINVAL
		}
		if fd < 0 {
			return nil
		}
		return kernel(fd, flags)
	}
	t.Cleanup(func() { setOffload = kernel })
	return asked
}

func TestNegotiateOffloads(t *testing.T) {
	all := tunFCsum | tunFTSO4 | tunFTSO6 | tunFUSO4 | tunFUSO6
	for _, tc := range []struct {
		name      string
		refuse    int
		refuseAll bool
		want      int
		tries     int
	}{
		{"all accepted", 0, false, all, 1},
		{"no USO", tunFUSO6, false, tunFCsum | tunFTSO4 | tunFTSO6, 2},
		{"no TSO", tunFTSO4, false, tunFCsum, 3},
		{"no checksum", tunFCsum, false, 0, 4},
		{"nothing", 0, true, 0, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked := refusingKernel(t, tc.refuse, tc.refuseAll)
			if got := negotiateOffloads(-1); got != tc.want || len(*asked) != tc.tries {
				t.Fatalf("negotiated %#x after %d tries, want %#x after %d", got, len(*asked), tc.want, tc.tries)
			}
		})
	}
}

// TestOffloadRefused opens the device against a kernel that refuses TSO
// and USO (checksum only) or every offload: the device reports no
// segmentation offloads, still writes a batch of UDP datagrams as plain
// packets (not merged: the kernel counts each) and reads the kernel's
// packets with complete checksums.
func TestOffloadRefused(t *testing.T) {
	for _, tc := range []struct {
		name      string
		refuseAll bool
	}{{"csum-only", false}, {"none", true}} {
		t.Run(tc.name, func(t *testing.T) {
			refusingKernel(t, tunFTSO4|tunFTSO6|tunFUSO4|tunFUSO6, tc.refuseAll)
			testOffloadRefused(t)
		})
	}
}

func testOffloadRefused(t *testing.T) {
	var pc net.PacketConn
	ns, dev := openAddressed(t, "tunref", "tisref0", netip.MustParsePrefix("10.9.0.1/24"), func() (err error) {
		pc, err = net.ListenPacket("udp4", "10.9.0.1:5556")
		return err
	})
	defer pc.Close()
	if vh, tso, uso := dev.Offloads(); !vh || tso || uso {
		t.Fatalf("Offloads() = vnet %v tso %v uso %v, want the header without segmentation", vh, tso, uso)
	}

	const n = 20
	var batch, want [][]byte
	for i := 0; i < n; i++ {
		payload := bytes.Repeat([]byte{byte(i)}, 1000)
		batch = append(batch, udpPacket(payload))
		want = append(want, payload)
	}
	rx0, _ := devCounters(t, ns, "tisref0")
	if _, err := dev.Write(batch, 0); err != nil {
		t.Fatal(err)
	}
	expectDatagrams(t, pc, want, "10.9.0.2:40000")
	if rx1, _ := devCounters(t, ns, "tisref0"); rx1-rx0 < n {
		t.Fatalf("kernel counted %d packets for %d datagrams without USO", rx1-rx0, n)
	}

	// The other way: a datagram from the socket is read as one plain
	// packet with a complete UDP checksum.
	answer := bytes.Repeat([]byte{0x5a}, 1200)
	if _, err := pc.WriteTo(answer, &net.UDPAddr{IP: net.IPv4(10, 9, 0, 2), Port: 40000}); err != nil {
		t.Fatal(err)
	}
	bufs := [][]byte{make([]byte, 2048), make([]byte, 2048)}
	sizes := make([]int, 2)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		done := make(chan struct{})
		timer := time.AfterFunc(5*time.Second, func() {
			select {
			case <-done:
			default:
				t.Error("no packet from the TUN")
				dev.Close()
			}
		})
		k, err := dev.Read(bufs, sizes, 0)
		close(done)
		timer.Stop()
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < k; i++ {
			p := bufs[i][:sizes[i]]
			if len(p) < 28 || p[0] != 0x45 || p[9] != 17 {
				continue
			}
			u := p[20:]
			if foldSum(checksumOf(0, p[12:20])+17+uint64(len(u))+checksumOf(0, u)) != 0xffff {
				t.Fatalf("UDP packet from the TUN with a bad checksum")
			}
			if binary.BigEndian.Uint16(u[2:]) != 40000 || !bytes.Equal(u[8:], answer) {
				t.Fatalf("UDP packet from the TUN differs: % x", p[:28])
			}
			return
		}
	}
	t.Fatal("no UDP packet from the TUN")
}

// TestOffloadUDP writes 20 datagrams of one flow in one Write to a real
// UDP socket in a namespace, over IPv4 and IPv6: with USO accepted they
// are merged into one UDP_L4 super-packet (the kernel counts at most a few
// packets), and the socket still receives 20 intact datagrams in order.
func TestOffloadUDP(t *testing.T) {
	t.Run("ipv4", func(t *testing.T) { testOffloadUDP(t, false) })
	t.Run("ipv6", func(t *testing.T) { testOffloadUDP(t, true) })
}

func testOffloadUDP(t *testing.T, v6 bool) {
	prefix, network, addr := netip.MustParsePrefix("10.9.0.1/24"), "udp4", "10.9.0.1:5556"
	if v6 {
		prefix, network, addr = netip.MustParsePrefix("fd09::1/64"), "udp6", "[fd09::1]:5556"
	}
	var pc net.PacketConn
	ns, dev := openAddressed(t, "tunuso", "tisuso0", prefix, func() (err error) {
		pc, err = net.ListenPacket(network, addr)
		return err
	})
	defer pc.Close()
	vh, _, uso := dev.Offloads()
	if !vh || !uso {
		t.Skipf("the kernel did not accept USO on the TUN (vnet header %v, USO %v): UDP is written unmerged", vh, uso)
	}

	const n, size = 20, 1000
	var batch [][]byte
	for i := 0; i < n; i++ {
		l := size
		if i == n-1 {
			l = 300 // the last may be shorter
		}
		payload := make([]byte, l)
		for j := range payload {
			payload[j] = byte(i*31 + j)
		}
		batch = append(batch, udpPacketFamily(v6, payload))
	}
	hl := 28
	from := "10.9.0.2:40000"
	if v6 {
		hl, from = 48, "[fd09::2]:40000"
	}
	want := make([][]byte, n)
	for i, p := range batch {
		want[i] = append([]byte(nil), p[hl:]...)
	}
	rx0, _ := devCounters(t, ns, "tisuso0")
	if _, err := dev.Write(batch, 0); err != nil {
		t.Fatal(err)
	}
	expectDatagrams(t, pc, want, from)
	rx1, _ := devCounters(t, ns, "tisuso0")
	if rx1-rx0 > 3 {
		t.Fatalf("kernel counted %d packets for %d merged datagrams", rx1-rx0, n)
	}
	t.Logf("%d datagrams written as %d packets", n, rx1-rx0)
}

// expectDatagrams reads len(want) datagrams from pc (10 s at most) and
// checks each one's bytes and source address.
func expectDatagrams(t *testing.T, pc net.PacketConn, want [][]byte, from string) {
	t.Helper()
	pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 65536)
	for i := range want {
		m, src, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if !bytes.Equal(buf[:m], want[i]) {
			t.Fatalf("datagram %d differs (%d bytes, want %d)", i, m, len(want[i]))
		}
		if src.String() != from {
			t.Fatalf("datagram %d from %v, want %s", i, src, from)
		}
	}
}

// udpPacketFamily builds udpPacket's datagram, or over IPv6
// [fd09::2]:40000 -> [fd09::1]:5556.
func udpPacketFamily(v6 bool, payload []byte) []byte {
	if !v6 {
		return udpPacket(payload)
	}
	p := make([]byte, 48+len(payload))
	p[0] = 0x60
	binary.BigEndian.PutUint16(p[4:], uint16(len(p)-40))
	p[6], p[7] = 17, 64
	copy(p[8:24], []byte{0xfd, 0x09, 15: 2})
	copy(p[24:40], []byte{0xfd, 0x09, 15: 1})
	putTestUDP(p[40:], payload, checksumOf(0, p[8:40]))
	return p
}

// testIPv4 writes the IPv4 header of the test packets into p: 10.9.0.2 ->
// 10.9.0.1, DF, protocol proto, the length of p, and the checksum.
func testIPv4(p []byte, proto byte) {
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	p[6] = 0x40
	p[8], p[9] = 64, proto
	copy(p[12:16], []byte{10, 9, 0, 2})
	copy(p[16:20], []byte{10, 9, 0, 1})
	binary.BigEndian.PutUint16(p[10:], ^foldSum(checksumOf(0, p[:20])))
}

// udpPacket builds 10.9.0.2:40000 -> 10.9.0.1:5556 with a full checksum.
func udpPacket(payload []byte) []byte {
	p := make([]byte, 28+len(payload))
	testIPv4(p, 17)
	putTestUDP(p[20:], payload, checksumOf(0, p[12:20]))
	return p
}

// putTestUDP writes port 40000 -> 5556, the length, payload and the
// checksum into u, given the sum of the pseudo-header's addresses.
func putTestUDP(u, payload []byte, addrs uint64) {
	binary.BigEndian.PutUint16(u[0:], 40000)
	binary.BigEndian.PutUint16(u[2:], 5556)
	binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
	copy(u[8:], payload)
	c := ^foldSum(addrs + 17 + uint64(len(u)) + checksumOf(0, u))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(u[6:], c)
}
