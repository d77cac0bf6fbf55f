package ike

import (
	"bytes"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tinyipsec/conf"
)

// natNet is an in-memory network with a hub on a public address and
// spokes on private addresses behind one NAT (port-translating, like a
// masquerading router): the hub sees every spoke at natAddr, each from
// its own port.
type natNet struct {
	mu      sync.Mutex
	hub     *Manager
	hubAddr netip.Addr
	natAddr netip.Addr
	spokes  map[netip.Addr]*Manager
	out     map[netip.AddrPort]netip.AddrPort // private -> public
	in      map[netip.AddrPort]netip.AddrPort // public -> private
	next    uint16
	// deletes counts the Informational exchanges the hub sent to each
	// public address and port (Deletes, DPD).
	hubInfos map[netip.AddrPort]int
	// settled counts the hub's Config.Settled calls.
	settled atomic.Int32
}

type natSide struct {
	n       *natNet
	hub     bool
	crashed atomic.Bool // a crashed spoke sends nothing more
}

func (s *natSide) SendIKE(pkt []byte, local, remote netip.AddrPort) error {
	n := s.n
	if s.crashed.Load() {
		return nil
	}
	b := bytes.Clone(pkt)
	n.mu.Lock()
	if s.hub {
		if h, err := ParseHeader(pkt); err == nil && h.Exchange == ExchangeInformational {
			n.hubInfos[remote]++
		}
		priv, ok := n.in[remote]
		spoke := n.spokes[priv.Addr()]
		n.mu.Unlock()
		if ok && spoke != nil {
			go spoke.HandlePacket(b, priv, local)
		}
		return nil
	}
	pub, ok := n.out[local]
	if !ok {
		n.next++
		pub = netip.AddrPortFrom(n.natAddr, 20000+n.next)
		n.out[local], n.in[pub] = pub, local
	}
	hub := n.hub
	n.mu.Unlock()
	if remote.Addr() == n.hubAddr {
		go hub.HandlePacket(b, remote, pub)
	}
	return nil
}

func (s *natSide) SendKeepalive(local, remote netip.AddrPort) error { return nil }

// hubBehindNAT starts a hub with a dynamic crypto map and returns the
// network to add spokes to.
func hubBehindNAT(t *testing.T) (*natNet, *memEnd) {
	t.Helper()
	n := &natNet{hubAddr: netip.MustParseAddr("203.0.113.1"), natAddr: netip.MustParseAddr("198.51.100.7"),
		spokes: map[netip.Addr]*Manager{}, out: map[netip.AddrPort]netip.AddrPort{}, in: map[netip.AddrPort]netip.AddrPort{},
		hubInfos: map[netip.AddrPort]int{}}
	cfg := testConfig(n.hubAddr, netip.Addr{}, "10.200.0.0/16", "10.0.0.0/8", "never", func(cm *conf.CryptoMap) {
		cm.Peer, cm.PeerAddr, cm.Dynamic = "dynamic", netip.Addr{}, true
	})
	hub := &memEnd{plane: &memPlane{}}
	m, err := NewManager(Config{Conf: cfg, Transport: &natSide{n: n, hub: true}, DataPlane: hub.plane,
		Settled: func() { n.settled.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	hub.m, n.hub = m, m
	m.Start()
	return n, hub
}

// addSpoke starts spoke k (private address 192.168.0.k, protected subnet
// 10.k.0.0/16) with identity fqdn:spoke<k>.example.
func (n *natNet) addSpoke(t *testing.T, k int) *natSpoke {
	t.Helper()
	addr := netip.AddrFrom4([4]byte{192, 168, 0, byte(k)})
	cfg := testConfig(addr, n.hubAddr, fmt.Sprintf("10.%d.0.0/16", k), "10.200.0.0/16", "always", func(cm *conf.CryptoMap) {
		cm.LocalID = conf.Identity{Type: "fqdn", Value: fmt.Sprintf("spoke%d.example", k)}
	})
	e := &natSpoke{memEnd: memEnd{plane: &memPlane{}}, side: &natSide{n: n}}
	m, err := NewManager(Config{Conf: cfg, Transport: e.side, DataPlane: e.plane})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	e.m = m
	n.mu.Lock()
	n.spokes[addr] = m
	n.mu.Unlock()
	return e
}

// natSpoke is a spoke and its side of the NAT.
type natSpoke struct {
	memEnd
	side *natSide
}

// hubPeers returns, per authenticated identity, the hub's established IKE
// SAs, and whether any is marked as replaced by another.
func hubPeers(m *Manager) (byID map[string]int, replaced int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	byID = map[string]int{}
	for _, sa := range m.sas {
		if sa.out != nil && !sa.dead() {
			byID[sa.out.peer.String()]++
			if sa.replacedBy != nil {
				replaced++
			}
		}
	}
	return byID, replaced
}

// TestHubSpokesBehindOneNAT: twenty spokes behind one NAT address, each
// with its own identity and each sending INITIAL-CONTACT (none holds an SA
// with the hub), connect at once. All twenty come up on the hub and stay:
// one spoke's INITIAL-CONTACT clears nobody else's SAs nor negotiations,
// and no new IKE SA is taken for another identity's rekey. When one spoke
// restarts, INITIAL-CONTACT clears exactly its own old SAs, with Deletes.
func TestHubSpokesBehindOneNAT(t *testing.T) {
	if testing.Short() {
		t.Skip("timer-driven manager test: skipped in -short mode")
	}
	const spokes = 20
	n, hub := hubBehindNAT(t)
	ends := make([]*natSpoke, spokes)
	for k := range spokes {
		ends[k] = n.addSpoke(t, k+1)
	}
	for _, e := range ends {
		go e.m.Start()
	}
	waitUntil(t, 60*time.Second, "20 spokes up behind one NAT", func() bool {
		for _, e := range ends {
			if len(e.plane.live()) != 1 {
				return false
			}
		}
		return len(hub.plane.live()) == spokes
	})
	byID, replaced := hubPeers(hub.m)
	if len(byID) != spokes || replaced != 0 {
		t.Fatalf("hub IKE SAs by identity %v, %d marked as replaced", byID, replaced)
	}
	// The burst is over: the hub says so (the daemon then returns the
	// handshakes' garbage to the kernel).
	waitUntil(t, 5*time.Second, "the hub settled after the burst", func() bool { return n.settled.Load() > 0 })
	for id, k := range byID {
		if k != 1 {
			t.Errorf("identity %s has %d IKE SAs", id, k)
		}
	}
	// Each spoke's pair on the hub carries that spoke's subnet, to its
	// own NAT port.
	ports := map[uint16]bool{}
	for _, c := range hub.plane.live() {
		if c.Remote.Addr() != n.natAddr || ports[c.Remote.Port()] {
			t.Errorf("hub pair %s to %s: wrong or shared outer address", c.Selector, c.Remote)
		}
		ports[c.Remote.Port()] = true
	}

	// Spoke 7 crashes and reboots: a new manager with the same identity and address
	// (a fresh NAT mapping), no memory of its SAs, so it sends
	// INITIAL-CONTACT. The hub drops spoke 7's old SAs, tells the old
	// mapping with Deletes, and keeps everyone else.
	old := ends[6]
	var oldPub netip.AddrPort
	n.mu.Lock()
	for priv, pub := range n.out {
		if priv.Addr() == netip.AddrFrom4([4]byte{192, 168, 0, 7}) && priv.Port() == NATTPort {
			oldPub = pub
			delete(n.out, priv) // the NAT forgets the mapping: the new spoke gets a new port
		}
	}
	n.mu.Unlock()
	old.side.crashed.Store(true) // no Deletes from the crashed one
	infosBefore := n.infosTo(oldPub)
	ends[6] = n.addSpoke(t, 7)
	ends[6].m.Start()
	waitUntil(t, 30*time.Second, "the restarted spoke up again and its old SAs gone", func() bool {
		byID, _ := hubPeers(hub.m)
		return len(ends[6].plane.live()) == 1 && byID[`"spoke7.example"`] == 1 && len(hub.plane.live()) == spokes
	})
	byID, replaced = hubPeers(hub.m)
	if len(byID) != spokes || replaced != 0 {
		t.Fatalf("after spoke 7's restart: hub IKE SAs by identity %v, %d marked as replaced", byID, replaced)
	}
	if n.infosTo(oldPub) == infosBefore {
		t.Error("the hub cleared spoke 7's old SAs without sending Delete")
	}
	for k, e := range ends {
		if len(e.plane.live()) != 1 {
			t.Errorf("spoke %d lost its pair", k+1)
		}
	}
}

func (n *natNet) infosTo(ap netip.AddrPort) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.hubInfos[ap]
}
