package ike

import (
	"net/netip"
	"strings"
	"testing"

	"tinyipsec/internal/logx"
	"tinyipsec/internal/nstest"
	"tinyipsec/internal/status"
)

// logLines splits what a test logger wrote into lines.
func logLines(b *nstest.SyncBuffer) []string {
	return strings.Split(strings.TrimSpace(b.String()), "\n")
}

// TestDropLogRateLimited: a flood of unauthenticated input of several
// kinds writes a handful of lines even at debug level, counts every
// datagram, and the suppressed ones are summed up once the window ends.
func TestDropLogRateLimited(t *testing.T) {
	var sink nstest.SyncBuffer
	var level logx.LevelVar
	level.Set(logx.LevelDebug)
	log := logx.New(&sink, &level)
	m, tr, hub := hoResponder(t, Config{Log: log, HalfOpenMemory: 16 << 10})
	_, mm1 := hoInitiator(t, m, netip.MustParseAddrPort("192.0.2.1:500"), hub)
	const n = 5000
	for i := range uint64(n) {
		from := spoofedAddr(i)
		m.HandlePacket(forgedMM1(mm1, i), hub, from) // fills the pool: evictions
		bad := forgedMM1(mm1, i)
		bad[8] = 1 // a responder cookie we did not issue
		m.HandlePacket(bad, hub, from)
		m.HandlePacket(bad[:20], hub, from) // malformed
	}
	if tr.count() != n {
		t.Fatalf("%d answers to %d first messages", tr.count(), n)
	}
	// As status reports them: the counters by name, only those that
	// occurred, and the records the pool holds.
	var rep status.Report
	m.AddStatus(&rep)
	counts := rep.IKEDrops
	if counts["foreign-cookie"] != n || counts["malformed"] != n || counts["half-open-evicted"] == 0 || len(counts) != 3 {
		t.Fatalf("drop counters %v", counts)
	}
	if rep.IKEHalfOpen != m.HalfOpen() || rep.IKEHalfOpen == 0 {
		t.Fatalf("status shows %d half-open records, the pool holds %d", rep.IKEHalfOpen, m.HalfOpen())
	}
	lines := logLines(&sink)
	if len(lines) > 3 {
		t.Fatalf("%d log lines for %d dropped datagrams:\n%s", len(lines), 2*n, strings.Join(lines[:10], "\n"))
	}
	// Once the window is over, one summary per kind tells how many were
	// not written.
	m.drops.flush(m.log, monoNow().add(logWindow))
	summary := logLines(&sink)[len(lines):]
	if len(summary) != 3 {
		t.Fatalf("summary lines:\n%s", strings.Join(summary, "\n"))
	}
	for _, want := range []string{"suppressed=4999 drop=foreign-cookie", "suppressed=4999 drop=malformed"} {
		if !strings.Contains(strings.Join(summary, "\n"), want) {
			t.Errorf("no summary %q in:\n%s", want, strings.Join(summary, "\n"))
		}
	}
}
