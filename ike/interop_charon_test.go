package ike

// Helpers that run strongSwan's charon (IKEv1 peer for the interop tests)
// inside a test network namespace. Debian's charon with the
// kernel-libipsec plugin does ESP in userspace over a TUN device, so it
// works on kernels without XFRM; it always encapsulates ESP in UDP 4500.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"text/template"
	"time"

	"tinyipsec/internal/nstest"
)

// charonBinary returns the path of Debian's charon, or "" when missing.
func charonBinary() string {
	for _, p := range []string{"/usr/lib/ipsec/charon", "/usr/libexec/ipsec/charon"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// requireStrongSwan skips (locally) or fails (under CI) when the interop
// tools are missing.
func requireStrongSwan(t *testing.T, tools ...string) {
	t.Helper()
	nstest.Require(t, append([]string{"swanctl", "unshare", "ping", "socat"}, tools...)...)
	if charonBinary() == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI must provide strongSwan's charon (strongswan-charon)")
		}
		t.Skip("needs strongSwan's charon (strongswan-charon)")
	}
}

// charonConn describes one swanctl connection; the zero value of each
// field is replaced by a default in loadConn.
type charonConn struct {
	Aggressive   bool
	LocalAddr    string
	RemoteAddr   string
	IKEProposals string // default aes128-sha256-modp2048
	IKERekey     string // default 4h
	DPDDelay     string // default 0s (off)
	DPDTimeout   string // default 30s
	DPDAction    string // default clear
	Encap        bool
	Auth         string // psk (default) or pubkey
	LocalID      string // default LocalAddr
	RemoteID     string // default RemoteAddr
	Cert         string // absolute path of our certificate (pubkey)
	Key          string // absolute path of our private key (pubkey)
	CACert       []byte // PEM of the CA to trust (pubkey)
	PSK          string
	LocalTS      string
	RemoteTS     string
	ESPProposals string // default aes128gcm16
	ChildRekey   string // default 1h
	ChildLife    string // default 66m
	StartAction  string // none (default), start, trap
	// Extra are further children (tis0, tis1, ...) with their own
	// traffic selectors and the first child's other settings.
	Extra []charonTS
}

// charonTS is a child's traffic selector pair.
type charonTS struct{ LocalTS, RemoteTS string }

// charon is one running strongSwan daemon in a namespace.
type charon struct {
	ns   *nstest.NS
	dir  string
	vici string
	proc *nstest.Proc
}

// startCharon starts charon inside ns and waits until its vici socket
// answers.
func startCharon(t *testing.T, ns *nstest.NS) *charon {
	t.Helper()
	c := newCharon(t, ns, "strongswan.conf.tmpl")
	c.start(t)
	return c
}

// newCharon prepares a directory for a charon in ns (removed when the test
// ends) with strongswan.conf rendered from the template tmpl.
func newCharon(t *testing.T, ns *nstest.NS, tmpl string) *charon {
	t.Helper()
	dir, err := os.MkdirTemp("", "tis-charon-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Mkdir(filepath.Join(dir, "run"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeTemplate(t, tmpl, filepath.Join(dir, "strongswan.conf"), struct{ Dir string }{dir})
	return &charon{ns: ns, dir: dir, vici: "unix://" + filepath.Join(dir, "charon.vici")}
}

// start (re)launches the daemon with the directory already prepared.
func (c *charon) start(t *testing.T) {
	t.Helper()
	os.Remove(filepath.Join(c.dir, "run", "charon.pid"))
	// A private mount namespace with our own /run: charon's pid file path
	// is compiled in (/var/run/charon.pid).
	script := fmt.Sprintf("mount --bind %s /run && exec %s", filepath.Join(c.dir, "run"), charonBinary())
	c.proc = c.ns.Start(t, "charon", []string{"STRONGSWAN_CONF=" + filepath.Join(c.dir, "strongswan.conf")},
		"unshare", "-m", "--propagation", "private", "sh", "-c", script)
	nstest.WaitFor(t, 15*time.Second, "charon's vici socket", func() bool {
		if c.proc.Exited() {
			t.Fatalf("charon exited:\n%s", c.proc.Output())
		}
		_, err := c.swanctl("--stats")
		return err == nil
	})
}

// kill stops charon abruptly (SIGKILL), like a crashed or rebooted peer:
// no Delete is sent.
func (c *charon) kill(t *testing.T) {
	t.Helper()
	c.proc.Signal(9)
	if exited, _ := c.proc.Wait(10 * time.Second); !exited {
		t.Fatal("charon did not die")
	}
}

// swanctl runs swanctl against this charon's vici socket.
func (c *charon) swanctl(args ...string) (string, error) {
	args = append(args, "--uri", c.vici)
	cmd := exec.Command("swanctl", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("swanctl %s: %v: %s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out), nil
}

// loadConn writes swanctl.conf for conn and loads it.
func (c *charon) loadConn(t *testing.T, conn charonConn) {
	t.Helper()
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&conn.IKEProposals, "aes128-sha256-modp2048")
	def(&conn.IKERekey, "4h")
	def(&conn.DPDDelay, "0s")
	def(&conn.DPDTimeout, "30s")
	def(&conn.DPDAction, "clear")
	def(&conn.Auth, "psk")
	def(&conn.LocalID, conn.LocalAddr)
	def(&conn.RemoteID, conn.RemoteAddr)
	def(&conn.ESPProposals, "aes128gcm16")
	def(&conn.ChildRekey, "1h")
	def(&conn.ChildLife, "66m")
	def(&conn.StartAction, "none")
	if len(conn.CACert) > 0 {
		ca := filepath.Join(c.dir, "x509ca")
		os.MkdirAll(ca, 0o700)
		if err := os.WriteFile(filepath.Join(ca, "ca.pem"), conn.CACert, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// swanctl loads private keys from its rsa/ folder (the secrets
	// section only holds passphrases for them).
	if conn.Key != "" {
		key, err := os.ReadFile(conn.Key)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(c.dir, "rsa"), 0o700)
		if err := os.WriteFile(filepath.Join(c.dir, "rsa", "key.pem"), key, 0o600); err != nil {
			t.Fatal(err)
		}
		conn.Key = ""
	}
	file := filepath.Join(c.dir, "swanctl.conf")
	writeTemplate(t, "swanctl.conf.tmpl", file, conn)
	if out, err := c.swanctl("--load-all", "--noprompt", "--file", file); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// initiate starts the child SA "tis" (and its IKE SA) from strongSwan.
func (c *charon) initiate(t *testing.T) {
	t.Helper()
	c.initiateChild(t, "tis")
}

// initiateChild starts one child SA (and the IKE SA if needed).
func (c *charon) initiateChild(t *testing.T, child string) {
	t.Helper()
	out, err := c.swanctl("--initiate", "--child", child, "--timeout", "30")
	if err != nil {
		t.Fatalf("strongSwan failed to initiate: %v\n%s\n--- charon log ---\n%s", err, out, c.proc.Output())
	}
}

// listSAs returns swanctl --list-sas.
func (c *charon) listSAs() string {
	out, _ := c.swanctl("--list-sas")
	return out
}

var (
	ikeEstablishedRE = regexp.MustCompile(`(?m)^tis: #\d+, ESTABLISHED, IKEv1`)
	childInstalledRE = regexp.MustCompile(`(?m)^\s+tis\d*: #\d+, reqid \d+, INSTALLED`)
	childSPIRE       = regexp.MustCompile(`(?m)^\s+in\s+([0-9a-f]{8})`)
)

// established reports whether an IKE SA and a child SA are up.
func (c *charon) established() bool {
	s := c.listSAs()
	return ikeEstablishedRE.MatchString(s) && childInstalledRE.MatchString(s)
}

// installedChildren counts installed child SAs.
func (c *charon) installedChildren() int {
	return len(childInstalledRE.FindAllString(c.listSAs(), -1))
}

// ikeSAs counts established IKE SAs.
func (c *charon) ikeSAs() int {
	return len(ikeEstablishedRE.FindAllString(c.listSAs(), -1))
}

// inboundSPIs lists the inbound SPIs of installed child SAs.
func (c *charon) inboundSPIs() []string {
	var spis []string
	for _, m := range childSPIRE.FindAllStringSubmatch(c.listSAs(), -1) {
		spis = append(spis, m[1])
	}
	return spis
}

// writeTemplate renders testdata/strongswan/name into path.
func writeTemplate(t *testing.T, name, path string, data any) {
	t.Helper()
	tmpl, err := template.ParseFiles(filepath.Join("testdata", "strongswan", name))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// pingAcross pings dst from src inside ns until one reply arrives or the
// deadline passes (the first packets may trigger or race the SA setup).
func pingAcross(t *testing.T, ns *nstest.NS, src, dst string) {
	t.Helper()
	var last string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		out, err := ns.Output("ping", "-c", "1", "-W", "1", "-I", src, dst)
		if err == nil {
			return
		}
		last = out + err.Error()
	}
	t.Fatalf("no ping reply %s -> %s: %s", src, dst, last)
}

// tcpTransfer sends 1 MiB of random bytes from (from, src) to (to, dst)
// over TCP with socat and checks that the SHA-256 of what arrived matches.
func tcpTransfer(t *testing.T, from *nstest.NS, src string, to *nstest.NS, dst string) {
	t.Helper()
	dir := t.TempDir()
	payload := make([]byte, 1<<20)
	rand.Read(payload)
	sendFile, recvFile := filepath.Join(dir, "send"), filepath.Join(dir, "recv")
	if err := os.WriteFile(sendFile, payload, 0o600); err != nil {
		t.Fatal(err)
	}
	port := "5001"
	srv := to.Start(t, "socat-listen", nil, "socat", "-u",
		"TCP-LISTEN:"+port+",bind="+dst+",reuseaddr", "CREATE:"+recvFile)
	// Wait until the listener is there.
	nstest.WaitFor(t, 10*time.Second, "socat listener", func() bool {
		out, _ := to.Output("ss", "-ltn")
		return strings.Contains(out, dst+":"+port)
	})
	if out, err := from.Output("socat", "-u", "OPEN:"+sendFile, "TCP:"+dst+":"+port+",bind="+src+",connect-timeout=10"); err != nil {
		t.Fatalf("tcp transfer: %v %s", err, out)
	}
	if exited, err := srv.Wait(30 * time.Second); !exited || err != nil {
		t.Fatalf("receiver did not finish cleanly (exited=%v): %v %s", exited, err, srv.Output())
	}
	got, err := os.ReadFile(recvFile)
	if err != nil {
		t.Fatal(err)
	}
	want, have := sha256.Sum256(payload), sha256.Sum256(got)
	if want != have {
		t.Fatalf("tcp transfer corrupted: sent %d bytes sha256 %s, received %d bytes sha256 %s",
			len(payload), hex.EncodeToString(want[:]), len(got), hex.EncodeToString(have[:]))
	}
}
