package esp

import (
	"runtime"
	"sync"
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

// parallelMin is the smallest batch worth splitting: below it, handing
// chunks to other cores costs more than it saves.
const parallelMin = 8

// maxCryptoWorkers bounds the worker goroutines (slots per SA bound the
// useful parallelism anyway).
const maxCryptoWorkers = maxSlots - 1

// cryptoJob is one chunk of a loop's batch: packets [from, to).
type cryptoJob struct {
	out      *outLoop
	in       *inLoop
	from, to int
	wg       *sync.WaitGroup
}

func (j cryptoJob) run() {
	if j.out != nil {
		j.out.encryptRange(j.from, j.to)
	} else {
		j.in.decryptRange(j.from, j.to)
	}
	j.wg.Done()
}

// startWorkers starts GOMAXPROCS-1 crypto workers (none on one CPU).
func (e *Engine) startWorkers() {
	e.workers = min(runtime.GOMAXPROCS(0)-1, maxCryptoWorkers)
	if e.workers <= 0 {
		e.workers = 0
		return
	}
	e.work = make(chan cryptoJob, 4*e.workers)
	for i := 0; i < e.workers; i++ {
		go func() {
			for {
				select {
				case j := <-e.work:
					j.run()
				case <-e.done:
					return
				}
			}
		}()
	}
}

// spread runs work over n items: on the calling goroutine alone below
// parallelMin or without workers, otherwise in chunks, one kept by the
// caller, and returns when all are done.
func (e *Engine) spread(n int, wg *sync.WaitGroup, job cryptoJob, self func(from, to int)) {
	if e.workers == 0 || n < parallelMin {
		self(0, n)
		return
	}
	chunks := min(e.workers+1, n/(parallelMin/2))
	size := (n + chunks - 1) / chunks
	for from := size; from < n; from += size {
		j := job
		j.from, j.to, j.wg = from, min(from+size, n), wg
		wg.Add(1)
		select {
		case e.work <- j:
		default:
			// Workers busy (another loop's batch): do it here.
			j.run()
		}
	}
	self(0, min(size, n))
	wg.Wait()
}
