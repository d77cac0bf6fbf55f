package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tinyipsec/internal/nstest"
)

// TestDemo runs the README's main job, `sh cross/demo.sh` (what `make demo`
// runs), with a binary built for this test so the source tree is not
// written to. It must exit 0 after an IKE SA reached MM_ACTIVE and a ping
// crossed the tunnel without loss.
func TestDemo(t *testing.T) {
	nstest.Require(t, "ping", "sh", "od")
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "cross", "demo.sh")); err != nil {
		t.Fatal(err)
	}
	bin := nstest.Binary(t)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "cross/demo.sh")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "TINYIPSEC_BIN="+bin)
	// On timeout SIGTERM lets the script's trap stop the daemons and
	// delete its namespaces; SIGKILL only if that hangs.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	text := string(out)
	if err != nil {
		t.Fatalf("cross/demo.sh: %v (after %v)\n%s", err, time.Since(start).Round(time.Millisecond), text)
	}
	t.Logf("demo took %v", time.Since(start).Round(time.Millisecond))

	if n := strings.Count(text, "State   : MM_ACTIVE"); n != 2 {
		t.Errorf("want MM_ACTIVE in both status outputs, found %d:\n%s", n, text)
	}
	// The demo must show every reply.
	if p, _ := nstest.ParsePing(text); !p.Lossless() {
		t.Errorf("no ping statistics with 0%% loss:\n%s", text)
	}
	if !strings.Contains(text, "DEMO OK") {
		t.Errorf("demo did not report success:\n%s", text)
	}
}
