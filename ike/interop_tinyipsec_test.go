package ike

// Helpers that run the tinyipsec daemon (`tinyipsec run`) inside a test
// namespace and read its state through `tinyipsec status --json`.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"tinyipsec/internal/status"

	"tinyipsec/internal/nstest"
)

// tisConn describes the tinyipsec side of a test case.
type tisConn struct {
	Peer       string
	Local      string
	PSK        string
	Policy     string // [[isakmp_policy]] body; default aes128/sha256/group 14
	AllowWeak  bool
	ESP        string // default aes128gcm16
	ESPAuth    string
	PFS        int
	Lifetime   string // crypto map lifetime; default 1h
	P1Lifetime string // ISAKMP policy lifetime; default 4h
	Exchange   string // main | aggressive
	Initiate   string // on-traffic | always | never
	LocalID    string
	RemoteID   string
	Cert, Key  string // rsa-sig
	CA         string
	DPDDelay   string
	DPDTimeout string
	ACL        string // default permit between the test subnets
	ACLRules   []string
	Listen     bool // bind the IKE sockets to Local instead of the wildcard
	// Env is added to the environment of `check` and `run` (e.g.
	// conf.TestShortLifetimesEnv).
	Env []string
}

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
func writeTinyipsecConfig(t *testing.T, dir string, c tisConn) (config, control string) {
	t.Helper()
	control = filepath.Join(dir, "ctl.sock")
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Policy, "encryption = \"aes128\"\nhash = \"sha256\"\nauthentication = \"pre-share\"\ngroup = 14\n")
	def(&c.ESP, "aes128gcm16")
	def(&c.Lifetime, "1h")
	def(&c.P1Lifetime, "4h")
	def(&c.Exchange, "main")
	def(&c.Initiate, "always")
	def(&c.ACL, "permit ip "+leftSubnet+" "+rightSubnet)
	var b strings.Builder
	fmt.Fprintf(&b, "[global]\nlog_level = \"debug\"\ntun = \"ipsec0\"\nmtu = 1400\ncontrol_socket = %q\nallow_weak = %v\n", control, c.AllowWeak)
	if c.Listen {
		fmt.Fprintf(&b, "listen = [%q]\n", c.Local)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "[[isakmp_policy]]\npriority = 10\n%slifetime = %q\n\n", c.Policy, c.P1Lifetime)
	fmt.Fprintf(&b, "[transform_set.TS]\nesp = %q\n", c.ESP)
	if c.ESPAuth != "" {
		fmt.Fprintf(&b, "esp_auth = %q\n", c.ESPAuth)
	}
	b.WriteString("mode = \"tunnel\"\n\n")
	rules := c.ACLRules
	if len(rules) == 0 {
		rules = []string{c.ACL}
	}
	var quoted []string
	for _, r := range rules {
		quoted = append(quoted, fmt.Sprintf("%q", r))
	}
	fmt.Fprintf(&b, "[acl.VPN]\nrules = [%s]\n\n", strings.Join(quoted, ", "))
	fmt.Fprintf(&b, "[[crypto_map]]\nname = \"CMAP\"\nseq = 10\npeer = %q\nmatch = \"VPN\"\ntransform_set = [\"TS\"]\n", c.Peer)
	fmt.Fprintf(&b, "lifetime = %q\nexchange = %q\ninitiate = %q\n", c.Lifetime, c.Exchange, c.Initiate)
	if c.Local != "" {
		fmt.Fprintf(&b, "local = %q\n", c.Local)
	}
	if c.PSK != "" {
		fmt.Fprintf(&b, "psk = %q\n", c.PSK)
	}
	if c.PFS != 0 {
		fmt.Fprintf(&b, "pfs = %d\n", c.PFS)
	}
	if c.LocalID != "" {
		fmt.Fprintf(&b, "local_id = %q\n", c.LocalID)
	}
	if c.RemoteID != "" {
		fmt.Fprintf(&b, "remote_id = %q\n", c.RemoteID)
	}
	if c.Cert != "" {
		fmt.Fprintf(&b, "cert = %q\nkey = %q\nca = %q\n", c.Cert, c.Key, c.CA)
	}
	if c.DPDDelay != "" {
		fmt.Fprintf(&b, "dpd_delay = %q\ndpd_timeout = %q\n", c.DPDDelay, c.DPDTimeout)
	}
	config = filepath.Join(dir, "tinyipsec.toml")
	if err := os.WriteFile(config, []byte(b.String()), 0o600); err != nil {
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
	return fmt.Sprintf(`[global]
log_level = %q
tun = "ipsec0"
mtu = 1400
control_socket = %q

[[isakmp_policy]]
priority = 10
encryption = "aes128"
hash = "sha256"
authentication = "pre-share"
group = %d
lifetime = "4h"

[transform_set.TS]
esp = "aes128gcm16"
mode = "tunnel"
`, level, control, group)
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
