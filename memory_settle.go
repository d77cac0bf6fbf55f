package main

import (
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"tinyipsec/internal/logx"
)

// memorySettler gives the heap the handshakes left behind back to the
// kernel once IKE has settled after a burst (ike.Config.Settled): a
// collection and a scavenge, which on a daemon of a few megabytes take a
// few milliseconds. At most once per settleInterval, so that a peer
// flapping its tunnel cannot make the daemon spend its time collecting; a
// request inside the interval is not lost but runs when it ends.
type memorySettler struct {
	log     *logx.Logger
	mu      sync.Mutex
	last    time.Time
	pending bool
}

const settleInterval = 10 * time.Second

// settled is the hook; it never blocks.
func (s *memorySettler) settled() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending {
		return
	}
	s.pending = true
	wait := max(0, settleInterval-time.Since(s.last))
	time.AfterFunc(wait, s.run)
}

func (s *memorySettler) run() {
	debug.FreeOSMemory()
	if s.log.Enabled(logx.LevelDebug) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s.log.Debug("IKE settled: heap returned to the kernel", "heap_inuse_kb", ms.HeapInuse>>10, "sys_kb", ms.Sys>>10)
	}
	s.mu.Lock()
	s.last, s.pending = time.Now(), false
	s.mu.Unlock()
}
