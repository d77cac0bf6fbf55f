package ike

import (
	"runtime"
	"testing"
)

// Memory ceilings of one IKE SA and one IPsec SA pair on the responder
// (manager state, keys, and the data plane's inbound and outbound SA),
// measured with GOMAXPROCS=2 (an SA adds per-CPU scratch space only when
// its packets are processed in parallel, so idle SAs do not depend on
// it). They catch regressions with a margin for the measurement's noise
// (about 200 bytes between the two): a pair is about 3.3 kB, under a
// quarter of what strongSwan keeps per CHILD_SA (12 kB of RSS), an IKE
// SA about 2.0 kB.
const (
	ikeSABudget     = 2304
	ipsecPairBudget = 3584
)

// TestMemoryBudget checks the heap kept per SA with 1000 IKE SAs and
// 1000 IPsec SA pairs on a hub.
func TestMemoryBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("1000 handshakes: skipped in -short mode")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	measureSAMemory(t, 10, 31) // lazily built tables are not per-SA memory
	// Three measurements; the one with the least per IKE SA counts. The
	// sum of the two figures is stable, but the split is not: a removed
	// pair whose engine state has not been let go of yet when the heap is
	// read after the removal counts towards the IKE SAs (per IKE SA
	// 2,220-2,440 bytes run to run, the pair as much less). The lowest
	// IKE SA figure is the one least off, and its pair figure the largest.
	var m saMemory
	for i := range 3 {
		if r := measureSAMemory(t, 1000, 31); i == 0 || r.perIKESA < m.perIKESA {
			m = r
		}
	}
	t.Logf("%.0f bytes per IKE SA, %.0f bytes per IPsec SA pair", m.perIKESA, m.perPair)
	if m.perIKESA > ikeSABudget {
		t.Errorf("%.0f bytes per IKE SA, budget %d", m.perIKESA, ikeSABudget)
	}
	if m.perPair > ipsecPairBudget {
		t.Errorf("%.0f bytes per IPsec SA pair, budget %d", m.perPair, ipsecPairBudget)
	}
}
