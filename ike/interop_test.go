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
	right.Run(t, "ip", "addr", "add", rightInner+"/32", "dev", "lo")
	return left, right
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
