package ike

// Phase 1 interoperability with Libreswan's pluto (IKEv1 Main Mode, PSK).
//
// Debian's libreswan package conflicts with strongSwan's, so it is not
// installed: the test fetches the .deb with `apt-get download`, unpacks it
// with `dpkg -x` into build/libreswan/ of the module (ignored by git, kept
// between runs) and runs pluto from there. pluto looks for its helpers
// under the fixed path /usr/libexec/ipsec, so it runs in a private mount
// namespace where a tmpfs over /usr/libexec holds a link to the unpacked
// directory; the host's file system is not touched.
//
// Without kernel ESP pluto cannot install IPsec SAs, so phase 2 fails on
// its side; the test only asks for phase 1: tinyipsec's IKE SA is
// established (MM_ACTIVE) and pluto logs its IKE SA as established.
//
// Runtime libraries pluto needs beyond a base system (Debian 12):
// libnss3-tools (certutil), libnss3, libnspr4, libldns3, libunbound8,
// libevent-core-2.1-7, libevent-pthreads-2.1-7, libcap-ng0, libaudit1,
// libcurl3-nss, libldap-2.5-0, libpam0g, libselinux1, libsystemd0,
// libcrypt1.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tinyipsec/internal/nstest"
)

// libreswanPackage is the Debian package unpacked for the test.
const libreswanPackage = "libreswan"

var (
	libreswanOnce sync.Once
	libreswanDir  string // unpacked package root
	libreswanErr  error
)

// requireLibreswan returns the root of the unpacked libreswan package,
// fetching it on first use. It skips locally and fails under CI when
// pluto cannot be had or cannot run here.
func requireLibreswan(t *testing.T) string {
	t.Helper()
	nstest.Require(t, "unshare", "mount", "certutil", "ldd")
	libreswanOnce.Do(func() { libreswanDir, libreswanErr = unpackLibreswan() })
	if libreswanErr == nil {
		libreswanErr = libreswanRunnable(libreswanDir)
	}
	if libreswanErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("libreswan: %v", libreswanErr)
		}
		t.Skipf("libreswan: %v", libreswanErr)
	}
	return libreswanDir
}

// unpackLibreswan returns build/libreswan/root of the module, filling it
// from the Debian package when it is not there yet.
func unpackLibreswan() (string, error) {
	mod, err := nstest.ModuleRoot()
	if err != nil {
		return "", err
	}
	cache := filepath.Join(mod, "build", "libreswan")
	root := filepath.Join(cache, "root")
	if _, err := os.Stat(filepath.Join(root, "usr/libexec/ipsec/pluto")); err == nil {
		return root, nil
	}
	for _, tool := range []string{"apt-get", "dpkg"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", fmt.Errorf("%s is needed to fetch the %s package", tool, libreswanPackage)
		}
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(cache, "unpack-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	// The download runs as root into a directory the _apt user cannot
	// write; tell apt not to switch users for it.
	dl := exec.Command("apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", libreswanPackage)
	dl.Dir = tmp
	if out, err := dl.CombinedOutput(); err != nil {
		return "", fmt.Errorf("apt-get download %s: %v: %s", libreswanPackage, err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, libreswanPackage+"_*.deb"))
	if len(debs) != 1 {
		return "", fmt.Errorf("apt-get download left %d %s packages", len(debs), libreswanPackage)
	}
	if out, err := exec.Command("dpkg", "-x", debs[0], filepath.Join(tmp, "root")).CombinedOutput(); err != nil {
		return "", fmt.Errorf("dpkg -x: %v: %s", err, out)
	}
	if err := os.Rename(filepath.Join(tmp, "root"), root); err != nil {
		// Another test process may have unpacked it meanwhile.
		if _, serr := os.Stat(filepath.Join(root, "usr/libexec/ipsec/pluto")); serr != nil {
			return "", err
		}
	}
	return root, nil
}

// libreswanRunnable checks that pluto's shared libraries are installed.
func libreswanRunnable(root string) error {
	out, err := exec.Command("ldd", filepath.Join(root, "usr/libexec/ipsec/pluto")).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ldd pluto: %v: %s", err, out)
	}
	var missing []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "not found") {
			missing = append(missing, strings.Fields(l)[0])
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("pluto's libraries are missing: %s", strings.Join(missing, " "))
	}
	return nil
}

// plutoConn is the Libreswan side of a test case.
type plutoConn struct {
	Local, Remote       string // outer addresses
	LocalNet, RemoteNet string
	PSK                 string
	IKE                 string // ike= proposal; default aes128-sha2_256;modp2048
	Auto                string // add (wait) or start (initiate at once)
}

// pluto is one running Libreswan daemon.
type pluto struct {
	ns   *nstest.NS
	root string
	dir  string
	proc *nstest.Proc
}

// startPluto writes pluto's configuration, secrets and NSS database into a
// private directory and starts it in ns.
func startPluto(t *testing.T, ns *nstest.NS, root string, c plutoConn) *pluto {
	t.Helper()
	if c.IKE == "" {
		c.IKE = "aes128-sha2_256;modp2048"
	}
	if c.Auto == "" {
		c.Auto = "add"
	}
	p := &pluto{ns: ns, root: root, dir: t.TempDir()}
	for _, d := range []string{"nss", "run"} {
		if err := os.Mkdir(filepath.Join(p.dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("certutil", "-N", "-d", "sql:"+filepath.Join(p.dir, "nss"), "--empty-password").CombinedOutput(); err != nil {
		t.Fatalf("certutil -N: %v: %s", err, out)
	}
	// IKEv1 is off by default in Libreswan 4.x: ikev1-policy=accept. No
	// DNSSEC (no resolver in the namespace). pfs=no matches tinyipsec's
	// default crypto map, so Quick Mode is agreed and fails only where
	// pluto asks the kernel for ESP.
	conf := fmt.Sprintf(`config setup
	ikev1-policy=accept
	dnssec-enable=no
	plutodebug=none

conn tis
	ikev2=no
	authby=secret
	left=%s
	leftsubnet=%s
	right=%s
	rightsubnet=%s
	ike=%s
	phase2alg=aes_gcm128
	pfs=no
	auto=%s
`, c.Local, c.LocalNet, c.Remote, c.RemoteNet, c.IKE, c.Auto)
	secrets := fmt.Sprintf("%s %s : PSK %q\n", c.Local, c.Remote, c.PSK)
	if err := os.WriteFile(filepath.Join(p.dir, "ipsec.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.dir, "ipsec.secrets"), []byte(secrets), 0o600); err != nil {
		t.Fatal(err)
	}
	execDir := filepath.Join(root, "usr/libexec/ipsec")
	// sh's $1 is the helper directory; the rest is pluto's command line.
	script := `mount -t tmpfs tmpfs /usr/libexec && ln -s "$1" /usr/libexec/ipsec && shift && exec "$@"`
	p.proc = ns.Start(t, "pluto", nil, "unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", execDir,
		filepath.Join(execDir, "pluto"), "--nofork", "--stderrlog",
		"--config", filepath.Join(p.dir, "ipsec.conf"), "--secretsfile", filepath.Join(p.dir, "ipsec.secrets"),
		"--rundir", filepath.Join(p.dir, "run"), "--nssdir", filepath.Join(p.dir, "nss"), "--ipsecdir", p.dir)
	nstest.WaitFor(t, 20*time.Second, "pluto to load the connection", func() bool {
		if p.proc.Exited() {
			t.Fatalf("pluto exited:\n%s", p.proc.Output())
		}
		return strings.Contains(p.proc.Output(), `"tis": added IKEv1 connection`)
	})
	return p
}

// initiate asks pluto to start the connection.
func (p *pluto) initiate(t *testing.T) {
	t.Helper()
	p.ns.Run(t, filepath.Join(p.root, "usr/libexec/ipsec/whack"), "--ctlsocket", filepath.Join(p.dir, "run", "pluto.ctl"),
		"--initiate", "--name", "tis", "--asynchronous")
}

// ikeEstablished reports pluto's log line for an established IKEv1 SA
// ("IKE SA established" in 4.x, "ISAKMP SA established" before).
func (p *pluto) ikeEstablished() bool {
	out := p.proc.Output()
	return strings.Contains(out, "IKE SA established") || strings.Contains(out, "ISAKMP SA established")
}

// tisPhase1 returns tinyipsec's IKE SA with peer once its phase 1 is
// complete: MM_ACTIVE, or a Quick Mode state (status shows the state of a
// Quick Mode under way on an MM_ACTIVE SA).
func tisPhase1(n *tisNode, peer string) (state string, ok bool) {
	s, err := n.status()
	if err != nil {
		return "", false
	}
	for _, sa := range s.IKESAs {
		if sa.Peer != peer || sa.Exchange != "main" || sa.Auth != "pre-share" {
			continue
		}
		if sa.State == "MM_ACTIVE" || strings.HasPrefix(sa.State, "QM_") {
			return sa.State, true
		}
	}
	return "", false
}

// TestInteropLibreswanMainModePSK: Main Mode with a pre-shared key
// between tinyipsec and Libreswan 4.x, each side initiating, with a MODP
// and an elliptic-curve group (RFC 5903 encoding of the KE payload).
func TestInteropLibreswanMainModePSK(t *testing.T) {
	root := requireLibreswan(t)
	for _, c := range []struct {
		name      string
		tisPolicy string // [[isakmp_policy]] body
		plutoIKE  string
	}{
		{"aes128-sha256-modp2048", "", "aes128-sha2_256;modp2048"},
		{"aes256-sha256-ecp256", "encryption = \"aes256\"\nhash = \"sha256\"\nauthentication = \"pre-share\"\ngroup = 19\n", "aes256-sha2_256;dh19"},
	} {
		bothWays(t, c.name+"/pluto-initiates", c.name+"/tinyipsec-initiates", func(t *testing.T, tisInitiates bool) {
			libreswanPhase1(t, root, c.tisPolicy, c.plutoIKE, tisInitiates)
		})
	}
}

// libreswanPhase1 brings up phase 1 between tinyipsec (left) and pluto
// (right) and checks both ends report it established.
func libreswanPhase1(t *testing.T, root, tisPolicy, plutoIKE string, tisInitiates bool) {
	left, right := nstest.New(t, "lsw-l"), nstest.New(t, "lsw-r")
	nstest.Link(t, left, right, leftOuter+"/24", rightOuter+"/24")
	left.Run(t, "ip", "addr", "add", leftInner+"/32", "dev", "lo")
	right.Run(t, "ip", "addr", "add", rightInner+"/32", "dev", "lo")

	const psk = "libreswan-interop-psk"
	p := startPluto(t, right, root, plutoConn{Local: rightOuter, Remote: leftOuter,
		LocalNet: rightSubnet, RemoteNet: leftSubnet, PSK: psk, IKE: plutoIKE})
	c := tisConn{Peer: rightOuter, Local: leftOuter, PSK: psk, Policy: tisPolicy, Initiate: "never"}
	if tisInitiates {
		c.Initiate = "always"
	}
	tis := startTinyipsec(t, left, c)
	if !tisInitiates {
		p.initiate(t)
	}
	var state string
	nstest.WaitFor(t, 30*time.Second, "phase 1 established on both ends", func() bool {
		var ok bool
		state, ok = tisPhase1(tis, rightOuter)
		return ok && p.ikeEstablished()
	})
	// The daemon logs the state at the moment phase 1 completed.
	if l := plutoLine(tis.proc.Output(), "phase 1 established"); !strings.Contains(l, "MM_ACTIVE") {
		t.Errorf("tinyipsec did not log phase 1 as MM_ACTIVE:\n%s", tis.proc.Output())
	}
	t.Logf("tinyipsec: IKE SA with %s in %s; pluto: %s", rightOuter, state, plutoLine(p.proc.Output(), "SA established"))
	if l := plutoLine(p.proc.Output(), "netlink response for Add SA"); l != "" {
		t.Logf("pluto, phase 2 as expected without kernel ESP: %s", l)
	}
}

// plutoLine returns the first line of a daemon's log containing s.
func plutoLine(out, s string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}
