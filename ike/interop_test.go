package ike

// Interoperability tests against strongSwan's charon (IKEv1), each in
// private network namespaces: "left" and "right" joined by a veth pair,
// protected subnets on lo (this kernel has no dummy interfaces).

import (
	"testing"
	"time"

	"tinyipsec/internal/nstest"
)

// Addresses of the two-namespace topology.
const (
	leftOuter   = "10.201.1.1"
	rightOuter  = "10.201.1.2"
	leftInner   = "10.212.0.1"
	rightInner  = "10.222.0.1"
	leftSubnet  = "10.212.0.0/16"
	rightSubnet = "10.222.0.0/16"
)

// twoHosts creates the left and right namespaces, linked, with the inner
// addresses on lo.
func twoHosts(t *testing.T) (left, right *nstest.NS) {
	t.Helper()
	left, right = nstest.New(t, "ike-l"), nstest.New(t, "ike-r")
	nstest.Link(t, left, right, leftOuter+"/24", rightOuter+"/24")
	left.Run(t, "ip", "addr", "add", leftInner+"/32", "dev", "lo")
	for _, ns := range []*nstest.NS{left, right} {
		ns.Run(t, "sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0")
	}
	right.Run(t, "ip", "addr", "add", rightInner+"/32", "dev", "lo")
	return left, right
}

// bothWays runs f as two subtests, with v false (the subtest named
// ifFalse) and true (ifTrue): a test run with either side initiating, or
// with an option off and on.
func bothWays(t *testing.T, ifFalse, ifTrue string, f func(t *testing.T, v bool)) {
	for _, v := range []bool{false, true} {
		name := ifFalse
		if v {
			name = ifTrue
		}
		t.Run(name, func(t *testing.T) { f(t, v) })
	}
}

// TestCharonToCharon proves the harness itself: two strongSwan daemons
// bring up a Main Mode PSK tunnel and traffic crosses it.
func TestCharonToCharon(t *testing.T) {
	requireStrongSwan(t)
	left, right := twoHosts(t)
	l, r := startCharon(t, left), startCharon(t, right)
	base := charonConn{PSK: "harness-check-psk"}
	lc, rc := base, base
	lc.LocalAddr, lc.RemoteAddr, lc.LocalTS, lc.RemoteTS = leftOuter, rightOuter, leftSubnet, rightSubnet
	rc.LocalAddr, rc.RemoteAddr, rc.LocalTS, rc.RemoteTS = rightOuter, leftOuter, rightSubnet, leftSubnet
	l.loadConn(t, lc)
	r.loadConn(t, rc)
	l.initiate(t)
	nstest.WaitFor(t, 20*time.Second, "both charons established", func() bool {
		return l.established() && r.established()
	})
	pingAcross(t, left, leftInner, rightInner)
	tcpTransfer(t, left, leftInner, right, rightInner)
}

// interopCase is one tinyipsec <-> strongSwan scenario: tinyipsec runs in
// the left namespace, charon in the right one.
type interopCase struct {
	name string
	tis  tisConn
	ss   charonConn
}

// interopRun is a running scenario.
type interopRun struct {
	tis         *tisNode
	ss          *charon
	left, right *nstest.NS
}

// runInterop brings the tunnel up with the given side initiating, then
// checks ping and a TCP transfer across it.
func runInterop(t *testing.T, c interopCase, tinyipsecInitiates bool) *interopRun {
	t.Helper()
	left, right := twoHosts(t)
	c.tis.Peer, c.tis.Local = rightOuter, leftOuter
	c.ss.LocalAddr, c.ss.RemoteAddr = rightOuter, leftOuter
	return runInteropOn(t, c, tinyipsecInitiates, left, right)
}

// runInteropOn is runInterop on a prepared topology; c carries the outer
// addresses.
func runInteropOn(t *testing.T, c interopCase, tinyipsecInitiates bool, left, right *nstest.NS) *interopRun {
	t.Helper()
	c.ss.LocalTS, c.ss.RemoteTS = rightSubnet, leftSubnet
	if tinyipsecInitiates {
		c.tis.Initiate = "always"
	} else {
		c.tis.Initiate = "never"
	}
	ss := startCharon(t, right)
	ss.loadConn(t, c.ss)
	tis := startTinyipsec(t, left, c.tis)
	if !tinyipsecInitiates {
		ss.initiate(t)
	}
	nstest.WaitFor(t, 30*time.Second, "tunnel established on both ends", func() bool {
		return tis.established() && ss.established()
	})
	pingAcross(t, left, leftInner, rightInner)
	pingAcross(t, right, rightInner, leftInner)
	tcpTransfer(t, left, leftInner, right, rightInner)
	tcpTransfer(t, right, rightInner, left, leftInner)
	return &interopRun{tis: tis, ss: ss, left: left, right: right}
}

// TestInteropMainModePSKGCM: Main Mode with a pre-shared key, ESP
// AES-GCM in tunnel mode, both directions of initiation.
func TestInteropMainModePSKGCM(t *testing.T) {
	requireStrongSwan(t)
	c := interopCase{
		tis: tisConn{PSK: "interop-psk-gcm"},
		ss:  charonConn{PSK: "interop-psk-gcm", IKEProposals: "aes128-sha256-modp2048", ESPProposals: "aes128gcm16"},
	}
	t.Run("tinyipsec-initiates", func(t *testing.T) { runInterop(t, c, true) })
	t.Run("strongswan-initiates", func(t *testing.T) { runInterop(t, c, false) })
}
