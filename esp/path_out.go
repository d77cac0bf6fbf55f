package esp

import (
	"tinyipsec/internal/header"
)

// outLoop is the state of the outbound path: TUN -> classify -> SA ->
// wire. Everything it needs per packet is allocated here, once.
type outLoop struct {
	batchLoop
	send  [][]byte // the batch's finished packets, slices of bufs
	clear [][]byte // the batch's packets no entry permits (EngineConfig.Bypass)
	big   oversize // fragments or answers packets too big for their SA
	jobs  []outJob // the batch's packets to encapsulate, in order

	spread  *spreadState
	encrypt func(from, to int) // encryptRange, as a method value made once

	// Pipelined sending (startPipeline): the batch's finished packets
	// go to the sender goroutine while the loop reads and encrypts the
	// next batch into the other buffer set (alt). At most one batch is
	// in flight; every other send waits for it, so packets leave in the
	// order they came.
	pipe     chan [][]byte // to the sender goroutine; nil when not pipelined
	sent     chan struct{} // the batch in flight has been sent
	inflight bool
	alt      outBuffers
}

// outBuffers is one set of batch buffers: the packets read from the TUN
// and the finished packets to send, slices of them.
type outBuffers struct {
	bufs  [][]byte
	sizes []int
	send  [][]byte
}

// outJob is one packet waiting for encapsulation: buf[MaxHeadroom:] holds
// size bytes for pair p, numbered seq (0: numbered by Encap itself).
type outJob struct {
	p          *Pair
	buf        []byte
	size       int
	seq        uint64
	start, end int
	err        error
}

func newOutLoop(e *Engine) *outLoop {
	o := &outLoop{batchLoop: e.newBatchLoop()}
	o.send = make([][]byte, 0, len(o.bufs))
	o.clear = make([][]byte, 0, len(o.bufs))
	o.big = e.newOversize()
	o.jobs = make([]outJob, 0, len(o.bufs))
	o.spread, o.encrypt = newSpreadState(), o.encryptRange
	return o
}

// startPipeline makes the loop send each batch's packets from a goroutine
// of their own while it reads and encrypts the next batch - the wire's
// system calls, which on a veth or a slow NIC cost more than the crypto,
// then overlap the rest. Only with crypto workers (more than one CPU): on
// one CPU it would only add a hand-over per batch. stop ends it.
func (o *outLoop) startPipeline() {
	if o.e.workers == 0 || o.pipe != nil {
		return
	}
	o.alt.bufs, o.alt.sizes = o.e.newBatch()
	o.alt.send = make([][]byte, 0, len(o.alt.bufs))
	o.pipe, o.sent = make(chan [][]byte, 1), make(chan struct{}, 1)
	go o.sendLoop()
}

// sendLoop sends the batches the loop hands over, until stop.
func (o *outLoop) sendLoop() {
	for batch := range o.pipe {
		if err := o.e.sender.Send(batch, 0); err != nil {
			o.e.drops.add(DropSend)
		}
		o.sent <- struct{}{}
	}
}

// waitSent waits until the batch in flight, if any, has been sent.
func (o *outLoop) waitSent() {
	if o.inflight {
		<-o.sent
		o.inflight = false
	}
}

// stop ends the sender goroutine after the batch in flight.
func (o *outLoop) stop() {
	if o.pipe != nil {
		o.waitSent()
		close(o.pipe)
		o.pipe = nil
	}
}

// sendAsync hands the batch's finished packets to the sender goroutine
// and switches the loop to the other buffer set; not pipelined, it sends
// them right here.
func (o *outLoop) sendAsync() {
	o.encapJobs()
	if len(o.send) == 0 {
		return
	}
	if o.pipe == nil {
		o.flushSend()
		return
	}
	o.waitSent()
	o.pipe <- o.send
	o.inflight = true
	o.bufs, o.alt.bufs = o.alt.bufs, o.bufs
	o.sizes, o.alt.sizes = o.alt.sizes, o.sizes
	o.send, o.alt.send = o.alt.send[:0], o.send
}

// process handles the n packets just read into o.bufs.
func (o *outLoop) process(n int) {
	e := o.e
	// One policy snapshot per batch: a concurrent Reconfigure takes
	// effect from the next batch on, and classifier results always index
	// the entries they were computed for.
	pol := e.policy.Load()
	o.send = o.send[:0]
	o.clear = o.clear[:0]
	for i := 0; i < n; i++ {
		buf, size := o.bufs[i], o.sizes[i]
		if size <= 0 || MaxHeadroom+size > len(buf)-MaxTailroom {
			e.drops.add(DropMalformed)
			continue
		}
		pkt := buf[MaxHeadroom : MaxHeadroom+size]
		idx, rule, ok := pol.cls.Classify(pkt)
		if !ok || idx < 0 || idx >= len(pol.entries) {
			// Routed into the TUN (its destination is in some crypto
			// ACL's permit line) but no entry permits it, e.g. a deny
			// line: not protected, so it leaves in cleartext when there is
			// a bypass path, and is a policy drop otherwise.
			if e.cfg.Bypass != nil {
				o.clear = append(o.clear, pkt)
			} else {
				e.drops.add(DropNoPolicy)
			}
			continue
		}
		ent := pol.entries[idx]
		p := ent.lookup(rule, pkt)
		if p == nil {
			if e.hold(ent, idx, rule, buf, size) {
				o.bufs[i] = e.pool.get() // the queue owns the old buffer now
				continue
			}
			// Either the queue is full or the SA has just arrived.
			if p = ent.lookup(rule, pkt); p == nil {
				ent.drops.add(DropQueueFull)
				continue
			}
		}
		if ent.pending.Load() != 0 {
			// Older packets of this entry are still queued: they go first.
			o.flushSend()
			e.flush(ent, &o.big)
		}
		if p.tooBig(pkt) {
			// Fragments go out at once: sent before the batch's later
			// packets, after its earlier ones.
			o.flushSend()
			o.big.handle(p, pkt)
			continue
		}
		if e.workers == 0 {
			// One CPU: encapsulate right here, as always.
			start, end, err := p.out.Encap(buf, MaxHeadroom, size)
			if err != nil {
				p.countDrop(err)
				continue
			}
			p.countOut(size)
			o.send = append(o.send, buf[start:end])
			continue
		}
		j := outJob{p: p, buf: buf, size: size}
		if sa, ok := p.out.(*OutboundSA); ok {
			j.seq = sa.reserveSeq()
		}
		o.jobs = append(o.jobs, j)
	}
	// The cleartext packets first: the sent batch's buffers change hands.
	o.flushClear()
	o.sendAsync()
}

// flushClear sends the batch's unprotected packets through the bypass.
// Their buffers stay in o.bufs (held packets swap theirs, these never do),
// so they are intact until the next read.
func (o *outLoop) flushClear() {
	if len(o.clear) == 0 {
		return
	}
	e := o.e
	o.waitSent()
	e.bypassed.Add(uint64(len(o.clear)))
	if err := e.cfg.Bypass.Send(o.clear, 0); err != nil {
		e.drops.add(DropSend)
	}
	o.clear = o.clear[:0]
}

// encapJobs encapsulates the collected packets, spread over the crypto
// workers, and queues them for sending in their original order.
func (o *outLoop) encapJobs() {
	if len(o.jobs) == 0 {
		return
	}
	o.e.spread(len(o.jobs), o.spread, o.encrypt)
	for i := range o.jobs {
		j := &o.jobs[i]
		if j.err != nil {
			j.p.countDrop(j.err)
		} else {
			j.p.countOut(j.size)
			o.send = append(o.send, j.buf[j.start:j.end])
		}
		*j = outJob{}
	}
	o.jobs = o.jobs[:0]
}

// encryptRange encapsulates jobs [from, to).
func (o *outLoop) encryptRange(from, to int) {
	for i := from; i < to; i++ {
		j := &o.jobs[i]
		if sa, ok := j.p.out.(*OutboundSA); ok && j.seq != 0 {
			j.start, j.end, j.err = sa.encapSeq(j.buf, MaxHeadroom, j.size, j.seq)
		} else {
			j.start, j.end, j.err = j.p.out.Encap(j.buf, MaxHeadroom, j.size)
		}
	}
}

// flushSend hands the packets collected so far to the sender, after the
// batch in flight: what follows (held packets, fragments) leaves after
// them.
func (o *outLoop) flushSend() {
	o.encapJobs()
	o.waitSent()
	if len(o.send) == 0 {
		return
	}
	if err := o.e.sender.Send(o.send, 0); err != nil {
		o.e.drops.add(DropSend)
	}
	o.send = o.send[:0]
}

// ipv6MinMTU is the smallest MTU IPv6 allows (RFC 8200 §5). An IPv6
// packet up to this size may not be refused with "packet too big" (the
// sender cannot go lower), so it is sent even when its encapsulation
// exceeds the path MTU: over IPv6 the kernel fragments the outer packet.
const ipv6MinMTU = 1280

// pathMTU is the MTU towards a pair's peer, 0 when unknown.
func (e *Engine) pathMTU(info *PairInfo) int {
	if info.PathMTU != 0 {
		return info.PathMTU
	}
	return e.cfg.WireMTU
}

// oversize is the scratch for packets too big for their SA once
// encapsulated, on the main outbound path and on the queued one alike.
type oversize struct {
	e    *Engine
	icmp []byte // an ICMP error written back into the TUN
	frag []byte // one IPv4 fragment
	one  [1][]byte
}

func (e *Engine) newOversize() oversize {
	return oversize{e: e, icmp: make([]byte, icmpMaxLen), frag: make([]byte, e.bufSize)}
}

// tooBig reports whether pkt exceeds what p can carry within the path MTU.
// An IPv6 packet up to the minimum MTU is sent anyway (see ipv6MinMTU).
func (p *Pair) tooBig(pkt []byte) bool {
	return p.maxInner > 0 && len(pkt) > p.maxInner && (pkt[0]>>4 == 4 || len(pkt) > ipv6MinMTU)
}

// handle deals with a packet p is too big for: IPv4 without DF is
// fragmented before encryption, as IOS does by default, so the peer never
// reassembles outer packets; anything else is dropped and answered.
func (o *oversize) handle(p *Pair, pkt []byte) {
	if header.Version(pkt) == 4 && !header.IPv4(pkt).DontFragment() {
		o.fragment(p, pkt)
	} else {
		o.tooBig(p, pkt)
	}
}

// tooBig drops an oversized packet and, when the sender asked for path MTU
// discovery (IPv4 DF set, or any IPv6 packet), writes the ICMP error back
// into the TUN so the sender's stack lowers its MTU to the largest packet
// that fits after encapsulation.
func (o *oversize) tooBig(p *Pair, pkt []byte) {
	e := o.e
	e.drops.add(DropTooBig)
	inner := p.maxInner
	if pkt[0]>>4 == 4 {
		inner = max(inner, 68)
	} else {
		inner = max(inner, 1280)
	}
	n := buildTooBig(o.icmp, pkt, inner)
	if n == 0 {
		return
	}
	o.one[0] = o.icmp[:n]
	if _, err := e.dev.Write(o.one[:], 0); err != nil {
		e.drops.add(DropTunWrite)
	}
}

// fragment splits the IPv4 packet pkt (DF clear) into fragments that fit
// the path MTU once encapsulated and sends each through p. An already
// fragmented packet is split further, keeping its offset and MF flag.
func (o *oversize) fragment(p *Pair, pkt []byte) {
	maxLen := p.maxInner
	e := o.e
	ip := header.IPv4(pkt)
	ihl := ip.HeaderLen()
	total := ip.TotalLen()
	chunk := (maxLen - ihl) &^ 7
	if ihl < header.IPv4MinLen || total > len(pkt) || total <= ihl || chunk < 8 {
		e.drops.add(DropTooBig)
		return
	}
	flags := ip.FlagsFrag()
	baseOff := int(flags&header.IPv4FragOffMask) * 8
	moreAfter := flags&header.IPv4MoreFragments != 0
	payload := pkt[ihl:total]
	for off := 0; off < len(payload); off += chunk {
		n := min(chunk, len(payload)-off)
		f := o.frag[MaxHeadroom : MaxHeadroom+ihl+n]
		copy(f, pkt[:ihl])
		copy(f[ihl:], payload[off:off+n])
		fh := header.IPv4(f)
		fh.SetTotalLen(ihl + n)
		fo := uint16((baseOff + off) / 8)
		if off+n < len(payload) || moreAfter {
			fo |= header.IPv4MoreFragments
		}
		fh.SetFlagsFrag(fo)
		fh.SetChecksum(0)
		fh.SetChecksum(^onesSum(0, f[:ihl]))
		start, end, err := p.out.Encap(o.frag, MaxHeadroom, ihl+n)
		if err != nil {
			p.countDrop(err)
			return
		}
		p.countOut(ihl + n)
		o.one[0] = o.frag[start:end]
		if err := e.sender.Send(o.one[:], 0); err != nil {
			e.drops.add(DropSend)
		}
	}
}
