package esp

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"

	"tinyipsec/acl"
)

// hubSel is the hub's view of a spoke's negotiated selector: local
// 10.1.0.0/16 behind the hub, remote the spoke's prefix.
func hubSel(remote string) acl.Selector {
	return acl.Selector{Local: netip.MustParsePrefix("10.1.0.0/16"), Remote: netip.MustParsePrefix(remote),
		LocalPorts: acl.AnyPort, RemotePorts: acl.AnyPort}
}

// selOut sends one packet per destination through a fresh outbound loop
// and returns the SPI each left with (0: not sent).
func selOut(e *Engine, snd *engSender, dsts ...[4]byte) []uint32 {
	ol := newOutLoop(e)
	var spis []uint32
	for _, d := range dsts {
		before := len(snd.packets())
		ol.one(engPacket(d, 30, false))
		got := snd.packets()
		if len(got) == before {
			spis = append(spis, 0)
			continue
		}
		spis = append(spis, binary.BigEndian.Uint32(got[len(got)-1][20:]))
	}
	return spis
}

func installSel(t *testing.T, e *Engine, spi uint32, sel acl.Selector) *Pair {
	t.Helper()
	out, _ := engSAs(t, spi)
	p, err := e.InstallPairFor("vpn/10", nil, out, PairInfo{ForRule: true, Rule: 0, Traffic: sel})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func wantSPIs(t *testing.T, what string, got []uint32, want ...uint32) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: SPIs %x, want %x", what, got, want)
	}
}

// TestSelectorChoice: on one ACL line (a hub's dynamic map), each packet
// takes the pair whose negotiated selectors contain it, never merely the
// newest pair of the line; most specific first; during a rekey the newest
// pair of the same selectors; no matching pair means waiting for an SA,
// not another spoke's SA.
func TestSelectorChoice(t *testing.T) {
	dev, snd := &engDevice{}, &engSender{keep: true}
	acquired := 0
	e := newEngTest(t, dev, snd, EngineConfig{Acquire: func(string, []byte) { acquired++ }})
	spoke1, spoke2, other := [4]byte{10, 2, 0, 1}, [4]byte{10, 2, 0, 2}, [4]byte{10, 2, 0, 3}

	p1 := installSel(t, e, 0xc101, hubSel("10.2.0.1/32"))
	installSel(t, e, 0xc102, hubSel("10.2.0.2/32"))
	wantSPIs(t, "two spokes", selOut(e, snd, spoke1, spoke2, spoke1), 0xc101, 0xc102, 0xc101)

	// A third spoke without SA: its packet waits (and asks for an SA), it
	// does not leave on the newest pair of the line.
	wantSPIs(t, "spoke without SA", selOut(e, snd, other), 0)
	if w := e.Stats().Entries[0].Waiting; w != 1 || acquired != 1 {
		t.Fatalf("waiting %d, acquire calls %d", w, acquired)
	}
	// A wider pair (the whole /16) arrives: the waiting packet leaves on
	// it, and the /32 pairs keep their own traffic although it is newer.
	wide := installSel(t, e, 0xc200, hubSel("10.2.0.0/16"))
	got := snd.packets()
	if spi := binary.BigEndian.Uint32(got[len(got)-1][20:]); spi != 0xc200 || e.Stats().Entries[0].Waiting != 0 {
		t.Fatalf("queued packet left with %x", spi)
	}
	wantSPIs(t, "with a wider pair", selOut(e, snd, spoke1, spoke2, other), 0xc101, 0xc102, 0xc200)

	// Rekey of spoke 1: the new pair of the same selectors takes over at
	// once; the old one stays for inbound only.
	out1b, _ := engSAs(t, 0xc111)
	p1b, err := e.Replace(p1, nil, out1b, PairInfo{})
	if err != nil {
		t.Fatal(err)
	}
	wantSPIs(t, "after rekey", selOut(e, snd, spoke1, spoke2), 0xc111, 0xc102)
	for _, ps := range e.Stats().Pairs {
		if ps.Traffic == nil {
			t.Fatal("pair lost its selector in status")
		}
	}
	if p1.ent.current(p1) || !p1b.ent.current(p1b) || !wide.ent.current(wide) {
		t.Fatal("current: the rekeyed pair should be the only one shadowed")
	}
	e.Remove(p1)
	wantSPIs(t, "old pair removed", selOut(e, snd, spoke1), 0xc111)
	// Spoke 1 gone: its traffic falls to the wider pair, which contains it.
	e.Remove(p1b)
	wantSPIs(t, "spoke 1 gone", selOut(e, snd, spoke1), 0xc200)
	e.Remove(wide)
	wantSPIs(t, "only spoke 2 left", selOut(e, snd, spoke1, spoke2), 0, 0xc102)
}

// TestSelectorProtocolFirst: with equal prefixes, a selector for one
// protocol and port wins over "any", even when the "any" pair is newer.
func TestSelectorProtocolFirst(t *testing.T) {
	dev, snd := &engDevice{}, &engSender{keep: true}
	e := newEngTest(t, dev, snd, EngineConfig{})
	udp := hubSel("10.2.0.2/32")
	udp.Proto, udp.RemotePorts = acl.ProtoUDP, acl.PortRange{Lo: 5678, Hi: 5678} // engPacket's destination port
	installSel(t, e, 0xc122, udp)
	installSel(t, e, 0xc102, hubSel("10.2.0.2/32"))
	wantSPIs(t, "udp/5678", selOut(e, snd, [4]byte{10, 2, 0, 2}), 0xc122)
	tcp := hubSel("10.2.0.2/32")
	tcp.Proto = acl.ProtoTCP
	installSel(t, e, 0xc123, tcp)
	wantSPIs(t, "tcp pair does not take udp", selOut(e, snd, [4]byte{10, 2, 0, 2}), 0xc122)
}

// countingSel counts MatchesPacket calls.
type countingSel struct {
	acl.Selector
	calls *int
}

func (c countingSel) MatchesPacket(pkt []byte, inbound bool) bool {
	*c.calls++
	return c.Selector.MatchesPacket(pkt, inbound)
}

// TestSelectorManyPairsCheap: with 500 spokes on one line the outbound
// path looks at one candidate per packet (an index, not a scan over the
// pairs) and allocates nothing.
func TestSelectorManyPairsCheap(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation allocates")
	}
	dev, snd := &engDevice{}, &engSender{}
	e := newEngTest(t, dev, snd, EngineConfig{})
	calls := 0
	for i := range 500 {
		sel := hubSel(fmt.Sprintf("10.2.%d.%d/32", i/250, i%250+1))
		out, _ := engSAs(t, 0xd000+uint32(i))
		if _, err := e.InstallPairFor("vpn/10", nil, out, PairInfo{ForRule: true, Traffic: countingSel{sel, &calls}}); err != nil {
			t.Fatal(err)
		}
	}
	ol := newOutLoop(e)
	pkt := engPacket([4]byte{10, 2, 1, 7}, 100, false) // spoke 257
	calls = 0
	ol.one(pkt)
	if spi := binary.BigEndian.Uint32(snd.last[20:]); spi != 0xd000+256 || calls != 1 {
		t.Fatalf("sent on %x after %d selector checks", spi, calls)
	}
	if a := testing.AllocsPerRun(100, func() {
		ol.one(pkt)
	}); a != 0 {
		t.Fatalf("outbound with 500 selector pairs: %v allocs/op", a)
	}
}

// TestSelIndexIPv6: the index serves IPv6 destinations by their own prefix
// lengths and never mixes the families.
func TestSelIndexIPv6(t *testing.T) {
	mk := func(remote string) *Pair {
		s := acl.Selector{Local: netip.MustParsePrefix("fd00:1::/48"), Remote: netip.MustParsePrefix(remote),
			LocalPorts: acl.AnyPort, RemotePorts: acl.AnyPort}
		return &Pair{sel: s, Info: PairInfo{Traffic: s}}
	}
	a, b := mk("fd00:2::/64"), mk("fd00:2::5/128")
	var ix *selIndex
	ix = ix.with(a).with(b).with(&Pair{sel: hubSel("10.2.0.0/16")})
	pkt := udpPacket(true, 64, netip.MustParseAddr("fd00:1::1"), netip.MustParseAddr("fd00:2::5"))
	if got := ix.lookup(pkt); got != b {
		t.Fatal("fd00:2::5 should take the /128 pair")
	}
	pkt = udpPacket(true, 64, netip.MustParseAddr("fd00:1::1"), netip.MustParseAddr("fd00:2::6"))
	if got := ix.lookup(pkt); got != a {
		t.Fatal("fd00:2::6 should take the /64 pair")
	}
	if ix = ix.without(b); ix.lookup(udpPacket(true, 64, netip.MustParseAddr("fd00:1::1"), netip.MustParseAddr("fd00:2::5"))) != a {
		t.Fatal("after removing the /128 pair its traffic should take the /64 one")
	}
	if ix.lookup(udpPacket(false, 64, netip.MustParseAddr("10.1.0.1"), netip.MustParseAddr("10.3.0.1"))) != nil {
		t.Fatal("10.3.0.1 matches no pair")
	}
}

// BenchmarkSelectorLookup measures the outbound choice among n pairs
// beside the choice with a single entry-wide pair (the baseline).
func BenchmarkSelectorLookup(b *testing.B) {
	pkt := engPacket([4]byte{10, 2, 0, 77}, 100, false)
	b.Run("entry-wide", func(b *testing.B) {
		ent := &entry{}
		ent.out.Store(&Pair{})
		for b.Loop() {
			if ent.lookup(0, pkt) == nil {
				b.Fatal("no pair")
			}
		}
	})
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("selectors-%d", n), func(b *testing.B) {
			ent := &entry{}
			var ix *selIndex
			for i := range n {
				ix = ix.with(&Pair{sel: hubSel(fmt.Sprintf("10.2.%d.%d/32", i/100, 77+i%100))})
			}
			ent.sel.Store(ix)
			for b.Loop() {
				if ent.lookup(0, pkt) == nil {
					b.Fatal("no pair")
				}
			}
		})
	}
}
