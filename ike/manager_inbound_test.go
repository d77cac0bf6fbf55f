package ike

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
)

// TestBatchShedsFirstMessagesUnderLoad: in a full batch (the reader is
// behind) only firstUnderLoad fresh first messages are answered and the
// rest are shed and counted; the retransmission of a shed one is answered
// even in a full batch; a message with a responder cookie is never shed;
// a batch that is not full answers every first message.
func TestBatchShedsFirstMessagesUnderLoad(t *testing.T) {
	defer func(r uint64) { shedAboveRate = r }(shedAboveRate)
	shedAboveRate = 0 // a flood from the first datagram
	m, tr, hub := hoResponder(t, Config{})
	b := m.NewBatch()
	legit := netip.MustParseAddrPort("192.0.2.1:500")
	p, mm1 := hoInitiator(t, m, legit, hub)

	var forged uint64
	fullBatch := func(last []byte) {
		t.Helper()
		for range 15 {
			forged++
			b.Add(forgedMM1(mm1, forged), hub, spoofedAddr(forged))
		}
		b.Add(last, hub, legit)
		b.Flush(true)
	}
	shed := func() uint64 { return m.DropCounts()["shed"] }

	fullBatch(mm1)
	if got := tr.count(); got != firstUnderLoad {
		t.Fatalf("a full batch of first messages got %d answers, want %d", got, firstUnderLoad)
	}
	if tr.sentTo(legit) != 0 || shed() != uint64(16-firstUnderLoad) {
		t.Fatalf("the legitimate first message, last in a full batch, was answered (%d) or the shed count is %d", tr.sentTo(legit), shed())
	}

	// Its retransmission, still last in a full batch, is answered.
	fullBatch(mm1)
	if tr.sentTo(legit) != 1 {
		t.Fatal("the retransmitted first message was not answered in a full batch")
	}
	if got, want := shed(), uint64(2*(16-firstUnderLoad)-1); got != want {
		t.Fatalf("shed count %d, want %d", got, want)
	}

	// MM3 (our cookie) last in a full batch: handled, MM4 comes back.
	res, err := p.Handle(Packet{Data: tr.last(legit), Local: legit, Remote: hub}, time.Now())
	if err != nil || res.Failed != nil || len(res.Send) != 1 {
		t.Fatalf("initiator MM3: %v %v", err, res.Failed)
	}
	fullBatch(res.Send[0])
	m.waitComputations()
	if tr.sentTo(legit) != 2 {
		t.Fatal("MM3 in a full batch got no MM4")
	}

	// Not behind: every first message is answered.
	before, shedBefore := tr.count(), shed()
	for range 10 {
		forged++
		b.Add(forgedMM1(mm1, forged), hub, spoofedAddr(forged))
	}
	b.Flush(false)
	if tr.count()-before != 10 || shed() != shedBefore {
		t.Fatalf("a batch that is not full got %d answers of 10, %d shed", tr.count()-before, shed()-shedBefore)
	}
}

// TestBurstIsNotShed: a burst of first messages below shedAboveRate a
// second (peers starting at once) is answered in full even in full
// batches; past the rate, full batches shed.
func TestBurstIsNotShed(t *testing.T) {
	m, tr, hub := hoResponder(t, Config{})
	_, mm1 := hoInitiator(t, m, netip.MustParseAddrPort("192.0.2.1:500"), hub)
	b := m.NewBatch()
	var n uint64
	batch := func() {
		for range 8 {
			n++
			b.Add(forgedMM1(mm1, n), hub, spoofedAddr(n))
		}
		b.Flush(true)
	}
	for range 200 / 8 {
		batch()
	}
	if got := tr.count(); got != 200/8*8 || m.DropCounts()["shed"] != 0 {
		t.Fatalf("a burst of %d first messages: %d answered, %d shed", 200/8*8, got, m.DropCounts()["shed"])
	}
	for n <= shedAboveRate {
		batch()
	}
	before := m.DropCounts()["shed"]
	batch()
	if got := m.DropCounts()["shed"] - before; got != 8 {
		t.Fatalf("past %d first messages in a second a full batch of 8 had %d shed", shedAboveRate, got)
	}
}

// TestShedMemoryGenerations: a shed first message is recognized for one
// to two generations, then forgotten; another cookie or port is not
// recognized.
func TestShedMemoryGenerations(t *testing.T) {
	var s shedMemory
	now := monoNow()
	a := netip.MustParseAddrPort("198.18.0.1:500")
	cky := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	if s.seen(cky, a, now) {
		t.Fatal("seen before anything was shed")
	}
	s.add(cky, a, now)
	if !s.seen(cky, a, now.add(shedGeneration/2)) || !s.seen(cky, a, now.add(shedGeneration+time.Second)) {
		t.Fatal("a shed first message was not recognized within two generations")
	}
	if s.seen([]byte{1, 2, 3, 4, 5, 6, 7, 9}, a, now) || s.seen(cky, netip.MustParseAddrPort("198.18.0.1:4500"), now) {
		t.Fatal("another cookie or port was taken for the shed message")
	}
	if s.seen(cky, a, now.add(3*shedGeneration)) {
		t.Fatal("a shed first message was remembered for three generations")
	}
}

// TestShedAllocatesNothing: shedding a forged first message allocates
// nothing (a flood must not feed the garbage collector).
func TestShedAllocatesNothing(t *testing.T) {
	m, _, hub := hoResponder(t, Config{})
	_, mm1 := hoInitiator(t, m, netip.MustParseAddrPort("192.0.2.1:500"), hub)
	defer func(n int, r uint64) { firstUnderLoad, shedAboveRate = n, r }(firstUnderLoad, shedAboveRate)
	firstUnderLoad, shedAboveRate = 0, 0
	b := m.NewBatch()
	pkts := make([][]byte, 16)
	for i := range pkts {
		pkts[i] = forgedMM1(mm1, uint64(i))
	}
	from := spoofedAddr(1)
	var n uint64
	allocs := testing.AllocsPerRun(100, func() {
		for _, p := range pkts {
			n++
			binary.BigEndian.PutUint64(p, n) // a fresh initiator cookie
			b.Add(p, hub, from)
		}
		b.Flush(true)
	})
	if allocs != 0 {
		t.Fatalf("a full batch of shed first messages: %v allocations, want 0", allocs)
	}
	if got := m.DropCounts()["shed"]; got != 101*16 {
		t.Fatalf("shed count %d, want %d", got, 101*16)
	}
}

// BenchmarkFloodBatch: the responder's cost of a full batch of 16 forged
// first messages (firstUnderLoad answered, the rest shed), per datagram;
// BenchmarkForgedMM1 is the cost of answering each.
func BenchmarkFloodBatch(b *testing.B) {
	m, _, hub := hoResponder(&testing.T{}, Config{})
	_, mm1 := hoInitiator(&testing.T{}, m, netip.MustParseAddrPort("192.0.2.1:500"), hub)
	batch := m.NewBatch()
	b.ReportAllocs()
	var n uint64
	for range b.N {
		for range 16 {
			n++
			batch.Add(forgedMM1(mm1, n), hub, spoofedAddr(n))
		}
		batch.Flush(true)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/datagram")
}
