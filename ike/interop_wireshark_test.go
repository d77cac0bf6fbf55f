package ike

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"tinyipsec/internal/nstest"
)

// TestWiresharkKeyExport: a spoke brings its tunnel up to the hub while
// tcpdump records the hub's outer interface; "tinyipsec keys --wireshark"
// then exports the hub's keys, and tshark, given only those files, shows
// the ping inside ESP and the payloads inside the encrypted IKE messages
// (the ID of Main Mode message 5/6 travels only encrypted).
func TestWiresharkKeyExport(t *testing.T) {
	nstest.Require(t, "tcpdump", "tshark", "ping")
	l := newHubLab(t)
	spokes := newSpokes(t, l, 1, nil)
	dir := t.TempDir()
	pcap := filepath.Join(dir, "hub.pcap")
	dump := l.hub.Start(t, "tcpdump", nil, "tcpdump", "-U", "--immediate-mode", "-n", "-i", l.hubIf, "-w", pcap, "udp port 500 or udp port 4500 or esp")
	nstest.WaitFor(t, 10*time.Second, "tcpdump listening", func() bool {
		if dump.Exited() {
			t.Fatalf("tcpdump exited: %s", dump.Output())
		}
		return strings.Contains(dump.Output(), "listening on")
	})
	l.startHub(t)
	startSpokes(t, spokes)
	waitAllUp(t, l, spokes, 60*time.Second)
	pingOnce(t, spokes[0])

	keys := t.TempDir()
	hub := l.hubNode
	out, err := l.hub.Output(hub.bin, "keys", "--wireshark", keys, "-c", hub.config)
	if err != nil {
		t.Fatalf("tinyipsec keys: %v: %s", err, out)
	}
	t.Log(strings.TrimSpace(out))
	for _, f := range []string{"ikev1_decryption_table", "esp_sa"} {
		fi, err := os.Stat(filepath.Join(keys, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, mode %v (want 0600)", f, err, fi)
		}
	}
	dump.Signal(syscall.SIGINT)
	if exited, _ := dump.Wait(10 * time.Second); !exited {
		t.Fatal("tcpdump did not stop")
	}

	// tshark with a configuration directory that holds only the two tables.
	home := t.TempDir()
	conf := filepath.Join(home, ".config", "wireshark")
	if err := os.MkdirAll(conf, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ikev1_decryption_table", "esp_sa"} {
		data, _ := os.ReadFile(filepath.Join(keys, f))
		if err := os.WriteFile(filepath.Join(conf, f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tshark := func(keys bool, args ...string) string {
		cmd := exec.Command("tshark", append([]string{"-n", "-r", pcap, "-o", "esp.enable_encryption_decode:TRUE"}, args...)...)
		env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config")}
		if !keys {
			env = []string{"HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir()}
		}
		cmd.Env = append(os.Environ(), env...)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("tshark %v: %v\n%s", args, err, b)
		}
		return string(b)
	}
	// Inner ICMP echo request and reply, from the spoke's and hub's inner addresses.
	icmp := tshark(true, "-Y", "icmp", "-T", "fields", "-e", "ip.src", "-e", "ip.dst", "-e", "icmp.type")
	if !strings.Contains(icmp, "10.212.1.1") || !strings.Contains(icmp, "\t8") || !strings.Contains(icmp, "\t0") {
		t.Errorf("tshark does not show the ping inside ESP:\n%s", icmp)
	}
	if without := tshark(false, "-Y", "icmp"); strings.Contains(without, "ICMP") {
		t.Errorf("tshark shows ICMP without the keys: the check proves nothing\n%s", without)
	}
	// Payload type 5 (Identification) inside Main Mode 5/6, type 8 (Hash).
	encrypted := []string{"-Y", "isakmp.flags & 0x01", "-T", "fields", "-e", "isakmp.exchangetype", "-e", "isakmp.typepayload"}
	ikeOut := tshark(true, encrypted...)
	if !strings.Contains(ikeOut, "2\t5,8") || !strings.Contains(ikeOut, "32\t8,1,2,3") {
		t.Errorf("tshark does not show the payloads of the encrypted Main Mode and Quick Mode messages:\n%s", ikeOut)
	}
	if without := tshark(false, encrypted...); strings.Contains(without, "5,8") {
		t.Errorf("tshark shows encrypted IKE payloads without the keys: the check proves nothing\n%s", without)
	}
	t.Logf("decrypted ICMP:\n%sdecrypted IKE (exchange, payload types):\n%s", icmp, ikeOut)
}
