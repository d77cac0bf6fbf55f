package ike

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"tinyipsec/internal/nstest"
)

// pingAcrossRekey pings from left to right count times, five a second,
// and reports whether the SAs that spis lists changed meanwhile; an echo
// lost fails the test.
func pingAcrossRekey(t *testing.T, r *interopRun, count int, spis func() []string) (rekeyed bool) {
	t.Helper()
	first := spis()
	// -w: ping waits for the last echoes until a deadline instead of
	// giving up after about twice the largest round trip, so a last echo
	// that is only late (a scheduling stall on a loaded machine) is not
	// counted as lost. A lost echo still shows: ping then stops at the
	// deadline with fewer replies than requests.
	deadline := count/5 + 10
	ping := r.left.Start(t, "ping", nil, "ping", "-i", "0.2", "-c", strconv.Itoa(count), "-w", strconv.Itoa(deadline), "-I", leftInner, rightInner)
	nstest.WaitFor(t, time.Duration(deadline)*time.Second+time.Minute, "ping to finish", func() bool {
		if now := spis(); !rekeyed && slices.ContainsFunc(now, func(s string) bool { return !contains(first, s) }) {
			rekeyed = true
			t.Logf("rekeyed: SPIs %v -> %v", first, now)
		}
		return ping.Exited()
	})
	if p, _ := nstest.ParsePing(ping.Output()); !p.Lossless() {
		t.Fatalf("ping lost packets across the rekey: %d transmitted, %d received\n%s", p.Sent, p.Received, tail(ping.Output(), 2000))
	}
	return rekeyed
}

// TestInteropRekeyNoLoss: strongSwan negotiates 30 s IPsec SAs and
// rekeys them (tinyipsec as Quick Mode responder) while a ping runs: not one echo may be lost across the
// make-before-break changeover.
func TestInteropRekeyNoLoss(t *testing.T) {
	requireStrongSwan(t)
	c := interopCase{
		tis: tisConn{PSK: "interop-psk-rekey"},
		ss: charonConn{PSK: "interop-psk-rekey", ESPProposals: "aes128gcm16",
			ChildRekey: "20s", ChildLife: "30s"},
	}
	// strongSwan initiates; tinyipsec's own rekey (as initiator) is
	// TestInteropRekeyByTinyipsec.
	t.Run("strongswan-initiates", func(t *testing.T) {
		r := runInterop(t, c, false)
		// 40 s of pings: at least one rekey happens.
		if !pingAcrossRekey(t, r, 200, r.ss.inboundSPIs) {
			t.Fatal("no rekey happened during the ping")
		}
		// The tunnel still carries traffic on the new SAs.
		tcpTransfer(t, r.left, leftInner, r.right, rightInner)
	})
}

// TestInteropDPDRestart: DPD notices a killed strongSwan, tinyipsec drops
// the SAs, and brings the tunnel back once strongSwan is up again.
func TestInteropDPDRestart(t *testing.T) {
	requireStrongSwan(t)
	c := interopCase{
		tis: tisConn{PSK: "interop-psk-dpd", DPDDelay: "2s", DPDTimeout: "6s"},
		ss:  charonConn{PSK: "interop-psk-dpd", DPDDelay: "2s", DPDTimeout: "6s"},
	}
	r := runInterop(t, c, true)
	r.ss.kill(t)
	nstest.WaitFor(t, 30*time.Second, "tinyipsec to declare the peer dead", func() bool {
		s, err := r.tis.status()
		return err == nil && len(s.IPsecSAs) == 0 && !r.tis.established()
	})
	if !strings.Contains(r.tis.proc.Output(), "peer is dead") {
		t.Fatalf("no DPD verdict in the log:\n%s", tail(r.tis.proc.Output(), 3000))
	}
	// strongSwan comes back with no memory of the old SAs.
	r.ss.start(t)
	c.ss.LocalAddr, c.ss.RemoteAddr = rightOuter, leftOuter
	c.ss.LocalTS, c.ss.RemoteTS = rightSubnet, leftSubnet
	r.ss.loadConn(t, c.ss)
	nstest.WaitFor(t, 45*time.Second, "tunnel re-established after the restart", func() bool {
		return r.tis.established() && r.ss.established()
	})
	pingAcross(t, r.left, leftInner, rightInner)
	tcpTransfer(t, r.left, leftInner, r.right, rightInner)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestInteropRestartAndShutdown: a tinyipsec that crashed and comes back
// sends INITIAL-CONTACT, so strongSwan drops the SAs from before the crash
// instead of keeping two; a clean shutdown sends Delete for everything.
func TestInteropRestartAndShutdown(t *testing.T) {
	requireStrongSwan(t)
	c := interopCase{
		tis: tisConn{PSK: "interop-psk-restart"},
		ss:  charonConn{PSK: "interop-psk-restart"},
	}
	r := runInterop(t, c, true)
	old := r.ss.inboundSPIs()
	r.tis.proc.Signal(9)
	if exited, _ := r.tis.proc.Wait(10 * time.Second); !exited {
		t.Fatal("tinyipsec did not die")
	}
	// The TUN and routes of the crashed daemon went with it.
	r.tis.proc = r.left.Start(t, "tinyipsec-restarted", nil, r.tis.bin, "run", "-c", r.tis.config)
	nstest.WaitFor(t, 30*time.Second, "strongSwan with only the new SAs", func() bool {
		spis := r.ss.inboundSPIs()
		return r.tis.established() && r.ss.ikeSAs() == 1 && len(spis) == 1 && !contains(old, spis[0])
	})
	pingAcross(t, r.left, leftInner, rightInner)
	// Clean shutdown: strongSwan hears Delete for the IPsec and IKE SAs.
	if err := r.tis.proc.Stop(); err != nil {
		t.Fatalf("tinyipsec exit: %v\n%s", err, r.tis.proc.Output())
	}
	nstest.WaitFor(t, 10*time.Second, "strongSwan without SAs after our shutdown", func() bool {
		return r.ss.ikeSAs() == 0 && len(r.ss.inboundSPIs()) == 0
	})
}

// TestInteropRekeyByTinyipsec: tinyipsec's own phase 2 rekey at the
// shortest lifetime the configuration allows (120 s): the new pair is
// installed before the old one goes (make-before-break) and a ping that
// runs across the changeover loses nothing.
func TestInteropRekeyByTinyipsec(t *testing.T) {
	requireStrongSwan(t)
	c := interopCase{
		tis: tisConn{PSK: "interop-psk-rekey2", Lifetime: "120s"},
		ss:  charonConn{PSK: "interop-psk-rekey2"},
	}
	r := runInterop(t, c, true)
	// Our rekey comes at about 85 % of 120 s; ping until well after it.
	if !pingAcrossRekey(t, r, 575, r.tis.ipsecSPIs) || !strings.Contains(r.tis.proc.Output(), "rekeying IPsec SA") {
		t.Fatalf("tinyipsec did not rekey\n%s", tail(r.tis.proc.Output(), 4000))
	}
	// strongSwan was told to drop the old pair.
	nstest.WaitFor(t, 10*time.Second, "strongSwan with one pair", func() bool { return len(r.ss.inboundSPIs()) == 1 })
	tcpTransfer(t, r.left, leftInner, r.right, rightInner)
}

// TestInteropPeerReauth: strongSwan re-authenticates (a new phase 1 that
// adopts the IPsec SAs) every 20 s, and deletes the old IKE SA as soon as
// the new one is up on its side, often before it is on ours. tinyipsec,
// the responder, keeps the IPsec SA pair through that (IKEv1 IPsec SAs
// outlive their IKE SA) and hands it to the new IKE SA: a ping running
// across two re-authentications loses nothing, and the same pair is
// still installed afterwards.
func TestInteropPeerReauth(t *testing.T) {
	requireStrongSwan(t)
	c := interopCase{
		tis: tisConn{PSK: "interop-psk-reauth"},
		ss:  charonConn{PSK: "interop-psk-reauth", IKERekey: "20s"},
	}
	r := runInterop(t, c, false)
	first := r.tis.ipsecSPIs()
	// 50 s of pings, 5 per second: two re-authentications at least.
	ping := r.left.Start(t, "ping", nil, "ping", "-i", "0.2", "-c", "250", "-w", "60", "-I", leftInner, rightInner)
	nstest.WaitFor(t, 90*time.Second, "ping to finish", ping.Exited)
	if n := strings.Count(r.ss.proc.Output(), "ESTABLISHED => REKEYING"); n < 2 {
		t.Fatalf("strongSwan re-authenticated %d times during the ping, want 2:\n%s", n, tail(r.ss.proc.Output(), 3000))
	}
	if p, _ := nstest.ParsePing(ping.Output()); !p.Lossless() {
		t.Errorf("ping lost packets across the peer's IKE rekey:\n%s", tail(ping.Output(), 1500))
	}
	nstest.WaitFor(t, 15*time.Second, "one IKE SA on both ends", func() bool {
		s, err := r.tis.status()
		return err == nil && len(s.IKESAs) == 1 && r.ss.ikeSAs() == 1
	})
	if now := r.tis.ipsecSPIs(); len(now) != 1 || len(first) != 1 || now[0] != first[0] {
		t.Errorf("IPsec SAs %v before the re-authentications, %v after: want the same pair", first, now)
	}
	pingAcross(t, r.left, leftInner, rightInner)
	tcpTransfer(t, r.left, leftInner, r.right, rightInner)
}
