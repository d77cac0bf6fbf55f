package esp

// inLoop is the state of one inbound path: wire -> SPI -> SA -> Decap
// (with the SA's selector check) -> TUN.
type inLoop struct {
	batchLoop
	write [][]byte // the batch's decrypted packets, slices of bufs
	res   []inResult

	spread  *spreadState
	decrypt func(from, to int) // decryptRange, as a method value made once
}

// inResult is where packet i of a batch decrypted to (ok false: dropped).
type inResult struct {
	_      [0]func() // not comparable: no generated == function (flash)
	off, m int
	ok     bool
}

func newInLoop(e *Engine) *inLoop {
	l := &inLoop{batchLoop: e.newBatchLoop()}
	l.write = make([][]byte, 0, len(l.bufs))
	l.res = make([]inResult, len(l.bufs))
	l.spread, l.decrypt = newSpreadState(), l.decryptRange
	return l
}

func (l *inLoop) process(n int) {
	e := l.e
	l.write = l.write[:0]
	if e.workers == 0 {
		// One CPU: decrypt right here, as always.
		for i := 0; i < n; i++ {
			buf, size := l.bufs[i], l.sizes[i]
			if size <= 0 || MaxHeadroom+size > len(buf) {
				e.drops.add(DropMalformed)
				continue
			}
			if off, m, ok := e.decap(buf, MaxHeadroom, MaxHeadroom+size); ok {
				l.write = append(l.write, buf[off:off+m])
			}
		}
		if len(l.write) > 0 {
			writeAll(e, l.write)
		}
		return
	}
	e.spread(n, l.spread, l.decrypt)
	for i := 0; i < n; i++ {
		if r := l.res[i]; r.ok {
			l.write = append(l.write, l.bufs[i][r.off:r.off+r.m])
		}
	}
	if len(l.write) == 0 {
		return
	}
	writeAll(e, l.write)
}

// decryptRange verifies and decrypts packets [from, to) of the batch.
func (l *inLoop) decryptRange(from, to int) {
	e := l.e
	for i := from; i < to; i++ {
		buf, size := l.bufs[i], l.sizes[i]
		l.res[i] = inResult{}
		if size <= 0 || MaxHeadroom+size > len(buf) {
			e.drops.add(DropMalformed)
			continue
		}
		off, m, ok := e.decap(buf, MaxHeadroom, MaxHeadroom+size)
		l.res[i] = inResult{off: off, m: m, ok: ok}
	}
}

// writeAll writes decrypted packets into the device. A packet the kernel
// refuses (w is its index) is counted and the rest of the batch still
// goes in, in order.
func writeAll(e *Engine, batch [][]byte) {
	for len(batch) > 0 {
		w, err := e.dev.Write(batch, 0)
		if err == nil {
			break
		}
		e.drops.add(DropTunWrite)
		if w >= len(batch) {
			break
		}
		batch = batch[w+1:]
	}
}

// decap looks up and decapsulates the packet in buf[start:end].
func (e *Engine) decap(buf []byte, start, end int) (off, n int, ok bool) {
	proto, spi, ok := ParseSPI(buf[start:end])
	if !ok {
		e.drops.add(DropMalformed)
		return 0, 0, false
	}
	p := e.lookupInbound(proto, spi)
	if p == nil || p.in == nil {
		e.drops.add(DropNoSA)
		return 0, 0, false
	}
	off, n, err := p.in.Decap(buf, start, end)
	if err != nil {
		p.countDrop(err)
		return 0, 0, false
	}
	p.countIn(n)
	return off, n, true
}
