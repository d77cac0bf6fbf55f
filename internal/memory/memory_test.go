package memory

import (
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"tinyipsec/internal/logx"
)

// lockedBuffer is the log's writer: the settle runs on a timer's goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.b = append(w.b, p...)
	w.mu.Unlock()
	return len(p), nil
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.b)
}

// TestSettledLogs: the first settle runs at once and logs what the daemon
// holds, with the resident set read from /proc.
func TestSettledLogs(t *testing.T) {
	var w lockedBuffer
	s := &Settler{Log: logx.New(&w, nil)}
	s.Settled()
	deadline := time.Now().Add(10 * time.Second)
	for w.String() == "" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	line := w.String()
	m := regexp.MustCompile(`msg="IKE settled: heap returned to the kernel" rss_kb=(\d+) heap_inuse_kb=\d+ heap_alloc_kb=\d+ ` +
		`stack_kb=\d+ mspan_kb=\d+ gc_sys_kb=\d+ other_sys_kb=\d+ goroutines=\d+ sys_kb=(\d+)\n$`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("settle line: %q", line)
	}
	rss, _ := strconv.Atoi(m[1])
	sys, _ := strconv.Atoi(m[2])
	if rss <= 0 || rss > 1<<20 || sys <= 0 {
		t.Fatalf("rss_kb %d sys_kb %d", rss, sys)
	}
}
