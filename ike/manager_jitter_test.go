package ike

import (
	"testing"
	"time"
)

// TestRekeyAfter: the initiator rekeys at childRekeyMargin of the
// lifetime, the responder at 0.92 of it, each cut by at most 5 % at
// random, never lengthened, and not always by the same amount.
func TestRekeyAfter(t *testing.T) {
	for _, initiator := range []bool{true, false} {
		margin := childRekeyMargin
		if !initiator {
			margin = 0.92
		}
		for _, lt := range []time.Duration{0, time.Nanosecond, 19, 20, 100, time.Second, 8 * time.Hour} {
			d := time.Duration(float64(lt) * margin)
			seen := map[time.Duration]bool{}
			for range 200 {
				j := rekeyAfter(lt, initiator)
				if j > d || j < d-d/20 {
					t.Fatalf("rekeyAfter(%v, %v) = %v, outside [%v, %v]", lt, initiator, j, d-d/20, d)
				}
				seen[j] = true
			}
			if lt >= time.Second && len(seen) < 100 {
				t.Errorf("rekeyAfter(%v, %v): only %d distinct values in 200", lt, initiator, len(seen))
			}
		}
	}
}
