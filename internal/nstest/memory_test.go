package nstest

import (
	"os"
	"testing"
)

// TestReadMemory: the test's own process has a resident set no larger
// than its peak, made of anonymous and file pages.
func TestReadMemory(t *testing.T) {
	m := ReadMemory(t, os.Getpid())
	if m.RSS <= 0 || m.HWM < m.RSS || m.Anon <= 0 || m.File <= 0 || m.Anon+m.File > m.RSS+(1<<20) {
		t.Errorf("implausible figures %+v", m)
	}
}
