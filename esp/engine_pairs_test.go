package esp

import (
	"errors"
	"testing"
)

// pairCounts returns a pair's packet, byte and drop counters.
func pairCounts(p *Pair) PairStats {
	var ps PairStats
	p.counters(&ps)
	return ps
}

// TestPairCounters: a pair of *InboundSA/*OutboundSA reads the SAs'
// counters instead of keeping its own; a pair with a half that does not
// count itself keeps them.
func TestPairCounters(t *testing.T) {
	out, in := engSAs(t, 0x5005)
	if newPairCounters(in, out) != nil || newPairCounters(nil, out) != nil || newPairCounters(in, nil) != nil {
		t.Fatal("a pair of self-counting SAs got its own counters")
	}
	p := &Pair{in: in, out: out}
	pkt := engPacket([4]byte{10, 2, 0, 1}, 200, false)
	buf := make([]byte, MaxHeadroom+len(pkt)+MaxTailroom)
	copy(buf[MaxHeadroom:], pkt)
	s, e, err := out.Encap(buf, MaxHeadroom, len(pkt))
	if err != nil {
		t.Fatal(err)
	}
	wire := append([]byte(nil), buf[s:e]...)
	if _, _, err := in.Decap(buf, s, e); err != nil {
		t.Fatal(err)
	}
	if _, _, err := in.Decap(wire, 0, len(wire)); err != ErrReplay {
		t.Fatalf("replayed packet: %v", err)
	}
	ps := pairCounts(p)
	if ps.PktsIn != 1 || ps.PktsOut != 1 || ps.BytesIn != uint64(len(pkt)) || ps.BytesOut != uint64(len(pkt)) || ps.Drops["replay"] != 1 || len(ps.Drops) != 1 {
		t.Fatalf("pair counters %+v", ps)
	}
	if p.PacketsIn() != 1 {
		t.Fatalf("PacketsIn %d, want 1", p.PacketsIn())
	}

	hidden := struct{ Verifier }{in} // hides Stats
	q := &Pair{in: hidden, out: out, own: newPairCounters(hidden, out)}
	if q.own == nil {
		t.Fatal("a pair with a half that does not count itself has no counters")
	}
	q.countIn(100)
	q.countOut(50)
	q.countDrop(ErrAuth)
	q.countDrop(errors.New("other"))
	ps = pairCounts(q)
	if ps.PktsIn != 1 || ps.BytesIn != 100 || ps.PktsOut != 1 || ps.BytesOut != 50 || ps.Drops["auth"] != 1 || ps.Drops["malformed"] != 1 {
		t.Fatalf("own counters %+v", ps)
	}
	if q.PacketsIn() != 1 {
		t.Fatalf("own PacketsIn %d, want 1", q.PacketsIn())
	}
}
