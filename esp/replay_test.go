package esp

import "testing"

func TestReplayWindow(t *testing.T) {
	w := newReplayWindow(64, false)
	accept := func(seq uint64, want bool) {
		t.Helper()
		ok := w.check(seq) && w.update(seq)
		if ok != want {
			t.Fatalf("seq %d: accepted=%v, want %v (top %d)", seq, ok, want, w.top)
		}
	}
	accept(0, false) // never sent
	accept(1, true)
	accept(1, false)
	accept(3, true)
	accept(2, true)
	accept(2, false)
	accept(100, true)
	accept(36, false) // 100-36 = 64: just outside
	accept(37, true)  // 100-37 = 63 < 64: inside
	accept(37, false)
	accept(1000, true)
	accept(937, true)
	accept(936, false)
	accept(999, true)
	// A jump far ahead clears the whole ring.
	accept(1<<20, true)
	accept(1<<20-1, true)
	accept(1000, false)
}

func TestReplayWindowSizes(t *testing.T) {
	for _, size := range []int{64, 100, 128, 1000, 4096} {
		w := newReplayWindow(size, false)
		ws := int(w.size)
		if ws < size || ws%64 != 0 {
			t.Fatalf("size %d -> %d", size, ws)
		}
		if (len(w.blocks)-1)*64 < ws {
			t.Fatalf("size %d: %d blocks do not hold the window", size, len(w.blocks))
		}
		// Every sequence number in the window is accepted once, out of order.
		top := uint64(10 * ws)
		if !w.update(top) {
			t.Fatal("top refused")
		}
		for s := top - 1; s > top-uint64(ws); s-- {
			if !w.check(s) || !w.update(s) {
				t.Fatalf("size %d: %d refused", ws, s)
			}
			if w.check(s) {
				t.Fatalf("size %d: %d accepted twice", ws, s)
			}
		}
		if w.check(top - uint64(ws)) {
			t.Fatalf("size %d: packet just outside the window accepted", ws)
		}
	}
}

// TestESNInference follows RFC 4303 appendix A2.2 around a wrap of the low
// 32 bits.
func TestESNInference(t *testing.T) {
	w := newReplayWindow(64, false)
	w.update(1<<32 - 10) // top: high 0, low 2^32-10
	for _, tc := range []struct {
		low  uint32
		want uint64
	}{
		{1<<32 - 20, 1<<32 - 20}, // within the window, same epoch
		{1<<32 - 5, 1<<32 - 5},   // ahead, same epoch
		{3, 1<<32 + 3},           // low wrapped: next epoch
	} {
		if got := w.infer(tc.low); got != tc.want {
			t.Errorf("infer(%d) = %#x, want %#x", tc.low, got, tc.want)
		}
	}
	w.update(1<<32 + 3) // top now just after the wrap (case B)
	for _, tc := range []struct {
		low  uint32
		want uint64
	}{
		{1<<32 - 20, 1<<32 - 20}, // before the wrap, still in the window
		{2, 1<<32 + 2},
		{100, 1<<32 + 100},
	} {
		if got := w.infer(tc.low); got != tc.want {
			t.Errorf("infer(%d) = %#x, want %#x", tc.low, got, tc.want)
		}
	}
}
