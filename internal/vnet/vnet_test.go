package vnet

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// superPacket builds what the kernel hands a TUN with TSO/USO on: one IP
// packet with a payload of n bytes, the transport checksum left partial
// (pseudo-header sum), and its virtio-net header.
func superPacket(v6, udp bool, n, mss int) ([]byte, Header) {
	l4 := 20
	if v6 {
		l4 = 40
	}
	thl := 32 // TCP with a timestamp option
	proto := byte(protoTCP)
	if udp {
		thl, proto = 8, protoUDP
	}
	p := make([]byte, l4+thl+n)
	if v6 {
		p[0] = 0x60
		binary.BigEndian.PutUint16(p[4:], uint16(len(p)-40))
		p[6], p[7] = proto, 64
		copy(p[8:24], []byte{0xfd, 1, 15: 1})
		copy(p[24:40], []byte{0xfd, 2, 15: 1})
	} else {
		p[0] = 0x45
		binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
		binary.BigEndian.PutUint16(p[4:], 0x1234)
		p[6] = 0x40
		p[8], p[9] = 64, proto
		copy(p[12:16], []byte{10, 1, 0, 1})
		copy(p[16:20], []byte{10, 2, 0, 1})
		setIPv4Checksum(p[:20])
	}
	t := p[l4:]
	binary.BigEndian.PutUint16(t[0:], 40000)
	binary.BigEndian.PutUint16(t[2:], 5201)
	h := Header{Flags: FlagNeedsCsum, HdrLen: uint16(l4 + thl), GSOSize: uint16(mss), CsumStart: uint16(l4)}
	if udp {
		binary.BigEndian.PutUint16(t[udpLength:], uint16(len(t)))
		h.GSOType, h.CsumOffset = GSOUDPL4, udpChecksum
	} else {
		binary.BigEndian.PutUint32(t[tcpSeq:], 0xfffff000) // wraps inside the packet
		binary.BigEndian.PutUint32(t[tcpAck:], 777)
		t[tcpDataOff] = byte(thl/4) << 4
		t[tcpFlags] = tcpACK | tcpPSH
		copy(t[20:32], []byte{1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 7})
		h.GSOType, h.CsumOffset = GSOTCPv4, tcpChecksum
		if v6 {
			h.GSOType = GSOTCPv6
		}
	}
	for i := l4 + thl; i < len(p); i++ {
		p[i] = byte(i * 7)
	}
	binary.BigEndian.PutUint16(t[h.CsumOffset:], fold(pseudoSum(p, proto, len(t))))
	return p, h
}

// validChecksum checks a packet's transport checksum independently.
func validChecksum(p []byte) bool {
	l4, proto := 20, p[9]
	if p[0]>>4 == 6 {
		l4, proto = 40, p[6]
	} else if fold(sum(0, p[:20])) != 0xffff {
		return false
	}
	return fold(sum(pseudoSum(p, proto, len(p)-l4), p[l4:])) == 0xffff
}

func TestSegmentAndCoalesce(t *testing.T) {
	for _, tc := range []struct {
		name    string
		v6, udp bool
	}{{"tcp4", false, false}, {"tcp6", true, false}, {"udp4", false, true}, {"udp6", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			const mss, n = 1348, 1348*20 + 500
			orig, h := superPacket(tc.v6, tc.udp, n, mss)
			super := append([]byte(nil), orig...)
			segs := segmentPacket(t, super, h)
			if len(segs) != 21 {
				t.Fatalf("%d segments, want 21", len(segs))
			}
			l4 := 20
			if tc.v6 {
				l4 = 40
			}
			var payload []byte
			for i, sg := range segs {
				if !validChecksum(sg) {
					t.Fatalf("segment %d: bad checksum", i)
				}
				hl := int(h.HdrLen)
				payload = append(payload, sg[hl:]...)
				if tc.v6 {
					if int(binary.BigEndian.Uint16(sg[4:]))+40 != len(sg) {
						t.Fatalf("segment %d: payload length", i)
					}
				} else {
					if int(binary.BigEndian.Uint16(sg[2:])) != len(sg) || binary.BigEndian.Uint16(sg[4:]) != 0x1234+uint16(i) {
						t.Fatalf("segment %d: IPv4 length/ID %x", i, sg[2:6])
					}
				}
				if tc.udp {
					continue
				}
				if seq := binary.BigEndian.Uint32(sg[l4+tcpSeq:]); seq != 0xfffff000+uint32(i*mss) {
					t.Fatalf("segment %d: seq %#x", i, seq)
				}
				if psh := sg[l4+tcpFlags]&tcpPSH != 0; psh != (i == len(segs)-1) {
					t.Fatalf("segment %d: PSH %v", i, psh)
				}
			}
			if !bytes.Equal(payload, orig[h.HdrLen:]) {
				t.Fatal("payload differs after segmentation")
			}
			c := NewCoalescer(len(segs))
			if tc.udp {
				// Without USO, UDP datagrams are not merged.
				if g := c.Coalesce(segs); len(g) != len(segs) {
					t.Fatalf("%d groups of UDP, want %d", len(g), len(segs))
				}
				c.UDP = true
			}
			origSegs := make([][]byte, len(segs))
			for i, sg := range segs {
				origSegs[i] = append([]byte(nil), sg...)
			}
			groups := c.Coalesce(segs)
			if len(groups) != 1 || groups[0].Count != len(segs) {
				t.Fatalf("groups %+v", groups)
			}
			g := groups[0]
			gh := g.Header(segs)
			if int(gh.GSOSize) != mss || int(gh.HdrLen) != int(h.HdrLen) || gh.GSOType != h.GSOType {
				t.Fatalf("group header %+v", gh)
			}
			merged := append([]byte(nil), segs[g.First]...)
			for i := c.Next(g.First); i >= 0; i = c.Next(i) {
				merged = append(merged, segs[i][g.HeaderLen():]...)
			}
			// The merged packet is the kernel's super-packet again
			// (IPv4 ID and checksums aside, which the kernel redoes).
			if !tc.v6 {
				merged[4], merged[5], merged[10], merged[11] = orig[4], orig[5], orig[10], orig[11]
			}
			if !bytes.Equal(merged, orig) {
				t.Fatalf("merged packet differs from the original super-packet")
			}
			// Cut again, the merged packet gives back the segments.
			merged = append(merged[:0], segs[g.First]...)
			for i := c.Next(g.First); i >= 0; i = c.Next(i) {
				merged = append(merged, segs[i][g.HeaderLen():]...)
			}
			again := segmentPacket(t, merged, gh)
			if len(again) != len(origSegs) {
				t.Fatalf("%d segments from the merged packet, want %d", len(again), len(origSegs))
			}
			for i := range again {
				if !bytes.Equal(again[i], origSegs[i]) {
					t.Fatalf("segment %d of the merged packet differs from the original", i)
				}
			}
		})
	}
}

// TestCoalesceKeepsOrder: two interleaved flows, a gap in one and a SYN
// come out as groups whose order keeps every flow's byte order.
func TestCoalesceKeepsOrder(t *testing.T) {
	segsA := segments(t, false, 4)
	segsB := segments(t, false, 4)
	for _, s := range segsB {
		binary.BigEndian.PutUint16(s[20:], 40001) // another source port
	}
	batch := [][]byte{segsA[0], segsB[0], segsA[1], segsB[1], segsA[3], segsA[2], segsB[2], segsB[3]}
	c := NewCoalescer(len(batch))
	groups := c.Coalesce(batch)
	// A0 A1 | B0 B1 B2 B3 | A3 | A2: A3 does not continue A1 and starts
	// a group of its own; A2 then does not continue A3.
	got := members(c, groups)
	want := [][]int{{0, 2}, {1, 3, 6, 7}, {4}, {5}}
	if len(got) != len(want) {
		t.Fatalf("groups %v, want %v", got, want)
	}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("groups %v, want %v", got, want)
		}
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("groups %v, want %v", got, want)
			}
		}
	}
}

// TestCoalesceUDP: with USO, datagrams of one flow and one size merge; a
// shorter datagram ends its group, a larger one, another flow, a TCP
// segment between the same ports and a datagram without USO do not join.
func TestCoalesceUDP(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		a := udpSegments(t, v6, 1000, 3)
		b := udpSegments(t, v6, 1000, 2)
		l4 := 20
		if v6 {
			l4 = 40
		}
		for _, p := range b {
			binary.BigEndian.PutUint16(p[l4:], 40001) // another source port
		}
		short := udpSegments(t, v6, 500, 1)[0]
		big := udpSegments(t, v6, 1200, 1)[0]
		tcp := segments(t, v6, 1)[0]
		after := udpSegments(t, v6, 1000, 1)[0]
		batch := [][]byte{a[0], b[0], a[1], tcp, b[1], a[2], short, after, big}
		c := NewCoalescer(len(batch))
		c.UDP = true
		groups := c.Coalesce(batch)
		// A0 A1 A2 short | B0 B1 | tcp | after | big: "after" does not
		// follow the short datagram that closed the group.
		want := [][]int{{0, 2, 5, 6}, {1, 4}, {3}, {7}, {8}}
		if got := members(c, groups); !equalGroups(got, want) {
			t.Fatalf("v6 %v: groups %v, want %v", v6, got, want)
		}
		if h := groups[0].Header(batch); h.GSOType != GSOUDPL4 || h.GSOSize != 1000 ||
			int(h.CsumStart) != l4 || h.CsumOffset != udpChecksum || h.Flags != FlagNeedsCsum || int(h.HdrLen) != l4+8 {
			t.Fatalf("v6 %v: header %+v", v6, h)
		}
		if h := groups[2].Header(batch); h != (Header{}) {
			t.Fatalf("v6 %v: single packet header %+v", v6, h)
		}
	}
}

func members(c *Coalescer, groups []Group) [][]int {
	var got [][]int
	for _, g := range groups {
		var m []int
		for i := g.First; i >= 0; i = c.Next(i) {
			m = append(m, i)
		}
		got = append(got, m)
	}
	return got
}

func equalGroups(got, want [][]int) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			return false
		}
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				return false
			}
		}
	}
	return true
}

// udpSegments cuts a USO super-packet into n datagrams of size bytes.
func udpSegments(t *testing.T, v6 bool, size, n int) [][]byte {
	t.Helper()
	return segmentAll(t, v6, true, size*n, size)
}

// segments cuts a TSO super-packet into n segments of 1000 bytes.
func segments(t *testing.T, v6 bool, n int) [][]byte {
	t.Helper()
	return segmentAll(t, v6, false, 1000*n, 1000)
}

// segmentAll cuts a super-packet of total payload bytes (TCP, or UDP with
// udp) into segments of size payload bytes.
func segmentAll(t testing.TB, v6, udp bool, total, size int) [][]byte {
	t.Helper()
	p, h := superPacket(v6, udp, total, size)
	return segmentPacket(t, p, h)
}

// segmentPacket cuts p (after the virtio-net header h) into the packets
// a Segmenter gives.
func segmentPacket(t testing.TB, p []byte, h Header) [][]byte {
	t.Helper()
	var s Segmenter
	if err := s.Reset(p, h); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for {
		b := make([]byte, 2048)
		m, ok := s.Next(b)
		if !ok {
			return out
		}
		out = append(out, b[:m])
	}
}

func TestCompleteChecksum(t *testing.T) {
	p, h := superPacket(false, false, 300, 1000)
	h.GSOType = GSONone
	var s Segmenter
	if err := s.Reset(p, h); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 2048)
	n, ok := s.Next(b)
	if !ok || n != len(p) || !validChecksum(b[:n]) {
		t.Fatalf("Next = %d %v, checksum valid %v", n, ok, validChecksum(b[:n]))
	}
	if _, ok := s.Next(b); ok {
		t.Fatal("a second packet from a non-GSO packet")
	}
}

// TestZeroAllocs: segmentation and coalescing allocate nothing per packet.
func TestZeroAllocs(t *testing.T) {
	for _, udp := range []bool{false, true} {
		zeroAllocs(t, udp)
	}
}

func zeroAllocs(t *testing.T, udp bool) {
	orig, h := superPacket(false, udp, 1348*40, 1348)
	super := make([]byte, len(orig))
	bufs := make([][]byte, 64)
	pkts := make([][]byte, 64)
	for i := range bufs {
		bufs[i] = make([]byte, 2048)
	}
	var s Segmenter
	c := NewCoalescer(64)
	c.UDP = udp
	allocs := testing.AllocsPerRun(100, func() {
		copy(super, orig)
		if err := s.Reset(super, h); err != nil {
			t.Fatal(err)
		}
		n := 0
		for {
			m, ok := s.Next(bufs[n])
			if !ok {
				break
			}
			pkts[n] = bufs[n][:m]
			n++
		}
		if g := c.Coalesce(pkts[:n]); len(g) != 1 {
			t.Fatalf("%d groups", len(g))
		}
	})
	if allocs != 0 {
		t.Fatalf("udp %v: %v allocs per super-packet, want 0", udp, allocs)
	}
}

func FuzzSegment(f *testing.F) {
	p, h := superPacket(false, false, 3000, 1000)
	var hb [HeaderLen]byte
	h.Encode(hb[:])
	f.Add(append(hb[:], p...))
	p, h = superPacket(true, true, 3000, 1000)
	h.Encode(hb[:])
	f.Add(append(hb[:], p...))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < HeaderLen {
			return
		}
		var h Header
		h.Decode(b)
		var s Segmenter
		if s.Reset(b[HeaderLen:], h) != nil {
			return
		}
		var pkts [][]byte
		for i := 0; i < 200; i++ {
			dst := make([]byte, 2048)
			n, ok := s.Next(dst)
			if !ok {
				break
			}
			pkts = append(pkts, dst[:n])
		}
		c := NewCoalescer(len(pkts))
		for _, g := range c.Coalesce(pkts) {
			g.Header(pkts)
		}
	})
}

func TestSegmenterZeroValue(t *testing.T) {
	var s Segmenter
	if s.Pending() {
		t.Fatal("zero Segmenter has a packet pending")
	}
	if _, ok := s.Next(make([]byte, 100)); ok {
		t.Fatal("zero Segmenter returned a packet")
	}
}

// FuzzCoalesce merges arbitrary batches: no panic, every packet in
// exactly one group, and a merged group never exceeds an IP packet.
func FuzzCoalesce(f *testing.F) {
	// Seeds: the segments of a TCP and of a UDP super-packet, each
	// prefixed by its 16-bit length.
	for _, c := range []struct {
		v6, udp bool
		total   int
	}{{false, false, 4000}, {true, true, 3500}} {
		var seed []byte
		for _, b := range segmentAll(f, c.v6, c.udp, c.total, 1000) {
			seed = append(seed, byte(len(b)>>8), byte(len(b)))
			seed = append(seed, b...)
		}
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var pkts [][]byte
		for len(b) >= 2 && len(pkts) < 64 {
			n := int(b[0])<<8 | int(b[1])
			b = b[2:]
			n = min(n, len(b))
			pkts = append(pkts, b[:n:n])
			b = b[n:]
		}
		c := NewCoalescer(len(pkts))
		c.UDP = true
		seen := make([]bool, len(pkts))
		for _, g := range c.Coalesce(pkts) {
			g.Header(pkts)
			total := 0
			for i := g.First; i >= 0; i = c.Next(i) {
				if seen[i] {
					t.Fatalf("packet %d in two groups", i)
				}
				seen[i] = true
				total += len(pkts[i])
			}
			if g.Count > 1 && total-(g.Count-1)*g.HeaderLen() > maxSuper {
				t.Fatalf("merged packet of %d bytes", total)
			}
		}
		for i, ok := range seen {
			if !ok {
				t.Fatalf("packet %d in no group", i)
			}
		}
	})
}
