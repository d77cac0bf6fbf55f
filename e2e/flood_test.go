package e2e

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tinyipsec/ike"
	"tinyipsec/internal/nstest"
	"tinyipsec/internal/testconf"
)

// TestFloodOfForgedFirstMessages: a hub (B) has an established tunnel with
// spoke A, carrying a ping. A raw socket in A's namespace sends Main Mode
// first messages from forged addresses as fast as one core can, for the
// whole test. Meanwhile a new spoke C starts: it must complete phase 1 and
// Quick Mode within 5 s. The ping must lose nothing, the hub's peak RSS
// must stay under 32 MiB and its log under 100 lines a minute.
//
// TINYIPSEC_FLOOD_SECONDS sets the flood's length and TINYIPSEC_FLOOD_RATE
// its rate in messages a second (0: as fast as one core sends). Without
// them (make test) the flood lasts 12 s at 2,000 a second, a rate a busy
// two-core test machine still answers in full; `make flood` floods at full
// speed for a minute.
func TestFloodOfForgedFirstMessages(t *testing.T) {
	bin := DaemonBinary(t, "ping")
	floodFor, rateLimit := 12*time.Second, 2000
	env := func(name string, f func(int)) {
		if s := os.Getenv(name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			f(n)
		}
	}
	env("TINYIPSEC_FLOOD_SECONDS", func(n int) { floodFor = time.Duration(n) * time.Second })
	env("TINYIPSEC_FLOOD_RATE", func(n int) { rateLimit = n })

	nsA, nsB, nsC := nstest.New(t, "fla"), nstest.New(t, "flb"), nstest.New(t, "flc")
	nstest.Link(t, nsA, nsB, "192.168.81.1/24", "192.168.81.2/24")
	nstest.Link(t, nsC, nsB, "192.168.82.1/24", "192.168.82.2/24")
	for i, ns := range []*nstest.NS{nsA, nsB, nsC} {
		ns.Run(t, "ip", "addr", "add", fmt.Sprintf("10.%d.0.1/24", i+1), "dev", "lo")
		ns.Run(t, "sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0")
	}
	// The hub answers the forged sources through A, which drops them
	// (no forwarding in a fresh namespace), as the Internet would.
	nsB.Run(t, "ip", "route", "add", "default", "via", "192.168.81.1")

	write := func(peer, acl, initiate string) (cfg, ctl string) {
		// Info, not debug: the test counts the hub's log lines.
		c := testconf.IKE{LogLevel: "info", Peer: peer, PSK: "flood-test-pre-shared-key", ACL: acl, Initiate: initiate}
		cfg, ctl, err := c.Write(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return cfg, ctl
	}
	cfgB, _ := write("dynamic", "permit ip 10.2.0.0 0.0.0.255 10.0.0.0 0.255.255.255", "never")
	cfgA, _ := write("192.168.81.2", "permit ip 10.1.0.0 0.0.0.255 10.2.0.0 0.0.0.255", "always")
	cfgC, _ := write("192.168.82.2", "permit ip 10.3.0.0 0.0.0.255 10.2.0.0 0.0.0.255", "always")

	hub := nsB.Start(t, "tinyipsec-b", nil, bin, "run", "-c", cfgB)
	nsA.Start(t, "tinyipsec-a", nil, bin, "run", "-c", cfgA)
	up := func(ns *nstest.NS, cfg string) bool {
		st, err := Status(bin, ns, cfg)
		return err == nil && len(st.IPsecSAs) > 0 && st.IPsecSAs[0].CryptoMap == "CMAP/10"
	}
	nstest.WaitFor(t, 30*time.Second, "the A-B tunnel", func() bool { return up(nsA, cfgA) })
	nstest.WaitFor(t, 15*time.Second, "a ping through the A-B tunnel", func() bool {
		_, err := nsA.Output("ping", "-c", "1", "-W", "1", "-I", "10.1.0.1", "10.2.0.1")
		return err == nil
	})
	logBefore := strings.Count(hub.Output(), "\n")

	// The flood: one goroutine on its own thread, in A's namespace.
	var sent atomic.Uint64
	stop := make(chan struct{})
	floodDone := make(chan error, 1)
	go func() { floodDone <- flood(nsA.Name, netip.MustParseAddr("192.168.81.2"), rateLimit, stop, &sent) }()
	floodStart := time.Now()
	// A counted ping, one every 50 ms for the flood's length: it ends by
	// itself after waiting for the last replies, so none in flight at the
	// end counts as lost (an interrupted ping would count them).
	pings := int(floodFor / (50 * time.Millisecond))
	ping := nsA.Start(t, "ping", nil, "ping", "-c", strconv.Itoa(pings), "-i", "0.05", "-W", "2", "-I", "10.1.0.1", "10.2.0.1")

	time.Sleep(time.Second) // the flood is under way (not a wait for a state)
	// C's negotiation is timed from its first message (its log says
	// "initiating phase 1") to its IPsec SA: the daemon's own start-up on
	// a busy machine is not part of it.
	cStart := time.Now()
	spoke := nsC.Start(t, "tinyipsec-c", nil, bin, "run", "-c", cfgC)
	var cInit time.Time
	nstest.WaitFor(t, 30*time.Second, "spoke C's first message", func() bool {
		cInit = time.Now()
		return strings.Contains(spoke.Output(), "initiating phase 1")
	})
	nstest.WaitFor(t, 30*time.Second, "spoke C's IPsec SA during the flood", func() bool {
		return strings.Contains(spoke.Output(), "IPsec SA installed")
	})
	cUp := time.Since(cInit)
	cTotal := time.Since(cStart)
	nstest.WaitFor(t, 10*time.Second, "spoke C's tunnel in its status", func() bool { return up(nsC, cfgC) })

	if rest := floodFor - time.Since(floodStart); rest > 0 {
		time.Sleep(rest) // the flood's length is the test's parameter
	}
	close(stop)
	if err := <-floodDone; err != nil {
		t.Fatal(err)
	}
	floodTime := time.Since(floodStart)
	nstest.WaitFor(t, 60*time.Second, "the ping's last reply", ping.Exited)
	logLines := strings.Count(hub.Output(), "\n") - logBefore
	mem := nstest.ReadMemory(t, hub.PID())
	rss, peak := mem.RSS, mem.HWM
	drops := ""
	if out, err := nsB.Output(bin, "status", "-c", cfgB); err == nil {
		if m := regexp.MustCompile(`(?m)^IKE input dropped: .*$`).FindString(out); m != "" {
			drops = m
		}
		if m := regexp.MustCompile(`(?m)^Kernel drops.*$`).FindString(out); m != "" {
			drops += "; " + m
		}
	}
	rate := float64(sent.Load()) / floodTime.Seconds()
	perMinute := float64(logLines) / floodTime.Minutes()
	t.Logf("flood (rate limit %d/s, 0: none): %d forged MM1 in %v (%.0f/s); spoke C up %v after its first message (%v after its start); hub RSS %d KiB (peak %d KiB); %d log lines (%.0f/min); %s",
		rateLimit, sent.Load(), floodTime.Round(time.Millisecond), rate, cUp.Round(time.Millisecond), cTotal.Round(time.Millisecond), rss>>10, peak>>10, logLines, perMinute, drops)

	if cUp > 5*time.Second {
		t.Errorf("spoke C took %v from its first message to its IPsec SA during the flood (limit 5 s)", cUp)
	}
	checkNoLoss(t, ping.Output())
	if peak > 32<<20 {
		t.Errorf("hub peak RSS %d KiB, limit 32 MiB", peak>>10)
	}
	if perMinute > 100 {
		t.Errorf("hub wrote %d log lines in %v (%.0f a minute, limit 100):\n%s", logLines, floodTime, perMinute, hub.Output())
	}
}

// flood sends forged Main Mode first messages to dst:500 from random
// 198.18.0.0/15 sources through a raw socket in namespace ns until stop,
// rate a second (0: as fast as it can).
func flood(ns string, dst netip.Addr, rate int, stop <-chan struct{}, sent *atomic.Uint64) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return err
	}
	defer orig.Close()
	f, err := os.Open(filepath.Join("/run/netns", ns))
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW)
	if err2 := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err2 != nil {
		return err2
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)

	pols, err := ike.PoliciesFromConf(nil, false)
	if err != nil || len(pols) == 0 {
		pols = []ike.Policy{{Priority: 10, Cipher: ike.CipherAES, KeyBits: 128, Hash: ike.HashSHA256, Auth: ike.AuthPSK, Group: ike.GroupMODP2048, Lifetime: time.Hour}}
	}
	p, err := ike.NewInitiator(&ike.Phase1Config{Policies: pols, PSK: []byte("x"),
		Local: netip.MustParseAddrPort("198.18.0.1:500"), Remote: netip.AddrPortFrom(dst, 500)})
	if err != nil {
		return err
	}
	res, err := p.Start(time.Now())
	if err != nil {
		return err
	}
	mm1 := res.Send[0]
	pkt := make([]byte, 28+len(mm1))
	pkt[0], pkt[8], pkt[9] = 0x45, 64, unix.IPPROTO_UDP
	binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
	d := dst.As4()
	copy(pkt[16:20], d[:])
	binary.BigEndian.PutUint16(pkt[20:], 500)
	binary.BigEndian.PutUint16(pkt[22:], 500)
	binary.BigEndian.PutUint16(pkt[24:], uint16(8+len(mm1)))
	copy(pkt[28:], mm1)
	to := &unix.SockaddrInet4{Addr: d}
	var rnd [4096]byte
	start := time.Now()
	for i := 0; ; i++ {
		if rate > 0 && i%64 == 0 {
			// Paced: ahead of the schedule, wait for it.
			if ahead := time.Duration(float64(i)/float64(rate)*float64(time.Second)) - time.Since(start); ahead > 0 {
				time.Sleep(ahead)
			}
		}
		if i%256 == 0 {
			select {
			case <-stop:
				return nil
			default:
			}
			if _, err := rand.Read(rnd[:]); err != nil {
				return err
			}
		}
		r := rnd[(i%256)*16:]
		pkt[12], pkt[13], pkt[14], pkt[15] = 198, 18|r[0]&1, r[1], r[2]|1
		copy(pkt[28:36], r[4:12]) // the initiator cookie
		if err := unix.Sendto(fd, pkt, 0, to); err == nil {
			sent.Add(1)
		}
	}
}
