package esp

import (
	"sync/atomic"
)

// Parallel crypto. A loop collects a batch's packets, numbers them per SA
// in order, then cuts the batch into contiguous chunks that the loop's
// own goroutine and the engine's crypto workers encrypt (or verify and
// decrypt) at the same time; it waits for all chunks and sends the batch
// in its original order. So every SA's packets leave - and enter the
// TUN - in the order they came, with sequence numbers in that order, as
// with one goroutine; only the AES/HMAC work is spread. With one CPU
// (GOMAXPROCS=1) there are no workers and the loop does exactly what it
// did before.
//
// Chunks are claimed, not assigned: the loop asks idle workers to help
// and then claims chunks itself until none are left, so it only ever
// waits for chunks a worker has actually started. On a small router the
// cores are shared with the kernel's packet processing and other
// programs; a worker that is not scheduled in time costs nothing, the
// loop just does its share too.

// parallelMin is the smallest batch worth splitting: below it, handing
// chunks to other cores costs more than it saves.
const parallelMin = 8

// maxCryptoWorkers bounds the worker goroutines (slots per SA bound the
// useful parallelism anyway).
const maxCryptoWorkers = maxSlots - 1

// spreadState is one loop's batch being spread. state packs what a
// claim needs into one word, so that claiming is a single CompareAndSwap
// that cannot take a chunk of a batch that is over: the batch number
// (high 32 bits), the chunk count and the next unclaimed chunk (16 bits
// each).
type spreadState struct {
	state atomic.Uint64
	left  atomic.Int32  // chunks not finished yet
	done  chan struct{} // a worker finished the batch's last chunk

	// Set by the loop before it publishes the batch in state; read by
	// whoever claims one of its chunks.
	n, size int
	run     func(from, to int)
}

func newSpreadState() *spreadState { return &spreadState{done: make(chan struct{}, 1)} }

// claim takes the next chunk of the current batch; ok is false when every
// chunk is taken.
func (s *spreadState) claim() (from, to int, ok bool) {
	for {
		w := s.state.Load()
		next, chunks := int(w&0xffff), int(w>>16&0xffff)
		if next >= chunks {
			return 0, 0, false
		}
		if s.state.CompareAndSwap(w, w+1) {
			from = next * s.size
			return from, min(from+s.size, s.n), true
		}
	}
}

// help runs chunks of the batch until none are left; a worker's help ends
// with a wake-up of the loop if it finished the batch.
func (s *spreadState) help(worker bool) {
	for {
		from, to, ok := s.claim()
		if !ok {
			return
		}
		s.run(from, to)
		if s.left.Add(-1) == 0 && worker {
			select {
			case s.done <- struct{}{}:
			default: // one wake-up is pending already
			}
		}
	}
}

// spread runs run over n items: on the calling goroutine alone below
// parallelMin or without workers, otherwise in chunks shared with the
// workers that come to help, and returns when all are done.
func (e *Engine) spread(n int, s *spreadState, run func(from, to int)) {
	if e.workers == 0 || n < parallelMin {
		run(0, n)
		return
	}
	// About two chunks per core, so that a late helper still finds work.
	size := max(parallelMin/2, (n+2*(e.workers+1)-1)/(2*(e.workers+1)))
	chunks := (n + size - 1) / size
	s.n, s.size, s.run = n, size, run
	s.left.Store(int32(chunks))
	batch := s.state.Load()>>32 + 1
	s.state.Store(batch<<32 | uint64(chunks)<<16)
	for i := 0; i < min(e.workers, chunks-1); i++ {
		select {
		case e.work <- s:
		default:
			// Workers busy with other loops' batches.
		}
	}
	s.help(false)
	for s.left.Load() > 0 {
		<-s.done
	}
	s.run = nil
}
