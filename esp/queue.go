package esp

import (
	"sync"
	"time"
)

// bufPool hands out packet buffers of one size. Buffers move between the
// loops' batches and the acquire queues, so the pool only allocates while
// packets are waiting for an SA, never in the steady state.
type bufPool struct {
	size int
	p    sync.Pool
}

func (b *bufPool) get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, b.size)
}

func (b *bufPool) put(buf []byte) {
	if cap(buf) < b.size {
		return
	}
	buf = buf[:b.size]
	b.p.Put(&buf)
}

// queued is a cleartext packet at buf[MaxHeadroom:MaxHeadroom+n] that
// matched ACL line rule, waiting for its SA.
type queued struct {
	buf  []byte
	n    int
	rule int
}

// acquireInterval limits Acquire calls per entry and ACL line while
// packets wait.
const acquireInterval = time.Second

// hold queues the packet in buf (taking ownership of buf) for an entry
// without SA for it and asks for one. It reports false, without taking
// buf, when the queue is full or the SA has arrived meanwhile.
func (e *Engine) hold(ent *entry, idx, rule int, buf []byte, n int) bool {
	ent.mu.Lock()
	if ent.lookup(rule, buf[MaxHeadroom:MaxHeadroom+n]) != nil || len(ent.queue) >= e.cfg.QueueLen {
		ent.mu.Unlock()
		return false
	}
	ent.queue = append(ent.queue, queued{buf: buf, n: n, rule: rule})
	ent.pending.Store(int32(len(ent.queue)))
	acq := e.acquire.Load()
	ask := false
	if acq != nil {
		now := time.Now().UnixNano()
		if last, ok := ent.acquired[rule]; !ok || now-last >= int64(acquireInterval) {
			if ent.acquired == nil {
				ent.acquired = map[int]int64{}
			}
			ent.acquired[rule], ask = now, true
		}
	}
	ent.mu.Unlock()
	if ask {
		(*acq)(ent.id, buf[MaxHeadroom:MaxHeadroom+n])
	}
	return true
}

// flush sends the waiting packets that now have an SA, oldest first, and
// keeps the others; a packet too big for its SA is fragmented or answered
// with ICMP as on the main path (big). The outbound loop calls it before
// sending a newer packet of the entry, and InstallPairFor calls it when an
// SA arrives; ent.mu makes sure the waiting packets leave before anything
// newer.
func (e *Engine) flush(ent *entry, big *oversize) {
	ent.mu.Lock()
	defer ent.mu.Unlock()
	var one [1][]byte
	kept := ent.queue[:0]
	for _, q := range ent.queue {
		p := ent.lookup(q.rule, q.buf[MaxHeadroom:MaxHeadroom+q.n])
		if p == nil {
			kept = append(kept, q)
			continue
		}
		if pkt := q.buf[MaxHeadroom : MaxHeadroom+q.n]; p.tooBig(pkt) {
			big.handle(p, pkt)
		} else {
			start, end, err := p.out.Encap(q.buf, MaxHeadroom, q.n)
			if err != nil {
				p.countDrop(err)
			} else {
				p.countOut(q.n)
				one[0] = q.buf[start:end]
				if err := e.sender.Send(one[:], 0); err != nil {
					e.drops.add(DropSend)
				}
			}
		}
		e.pool.put(q.buf)
	}
	clear(ent.queue[len(kept):])
	ent.queue = kept
	ent.pending.Store(int32(len(kept)))
}
