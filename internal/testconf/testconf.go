// Package testconf writes the tinyipsec configurations that the namespace,
// interop and memory tests run: one IKE-keyed (PSK or certificate) crypto
// map towards one peer (IKE), or manually keyed maps between two daemons
// (Manual), with every setting a test does not name at the value a
// typical deployment uses. Tests state only what differs. It is not linked
// into the daemon.
package testconf

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// IKE describes one daemon's configuration.
type IKE struct {
	LogLevel   string // default debug
	Peer       string
	Local      string
	PSK        string
	Policy     string // [[isakmp_policy]] body; default aes128/sha256/pre-share/group 14
	AllowWeak  bool
	ESP        string // default aes128gcm16
	ESPAuth    string
	PFS        int
	Lifetime   string // crypto map lifetime; default 1h
	P1Lifetime string // ISAKMP policy lifetime; default 4h
	Exchange   string // main | aggressive
	Initiate   string // on-traffic | always | never; default always
	LocalID    string
	RemoteID   string
	Cert, Key  string // rsa-sig
	CA         string
	DPDDelay   string
	DPDTimeout string
	ACL        string // the one rule of acl VPN
	ACLRules   []string
	Listen     bool // bind the IKE sockets to Local instead of the wildcard
	// Env is added to the environment of `check` and `run` (e.g.
	// conf.TestShortLifetimesEnv).
	Env []string
}

// DefaultPolicy is the phase 1 policy of IKE when Policy is empty.
const DefaultPolicy = "encryption = \"aes128\"\nhash = \"sha256\"\nauthentication = \"pre-share\"\ngroup = 14\n"

// Head is how a configuration begins: the global section (control is
// the control socket, "" for the default; extra holds more of its
// lines), one phase 1 policy with the given body and lifetime, and the
// transform set TS.
func Head(level, control, extra, policy, p1Lifetime, esp, espAuth string) string {
	var b strings.Builder
	b.WriteString(global(level, control, extra))
	fmt.Fprintf(&b, "\n[[isakmp_policy]]\npriority = 10\n%slifetime = %q\n\n", policy, p1Lifetime)
	b.WriteString(transformSet(esp, espAuth, "", "tunnel"))
	return b.String()
}

// global is the global section; extra holds more of its lines.
func global(level, control, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[global]\nlog_level = %q\ntun = \"ipsec0\"\nmtu = 1400\n", level)
	if control != "" {
		fmt.Fprintf(&b, "control_socket = %q\n", control)
	}
	b.WriteString(extra)
	return b.String()
}

// transformSet is the transform set TS; empty algorithms are left out.
func transformSet(esp, espAuth, ah, mode string) string {
	var b strings.Builder
	b.WriteString("[transform_set.TS]\n")
	for _, kv := range [][2]string{{"esp", esp}, {"esp_auth", espAuth}, {"ah", ah}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, "%s = %q\n", kv[0], kv[1])
		}
	}
	fmt.Fprintf(&b, "mode = %q\n", mode)
	return b.String()
}

// PSKHead is Head with the default policy (DH group as given) and
// transform set.
func PSKHead(level, control string, group int) string {
	return Head(level, control, "", strings.Replace(DefaultPolicy, "group = 14", fmt.Sprintf("group = %d", group), 1), "4h", "aes128gcm16", "")
}

// TOML renders the configuration; control is the control socket ("" for
// the default).
func (c IKE) TOML(control string) string {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.LogLevel, "debug")
	def(&c.Policy, DefaultPolicy)
	def(&c.ESP, "aes128gcm16")
	def(&c.Lifetime, "1h")
	def(&c.P1Lifetime, "4h")
	def(&c.Exchange, "main")
	def(&c.Initiate, "always")
	var global string
	if c.AllowWeak {
		global += "allow_weak = true\n"
	}
	if c.Listen {
		global += fmt.Sprintf("listen = [%q]\n", c.Local)
	}
	var b strings.Builder
	b.WriteString(Head(c.LogLevel, control, global, c.Policy, c.P1Lifetime, c.ESP, c.ESPAuth))
	rules := c.ACLRules
	if len(rules) == 0 {
		rules = []string{c.ACL}
	}
	var quoted []string
	for _, r := range rules {
		quoted = append(quoted, fmt.Sprintf("%q", r))
	}
	fmt.Fprintf(&b, "\n[acl.VPN]\nrules = [%s]\n\n", strings.Join(quoted, ", "))
	fmt.Fprintf(&b, "[[crypto_map]]\nname = \"CMAP\"\nseq = 10\npeer = %q\nmatch = \"VPN\"\ntransform_set = [\"TS\"]\n", c.Peer)
	fmt.Fprintf(&b, "lifetime = %q\nexchange = %q\ninitiate = %q\n", c.Lifetime, c.Exchange, c.Initiate)
	for _, kv := range []struct{ key, val string }{
		{"local", c.Local}, {"psk", c.PSK}, {"local_id", c.LocalID}, {"remote_id", c.RemoteID},
		{"cert", c.Cert}, {"key", c.Key}, {"ca", c.CA}, {"dpd_delay", c.DPDDelay}, {"dpd_timeout", c.DPDTimeout},
	} {
		if kv.val != "" {
			fmt.Fprintf(&b, "%s = %q\n", kv.key, kv.val)
		}
	}
	if c.PFS != 0 {
		fmt.Fprintf(&b, "pfs = %d\n", c.PFS)
	}
	return b.String()
}

// Write writes the configuration as dir/tinyipsec.toml (mode 0600) with
// its control socket at dir/ctl.sock, and returns both paths.
func (c IKE) Write(dir string) (config, control string, err error) {
	return write(dir, c.TOML)
}

// write writes what render makes for the control socket dir/ctl.sock as
// dir/tinyipsec.toml, mode 0600.
func write(dir string, render func(control string) string) (config, control string, err error) {
	control = filepath.Join(dir, "ctl.sock")
	config = filepath.Join(dir, "tinyipsec.toml")
	return config, control, os.WriteFile(config, []byte(render(control)), 0o600)
}
