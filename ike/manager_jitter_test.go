package ike

import (
	"testing"
	"time"
)

// TestJitter: a lifetime is cut by at most 5 %, never lengthened, and not
// always by the same amount.
func TestJitter(t *testing.T) {
	for _, d := range []time.Duration{0, time.Nanosecond, 19, 20, time.Second, 8 * time.Hour} {
		seen := map[time.Duration]bool{}
		for range 200 {
			j := jitter(d)
			if j > d || j < d-d/20 {
				t.Fatalf("jitter(%v) = %v, outside [%v, %v]", d, j, d-d/20, d)
			}
			seen[j] = true
		}
		if d >= time.Second && len(seen) < 100 {
			t.Errorf("jitter(%v): only %d distinct values in 200", d, len(seen))
		}
	}
}
