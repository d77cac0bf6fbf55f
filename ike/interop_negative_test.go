package ike

import (
	"strings"
	"testing"
	"time"

	"tinyipsec/internal/nstest"
)

// startPair starts both daemons without waiting for a tunnel.
func startNegative(t *testing.T, c interopCase, tinyipsecInitiates bool) (*tisNode, *charon) {
	t.Helper()
	left, right := twoHosts(t)
	c.tis.Peer, c.tis.Local = rightOuter, leftOuter
	c.ss.LocalAddr, c.ss.RemoteAddr = rightOuter, leftOuter
	if c.ss.LocalTS == "" {
		c.ss.LocalTS, c.ss.RemoteTS = rightSubnet, leftSubnet
	}
	c.tis.Initiate = "never"
	if tinyipsecInitiates {
		c.tis.Initiate = "always"
	}
	ss := startCharon(t, right)
	ss.loadConn(t, c.ss)
	tis := startTinyipsec(t, left, c.tis)
	if !tinyipsecInitiates {
		// Expected to fail: only the phase 1 part succeeds.
		ss.swanctl("--initiate", "--child", "tis", "--timeout", "5")
	}
	return tis, ss
}

// waitHint waits until tinyipsec's status shows a hint containing want.
func waitHint(t *testing.T, tis *tisNode, want string) {
	t.Helper()
	nstest.WaitFor(t, 30*time.Second, "status hint containing "+want, func() bool {
		s, err := tis.status()
		if err != nil {
			return false
		}
		for _, sa := range s.IKESAs {
			if strings.Contains(sa.Hint, want) {
				return true
			}
		}
		return false
	})
}

// TestInteropPFSMismatch: PFS on one end only fails phase 2 with an error
// that says so, whichever side has it.
func TestInteropPFSMismatch(t *testing.T) {
	requireStrongSwan(t)
	t.Run("tinyipsec-has-pfs", func(t *testing.T) {
		tis, _ := startNegative(t, interopCase{
			tis: tisConn{PSK: "interop-psk-neg", PFS: 14},
			ss:  charonConn{PSK: "interop-psk-neg", ESPProposals: "aes128gcm16"},
		}, true)
		waitHint(t, tis, "PFS set on one end only")
	})
	t.Run("strongswan-has-pfs", func(t *testing.T) {
		tis, _ := startNegative(t, interopCase{
			tis: tisConn{PSK: "interop-psk-neg"},
			ss:  charonConn{PSK: "interop-psk-neg", ESPProposals: "aes128gcm16-modp2048"},
		}, false)
		waitHint(t, tis, "one end has PFS set and the other end does not")
	})
}

// TestInteropProxyIDMismatch: strongSwan proposes traffic selectors that
// are not the mirror image of our crypto ACL: INVALID-ID-INFORMATION.
func TestInteropProxyIDMismatch(t *testing.T) {
	requireStrongSwan(t)
	tis, ss := startNegative(t, interopCase{
		tis: tisConn{PSK: "interop-psk-neg"},
		ss:  charonConn{PSK: "interop-psk-neg", LocalTS: "10.99.0.0/16", RemoteTS: leftSubnet},
	}, false)
	waitHint(t, tis, "do not match any crypto map ACL")
	if !strings.Contains(ss.proc.Output(), "INVALID_ID_INFORMATION") {
		t.Errorf("strongSwan did not receive INVALID-ID-INFORMATION:\n%s", tail(ss.proc.Output(), 3000))
	}
}

// TestInteropPSKMismatch: different pre-shared keys show up in tinyipsec's
// status as what they are, whichever side initiates.
func TestInteropPSKMismatch(t *testing.T) {
	requireStrongSwan(t)
	c := interopCase{
		tis: tisConn{PSK: "interop-psk-ours"},
		ss:  charonConn{PSK: "interop-psk-theirs"},
	}
	t.Run("tinyipsec-initiates", func(t *testing.T) {
		tis, _ := startNegative(t, c, true)
		waitHint(t, tis, "pre-shared keys differ")
	})
	t.Run("strongswan-initiates", func(t *testing.T) {
		tis, _ := startNegative(t, c, false)
		waitHint(t, tis, "pre-shared key")
	})
}
