package ike

// Helpers that run the tinyipsec daemon (`tinyipsec run`) inside a test
// namespace and read its state through `tinyipsec status --json`.

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"tinyipsec/internal/nstest"
	"tinyipsec/internal/status"
	"tinyipsec/internal/testconf"
)

// tisConn describes the tinyipsec side of a test case.
type tisConn = testconf.IKE

// tisNode is one running tinyipsec daemon.
type tisNode struct {
	ns      *nstest.NS
	bin     string
	config  string
	control string
	env     []string // tisConn.Env: `status` reads the configuration too
	proc    *nstest.Proc
}

// tinyipsecBinary returns the daemon to test: TINYIPSEC_TEST_BINARY when
// set (a binary built beforehand), else a fresh build of the module.
func tinyipsecBinary(t *testing.T) string {
	if b := os.Getenv("TINYIPSEC_TEST_BINARY"); b != "" {
		return b
	}
	return nstest.Binary(t)
}

// writeTinyipsecConfig renders the TOML for c and returns its path.
// The ACL defaults to permitting the test subnets.
func writeTinyipsecConfig(t *testing.T, dir string, c tisConn) (config, control string) {
	t.Helper()
	if c.ACL == "" {
		c.ACL = "permit ip " + leftSubnet + " " + rightSubnet
	}
	config, control, err := c.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	return config, control
}

// startTinyipsec writes the configuration and starts the daemon in ns.
func startTinyipsec(t *testing.T, ns *nstest.NS, c tisConn) *tisNode {
	t.Helper()
	n := &tisNode{ns: ns, bin: tinyipsecBinary(t), env: c.Env}
	n.config, n.control = writeTinyipsecConfig(t, t.TempDir(), c)
	n.run(t)
	return n
}

// run checks n's configuration with `tinyipsec check`, starts the daemon
// (with n.env) and waits until its control socket answers.
func (n *tisNode) run(t *testing.T) {
	t.Helper()
	check := append(append([]string{}, n.env...), n.bin, "check", "-c", n.config)
	if out, err := n.ns.Output("env", check...); err != nil {
		cfg, _ := os.ReadFile(n.config)
		t.Fatalf("tinyipsec check: %v\n%s\n%s", err, out, cfg)
	}
	n.proc = n.ns.Start(t, "tinyipsec", n.env, n.bin, "run", "-c", n.config)
	nstest.WaitFor(t, 30*time.Second, "tinyipsec control socket in "+n.ns.Name, func() bool {
		if n.proc.Exited() {
			t.Fatalf("tinyipsec exited:\n%s", n.proc.Output())
		}
		_, err := n.status()
		return err == nil
	})
}

// tisHead is how the test daemons' configurations begin: the global
// section, one PSK phase 1 policy (AES-128, SHA-256, the given DH group)
// and the transform set TS (ESP AES-128-GCM, tunnel mode).
func tisHead(level, control string, group int) string {
	return testconf.PSKHead(level, control, group)
}

// tisStatus is the part of `tinyipsec status --json` the tests read.
type tisStatus = status.Report

func (n *tisNode) status() (*tisStatus, error) {
	out, err := n.ns.Output("env", append(append([]string{}, n.env...), n.bin, "status", "-c", n.config, "--json")...)
	if err != nil {
		return nil, err
	}
	var s tisStatus
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		return nil, fmt.Errorf("status JSON: %v: %s", err, out)
	}
	return &s, nil
}

// established reports an active IKE SA and at least one IPsec SA.
func (n *tisNode) established() bool {
	s, err := n.status()
	if err != nil {
		return false
	}
	ike := false
	for _, sa := range s.IKESAs {
		if sa.State == "MM_ACTIVE" || sa.State == "AM_ACTIVE" || strings.HasPrefix(sa.State, "QM_") {
			ike = true
		}
	}
	return ike && len(s.IPsecSAs) > 0
}

// ipsecSPIs lists the inbound SPIs of the installed IPsec SAs (hex, no 0x).
func (n *tisNode) ipsecSPIs() []string {
	s, err := n.status()
	if err != nil {
		return nil
	}
	var out []string
	for _, sa := range s.IPsecSAs {
		out = append(out, strings.TrimPrefix(sa.SPIIn, "0x"))
	}
	return out
}
