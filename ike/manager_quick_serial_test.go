package ike

import (
	"net/netip"
	"testing"
	"time"

	"tinyipsec/acl"
	"tinyipsec/conf"
)

// ourQuick is a Quick Mode of ours in progress, started at started, that
// offered ESP with spi.
func ourQuick(mid, spi uint32, started mono) *qmState {
	sa := &SA{Proposals: []Proposal{{Number: 1, Protocol: ProtoESP, SPI: spiBytes(spi)}}}
	return &qmState{q: &quickMode{initiator: true, mid: mid, started: started, ourSA: sa}}
}

// TestRefusedQuick: an error notify ends the Quick Mode whose offer it
// names by protocol and SPI, or without them the only one in progress when
// it refuses a proposal; an error about a message as such (strongSwan's
// answer to a retransmission it can no longer decrypt) ends none.
func TestRefusedQuick(t *testing.T) {
	now := monoNow()
	a, b := ourQuick(1, 0x1111, now), ourQuick(2, 0x2222, now)
	done := ourQuick(3, 0x3333, now)
	done.doneAt = now
	theirs := &qmState{q: &quickMode{mid: 4, started: now}} // the peer's Quick Mode
	cookies := string(make([]byte, 16))
	esp := func(typ uint16, spi uint32) peerNotify {
		return peerNotify{Type: typ, Protocol: ProtoESP, SPI: string(spiBytes(spi))}
	}
	isakmp := func(typ uint16) peerNotify { return peerNotify{Type: typ, Protocol: ProtoISAKMP, SPI: cookies} }
	for _, c := range []struct {
		name string
		qms  []*qmState
		e    peerNotify
		want *qmState
	}{
		{"SPI names one of two", []*qmState{a, b}, esp(NotifyNoProposalChosen, 0x2222), b},
		{"SPI of no exchange of ours", []*qmState{a, b}, esp(NotifyNoProposalChosen, 0x9999), nil},
		{"SPI of a completed exchange", []*qmState{a, done}, esp(NotifyInvalidIDInformation, 0x3333), nil},
		{"refusal without SPI, one in progress", []*qmState{a, done, theirs}, isakmp(NotifyNoProposalChosen), a},
		{"refusal without SPI, two in progress", []*qmState{a, b}, isakmp(NotifyInvalidIDInformation), nil},
		{"refusal with an empty SPI", []*qmState{b}, peerNotify{Type: NotifyNoProposalChosen}, b},
		{"PAYLOAD-MALFORMED", []*qmState{a}, isakmp(NotifyPayloadMalformed), nil},
		{"INVALID-PAYLOAD-TYPE", []*qmState{a}, isakmp(NotifyInvalidPayloadType), nil},
		{"INVALID-HASH-INFORMATION", []*qmState{a}, isakmp(NotifyInvalidHashInformation), nil},
		{"PAYLOAD-MALFORMED naming our SPI", []*qmState{a}, esp(NotifyPayloadMalformed, 0x1111), a},
		{"none in progress", []*qmState{done, theirs}, isakmp(NotifyNoProposalChosen), nil},
	} {
		sa := &ikeSA{qms: map[uint32]*qmState{}}
		for _, qs := range c.qms {
			sa.qms[qs.q.mid] = qs
		}
		if got := refusedQuick(sa, &c.e); got != c.want {
			t.Errorf("%s: refusedQuick = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestQuickSlotFree: a Quick Mode of ours waits while another of ours is
// in progress, unless that one has gone unanswered until its first
// retransmission; never more than two.
func TestQuickSlotFree(t *testing.T) {
	now := monoNow()
	fresh, stale, stale2 := ourQuick(1, 1, now.add(-time.Millisecond)), ourQuick(2, 2, now.add(-retxBase)), ourQuick(3, 3, now.add(-2*retxBase))
	done := ourQuick(4, 4, now)
	done.doneAt = now
	theirs := &qmState{q: &quickMode{mid: 5, started: now}}
	pending := &qmState{} // the peer's QM1 being computed
	for _, c := range []struct {
		name string
		qms  []*qmState
		want bool
	}{
		{"nothing in progress", nil, true},
		{"only completed and the peer's", []*qmState{done, theirs, pending}, true},
		{"one of ours in progress", []*qmState{fresh}, false},
		{"one of ours stuck", []*qmState{stale}, true},
		{"one stuck, one in progress", []*qmState{stale, fresh}, false},
		{"two stuck", []*qmState{stale, stale2}, false},
	} {
		sa := &ikeSA{qms: map[uint32]*qmState{}}
		for i, qs := range c.qms {
			sa.qms[uint32(100+i)] = qs
		}
		if got := quickSlotFree(sa, now); got != c.want {
			t.Errorf("%s: quickSlotFree = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestManagerQuickModesOneAtATime: three ACL lines come up with one Quick
// Mode of the initiator in progress at a time (each starts after the
// previous one's QM3), and all three pairs are installed on both ends.
func TestManagerQuickModesOneAtATime(t *testing.T) {
	rule := func(src, dst string) acl.Rule {
		return acl.Rule{Permit: true, Src: netip.MustParsePrefix(src), Dst: netip.MustParsePrefix(dst), SrcPorts: acl.AnyPort, DstPorts: acl.AnyPort}
	}
	lines := func(a, b string) func(cm *conf.CryptoMap) {
		return func(cm *conf.CryptoMap) {
			cm.ACL = &conf.ACL{Name: "vpn", Rules: []acl.Rule{
				rule(a+".1.0/24", b+".1.0/24"), rule(a+".2.0/24", b+".2.0/24"), rule(a+".3.0/24", b+".3.0/24")}}
		}
	}
	n, i, r := startPair(t, lines("10.1", "10.2"), lines("10.2", "10.1"))
	waitUntil(t, 20*time.Second, "three pairs on both ends", func() bool {
		return len(i.plane.live()) == 3 && len(r.plane.live()) == 3
	})
	ai := netip.MustParseAddr("192.0.2.1")
	n.mu.Lock()
	defer n.mu.Unlock()
	// The initiator's Quick Mode messages in the order sent: QM1 and QM3
	// of each exchange; another exchange's QM1 between them is an
	// overlap.
	open := map[uint32]int{} // message ID -> initiator messages sent
	var started []uint32
	for _, d := range n.log {
		if d.from != ai || d.exchange != ExchangeQuick {
			continue
		}
		if open[d.mid] == 0 {
			for mid, sent := range open {
				if sent == 1 {
					t.Fatalf("Quick Mode %#x started while %#x waited for its QM3", d.mid, mid)
				}
			}
			started = append(started, d.mid)
		}
		open[d.mid]++
	}
	if len(started) != 3 {
		t.Fatalf("%d Quick Modes started for three ACL lines", len(started))
	}
}
