package ike

import (
	"testing"

	"tinyipsec/internal/nstest"
)

// Addresses of the NAT topology: the private host sits behind a third
// namespace that masquerades it onto the public link.
const (
	natPrivateHost = "10.201.1.1"
	natPrivateGW   = "10.201.1.254"
	natPublicGW    = "10.203.1.254"
	natPublicHost  = "10.203.1.2"
)

// natHosts builds tinyipsec's (left) and strongSwan's (right) namespaces
// with a masquerading router between them; tisBehindNAT says which of the
// two is on the private side.
func natHosts(t *testing.T, tisBehindNAT bool) (left, right *nstest.NS) {
	t.Helper()
	left, right = nstest.New(t, "ike-nl"), nstest.New(t, "ike-nr")
	nat := nstest.New(t, "ike-nat")
	private, public := left, right
	if !tisBehindNAT {
		private, public = right, left
	}
	nstest.Link(t, private, nat, natPrivateHost+"/24", natPrivateGW+"/24")
	_, natOut := nstest.Link(t, public, nat, natPublicHost+"/24", natPublicGW+"/24")
	private.Run(t, "ip", "route", "add", "default", "via", natPrivateGW)
	nat.Run(t, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
	nat.Run(t, "nft", "add table ip tisnat")
	nat.Run(t, "nft", "add chain ip tisnat post { type nat hook postrouting priority 100 ; }")
	nat.Run(t, "nft", "add rule ip tisnat post oifname "+natOut+" masquerade")
	left.Run(t, "ip", "addr", "add", leftInner+"/32", "dev", "lo")
	right.Run(t, "ip", "addr", "add", rightInner+"/32", "dev", "lo")
	for _, ns := range []*nstest.NS{left, right} {
		ns.Run(t, "sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0")
	}
	return left, right
}

// TestInteropNATTraversal: the tunnel works through a masquerading NAT,
// with tinyipsec behind it (initiating) and with strongSwan behind it
// (initiating to a tinyipsec "dynamic" crypto map).
func TestInteropNATTraversal(t *testing.T) {
	requireStrongSwan(t, "nft", "sysctl")
	t.Run("tinyipsec-behind-nat", func(t *testing.T) {
		left, right := natHosts(t, true)
		c := interopCase{
			tis: tisConn{PSK: "interop-psk-nat", Local: natPrivateHost, Peer: natPublicHost},
			ss: charonConn{PSK: "interop-psk-nat", LocalAddr: natPublicHost, RemoteAddr: "%any",
				LocalID: natPublicHost, RemoteID: natPrivateHost},
		}
		r := runInteropOn(t, c, true, left, right)
		s, err := r.tis.status()
		if err != nil || len(s.IKESAs) == 0 || !s.IKESAs[0].NATT {
			t.Fatalf("status does not show NAT-T: %+v %v", s, err)
		}
		if !r.tis.established() {
			t.Fatal("tunnel gone")
		}
	})
	t.Run("strongswan-behind-nat", func(t *testing.T) {
		left, right := natHosts(t, false)
		c := interopCase{
			tis: tisConn{PSK: "interop-psk-nat", Local: natPublicHost, Peer: "dynamic"},
			ss: charonConn{PSK: "interop-psk-nat", LocalAddr: natPrivateHost, RemoteAddr: natPublicHost,
				LocalID: natPrivateHost, RemoteID: natPublicHost},
		}
		runInteropOn(t, c, false, left, right)
	})
}
