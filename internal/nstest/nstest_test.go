package nstest

import (
	"strings"
	"testing"
	"time"
)

// TestLinkAndCleanup joins two namespaces, pings across, and checks that a
// background process is stopped and the namespace removed afterwards.
func TestLinkAndCleanup(t *testing.T) {
	Require(t, "ping")
	var name string
	t.Run("inner", func(t *testing.T) {
		a, b := New(t, "self-a"), New(t, "self-b")
		name = a.Name
		Link(t, a, b, "192.168.250.1/24", "192.168.250.2/24")
		a.Run(t, "ping", "-c1", "-W2", "192.168.250.2")
		p := b.Start(t, "sleeper", nil, "sleep", "60")
		if p.Exited() {
			t.Fatal("sleep exited at once")
		}
	})
	WaitFor(t, 5*time.Second, "namespace removal", func() bool {
		out, _ := New(t, "probe").Output("ip", "netns", "list")
		return !strings.Contains(out, name)
	})
}
