package ike

// Recovery without the admin: strongSwan crashes (SIGKILL) and comes back,
// or the link between the two goes dark for twice the DPD timeout. In
// each case tinyipsec must notice (DPD, or the peer's INITIAL-CONTACT),
// drop the stale SAs and bring the tunnel back by itself.

import (
	"strings"
	"testing"
	"time"

	"tinyipsec/internal/nstest"
)

// Recovery tests' DPD: tinyipsec probes after 6 s of silence and gives
// the peer 7 s, so a dead peer is noticed within 13 s (plus a timer
// tick): under 3 x dpd_delay = 18 s, with room for a loaded machine.
const (
	recoveryDPDDelay   = 6 * time.Second
	recoveryDPDTimeout = 7 * time.Second
)

func recoveryCase(psk string, startAction string) interopCase {
	return interopCase{
		tis: tisConn{PSK: psk, DPDDelay: recoveryDPDDelay.String(), DPDTimeout: recoveryDPDTimeout.String()},
		ss:  charonConn{PSK: psk, StartAction: startAction},
	}
}

// reloadCharon starts a killed charon again with the case's connection.
func reloadCharon(t *testing.T, r *interopRun, c interopCase) {
	t.Helper()
	r.ss.start(t)
	c.ss.LocalAddr, c.ss.RemoteAddr = rightOuter, leftOuter
	c.ss.LocalTS, c.ss.RemoteTS = rightSubnet, leftSubnet
	r.ss.loadConn(t, c.ss)
}

// noneOf reports that no SPI of now is in old.
func noneOf(old, now []string) bool {
	for _, s := range now {
		if contains(old, s) {
			return false
		}
	}
	return true
}

// waitDeadPeer waits until tinyipsec has dropped every SA with the peer
// and returns how long that took from since; it must be within
// 3 x dpd_delay.
func waitDeadPeer(t *testing.T, r *interopRun, since time.Time) time.Duration {
	t.Helper()
	limit := 3 * recoveryDPDDelay
	// The moment is read from the daemon's log, which the test holds in
	// memory: a status call starts a process, too slow on a loaded
	// machine to time anything by.
	before := strings.Count(r.tis.proc.Output(), "DPD: peer is dead")
	nstest.WaitFor(t, limit+10*time.Second, "tinyipsec to declare the peer dead", func() bool {
		return strings.Count(r.tis.proc.Output(), "DPD: peer is dead") > before
	})
	took := time.Since(since)
	nstest.WaitFor(t, 10*time.Second, "no SAs with the dead peer in status", func() bool {
		s, err := r.tis.status()
		if err != nil || len(s.IPsecSAs) != 0 {
			return false
		}
		for _, sa := range s.IKESAs {
			if sa.State == "MM_ACTIVE" || sa.State == "AM_ACTIVE" || strings.HasPrefix(sa.State, "QM_") {
				return false
			}
		}
		return true
	})
	if took > limit {
		t.Errorf("the dead peer was noticed after %s, want within 3 x dpd_delay = %s", took.Round(100*time.Millisecond), limit)
	}
	return took
}

// waitRecovered waits until the tunnel is up again on fresh SAs, checks
// that it carries traffic and returns how long that took from since.
func waitRecovered(t *testing.T, r *interopRun, since time.Time, tisOld, ssOld []string) time.Duration {
	t.Helper()
	nstest.WaitFor(t, 60*time.Second, "the tunnel back on new SAs, the old ones gone on both ends", func() bool {
		if !r.tis.established() || !r.ss.established() {
			return false
		}
		tis, ss := r.tis.ipsecSPIs(), r.ss.inboundSPIs()
		return len(tis) == 1 && len(ss) == 1 && noneOf(tisOld, tis) && noneOf(ssOld, ss)
	})
	took := time.Since(since)
	pingAcross(t, r.left, leftInner, rightInner)
	tcpTransfer(t, r.left, leftInner, r.right, rightInner)
	return took
}

// runThenKillPeer brings c's tunnel up, notes both ends' SPIs and kills
// strongSwan.
func runThenKillPeer(t *testing.T, c interopCase, tinyipsecInitiates bool) (r *interopRun, tisOld, ssOld []string, killed time.Time) {
	t.Helper()
	r = runInterop(t, c, tinyipsecInitiates)
	tisOld, ssOld = r.tis.ipsecSPIs(), r.ss.inboundSPIs()
	killed = time.Now()
	r.ss.kill(t)
	return r, tisOld, ssOld, killed
}

// TestInteropPeerRestart: strongSwan is killed (SIGKILL: no Delete) and
// started again.
//
// tinyipsec initiates: DPD notices the dead peer within 3 x dpd_delay and
// drops its SAs; once strongSwan is back tinyipsec brings the tunnel up
// again by itself (its MM5 carries INITIAL-CONTACT).
//
// strongSwan initiates: it comes back at once, before DPD would notice,
// and its INITIAL-CONTACT makes tinyipsec drop the SAs of the old run
// immediately; the old SPIs are gone from status.
func TestInteropPeerRestart(t *testing.T) {
	requireStrongSwan(t)
	t.Parallel() // with the other recovery and soak tests: own namespaces
	t.Run("tinyipsec-initiates", func(t *testing.T) {
		c := recoveryCase("recovery-psk-restart-i", "none")
		r, tisOld, ssOld, killed := runThenKillPeer(t, c, true)
		dead := waitDeadPeer(t, r, killed)
		restarted := time.Now()
		reloadCharon(t, r, c)
		back := waitRecovered(t, r, restarted, tisOld, ssOld)
		t.Logf("recovery: peer killed, noticed after %s (limit %s); tunnel back %s after the peer restarted",
			dead.Round(100*time.Millisecond), 3*recoveryDPDDelay, back.Round(100*time.Millisecond))
	})
	t.Run("strongswan-initiates", func(t *testing.T) {
		c := recoveryCase("recovery-psk-restart-r", "start")
		r, tisOld, ssOld, killed := runThenKillPeer(t, c, false)
		reloadCharon(t, r, c) // start_action = start: it initiates at once
		back := waitRecovered(t, r, killed, tisOld, ssOld)
		if !strings.Contains(r.tis.proc.Output(), "INITIAL-CONTACT") {
			t.Errorf("the old SAs went, but not through INITIAL-CONTACT:\n%s", tail(r.tis.proc.Output(), 3000))
		}
		if back > 3*recoveryDPDDelay {
			t.Errorf("tunnel back after %s, want within 3 x dpd_delay = %s", back, 3*recoveryDPDDelay)
		}
		t.Logf("recovery: peer killed and restarted, tunnel back on new SAs after %s (INITIAL-CONTACT)", back.Round(100*time.Millisecond))
	})
}

// TestInteropLinkCut: every packet between the two hosts is dropped (an
// nftables rule in strongSwan's namespace) for 2 x dpd_timeout, then let
// through again. tinyipsec notices within 3 x dpd_delay, drops its SAs and
// keeps trying; once the link is back it brings the tunnel up by itself,
// and its INITIAL-CONTACT makes strongSwan (which never noticed: its DPD is
// off) drop the SAs from before the cut.
func TestInteropLinkCut(t *testing.T) {
	requireStrongSwan(t, "nft")
	t.Parallel()
	c := recoveryCase("recovery-psk-linkcut", "none")
	r := runInterop(t, c, true)
	tisOld, ssOld := r.tis.ipsecSPIs(), r.ss.inboundSPIs()
	r.right.Run(t, "nft", "add table inet tiscut { chain in { type filter hook input priority 0; policy drop; }; chain out { type filter hook output priority 0; policy drop; }; }")
	restored := false
	restore := func() {
		if !restored {
			restored = true
			r.right.Run(t, "nft", "delete", "table", "inet", "tiscut")
		}
	}
	t.Cleanup(restore) // the namespace goes anyway; restore is for clarity
	cut := time.Now()
	dead := waitDeadPeer(t, r, cut)
	// The rest of the 2 x dpd_timeout outage: tinyipsec retries into it.
	nstest.WaitFor(t, 2*recoveryDPDTimeout+5*time.Second, "the outage to last 2 x dpd_timeout", func() bool {
		return time.Since(cut) >= 2*recoveryDPDTimeout
	})
	restore()
	back := waitRecovered(t, r, time.Now(), tisOld, ssOld)
	t.Logf("recovery: link cut for %s, noticed after %s (limit %s); tunnel back %s after the link returned",
		2*recoveryDPDTimeout, dead.Round(100*time.Millisecond), 3*recoveryDPDDelay, back.Round(100*time.Millisecond))
}
