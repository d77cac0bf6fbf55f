// Package memory is the daemon's memory policy on a router of 64 MB: the
// Go runtime's limits, and handing the heap back to the kernel once IKE has
// settled after a burst of handshakes.
package memory

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"tinyipsec/internal/logx"
)

// Settler gives the heap the handshakes left behind back to the
// kernel once IKE has settled after a burst (ike.Config.Settled): a
// collection and a scavenge, which on a daemon of a few megabytes take a
// few milliseconds. At most once per settleInterval, so that a peer
// flapping its tunnel cannot make the daemon spend its time collecting; a
// request inside the interval is not lost but runs when it ends.
type Settler struct {
	_       [0]func() // not comparable: no generated == function (flash)
	Log     *logx.Logger
	mu      sync.Mutex
	last    time.Time
	pending bool
}

const settleInterval = 10 * time.Second

// Settled is the hook; it never blocks.
func (s *Settler) Settled() {
	s.mu.Lock()
	if !s.pending {
		s.pending = true
		wait := max(0, settleInterval-time.Since(s.last))
		// The collection runs in this closure, not in a method handed
		// over as s.run: the method value would add a wrapper function
		// (flash).
		time.AfterFunc(wait, func() {
			// Two collections: the first moves what the sync.Pools hold
			// (the packet buffers a burst of traffic left in the engine's
			// pool) into their victim caches, the second frees it; then
			// the free pages go back to the kernel. With one, those
			// buffers stayed until the next settle, and how many there
			// were depended on how the last packets happened to overlap.
			runtime.GC()
			debug.FreeOSMemory()
			// One line at info (at most every settleInterval, after
			// tunnels came or went): what the daemon holds once the
			// garbage is gone, the figure an admin compares with the
			// number of SAs.
			if s.Log.Enabled(logx.LevelInfo) {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				// The resident set (VmRSS): statm's second field, in
				// pages; 0 if unknown.
				var rssKB int64
				if b, err := os.ReadFile("/proc/self/statm"); err == nil {
					if f := strings.Fields(string(b)); len(f) >= 2 {
						pages, _ := strconv.ParseInt(f[1], 10, 64)
						rssKB = pages * int64(syscall.Getpagesize()) >> 10
					}
				}
				s.Log.Info("IKE settled: heap returned to the kernel", "rss_kb", rssKB, "heap_inuse_kb", ms.HeapInuse>>10,
					"heap_alloc_kb", ms.HeapAlloc>>10, "stack_kb", ms.StackInuse>>10, "mspan_kb", ms.MSpanInuse>>10,
					"gc_sys_kb", ms.GCSys>>10, "other_sys_kb", ms.OtherSys>>10, "goroutines", runtime.NumGoroutine(), "sys_kb", ms.Sys>>10)
			}
			s.mu.Lock()
			s.last, s.pending = time.Now(), false
			s.mu.Unlock()
		})
	}
	s.mu.Unlock() // not deferred: a deferred call costs a wrapper function (flash)
}

// Memory defaults for a 64 MB router: a soft limit that makes the Go
// runtime collect harder before the kernel's OOM killer would, and a GC
// target that keeps the heap near the live data. Both are overridden by
// the standard GOMEMLIMIT and GOGC environment variables.
const (
	defaultLimit     = 24 << 20
	defaultGCPercent = 50
)

// SetDefaults applies the memory defaults the environment does not set.
func SetDefaults() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultLimit)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}
