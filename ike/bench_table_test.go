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
// (about 100 bytes): a pair is about 3.8 kB, under the goal of 4096
// bytes, a third of what strongSwan keeps per CHILD_SA; an IKE SA about
// 1.8 kB.
const (
	ikeSABudget     = 2304
	ipsecPairBudget = 4096
)

// TestMemoryBudget checks the heap kept per SA with 1000 IKE SAs and
// 1000 IPsec SA pairs on a hub.
func TestMemoryBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("1000 handshakes: skipped in -short mode")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	measureSAMemory(t, 10, 31) // lazily built tables are not per-SA memory
	m := measureSAMemory(t, 1000, 31)
	t.Logf("%.0f bytes per IKE SA, %.0f bytes per IPsec SA pair", m.perIKESA, m.perPair)
	if m.perIKESA > ikeSABudget {
		t.Errorf("%.0f bytes per IKE SA, budget %d", m.perIKESA, ikeSABudget)
	}
	if m.perPair > ipsecPairBudget {
		t.Errorf("%.0f bytes per IPsec SA pair, budget %d", m.perPair, ipsecPairBudget)
	}
}
