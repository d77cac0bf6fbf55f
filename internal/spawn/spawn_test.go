package spawn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunStdinAndOutput(t *testing.T) {
	out, err := Run("sh", []string{"-c", "tr a-z A-Z; echo err >&2"}, "nft script\n")
	if err != nil {
		t.Fatal(err)
	}
	if out != "NFT SCRIPT\nerr\n" {
		t.Fatalf("output %q", out)
	}
}

func TestRunExitStatus(t *testing.T) {
	out, err := Run("sh", []string{"-c", "echo 'Error: syntax error' >&2; exit 3"}, "")
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(out, "syntax error") {
		t.Fatalf("out %q err %v", out, err)
	}
	if _, err := Run("sh", []string{"-c", "kill -9 $$"}, ""); err == nil || !strings.Contains(err.Error(), "signal 9") {
		t.Fatalf("killed: %v", err)
	}
}

// TestRunTimeout: a program that hangs is killed after the timeout,
// with what it started (here a child that keeps the output pipe open),
// and the run says so instead of waiting for ever.
func TestRunTimeout(t *testing.T) {
	defer func(d time.Duration) { timeout = d }(timeout)
	timeout = 300 * time.Millisecond
	start := time.Now()
	out, err := Run("sh", []string{"-c", "echo started; sleep 60 & sleep 60"}, "")
	if err == nil || !strings.Contains(err.Error(), "killed after 300ms") || out != "started\n" {
		t.Fatalf("out %q err %v", out, err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("Run returned after %v", d)
	}
}

// A large input and a large output at once must not deadlock, and the
// kept output is bounded.
func TestRunLarge(t *testing.T) {
	in := strings.Repeat("0123456789abcdef\n", 1<<14) // 272 KiB
	out, err := Run("cat", nil, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != maxOutput || !strings.HasPrefix(in, out) {
		t.Fatalf("kept %d bytes", len(out))
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "tool")
	os.WriteFile(exe, []byte("#!/bin/sh\necho hi\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "plain"), []byte("x"), 0o644)
	t.Setenv("PATH", "/nonexistent:"+dir)
	if p, err := LookPath("tool"); err != nil || p != exe {
		t.Fatalf("LookPath(tool) = %q, %v", p, err)
	}
	if _, err := LookPath("plain"); err == nil {
		t.Fatal("non-executable file found")
	}
	// A name with a slash is not searched for; a directory is no program.
	if p, err := LookPath(exe); err != nil || p != exe {
		t.Fatalf("LookPath(%s) = %q, %v", exe, p, err)
	}
	for _, bad := range []string{filepath.Join(dir, "plain"), dir + "/", filepath.Join(dir, "missing")} {
		if _, err := LookPath(bad); err == nil {
			t.Fatalf("LookPath(%s) found it", bad)
		}
	}
	if _, err := LookPath(filepath.Join(dir, "plain")); err == nil || err.Error() != filepath.Join(dir, "plain")+": not an executable file" {
		t.Fatalf("plain by path: %v", err)
	}
	// Empty elements are the current directory, also the last one.
	t.Chdir(dir)
	t.Setenv("PATH", "/nonexistent:")
	if p, err := LookPath("tool"); err != nil || p != "./tool" {
		t.Fatalf("LookPath(tool) in . = %q, %v", p, err)
	}
	if _, err := LookPath("other"); err == nil || err.Error() != "other: not found in $PATH" {
		t.Fatalf("missing: %v", err)
	}
	t.Setenv("PATH", dir)
	if _, err := Run("missing-tool", nil, ""); err == nil {
		t.Fatal("missing program ran")
	}
	if out, err := Run("tool", nil, ""); err != nil || out != "hi\n" {
		t.Fatalf("tool: %q %v", out, err)
	}
}
