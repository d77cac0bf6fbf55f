package esp

import (
	"runtime"
	"testing"
)

// TestSlotsGrowOnDemand: an SA starts with one slot and adds one only
// when every slot is busy, up to one per CPU; a closed SA adds none, and
// Close wipes the added ones too.
func TestSlotsGrowOnDemand(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
	po, _ := pairParams(suite{ProtoESP, "aes128", "sha256", ""}, Tunnel, false, false, false)
	out, err := NewOutbound(po)
	if err != nil {
		t.Fatal(err)
	}
	if n := out.slots.n.Load(); n != 1 {
		t.Fatalf("new SA has %d slots, want 1", n)
	}
	// A single caller keeps reusing the first slot.
	for range 3 {
		sl := out.acquire()
		if sl != &out.slots.first {
			t.Fatal("an idle SA handed out another slot than its first")
		}
		sl.mu.Unlock()
	}
	// Two callers at once: a second slot; three: a third; then the
	// maximum (GOMAXPROCS) is reached and a fourth caller would wait.
	held := []*slot{out.acquire(), out.acquire(), out.acquire()}
	if n := out.slots.n.Load(); n != 3 || held[1] == held[0] || held[2] == held[1] || held[1].mac == nil {
		t.Fatalf("%d slots after three concurrent users", n)
	}
	if out.addSlot() != nil {
		t.Fatal("grew beyond one slot per CPU")
	}
	for _, sl := range held {
		sl.mu.Unlock()
	}
	// Packets still go through once all slots exist, without allocating.
	pkt := innerFor(po, false, 100)
	buf := make([]byte, MaxHeadroom+len(pkt)+MaxTailroom)
	encap := func() {
		copy(buf[MaxHeadroom:], pkt)
		if _, _, err := out.Encap(buf, MaxHeadroom, len(pkt)); err != nil {
			t.Fatal(err)
		}
	}
	if a := testing.AllocsPerRun(50, encap); a != 0 {
		t.Fatalf("%v allocations per Encap", a)
	}
	out.Close()
	for sl := &out.slots.first; sl != nil; sl = sl.next.Load() {
		for _, b := range sl.mac.ipad {
			if b != 0 {
				t.Fatal("HMAC key left in a slot after Close")
			}
		}
	}

	in, err := NewInbound(po)
	if err != nil {
		t.Fatal(err)
	}
	in.Close()
	if in.addSlot() != nil {
		t.Fatal("a closed SA added a slot")
	}
}
