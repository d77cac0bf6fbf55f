package esp

import "sync"

// replayWindow is the RFC 6479 anti-replay window: a ring of 64-bit blocks
// with one block more than the window needs, so advancing the window only
// clears whole blocks instead of shifting a bitmap. It also infers the high
// 32 bits of extended sequence numbers (RFC 4303 appendix A2).
type replayWindow struct {
	mu     sync.Mutex
	off    bool     // window only tracks the top (ESN inference), never rejects
	size   uint64   // window size in packets, a multiple of 64
	top    uint64   // highest authenticated sequence number; 0 = none yet
	blocks []uint64 // a power of two of them: block i of seq is (seq>>6)&(len-1)
	// small holds the blocks of a window of 64 (the default, two blocks),
	// so that the usual SA needs no separate allocation for them.
	small [2]uint64
}

// Window size limits; sizes are rounded up to a multiple of 64.
const (
	MinReplayWindow = 64
	MaxReplayWindow = 4096
)

func newReplayWindow(size int, off bool) *replayWindow {
	w := &replayWindow{}
	w.init(size, off)
	return w
}

// init sets up a window in place (an InboundSA embeds its ESP window).
func (w *replayWindow) init(size int, off bool) {
	if size < MinReplayWindow {
		size = MinReplayWindow
	}
	size = (size + 63) &^ 63
	n := 1
	for n < size/64+1 {
		n <<= 1
	}
	w.off, w.size = off, uint64(size)
	if n <= len(w.small) {
		w.blocks = w.small[:n]
	} else {
		w.blocks = make([]uint64, n)
	}
}

func (w *replayWindow) mask() uint64 { return uint64(len(w.blocks) - 1) }

// infer returns the full 64-bit sequence number for the received low 32
// bits (RFC 4303 A2.2): the high half is the top's, or one more when the low
// half is behind the window (the counter wrapped), or one less when the
// window straddles a wrap and the packet is from before it.
func (w *replayWindow) infer(low uint32) uint64 {
	w.mu.Lock()
	top := w.top
	w.mu.Unlock()
	tl, th := uint32(top), uint32(top>>32)
	ws := uint32(w.size)
	if tl >= ws-1 {
		if low < tl-ws+1 {
			th++
		}
	} else if low >= tl-ws+1 && th > 0 {
		th--
	}
	return uint64(th)<<32 | uint64(low)
}

// check reports whether seq may be new. It is called before the ICV is
// verified and does not change the window.
func (w *replayWindow) check(seq uint64) bool {
	if w.off {
		return true
	}
	w.mu.Lock()
	ok := w.fresh(seq)
	w.mu.Unlock()
	return ok
}

func (w *replayWindow) fresh(seq uint64) bool {
	if seq == 0 {
		return false // never sent (RFC 4303 §3.3.3)
	}
	if seq > w.top {
		return true
	}
	if seq+w.size <= w.top {
		return false
	}
	return w.blocks[(seq>>6)&w.mask()]&(1<<(seq&63)) == 0
}

// update records an authenticated seq. It checks again under the lock, so
// of two goroutines racing with the same packet only one wins.
func (w *replayWindow) update(seq uint64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.off && !w.fresh(seq) {
		return false
	}
	if seq > w.top {
		oldBlock, newBlock := w.top>>6, seq>>6
		d := newBlock - oldBlock
		if d > uint64(len(w.blocks)) {
			d = uint64(len(w.blocks))
		}
		for i := uint64(1); i <= d; i++ {
			w.blocks[(oldBlock+i)&w.mask()] = 0
		}
		w.top = seq
	}
	w.blocks[(seq>>6)&w.mask()] |= 1 << (seq & 63)
	return true
}
