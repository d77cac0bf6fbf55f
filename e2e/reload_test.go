package e2e

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"tinyipsec/internal/status"

	"tinyipsec/internal/nstest"
)

// Hot reload between two tinyipsec daemons with two IKE-keyed crypto maps
// to each other: CMAP/10 protects 10.1.0.0/24 <-> 10.2.0.0/24, CMAP/20
// 10.1.1.0/24 <-> 10.2.1.0/24. A initiates both and reads TOML; B only
// responds and reads a UCI file (/etc/config/tinyipsec style).

const reloadPSK = "reload-test-pre-shared-key"

// reloadMaps describes what a configuration holds: the transform set of
// CMAP/20 ("" = no CMAP/20), A's [global] mtu, and a file that does not
// validate.
type reloadMaps struct {
	ts20    string
	mtu     int
	invalid bool
}

// section is one section of a configuration, written as TOML or as UCI.
// An unnamed section other than global is an entry of an array
// ([[crypto_map]], config crypto_map). Values are strings, ints or
// lists of strings.
type section struct {
	kind, name string
	opts       []kv
}

type kv struct {
	key string
	val any
}

// reloadConfig is one side's configuration: A's initiates and is read as
// TOML, B's responds and is read as UCI (its ACLs in wildcard notation).
func reloadConfig(n, peer *Node, m reloadMaps, isA bool) []section {
	global := []kv{{"log_level", "debug"}, {"control_socket", n.Control}}
	nets := [2]string{"permit ip 10.1.0.0/24 10.2.0.0/24", "permit ip 10.1.1.0/24 10.2.1.0/24"}
	initiate := "always"
	if isA {
		global = append(global, kv{"mtu", m.mtu})
	} else {
		nets = [2]string{"permit ip 10.2.0.0 0.0.0.255 10.1.0.0 0.0.0.255", "permit ip 10.2.1.0 0.0.0.255 10.1.1.0 0.0.0.255"}
		initiate = "never"
	}
	c := []section{
		{"global", "", global},
		{"isakmp_policy", "", []kv{{"priority", 10}, {"encryption", "aes128"}, {"hash", "sha256"}, {"authentication", "pre-share"}, {"group", 14}}},
		{"transform_set", "GCM", []kv{{"esp", "aes128gcm16"}}},
		{"transform_set", "CBC", []kv{{"esp", "aes256"}, {"esp_auth", "sha256"}}},
		{"acl", "NET0", []kv{{"rules", []string{nets[0]}}}},
		{"acl", "NET1", []kv{{"rules", []string{nets[1]}}}},
	}
	entry := func(seq int, acl, ts string) {
		c = append(c, section{"crypto_map", "", []kv{{"name", "CMAP"}, {"seq", seq}, {"peer", peer.Outer}, {"psk", reloadPSK},
			{"match", acl}, {"transform_set", []string{ts}}, {"initiate", initiate}}})
	}
	entry(10, "NET0", "GCM")
	if m.ts20 != "" {
		entry(20, "NET1", m.ts20)
	}
	if m.invalid {
		// Two mistakes: both must be logged.
		c = append(c, section{"crypto_map", "", []kv{{"name", "CMAP"}, {"seq", 30}, {"peer", "192.168.77.2"}, {"psk", "x-long-enough-key"},
			{"match", "NET9"}, {"transform_set", []string{"NOPE"}}}})
	}
	return c
}

// toml renders sections as TOML.
func toml(c []section) string {
	var s strings.Builder
	for _, sec := range c {
		switch {
		case sec.kind == "global":
			s.WriteString("[global]\n")
		case sec.name == "":
			fmt.Fprintf(&s, "[[%s]]\n", sec.kind)
		default:
			fmt.Fprintf(&s, "[%s.%s]\n", sec.kind, sec.name)
		}
		for _, o := range sec.opts {
			switch v := o.val.(type) {
			case int:
				fmt.Fprintf(&s, "%s = %d\n", o.key, v)
			case []string:
				q := make([]string, len(v))
				for i, e := range v {
					q[i] = strconv.Quote(e)
				}
				fmt.Fprintf(&s, "%s = [%s]\n", o.key, strings.Join(q, ", "))
			default:
				fmt.Fprintf(&s, "%s = %q\n", o.key, v)
			}
		}
		s.WriteString("\n")
	}
	return s.String()
}

// uci renders sections as UCI (an ACL's rules are "list rule").
func uci(c []section) string {
	var s strings.Builder
	for _, sec := range c {
		s.WriteString("config " + sec.kind)
		if sec.name != "" || sec.kind == "global" {
			fmt.Fprintf(&s, " '%s'", cmp.Or(sec.name, sec.kind))
		}
		s.WriteString("\n")
		for _, o := range sec.opts {
			if list, ok := o.val.([]string); ok {
				for _, v := range list {
					fmt.Fprintf(&s, "\tlist %s '%s'\n", strings.TrimSuffix(o.key, "s"), v)
				}
				continue
			}
			fmt.Fprintf(&s, "\toption %s '%v'\n", o.key, o.val)
		}
		s.WriteString("\n")
	}
	return s.String()
}

// writeReloadTOML writes A's configuration.
func writeReloadTOML(t *testing.T, a, b *Node, m reloadMaps) {
	t.Helper()
	if err := os.WriteFile(a.Config, []byte(toml(reloadConfig(a, b, m, true))), 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeReloadUCI writes B's configuration, the mirror image of A's.
func writeReloadUCI(t *testing.T, a, b *Node, m reloadMaps) {
	t.Helper()
	if err := os.WriteFile(b.Config, []byte(uci(reloadConfig(b, a, m, false))), 0o600); err != nil {
		t.Fatal(err)
	}
}

type reloadSA = status.IPsecSA

// ipsecSAs returns the IPsec SAs `tinyipsec status --json -c cfg` lists
// on n, by crypto map (nil when status fails). status reads cfg for the
// control socket, so cfg must be valid.
func ipsecSAs(bin string, n *Node, cfg string) map[string][]reloadSA {
	st, err := Status(bin, n.NS, cfg)
	if err != nil {
		return nil
	}
	m := map[string][]reloadSA{}
	for _, sa := range st.IPsecSAs {
		m[sa.CryptoMap] = append(m[sa.CryptoMap], sa)
	}
	return m
}

// checkNoLoss reads the output of an interrupted `ping` and fails unless
// every echo request but the very last (which may still have been in
// flight) was answered.
func checkNoLoss(t *testing.T, out string) {
	t.Helper()
	p, ok := nstest.ParsePing(out)
	if !ok {
		t.Fatalf("no ping summary:\n%s", out)
	}
	sent := p.Sent
	if lost := p.Lost(sent - 1); len(lost) > 0 || sent < 40 {
		t.Fatalf("ping over the unchanged crypto map: %d sent, lost %v", sent, lost)
	}
	t.Logf("ping over the unchanged crypto map: %d sent, none lost", sent)
}

// TestReloadIKE changes, removes and breaks CMAP/20 with SIGHUP while a
// ping runs over CMAP/10: CMAP/10 keeps its SPIs and loses nothing, CMAP/20
// is renegotiated with new SPIs, a removed CMAP/20 disappears on both
// ends (B learns it from A's Delete), and an invalid file changes nothing
// and is logged error by error. A [global] mtu change is logged as needing
// a restart while the crypto map change is applied.
func TestReloadIKE(t *testing.T) {
	bin := DaemonBinary(t, "ping")
	a, b := Topology(t, "rld", false)
	a.NS.Run(t, "ip", "addr", "add", "10.1.1.1/24", "dev", "lo")
	b.NS.Run(t, "ip", "addr", "add", "10.2.1.1/24", "dev", "lo")
	dirA, dirB := t.TempDir(), t.TempDir()
	a.Config, a.Control = filepath.Join(dirA, "tinyipsec.toml"), filepath.Join(dirA, "ctl.sock")
	b.Config, b.Control = filepath.Join(dirB, "tinyipsec"), filepath.Join(dirB, "ctl.sock") // UCI, named as in /etc/config

	initial := reloadMaps{ts20: "GCM", mtu: 1400}
	writeReloadTOML(t, a, b, initial)
	writeReloadUCI(t, a, b, initial)
	// status finds the daemon through the configuration file, which step
	// 3 makes invalid: keep a valid copy for it.
	statusA := filepath.Join(dirA, "status.toml")
	if data, err := os.ReadFile(a.Config); err != nil || os.WriteFile(statusA, data, 0o600) != nil {
		t.Fatal("copying the configuration for status")
	}
	sas := func(n *Node) map[string][]reloadSA {
		if n == a {
			return ipsecSAs(bin, a, statusA)
		}
		return ipsecSAs(bin, b, b.Config)
	}
	if out, err := b.NS.Output(bin, "check", "-c", b.Config); err != nil || !strings.Contains(out, "OK") {
		t.Fatalf("UCI configuration does not check: %v\n%s", err, out)
	}
	procA, procB := StartDaemons(t, bin, a, b)

	up := func(n *Node, id string) bool { return len(sas(n)[id]) == 1 }
	nstest.WaitFor(t, 30*time.Second, "both crypto maps up on both ends", func() bool {
		return up(a, "CMAP/10") && up(a, "CMAP/20") && up(b, "CMAP/10") && up(b, "CMAP/20")
	})
	Ping(t, a, "10.1.1.1", "10.2.1.1")
	before := sas(a)
	map10, map20 := before["CMAP/10"][0], before["CMAP/20"][0]

	// A ping over CMAP/10 for the whole test; SIGINT ends it at the end.
	ping := a.NS.Start(t, "ping", nil, "ping", "-i", "0.02", "-I", InnerA, InnerB)
	// pingGoesOn waits for more replies, so that the ping spans each step.
	pingGoesOn := func() {
		t.Helper()
		replies := func() int { p, _ := nstest.ParsePing(ping.Output()); return len(p.Answered) }
		n := replies()
		nstest.WaitFor(t, 10*time.Second, "more ping replies over CMAP/10", func() bool { return replies() >= n+10 })
	}
	pingGoesOn()
	map10Unchanged := func(step string) {
		t.Helper()
		pingGoesOn()
		for _, n := range []*Node{a, b} {
			sas10 := sas(n)["CMAP/10"]
			if len(sas10) != 1 {
				t.Fatalf("%s: %s lists %d SAs for CMAP/10", step, n.NS.Name, len(sas10))
			}
			if n == a && (sas10[0].SPIIn != map10.SPIIn || sas10[0].SPIOut != map10.SPIOut) {
				t.Fatalf("%s: CMAP/10 SPIs changed from %s/%s to %s/%s", step, map10.SPIIn, map10.SPIOut, sas10[0].SPIIn, sas10[0].SPIOut)
			}
		}
	}

	// 1. CMAP/20 gets another transform set on both ends (B first: it
	// only responds), and A's mtu changes, which needs a restart.
	changed := reloadMaps{ts20: "CBC", mtu: 1300}
	writeReloadUCI(t, a, b, changed)
	procB.Signal(syscall.SIGHUP)
	nstest.WaitFor(t, 10*time.Second, "B reloaded", func() bool {
		return strings.Contains(procB.Output(), "configuration reloaded")
	})
	writeReloadTOML(t, a, b, changed)
	procA.Signal(syscall.SIGHUP)
	nstest.WaitFor(t, 30*time.Second, "CMAP/20 renegotiated with aes256 and new SPIs", func() bool {
		s20 := sas(a)["CMAP/20"]
		return len(s20) == 1 && s20[0].Encryption == "aes256" && s20[0].SPIIn != map20.SPIIn && s20[0].SPIOut != map20.SPIOut &&
			len(sas(b)["CMAP/20"]) == 1
	})
	Ping(t, a, "10.1.1.1", "10.2.1.1")
	map10Unchanged("after changing CMAP/20")
	if !strings.Contains(procA.Output(), "key=global.mtu") {
		t.Errorf("the mtu change was not logged as needing a restart:\n%s", procA.Output())
	}
	if out := a.NS.Run(t, "ip", "link", "show", "ipsec0"); !strings.Contains(out, "mtu 1400") {
		t.Errorf("the TUN MTU changed without a restart: %s", out)
	}

	// 2. CMAP/20 removed on A: its SAs go on A, and on B through the
	// Delete notification (B's file still has the map).
	removed := reloadMaps{mtu: 1300}
	writeReloadTOML(t, a, b, removed)
	procA.Signal(syscall.SIGHUP)
	nstest.WaitFor(t, 10*time.Second, "CMAP/20's SAs gone on both ends", func() bool {
		sa, sb := sas(a), sas(b)
		return sa != nil && sb != nil && len(sa["CMAP/20"]) == 0 && len(sb["CMAP/20"]) == 0
	})
	if !strings.Contains(procB.Output(), "peer deleted an IPsec SA") {
		t.Errorf("B did not log A's Delete:\n%s", procB.Output())
	}
	if out := a.NS.Run(t, "ip", "route", "show", "table", "all", "dev", "ipsec0"); strings.Contains(out, "10.2.1.0/24") {
		t.Errorf("route of the removed crypto map still in place: %s", out)
	}
	map10Unchanged("after removing CMAP/20")

	// 3. An invalid file: every error logged, everything keeps running.
	logBefore := len(procA.Output())
	writeReloadTOML(t, a, b, reloadMaps{ts20: "GCM", mtu: 1300, invalid: true})
	procA.Signal(syscall.SIGHUP)
	nstest.WaitFor(t, 10*time.Second, "the invalid file reported", func() bool {
		return strings.Contains(procA.Output()[logBefore:], "keeping the running configuration") ||
			strings.Contains(procA.Output()[logBefore:], "is invalid")
	})
	logged := procA.Output()[logBefore:]
	for _, want := range []string{`unknown transform set \"NOPE\"`, `NET9`} {
		if !strings.Contains(logged, want) {
			t.Errorf("reload log lacks %s:\n%s", want, logged)
		}
	}
	if len(sas(a)["CMAP/20"]) != 0 {
		t.Error("the invalid file's CMAP/20 was applied")
	}
	map10Unchanged("after an invalid file")

	ping.Signal(syscall.SIGINT)
	if exited, _ := ping.Wait(10 * time.Second); !exited {
		t.Fatal("ping did not stop")
	}
	checkNoLoss(t, ping.Output())
	if procA.Exited() || procB.Exited() {
		t.Fatalf("a daemon exited:\n%s\n%s", procA.Output(), procB.Output())
	}
}

// rewriteManual replaces n's configuration file in place with the one
// WriteConfig makes for c (which would otherwise pick a new file and
// control socket).
func rewriteManual(t *testing.T, c Case, n, peer *Node, isA bool) {
	t.Helper()
	tmp := *n
	WriteConfig(t, c, &tmp, peer, isA)
	data, err := os.ReadFile(tmp.Config)
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.ReplaceAll(string(data), tmp.Control, n.Control))
	if err := os.WriteFile(n.Config, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestReloadManual changes the transform set and keys of a manually keyed
// crypto map: A reloads on SIGHUP, B on the control socket's "reload"
// request (what the rpcd plugin sends); the ping only works again if both
// ends replaced their SA pair with the new keys.
func TestReloadManual(t *testing.T) {
	bin := DaemonBinary(t, "ping", "socat")
	a, b := Topology(t, "rldm", false)
	before := Case{Name: "reload-before", ESP: "aes128gcm16"}
	WriteConfigs(t, before, a, b)
	procA, procB := StartDaemons(t, bin, a, b)
	Ping(t, a, a.Inner, b.Inner)

	after := Case{Name: "reload-after", ESP: "aes256", ESPAuth: "sha256"}
	rewriteManual(t, after, a, b, true)
	rewriteManual(t, after, b, a, false)
	procA.Signal(syscall.SIGHUP)
	out, err := b.NS.Output("sh", "-c", "echo reload | socat -t 5 - UNIX-CONNECT:"+b.Control)
	if err != nil || !strings.Contains(out, `"result":"ok"`) {
		t.Fatalf("reload request: %v: %s\n%s", err, out, procB.Output())
	}
	nstest.WaitFor(t, 10*time.Second, "A reloaded", func() bool {
		return strings.Contains(procA.Output(), "configuration reloaded")
	})
	Ping(t, a, a.Inner, b.Inner)
	for _, n := range []*Node{a, b} {
		sas := ipsecSAs(bin, n, n.Config)["CMAP/10"]
		if len(sas) != 1 || sas[0].Encryption != "aes256" || sas[0].PktsIn == 0 {
			t.Errorf("%s: SAs after reload %+v, want one aes256 pair carrying the ping", n.NS.Name, sas)
		}
	}
	for _, p := range []*nstest.Proc{procA, procB} {
		if !strings.Contains(p.Output(), "manual SA removed: crypto map changed") {
			t.Errorf("old manual SA not replaced:\n%s", p.Output())
		}
	}
}

// TestReloadFirstIKEMap: a reload that adds the first IKE-keyed crypto map
// to a manually keyed setup opens the IKE ports and starts IKE; the
// manual tunnel carries on.
func TestReloadFirstIKEMap(t *testing.T) {
	bin := DaemonBinary(t, "ping")
	a, b := Topology(t, "rldi", false)
	a.NS.Run(t, "ip", "addr", "add", "10.1.1.1/24", "dev", "lo")
	b.NS.Run(t, "ip", "addr", "add", "10.2.1.1/24", "dev", "lo")
	c := Case{Name: "first-ike", ESP: "aes128gcm16"}
	WriteConfigs(t, c, a, b)
	procA, procB := StartDaemons(t, bin, a, b)
	Ping(t, a, a.Inner, b.Inner)
	if out, _ := a.NS.Output("ss", "-Huln", "sport = :500"); strings.TrimSpace(out) != "" {
		t.Fatalf("IKE port open without an IKE-keyed map: %s", out)
	}

	for _, n := range []struct {
		node, peer *Node
		local, far string
		initiate   string
		proc       *nstest.Proc
	}{{b, a, "10.2.1.0/24", "10.1.1.0/24", "never", procB}, {a, b, "10.1.1.0/24", "10.2.1.0/24", "always", procA}} {
		f, err := os.OpenFile(n.node.Config, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "\n[[isakmp_policy]]\npriority = 10\nencryption = \"aes128\"\nhash = \"sha256\"\nauthentication = \"pre-share\"\ngroup = 14\n\n"+
			"[acl.NET1]\nrules = [\"permit ip %s %s\"]\n\n"+
			"[[crypto_map]]\nname = \"CMAP\"\nseq = 20\npeer = %q\npsk = %q\nmatch = \"NET1\"\ntransform_set = [\"TS\"]\ninitiate = %q\n",
			n.local, n.far, n.peer.Outer, reloadPSK, n.initiate)
		f.Close()
		n.proc.Signal(syscall.SIGHUP)
		nstest.WaitFor(t, 10*time.Second, "IKE started in "+n.node.NS.Name, func() bool {
			return strings.Contains(n.proc.Output(), "IKE started for the first IKE-keyed crypto map")
		})
	}
	nstest.WaitFor(t, 30*time.Second, "CMAP/20 negotiated", func() bool {
		return len(ipsecSAs(bin, a, a.Config)["CMAP/20"]) == 1 && len(ipsecSAs(bin, b, b.Config)["CMAP/20"]) == 1
	})
	Ping(t, a, "10.1.1.1", "10.2.1.1")
	Ping(t, a, a.Inner, b.Inner)
	for _, p := range []*nstest.Proc{procA, procB} {
		if strings.Contains(p.Output(), "manual SA removed") {
			t.Errorf("the unchanged manual crypto map's SA was replaced:\n%s", p.Output())
		}
	}
}
