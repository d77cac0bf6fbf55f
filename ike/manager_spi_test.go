package ike

import (
	"testing"
	"time"

	"tinyipsec/conf"
)

// usedSPIs is how many inbound SPIs e's manager holds reserved.
func usedSPIs(e *memEnd) int {
	e.m.mu.Lock()
	defer e.m.mu.Unlock()
	return len(e.m.used)
}

// dropQuickModes loses every Quick Mode datagram: phase 1 completes, no
// Quick Mode does.
func dropQuickModes(pkt []byte) bool {
	h, err := ParseHeader(pkt)
	return err == nil && h.Exchange == ExchangeQuick
}

// quickInFlight waits until e has one IKE SA with a Quick Mode of its own
// in progress, and returns that SA.
func quickInFlight(t *testing.T, e *memEnd) *ikeSA {
	t.Helper()
	var sa *ikeSA
	waitUntil(t, 20*time.Second, "a Quick Mode in progress", func() bool {
		e.m.mu.Lock()
		defer e.m.mu.Unlock()
		for _, s := range e.m.sas {
			for _, qs := range s.qms {
				if qs.q != nil && qs.q.initiator && qs.doneAt == 0 {
					sa = s
					return true
				}
			}
		}
		return false
	})
	return sa
}

// TestManagerSPIsReleased: the inbound SPIs a Quick Mode reserved go back
// when it ends without a pair (its IKE SA deleted while it waited, or
// given up after its retransmissions), and those of the offers the peer
// did not choose go back when it installs one; the installed pair's stay
// reserved while it lives.
func TestManagerSPIsReleased(t *testing.T) {
	t.Run("offers not chosen", func(t *testing.T) {
		_, i, r := startPair(t, func(cm *conf.CryptoMap) {
			// Two offers; the responder knows only the second.
			other := &conf.TransformSet{Name: "cbc", ESP: "aes256", ESPAuth: "sha256", Mode: "tunnel"}
			cm.TransformSets = append([]*conf.TransformSet{other}, cm.TransformSets...)
		}, nil)
		waitUntil(t, 20*time.Second, "a pair on both ends", func() bool {
			return len(i.plane.live()) == 1 && len(r.plane.live()) == 1
		})
		if n, m := usedSPIs(i), usedSPIs(r); n != 1 || m != 1 {
			t.Fatalf("SPIs reserved with one pair installed: initiator %d, responder %d (want 1 and 1)", n, m)
		}
	})
	t.Run("IKE SA deleted during Quick Mode", func(t *testing.T) {
		_, i, _ := startPairWith(t, nil, nil, dropQuickModes)
		sa := quickInFlight(t, i)
		if n := usedSPIs(i); n != 1 {
			t.Fatalf("%d SPIs reserved by one Quick Mode", n)
		}
		i.m.mu.Lock()
		i.m.deleteIKE(sa, true, "test")
		n := len(i.m.used)
		i.m.mu.Unlock()
		if n != 0 {
			t.Fatalf("%d SPIs still reserved after the IKE SA went", n)
		}
	})
	t.Run("Quick Mode given up", func(t *testing.T) {
		base, limit := retxBase, retxLimit
		retxBase, retxLimit = 50*time.Millisecond, 2
		defer func() { retxBase, retxLimit = base, limit }()
		_, i, _ := startPairWith(t, nil, nil, dropQuickModes)
		sa := quickInFlight(t, i)
		waitUntil(t, 10*time.Second, "the Quick Mode given up", func() bool {
			i.m.mu.Lock()
			defer i.m.mu.Unlock()
			return len(sa.qms) == 0
		})
		if n := usedSPIs(i); n != 0 {
			t.Fatalf("%d SPIs still reserved after the Quick Mode was given up", n)
		}
	})
}
