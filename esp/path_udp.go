package esp

import (
	"encoding/binary"
	"net/netip"
	"sync"
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
	e      *Engine
	state  *loopState
	bufs   [][]byte
	sizes  []int
	write  [][]byte
	active bool
}

// NewUDPBatch returns a batch receiver with its own buffers.
func (e *Engine) NewUDPBatch() *UDPBatch {
	b := &UDPBatch{e: e, state: e.newLoop()}
	b.bufs, b.sizes = e.newBatch()
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
	hl := 20
	if !ra.Is4() {
		hl = 40
	}
	start := MaxHeadroom - hl - 8
	total := hl + 8 + len(payload)
	if MaxHeadroom+len(payload) > len(buf) || total > 0xffff {
		e.drops.add(DropMalformed)
		return 0, 0, false
	}
	b := buf
	copy(b[MaxHeadroom:], payload)
	h := b[start : start+hl]
	clear(h)
	if hl == 20 {
		h[0] = 0x45
		binary.BigEndian.PutUint16(h[2:], uint16(total))
		h[8], h[9] = 64, ipProtoUDP
		src, dst := ra.As4(), la.As4()
		copy(h[12:16], src[:])
		copy(h[16:20], dst[:])
		binary.BigEndian.PutUint16(h[10:], ^onesSum(0, h))
	} else {
		h[0] = 0x60
		binary.BigEndian.PutUint16(h[4:], uint16(total-40))
		h[6], h[7] = ipProtoUDP, 64
		src, dst := ra.As16(), la.As16()
		copy(h[8:24], src[:])
		copy(h[24:40], dst[:])
	}
	u := b[start+hl : start+hl+8]
	binary.BigEndian.PutUint16(u[0:], remote.Port())
	binary.BigEndian.PutUint16(u[2:], local.Port())
	binary.BigEndian.PutUint16(u[4:], uint16(8+len(payload)))
	u[6], u[7] = 0, 0 // no checksum: ESP carries its own integrity
	return e.decap(b, start, start+total)
}
