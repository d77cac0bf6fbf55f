package esp

import (
	"bytes"
	"testing"
)

// TestBypassUnprotected: a packet that no entry permits (a crypto ACL deny
// line, in IOS terms "not protected by this crypto map") leaves unchanged
// through the bypass sender, counted and without allocating, while a
// permitted packet of the same batch is encrypted; without a bypass it is
// a no_policy drop.
func TestBypassUnprotected(t *testing.T) {
	dev, snd, clear := &engDevice{}, &engSender{}, &engSender{keep: true}
	e := newEngTest(t, dev, snd, EngineConfig{Bypass: clear})
	installOut(t, e, 0x4444, PairInfo{})
	protected := engPacket([4]byte{10, 2, 0, 1}, 100, false) // engClassifier: entry 0
	denied := engPacket([4]byte{10, 3, 0, 1}, 100, false)    // no entry
	ol := newOutLoop(e)
	batch := func() {
		ol.sizes[0] = copy(ol.bufs[0][MaxHeadroom:], denied)
		ol.sizes[1] = copy(ol.bufs[1][MaxHeadroom:], protected)
		ol.process(2)
	}
	batch()
	got := clear.packets()
	if len(got) != 1 || !bytes.Equal(got[0], denied) {
		t.Fatalf("bypass sent %d packets, want the denied one unchanged", len(got))
	}
	if snd.sent != 1 || snd.last[9] != ipProtoESP {
		t.Fatalf("protected packet: %d sent, protocol %d", snd.sent, snd.last[9])
	}
	st := e.Stats()
	if st.Bypassed != 1 || st.Drops["no_policy"] != 0 {
		t.Fatalf("bypassed %d, drops %v", st.Bypassed, st.Drops)
	}
	clear.keep = false
	if allocs := testing.AllocsPerRun(200, batch); allocs != 0 {
		t.Fatalf("bypass path allocates %v times per batch", allocs)
	}
	if e.Stats().Bypassed != 202 {
		t.Fatalf("bypassed %d, want 202", e.Stats().Bypassed)
	}

	// Without a bypass the same packet is a policy drop.
	e2 := newEngTest(t, &engDevice{}, &engSender{}, EngineConfig{})
	ol2 := newOutLoop(e2)
	ol2.sizes[0] = copy(ol2.bufs[0][MaxHeadroom:], denied)
	ol2.process(1)
	if st := e2.Stats(); st.Bypassed != 0 || st.Drops["no_policy"] != 1 {
		t.Fatalf("without bypass: bypassed %d, drops %v", st.Bypassed, st.Drops)
	}
}
