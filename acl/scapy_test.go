package acl

import (
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"testing"
)

// scapyPython is the interpreter that has scapy on Debian; another python3
// earlier in PATH may not.
const scapyPython = "/usr/bin/python3"

// requireScapy skips when scapy is missing locally; under CI, which
// installs python3-scapy, a missing scapy is a failure.
func requireScapy(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("scapy cross-check skipped in -short mode")
	}
	if err := exec.Command(scapyPython, "-c", "import scapy.all").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("scapy not available under CI: %v", err)
		}
		t.Skipf("scapy not available: %v", err)
	}
}

// TestParsePacketScapy parses packets encoded by scapy: IPv4 options and
// fragments, IPv6 extension header chains and fragments, SCTP, ESP, AH.
func TestParsePacketScapy(t *testing.T) {
	requireScapy(t)
	out, err := exec.Command(scapyPython, "testdata/scapy_packets.py").Output()
	if err != nil {
		t.Fatalf("scapy script: %v", err)
	}
	var cases []struct {
		Name, Hex, Src, Dst string
		Proto               uint8
		Sport, Dport        uint16
		Frag                bool
	}
	if err := json.Unmarshal(out, &cases); err != nil {
		t.Fatalf("scapy output: %v", err)
	}
	if len(cases) < 15 {
		t.Fatalf("only %d packets from scapy", len(cases))
	}
	for _, c := range cases {
		pkt, err := hex.DecodeString(c.Hex)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		want := Tuple{netip.MustParseAddr(c.Src), netip.MustParseAddr(c.Dst), c.Proto, c.Sport, c.Dport, c.Frag}
		got, ok := ParsePacket(pkt)
		if !ok || got != want {
			t.Errorf("%s: ParsePacket = %+v, %v; want %+v", c.Name, got, ok, want)
			continue
		}
		rules := mustRules(t, "deny tcp any any eq 443", "permit ip any any")
		if r, _ := Compile(rules).Match(pkt); r != map[bool]int{true: 0, false: 1}[c.Proto == ProtoTCP && c.Dport == 443] {
			t.Errorf("%s: matched rule %d", c.Name, r)
		}
	}
}
