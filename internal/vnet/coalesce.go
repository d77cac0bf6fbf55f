package vnet

import (
	"bytes"

	"tinyipsec/internal/header"
)

// MaxSegments bounds the segments merged into one super-packet, as the
// kernel's own GRO does (MAX_GSO_SEGS is larger, but 64 KB of 1400-byte
// segments is 46).
const MaxSegments = 64

// maxSuper is the largest IP packet the merged headers can describe.
const maxSuper = 65535

// Coalescer merges, within one batch of packets about to be written into
// the TUN, the TCP segments of each flow that continue one another into
// super-packets (the receive side of TSO, what GRO does on a NIC). Merging
// only ever appends a segment to the newest group of its flow, so a flow's
// bytes keep their order, and a packet that cannot be merged starts a new
// group behind the flow's earlier ones.
//
// A group is written as: a virtio-net header, the first packet with its
// lengths (and TCP PSH) fixed for the whole group, then only the payload
// of every further member - an iovec list, no copying. The TCP checksum
// is left partial (pseudo-header only, FlagNeedsCsum): the segments were
// authenticated by ESP/AH just before, and the kernel takes a partial
// checksum as verified for local delivery and completes it when it
// forwards.
//
// With UDP set (the TUN accepted USO), UDP datagrams of one flow of the
// same payload size (the last may be shorter) are merged too, into one
// UDP_L4 super-packet, as the kernel's UDP GRO does; the receiving
// socket gets them back one datagram at a time unless it asked for GRO.
type Coalescer struct {
	// UDP enables merging UDP datagrams; leave it false unless the TUN
	// accepted TUN_F_USO4 and TUN_F_USO6, or the kernel refuses the write.
	UDP bool

	groups []Group
	next   []int // next member of the same group, by packet index; -1 ends
}

// Group is one packet to write: First is the index of its first packet,
// Count the number of members (1: written as it is, with an empty
// virtio-net header).
type Group struct {
	_                  [0]func() // not comparable: no generated == function (flash)
	First, Last, Count int
	hdrLen             int // IP + TCP header bytes of every member
	gsoSize            int
	total              int // bytes of the merged packet
	nextSeq            uint32
	closed             bool // a short segment or PSH ends the group
	flowOK             bool // a TCP segment or UDP datagram that can take followers
	udp                bool // a UDP group
}

// NewCoalescer sizes a Coalescer for batches of up to n packets.
func NewCoalescer(n int) *Coalescer {
	return &Coalescer{groups: make([]Group, 0, n), next: make([]int, n)}
}

// Coalesce groups pkts (whole IP packets, modified in place) and returns
// the groups in write order. The result is valid until the next call.
func (c *Coalescer) Coalesce(pkts [][]byte) []Group {
	c.groups = c.groups[:0]
	if cap(c.next) < len(pkts) {
		// Only when a caller passes a larger batch than it said.
		c.next = make([]int, len(pkts))
	}
	c.next = c.next[:len(pkts)]
	for i, p := range pkts {
		c.next[i] = -1
		if c.join(pkts, i, p) {
			continue
		}
		g := Group{First: i, Last: i, Count: 1}
		if l4, hl, ok := tcpSegment(p); ok {
			payload := len(p) - hl
			g.hdrLen, g.gsoSize, g.total = hl, payload, len(p)
			tcp := header.TCP(p[l4:])
			g.nextSeq = tcp.Seq() + uint32(payload)
			g.closed = tcp.Flags()&header.TCPFlagPSH != 0
			g.flowOK = true
		} else if l4, ok := c.udpDatagram(p); ok {
			g.hdrLen, g.gsoSize, g.total = l4+header.UDPLen, len(p)-l4-header.UDPLen, len(p)
			g.flowOK, g.udp = true, true
		}
		c.groups = append(c.groups, g)
	}
	for i := range c.groups {
		if c.groups[i].Count > 1 {
			c.finish(pkts, &c.groups[i])
		}
	}
	return c.groups
}

// Next returns the member after packet i in its group, -1 at the end.
func (c *Coalescer) Next(i int) int { return c.next[i] }

// tcpSegment reports whether p is a TCP segment that may be merged: no
// IPv4 options or fragments, no IPv6 extension headers, lengths as the
// header says, payload present, and only ACK (with PSH) set. l4 is the
// TCP header's offset, hl the length of both headers.
func tcpSegment(p []byte) (l4, hl int, ok bool) {
	if len(p) < header.IPv4MinLen+header.TCPMinLen {
		return 0, 0, false
	}
	l4, ok = plainIP(p, protoTCP, header.TCPMinLen)
	if !ok {
		return 0, 0, false
	}
	tcp := header.TCP(p[l4:])
	hl = l4 + tcp.HeaderLen()
	if hl < l4+header.TCPMinLen || hl >= len(p) {
		return 0, 0, false
	}
	if f := tcp.Flags(); f&^(header.TCPFlagACK|header.TCPFlagPSH) != 0 || f&header.TCPFlagACK == 0 {
		return 0, 0, false
	}
	return l4, hl, true
}

// plainIP reports whether p is an IP packet of protocol proto with at
// least l4Min bytes after the IP header, lengths as the header says, and
// nothing GRO cannot merge: no IPv4 options or fragments, no IPv6
// extension headers. l4 is the offset of what follows the IP header.
func plainIP(p []byte, proto byte, l4Min int) (l4 int, ok bool) {
	switch header.Version(p) {
	case 4:
		ip := header.IPv4(p)
		if ip.HeaderLen() != header.IPv4MinLen || ip.Protocol() != proto || ip.TotalLen() != len(p) || ip.IsFragment() {
			return 0, false
		}
		return header.IPv4MinLen, len(p) >= header.IPv4MinLen+l4Min
	case 6:
		if len(p) < header.IPv6Len+l4Min {
			return 0, false
		}
		ip := header.IPv6(p)
		if ip.NextHeader() != proto || ip.PayloadLen()+header.IPv6Len != len(p) {
			return 0, false
		}
		return header.IPv6Len, true
	}
	return 0, false
}

// udpDatagram reports whether p is a UDP datagram that may be merged (when
// c.UDP is set): no IPv4 options or fragments, no IPv6 extension headers,
// lengths as the headers say, payload present. l4 is the UDP header's
// offset.
func (c *Coalescer) udpDatagram(p []byte) (l4 int, ok bool) {
	if !c.UDP || len(p) < header.IPv4MinLen+header.UDPLen+1 {
		return 0, false
	}
	l4, ok = plainIP(p, protoUDP, header.UDPLen+1)
	if !ok || header.UDP(p[l4:]).Length() != len(p)-l4 {
		return 0, false
	}
	return l4, true
}

// joinUDP appends datagram i to the newest group of its flow if the group
// is open and the datagram is no larger than the group's first.
func (c *Coalescer) joinUDP(pkts [][]byte, i int, p []byte) bool {
	l4, ok := c.udpDatagram(p)
	if !ok {
		return false
	}
	for gi := len(c.groups) - 1; gi >= 0; gi-- {
		g := &c.groups[gi]
		if !g.flowOK || !g.udp || !sameFlow(pkts[g.First], p, l4) {
			continue
		}
		payload := len(p) - l4 - header.UDPLen
		if g.closed || payload > g.gsoSize || g.Count >= MaxSegments || g.total+payload > maxSuper {
			return false
		}
		c.next[g.Last] = i
		g.Last = i
		g.Count++
		g.total += payload
		if payload < g.gsoSize {
			g.closed = true // only the last datagram may be short
		}
		return true
	}
	return false
}

// join appends packet i to the newest group of its flow if it continues
// it.
func (c *Coalescer) join(pkts [][]byte, i int, p []byte) bool {
	l4, hl, ok := tcpSegment(p)
	if !ok {
		return c.joinUDP(pkts, i, p)
	}
	for gi := len(c.groups) - 1; gi >= 0; gi-- {
		g := &c.groups[gi]
		if !g.flowOK || g.udp {
			continue
		}
		first := pkts[g.First]
		if !sameFlow(first, p, l4) {
			continue
		}
		// The newest group of this flow: merge or start a new one.
		payload := len(p) - hl
		if g.closed || hl != g.hdrLen || payload > g.gsoSize || g.Count >= MaxSegments ||
			g.total+payload > maxSuper || header.TCP(p[l4:]).Seq() != g.nextSeq ||
			header.TCP(first[l4:]).Ack() != header.TCP(p[l4:]).Ack() ||
			!bytes.Equal(first[l4+header.TCPMinLen:hl], p[l4+header.TCPMinLen:hl]) {
			return false
		}
		c.next[g.Last] = i
		g.Last = i
		g.Count++
		g.total += payload
		g.nextSeq += uint32(payload)
		if payload < g.gsoSize || header.TCP(p[l4:]).Flags()&header.TCPFlagPSH != 0 {
			g.closed = true
		}
		return true
	}
	return false
}

// sameFlow compares addresses, ports and the IP fields GRO requires to be
// equal (IPv4 TOS, TTL and DF; IPv6 traffic class, flow label and hop
// limit).
func sameFlow(a, b []byte, l4 int) bool {
	if header.Version(a) != header.Version(b) {
		return false
	}
	ports := bytes.Equal(header.UDP(a[l4:]).Ports(), header.UDP(b[l4:]).Ports()) // TCP's too
	if l4 == header.IPv4MinLen {
		x, y := header.IPv4(a), header.IPv4(b)
		return x.TOS() == y.TOS() && x.TTL() == y.TTL() && x.DontFragment() == y.DontFragment() &&
			bytes.Equal(x.Addrs(), y.Addrs()) && ports
	}
	x, y := header.IPv6(a), header.IPv6(b)
	return bytes.Equal(x[:header.IPv6FlowEnd], y[:header.IPv6FlowEnd]) && x.HopLimit() == y.HopLimit() &&
		bytes.Equal(x.Addrs(), y.Addrs()) && ports
}

// finish rewrites the first packet's headers for the merged packet.
func (c *Coalescer) finish(pkts [][]byte, g *Group) {
	p := pkts[g.First]
	l4 := header.IPv4MinLen
	if header.Version(p) == 4 {
		header.IPv4(p).SetTotalLen(g.total)
		setIPv4Checksum(p[:header.IPv4MinLen])
	} else {
		l4 = header.IPv6Len
		header.IPv6(p).SetPayloadLen(g.total - header.IPv6Len)
	}
	if g.udp {
		// Length and pseudo-header sum of the whole super-packet, as
		// the kernel's UDP GRO leaves them.
		u := header.UDP(p[l4:])
		u.SetLength(g.total - l4)
		u.SetChecksum(fold(pseudoSum(p, protoUDP, g.total-l4)))
		return
	}
	tcp := header.TCP(p[l4:])
	if header.TCP(pkts[g.Last][l4:]).Flags()&header.TCPFlagPSH != 0 {
		tcp.SetFlags(tcp.Flags() | header.TCPFlagPSH)
	}
	tcp.SetChecksum(fold(pseudoSum(p, protoTCP, g.total-l4)))
}

// Header returns the virtio-net header to write in front of group g.
func (g *Group) Header(pkts [][]byte) Header {
	if g.Count == 1 {
		return Header{}
	}
	p := pkts[g.First]
	h := Header{
		Flags:      FlagNeedsCsum,
		GSOType:    GSOTCPv4,
		HdrLen:     uint16(g.hdrLen),
		GSOSize:    uint16(g.gsoSize),
		CsumStart:  20,
		CsumOffset: tcpChecksum,
	}
	if p[0]>>4 == 6 {
		h.GSOType, h.CsumStart = GSOTCPv6, 40
	}
	if g.udp {
		h.GSOType, h.CsumOffset = GSOUDPL4, udpChecksum
	}
	return h
}

// HeaderLen is the length of the headers of every member of g: the bytes
// of a member after the first that are not written.
func (g *Group) HeaderLen() int { return g.hdrLen }
