package esp

import (
	"encoding/binary"
	"sync"
	"testing"
	"time"
)

// byteClassifier picks the entry by the third byte of an IPv4 destination
// in 10.2.0.0/16 (line 0 always).
type byteClassifier map[byte]int

func (c byteClassifier) Classify(pkt []byte) (int, int, bool) {
	if len(pkt) >= 20 && pkt[0]>>4 == 4 && pkt[16] == 10 && pkt[17] == 2 {
		if i, ok := c[pkt[18]]; ok {
			return i, 0, true
		}
	}
	return -1, -1, false
}

// espSPI is the SPI of an ESP packet with a 20-byte IPv4 header.
func espSPI(wire []byte) uint32 { return binary.BigEndian.Uint32(wire[20:24]) }

// TestReconfigureKeepsUnchangedEntries: a reload that moves an entry to a
// new index, drops another and adds a third keeps the moved entry's pair
// (same SPI, sequence numbers continuing, no packet lost, no allocation),
// removes the dropped entry's pair, and sends the new entry's traffic to
// Acquire by ID.
func TestReconfigureKeepsUnchangedEntries(t *testing.T) {
	dev, snd := &engDevice{}, &engSender{}
	e, err := NewEngine(EngineConfig{
		Device: dev, Sender: snd,
		Classifier: byteClassifier{0: 0, 1: 1},
		Entries:    []string{"CMAP/10", "CMAP/20"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(); e.Wait() })
	var acquired []string
	var acqMu sync.Mutex
	e.SetAcquireByID(func(id string, pkt []byte) {
		acqMu.Lock()
		acquired = append(acquired, id)
		acqMu.Unlock()
	})
	out1, _ := engSAs(t, 0x1111)
	out2, _ := engSAs(t, 0x2222)
	p1, err := e.InstallPairFor("CMAP/10", nil, out1, PairInfo{CryptoMap: "CMAP/10"})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := e.InstallPairFor("CMAP/20", nil, out2, PairInfo{CryptoMap: "CMAP/20"})
	if err != nil {
		t.Fatal(err)
	}
	ol := newOutLoop(e)
	pkts := map[byte][]byte{}
	for _, b := range []byte{0, 1, 5} {
		pkts[b] = engPacket([4]byte{10, 2, b, 1}, 100, false)
	}
	send := func(third byte) {
		ol.one(pkts[third])
	}
	send(0)
	if snd.sent != 1 || espSPI(snd.last[:]) != 0x1111 {
		t.Fatalf("before reload: sent %d, SPI %x", snd.sent, espSPI(snd.last[:]))
	}
	seqBefore := binary.BigEndian.Uint32(snd.last[24:28])

	// CMAP/10 moves to index 1, CMAP/20 is gone, CMAP/5 is new at 0.
	orphans, err := e.Reconfigure(byteClassifier{5: 0, 0: 1}, []string{"CMAP/5", "CMAP/10"})
	if err != nil {
		t.Fatal(err)
	}
	if len(orphans) != 1 || orphans[0] != p2 {
		t.Fatalf("removed pairs %v, want CMAP/20's", orphans)
	}
	send(0)
	if snd.sent != 2 || espSPI(snd.last[:]) != 0x1111 || binary.BigEndian.Uint32(snd.last[24:28]) != seqBefore+1 {
		t.Fatalf("after reload: sent %d, SPI %x seq %d (before %d)", snd.sent, espSPI(snd.last[:]), binary.BigEndian.Uint32(snd.last[24:28]), seqBefore)
	}
	if allocs := testing.AllocsPerRun(100, func() { send(0) }); allocs != 0 {
		t.Fatalf("outbound path allocates %v times per packet after a reload", allocs)
	}
	send(1) // CMAP/20's traffic: no entry now
	if e.Stats().Drops["no_policy"] != 1 {
		t.Fatalf("drops %v, want one no_policy", e.Stats().Drops)
	}
	send(5) // the new entry: waits and asks for an SA by ID
	acqMu.Lock()
	if len(acquired) != 1 || acquired[0] != "CMAP/5" {
		t.Fatalf("acquired %v, want [CMAP/5]", acquired)
	}
	acqMu.Unlock()
	st := e.Stats()
	if len(st.Entries) != 2 || st.Entries[0].ID != "CMAP/5" || st.Entries[0].Waiting != 1 || st.Entries[1].ID != "CMAP/10" {
		t.Fatalf("entries %+v", st.Entries)
	}
	if len(st.Pairs) != 1 || st.Pairs[0].SPIOut != p1.Info.SPIOut || st.Pairs[0].Entry != 1 || !st.Pairs[0].Current {
		t.Fatalf("pairs %+v", st.Pairs)
	}
	if got := e.PairsFor("CMAP/10"); len(got) != 1 || got[0] != p1 {
		t.Fatalf("PairsFor(CMAP/10) = %v", got)
	}
	if e.EntryIndex("CMAP/20") != -1 || e.EntryIndex("CMAP/10") != 1 || e.EntryID(0) != "CMAP/5" {
		t.Fatal("EntryIndex/EntryID disagree with the new table")
	}
	if _, err := e.InstallPairFor("CMAP/20", nil, nil, PairInfo{}); err == nil {
		t.Fatal("installed a pair for a removed entry")
	}
	// The removed pair is gone; the moved one is removed through its
	// entry at its new index.
	e.Remove(p1)
	if e.EntryIndex("CMAP/10") != 1 || len(e.Stats().Pairs) != 0 {
		t.Fatalf("pairs after Remove: %+v", e.Stats().Pairs)
	}
	if _, err := e.Reconfigure(byteClassifier{}, []string{"a", "a"}); err == nil {
		t.Fatal("duplicate IDs accepted")
	}
}

// TestReconfigureUnderTraffic runs the real outbound loop while the table
// is swapped over and over: every packet of the entry that stays is sent.
func TestReconfigureUnderTraffic(t *testing.T) {
	dev, snd := &engDevice{in: make(chan []byte, 64)}, &engSender{}
	e, err := NewEngine(EngineConfig{
		Device: dev, Sender: snd, Classifier: byteClassifier{0: 0}, Entries: []string{"keep"},
	})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := engSAs(t, 0x3333)
	if _, err := e.InstallPairFor("keep", nil, out, PairInfo{}); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- e.RunOutbound() }()
	const n = 2000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			// Alternate between the entry alone and the entry behind
			// another one.
			if i%2 == 0 {
				e.Reconfigure(byteClassifier{9: 0, 0: 1}, []string{"other", "keep"})
			} else {
				e.Reconfigure(byteClassifier{0: 0}, []string{"keep"})
			}
		}
	}()
	for range n {
		dev.in <- engPacket([4]byte{10, 2, 0, 1}, 64, false)
	}
	<-done
	deadline := time.Now().Add(10 * time.Second)
	for {
		snd.mu.Lock()
		sent := snd.sent
		snd.mu.Unlock()
		if sent == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sent %d of %d; drops %v", sent, n, e.Stats().Drops)
		}
		time.Sleep(time.Millisecond)
	}
	e.Close()
	close(dev.in)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	e.Wait()
}
