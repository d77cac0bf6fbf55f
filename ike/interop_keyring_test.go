package ike

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tinyipsec/internal/nstest"
)

// A hub whose spokes use different pre-shared keys, chosen from the
// [[keyring]]: by address in Main Mode, by identity in Aggressive Mode.

// keyringHubConfig is hubConfig with the key moved from the dynamic crypto
// map into a keyring:
//
//	10.204.1.1       key-one    spoke 1, Main Mode, by its address
//	10.204.2.0/23    key-wide   decoy: less specific than the /24 (spoke 2)
//	                            and than spoke 3's identity
//	10.204.2.0/24    key-two    spoke 2, Main Mode, most specific prefix
//	fqdn:spoke3...   key-three  spoke 3, Aggressive Mode, by identity
//	10.204.4.1       key-four   spoke 4 uses another key: refused at MM5
//
// Spoke 5 (10.204.5.1) matches no entry: refused at its first message.
func keyringHubConfig(control string) string {
	cfg := hubConfig(control)
	cfg = strings.Replace(cfg, fmt.Sprintf("psk = %q\n", hubPSK), "", 1)
	return cfg + `
[[keyring]]
address = "10.204.1.1"
psk = "key-one"

[[keyring]]
address = "10.204.2.0/23"
psk = "key-wide"

[[keyring]]
address = "10.204.2.0/24"
psk = "key-two"

[[keyring]]
identity = "fqdn:spoke3.example"
psk = "key-three"

[[keyring]]
address = "10.204.4.1"
psk = "key-four"
`
}

func TestHubKeyring(t *testing.T) {
	nstest.Require(t, "ping")
	l := newHubLab(t)
	spokes := newSpokes(t, l, 5, func(k int) string { return fmt.Sprintf("fqdn:spoke%d.example", k) })
	keys := []string{"key-one", "key-two", "key-three", "not-key-four", "key-five"}
	l.hubNode = startNode(t, l.hub, keyringHubConfig)

	bin := tinyipsecBinary(t)
	for k, s := range spokes {
		dir := t.TempDir()
		s.node = &tisNode{ns: s.ns, bin: bin}
		s.node.config, s.node.control = filepath.Join(dir, "tinyipsec.toml"), filepath.Join(dir, "ctl.sock")
		c := spokeConn(s)
		c.PSK = keys[k]
		if k == 2 {
			c.Exchange = "aggressive"
		}
		if err := os.WriteFile(s.node.config, []byte(c.TOML(s.node.control)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// All at once.
	for _, s := range spokes {
		s.node.proc = s.ns.Start(t, "tinyipsec", nil, bin, "run", "-c", s.node.config)
	}
	good := spokes[:3]
	waitAllUp(t, l, good, 60*time.Second)
	for _, s := range good {
		pingOnce(t, s)
	}
	st, err := spokes[2].node.status()
	if err != nil || len(st.IKESAs) == 0 || st.IKESAs[0].Exchange != "aggressive" {
		t.Errorf("spoke 3 should be up in Aggressive Mode: %+v %v", st, err)
	}

	// Why spokes 4 and 5 have no tunnel. Spoke 5: the hub's status (its
	// dynamic map's last failure) and log. Spoke 4: its own status hint
	// while it waits for MM6, and the hub's log. (The hub's status keeps
	// one last failure per crypto map, and spoke 5 keeps overwriting it.)
	hubHint := func(peer string) string {
		st, err := l.hubNode.status()
		if err != nil {
			return ""
		}
		for _, sa := range st.IKESAs {
			if sa.Peer == peer {
				return sa.Hint
			}
		}
		return ""
	}
	ownHint := func(s *hubSpoke) string {
		st, err := s.node.status()
		if err != nil || len(st.IKESAs) == 0 {
			return ""
		}
		return st.IKESAs[0].State + ": " + st.IKESAs[0].Hint
	}
	var h4, h5 string
	start := time.Now()
	for {
		h4, h5 = ownHint(spokes[3]), hubHint("10.204.5.1")
		if strings.Contains(h4, "pre-shared keys differ") && strings.Contains(h5, "no pre-shared key for peer 10.204.5.1") &&
			strings.Contains(l.hubNode.proc.Output(), "peer=10.204.4.1:500 state=MM_WAIT_MSG5 err=\"phase 1 failed") {
			break
		}
		if time.Since(start) > 60*time.Second {
			t.Fatalf("no hint: spoke 4 says %q, the hub on spoke 5 %q; hub log:\n%s", h4, h5, l.hubNode.proc.Output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("spoke 4: %s", h4)
	t.Logf("hub on spoke 5: %s", h5)
	if !strings.Contains(l.hubNode.proc.Output(), "probable pre-shared key mismatch") {
		t.Error("the hub's log does not say the key of spoke 4 differs")
	}
	if out := l.hubNode.proc.Output(); !strings.Contains(out, "no [[keyring]] address entry contains it") {
		t.Errorf("hub log does not name the missing keyring entry:\n%s", out)
	}
	// Spoke 5 was refused before the hub did any DH work: the hub never
	// answered its MM1, so it still waits for MM2.
	st, err = spokes[4].node.status()
	if err != nil {
		t.Fatal(err)
	}
	for _, sa := range st.IKESAs {
		if sa.State != "MM_WAIT_MSG2" && !strings.Contains(sa.Hint, "MM_WAIT_MSG2") {
			t.Errorf("spoke 5 got past MM1: %+v", sa)
		}
	}
	for _, s := range spokes[3:] {
		if s.node.established() {
			t.Errorf("spoke %s is up with a wrong or unknown key", s.outer)
		}
	}
	for _, out := range []string{l.hubNode.proc.Output(), spokes[3].node.proc.Output()} {
		for _, k := range keys {
			if strings.Contains(out, k) {
				t.Errorf("a log shows the key %q", k)
			}
		}
	}
}
