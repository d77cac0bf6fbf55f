package nstest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// Memory is what /proc/PID/status says about a process's memory, in
// bytes.
type Memory struct {
	RSS  int64 // VmRSS: resident now
	Anon int64 // RssAnon: the resident heap, stacks and other private memory
	File int64 // RssFile: resident file pages (mostly the binary)
	HWM  int64 // VmHWM: the peak of VmRSS
}

// ReadMemory reads the memory figures of process pid; a process that is
// gone, or a kernel without VmRSS, ends the test.
func ReadMemory(t testing.TB, pid int) Memory {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("reading the memory of process %d: %v", pid, err)
	}
	var m Memory
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		kb, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			m.RSS = kb << 10
		case "RssAnon":
			m.Anon = kb << 10
		case "RssFile":
			m.File = kb << 10
		case "VmHWM":
			m.HWM = kb << 10
		}
	}
	if m.RSS == 0 {
		t.Fatalf("no VmRSS in /proc/%d/status", pid)
	}
	return m
}
