package esp

import (
	"net/netip"
	"sync"

	"tinyipsec/internal/header"
)

// UDP-encapsulated ESP (NAT-T, RFC 3948) arrives on the IKE socket without
// its IP and UDP headers. ReceiveUDP rebuilds both in front of the payload
// so that ParseSPI and Decap see the same packet a raw socket would give.

type udpScratch struct {
	buf []byte
	one [1][]byte
}

var udpScratchPool sync.Pool

// ReceiveUDP decapsulates one ESP packet that arrived in a UDP datagram
// from remote to local (the payload starts with the SPI) and writes the
// cleartext into the device. It is safe for concurrent use.
func (e *Engine) ReceiveUDP(payload []byte, local, remote netip.AddrPort) {
	s, _ := udpScratchPool.Get().(*udpScratch)
	if s == nil || len(s.buf) != e.bufSize {
		s = &udpScratch{buf: make([]byte, e.bufSize)}
	}
	defer udpScratchPool.Put(s)
	off, n, ok := e.decapUDP(s.buf, payload, local, remote)
	if !ok {
		return
	}
	s.one[0] = s.buf[off : off+n]
	if _, err := e.dev.Write(s.one[:], 0); err != nil {
		e.drops.add(DropTunWrite)
	}
}

// UDPBatch decapsulates UDP-encapsulated ESP a batch at a time and writes
// the cleartext into the device together (where the device merges TCP
// segments of a flow). One goroutine uses a UDPBatch; make one per
// receive socket with NewUDPBatch.
type UDPBatch struct {
	batchLoop
	write  [][]byte
	active bool
}

// NewUDPBatch returns a batch receiver with its own buffers.
func (e *Engine) NewUDPBatch() *UDPBatch {
	b := &UDPBatch{batchLoop: e.newBatchLoop()}
	b.write = make([][]byte, 0, len(b.bufs))
	return b
}

// Add decapsulates one datagram's ESP packet (as ReceiveUDP) into the
// batch; a full batch is written first.
func (b *UDPBatch) Add(payload []byte, local, remote netip.AddrPort) {
	if len(b.write) == len(b.bufs) {
		b.Flush()
	}
	if !b.active {
		// Like the loops: SAs retired meanwhile are wiped only after
		// this batch is done with them.
		b.state.enter()
		b.active = true
	}
	buf := b.bufs[len(b.write)]
	if off, n, ok := b.e.decapUDP(buf, payload, local, remote); ok {
		b.write = append(b.write, buf[off:off+n])
	}
}

// Flush writes the batch's cleartext packets into the device.
func (b *UDPBatch) Flush() {
	if !b.active {
		return
	}
	writeAll(b.e, b.write)
	clear(b.write)
	b.write = b.write[:0]
	b.state.leave()
	b.active = false
}

// decapUDP rebuilds the IP and UDP headers in front of payload (copied
// into buf) and decapsulates the packet.
func (e *Engine) decapUDP(buf, payload []byte, local, remote netip.AddrPort) (off, n int, ok bool) {
	la, ra := local.Addr().Unmap(), remote.Addr().Unmap()
	if !la.IsValid() || !ra.IsValid() || la.Is4() != ra.Is4() {
		// Both addresses go into one rebuilt IP header: a datagram whose
		// local address is of the other family (or unknown) cannot be
		// matched to an SA anyway.
		e.drops.add(DropMalformed)
		return 0, 0, false
	}
	hl := header.IPv4MinLen
	if !ra.Is4() {
		hl = header.IPv6Len
	}
	start := MaxHeadroom - hl - header.UDPLen
	total := hl + header.UDPLen + len(payload)
	if MaxHeadroom+len(payload) > len(buf) || total > 0xffff {
		e.drops.add(DropMalformed)
		return 0, 0, false
	}
	b := buf
	copy(b[MaxHeadroom:], payload)
	h := b[start : start+hl]
	clear(h)
	if hl == header.IPv4MinLen {
		ip := header.IPv4(h)
		h[0] = 4<<4 | header.IPv4MinLen/4 // version, IHL: no options
		ip.SetTotalLen(total)
		ip.SetTTL(64)
		ip.SetProtocol(ipProtoUDP)
		src, dst := ra.As4(), la.As4()
		copy(ip.Src(), src[:])
		copy(ip.Dst(), dst[:])
		ip.SetChecksum(^onesSum(0, h))
	} else {
		ip := header.IPv6(h)
		ip.SetVersionClass(0)
		ip.SetPayloadLen(total - header.IPv6Len)
		ip.SetNextHeader(ipProtoUDP)
		ip.SetHopLimit(64)
		src, dst := ra.As16(), la.As16()
		copy(ip.Src(), src[:])
		copy(ip.Dst(), dst[:])
	}
	// No checksum: ESP carries its own integrity.
	header.UDP(b[start+hl:]).Set(remote.Port(), local.Port(), header.UDPLen+len(payload), 0)
	return e.decap(b, start, start+total)
}
