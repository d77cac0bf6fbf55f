package esp

import (
	"encoding/binary"
	"runtime"
	"sync"
	"testing"
	"time"
)

// batchSender keeps a batch's wire packets in preallocated buffers.
type batchSender struct {
	pkts [64][2048]byte
	lens [64]int
	n    int
}

func (s *batchSender) Send(bufs [][]byte, offset int) error {
	for _, b := range bufs {
		s.lens[s.n] = copy(s.pkts[s.n][:], b[offset:])
		s.n++
	}
	return nil
}

// orderDevice checks that decrypted packets arrive in the order of the
// counter in their payload.
type orderDevice struct {
	next, bad int
}

func (d *orderDevice) Read([][]byte, []int, int) (int, error) { select {} }

func (d *orderDevice) Write(bufs [][]byte, offset int) (int, error) {
	for _, b := range bufs {
		if int(binary.BigEndian.Uint32(b[offset+28:])) != d.next {
			d.bad++
		}
		d.next++
	}
	return len(bufs), nil
}

// TestParallelBatchOrder: a batch of 48 packets of one SA, encrypted and
// decrypted in chunks on several cores, leaves with sequence numbers in
// packet order and enters the TUN in packet order; the parallel path
// allocates nothing. On one CPU the engine has no workers and runs the
// same batch on the loop alone.
func TestParallelBatchOrder(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one CPU: no crypto workers")
	}
	snd := &batchSender{}
	dev := &orderDevice{}
	newEngine := func(d Device, s Sender) *Engine {
		return newEngTest(t, d, s, EngineConfig{Batch: 48})
	}
	a := newEngine(&engDevice{}, snd)
	b := newEngine(dev, &engSender{})
	if a.workers == 0 {
		t.Fatal("no crypto workers with GOMAXPROCS > 1")
	}
	_, ol, il := linkEngines(t, a, b, 0x1001)
	const n = 48
	pkt := engPacket([4]byte{10, 2, 0, 1}, 1000, false)
	counter := 0
	var lastSeq uint32
	roundTrip := func() {
		for i := 0; i < n; i++ {
			ol.sizes[i] = copy(ol.bufs[i][MaxHeadroom:], pkt)
			binary.BigEndian.PutUint32(ol.bufs[i][MaxHeadroom+28:], uint32(counter))
			counter++
		}
		snd.n = 0
		ol.process(n)
		for i := 0; i < snd.n; i++ {
			seq := binary.BigEndian.Uint32(snd.pkts[i][24:]) // after the outer IPv4 header and the SPI
			if seq != lastSeq+1 {
				t.Fatalf("wire packet %d: seq %d after %d", i, seq, lastSeq)
			}
			lastSeq = seq
			il.sizes[i] = copy(il.bufs[i][MaxHeadroom:], snd.pkts[i][:snd.lens[i]])
		}
		il.process(snd.n)
	}
	roundTrip()
	if snd.n != n || dev.next != n || dev.bad != 0 {
		t.Fatalf("sent %d, decrypted %d (%d out of order)", snd.n, dev.next, dev.bad)
	}
	if allocs := testing.AllocsPerRun(50, roundTrip); allocs != 0 {
		t.Fatalf("%v allocs per batch, want 0", allocs)
	}
	if dev.bad != 0 {
		t.Fatalf("%d packets out of order", dev.bad)
	}
}

// BenchmarkEngineBatch moves 64-packet batches through the outbound and
// inbound loops (AES-128-GCM, 1400-byte packets). Run with -cpu 1,2: with
// one CPU there are no crypto workers (the path of a single core), with
// more the batch is spread.
func BenchmarkEngineBatch(b *testing.B) {
	snd := &batchSender{}
	newEngine := func(d Device, s Sender) *Engine {
		return newEngTest(b, d, s, EngineConfig{Batch: 64})
	}
	dev := &orderDevice{}
	ea, eb := newEngine(&engDevice{}, snd), newEngine(dev, &engSender{})
	_, ol, il := linkEngines(b, ea, eb, 0x1001)
	const n = 64
	pkt := engPacket([4]byte{10, 2, 0, 1}, 1372, false)
	b.SetBytes(n * int64(len(pkt)))
	for b.Loop() {
		for i := 0; i < n; i++ {
			ol.sizes[i] = copy(ol.bufs[i][MaxHeadroom:], pkt)
		}
		snd.n = 0
		ol.process(n)
		for i := 0; i < snd.n; i++ {
			il.sizes[i] = copy(il.bufs[i][MaxHeadroom:], snd.pkts[i][:snd.lens[i]])
		}
		il.process(snd.n)
	}
}

// TestSpreadBusyWorkers: while every crypto worker is held up (here by a
// chunk that blocks; on a router, by the scheduler running something
// else), a loop's batch still completes - the loop takes the chunks no
// worker has started - and every item is done exactly once.
func TestSpreadBusyWorkers(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one CPU: no crypto workers")
	}
	e, err := NewEngine(EngineConfig{Device: &engDevice{}, Sender: &engSender{}, Classifier: engClassifier{}, Entries: []string{"vpn/10"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { e.Close(); e.Wait() }()
	// Hold every worker inside a chunk of another batch.
	release := make(chan struct{})
	held := make(chan struct{}, e.workers)
	for i := 0; i < e.workers; i++ {
		blocker := newSpreadState()
		blocker.n, blocker.size = 1, 1
		blocker.run = func(int, int) {
			held <- struct{}{}
			<-release
		}
		blocker.left.Store(1)
		blocker.state.Store(1<<32 | 1<<16)
		e.work <- blocker
	}
	for i := 0; i < e.workers; i++ {
		<-held
	}
	defer close(release)

	var done [64]int
	s := newSpreadState()
	finished := make(chan struct{})
	go func() {
		for round := 0; round < 3; round++ {
			e.spread(len(done), s, func(from, to int) {
				for i := from; i < to; i++ {
					done[i]++
				}
			})
		}
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(10 * time.Second):
		t.Fatal("spread waits for workers that are busy elsewhere")
	}
	for i, n := range done {
		if n != 3 {
			t.Fatalf("item %d done %d times in 3 batches", i, n)
		}
	}
}

// seqSender checks that ESP packets reach the wire with sequence numbers
// counting up by one, across batches and whichever goroutine sends them.
type seqSender struct {
	mu        sync.Mutex
	last, bad uint32
	n         int
}

func (s *seqSender) Send(bufs [][]byte, offset int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range bufs {
		seq := binary.BigEndian.Uint32(b[offset+24:]) // after the outer IPv4 header and the SPI
		if seq != s.last+1 {
			s.bad++
		}
		s.last = seq
		s.n++
	}
	return nil
}

// TestPipelinedSendOrder: with the sending pipelined, the loop hands each
// batch to the sender goroutine and reads the next one into its other
// buffer set; packets still leave in order - also when a packet too big
// for the path MTU is fragmented and sent from the loop itself between
// two pipelined batches - and a batch allocates nothing.
func TestPipelinedSendOrder(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one CPU: no crypto workers, no pipeline")
	}
	snd := &seqSender{}
	e := newEngTest(t, &engDevice{}, snd, EngineConfig{Batch: 48, WireMTU: 600})
	installOut(t, e, 0x1001, PairInfo{})
	ol := newOutLoop(e)
	ol.startPipeline()
	if ol.pipe == nil {
		t.Fatal("no pipeline with crypto workers")
	}
	small := engPacket([4]byte{10, 2, 0, 1}, 400, false)
	big := engPacket([4]byte{10, 2, 0, 1}, 1000, false) // fragmented: DF clear
	batches := 0
	batch := func() {
		bufs := ol.bufs // the set the loop reads into now
		for i := 0; i < 40; i++ {
			p := small
			if i == 20 && batches%2 == 1 {
				p = big
			}
			ol.sizes[i] = copy(bufs[i][MaxHeadroom:], p)
		}
		ol.process(40)
		batches++
	}
	for range 6 {
		batch()
	}
	ol.stop()
	if snd.bad != 0 || snd.last != uint32(snd.n) {
		t.Fatalf("%d packets sent, last seq %d, %d out of order", snd.n, snd.last, snd.bad)
	}
	if snd.n <= 6*40 {
		t.Fatalf("%d packets sent, want 240 and the fragments", snd.n)
	}
	ol.startPipeline()
	defer ol.stop()
	if allocs := testing.AllocsPerRun(50, batch); allocs != 0 {
		t.Fatalf("%v allocs per pipelined batch, want 0", allocs)
	}
}
