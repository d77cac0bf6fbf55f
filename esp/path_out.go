package esp

import "encoding/binary"

// outLoop is the state of the outbound path: TUN -> classify -> SA ->
// wire. Everything it needs per packet is allocated here, once.
type outLoop struct {
	e     *Engine
	state *loopState
	bufs  [][]byte
	sizes []int
	send  [][]byte // the batch's finished packets, slices of bufs
	icmp  []byte   // scratch for ICMP errors written back into the TUN
	quote []byte   // copy of a packet's start, kept in case it does not fit
	one   [1][]byte
}

func newOutLoop(e *Engine) *outLoop {
	o := &outLoop{e: e, state: e.newLoop()}
	o.bufs, o.sizes = e.newBatch()
	o.send = make([][]byte, 0, len(o.bufs))
	o.icmp = make([]byte, icmpMaxLen)
	o.quote = make([]byte, icmpMaxLen)
	return o
}

// process handles the n packets just read into o.bufs.
func (o *outLoop) process(n int) {
	e := o.e
	o.send = o.send[:0]
	for i := 0; i < n; i++ {
		buf, size := o.bufs[i], o.sizes[i]
		if size <= 0 || MaxHeadroom+size > len(buf)-MaxTailroom {
			e.drops.add(DropMalformed)
			continue
		}
		pkt := buf[MaxHeadroom : MaxHeadroom+size]
		idx, ok := e.cls.Classify(pkt)
		if !ok || idx < 0 || idx >= len(e.entries) {
			// Routed into the TUN but no crypto ACL permits it: there is no
			// cleartext path out of the TUN, so this is a policy drop.
			e.drops.add(DropNoPolicy)
			continue
		}
		ent := e.entries[idx]
		p := ent.out.Load()
		if p == nil || ent.pending.Load() != 0 {
			if p == nil {
				if e.hold(ent, idx, buf, size) {
					o.bufs[i] = e.pool.get() // the queue owns the old buffer now
				} else {
					ent.drops.add(DropQueueFull)
				}
				continue
			}
			// Older packets of this entry are still queued: they go first.
			o.flushSend()
			e.flush(ent)
		}
		// Near the MTU the exact size depends on the padding: keep the
		// start of the packet for an ICMP error, then check the result.
		mtu := e.mtu(p)
		var q int
		if mtu > 0 && size+p.overhead > mtu {
			q = copy(o.quote, pkt)
		}
		start, end, err := p.out.Encap(buf, MaxHeadroom, size)
		if err != nil {
			p.countDrop(err)
			continue
		}
		if q > 0 && end-start > mtu {
			o.tooBig(p, o.quote[:q])
			continue
		}
		p.pktsOut.Add(1)
		p.bytesOut.Add(uint64(size))
		o.send = append(o.send, buf[start:end])
	}
	o.flushSend()
}

// flushSend hands the packets collected so far to the sender.
func (o *outLoop) flushSend() {
	if len(o.send) == 0 {
		return
	}
	if err := o.e.sender.Send(o.send, 0); err != nil {
		o.e.drops.add(DropSend)
	}
	o.send = o.send[:0]
}

// mtu is the path MTU for p's packets, 0 when unknown.
func (e *Engine) mtu(p *Pair) int {
	if p.Info.PathMTU != 0 {
		return p.Info.PathMTU
	}
	return e.cfg.WireMTU
}

// overMTU reports whether the packet, once encapsulated by p, might not
// fit the path MTU. Tailroom includes the largest padding, so the test is
// conservative by at most one cipher block.
func (e *Engine) overMTU(p *Pair, buf []byte, off, n int) bool {
	mtu := e.mtu(p)
	return mtu > 0 && n+p.overhead > mtu
}

// tooBig drops an oversized packet and, when the sender asked for path MTU
// discovery (IPv4 DF set, or any IPv6 packet), writes the ICMP error back
// into the TUN so the sender's stack lowers its MTU. pkt is the packet or
// the start of it. The MTU announced leaves room for the largest padding,
// so a packet of that size always fits.
func (o *outLoop) tooBig(p *Pair, pkt []byte) {
	e := o.e
	e.drops.add(DropTooBig)
	inner := e.mtu(p) - p.overhead
	if pkt[0]>>4 == 4 {
		if len(pkt) < 20 || binary.BigEndian.Uint16(pkt[6:8])&0x4000 == 0 {
			// No DF: the sender allows fragmentation, but fragmenting the
			// inner packet is not implemented; the drop is counted.
			return
		}
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
