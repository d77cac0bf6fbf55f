package ike

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"tinyipsec/acl"
	"tinyipsec/conf"
	"tinyipsec/internal/algo"
	"tinyipsec/internal/logx"
	"tinyipsec/internal/netif"
)

// The SA manager: it owns every IKE SA and Quick Mode in progress, feeds
// them the datagrams the socket layer hands in, runs the timers
// (retransmission, rekeying, expiry, DPD, NAT-T keepalives), and installs
// finished IPsec SA pairs into the data plane. The exchanges themselves
// are the pure state machines in phase1*.go / quick.go / info.go.
//
// Everything runs under one mutex: IKE traffic is a handful of packets per
// minute, and a single lock keeps the lifecycle easy to reason about.

// Transport sends IKE datagrams; *tun.UDP implements it (it adds the
// non-ESP marker on port 4500).
type Transport interface {
	SendIKE(pkt []byte, local, remote netip.AddrPort) error
	SendKeepalive(local, remote netip.AddrPort) error
}

// ChildHandle is the data plane's reference to an installed pair.
type ChildHandle any

// DataPlane installs negotiated IPsec SA pairs. The daemon adapts
// *esp.Engine to it. InstallChild must copy the keys: the manager wipes
// its copies afterwards.
type DataPlane interface {
	InstallChild(c *ChildSA) (ChildHandle, error)
	RemoveChild(h ChildHandle)
}

// InboundCounter is optionally implemented by a DataPlane: how many
// packets an installed pair has accepted so far. DPD treats arriving ESP
// as a sign of life, so a tunnel that carries traffic is not probed
// (RFC 3706 section 5.5: R-U-THERE only after an idle period).
type InboundCounter interface {
	PacketsIn(h ChildHandle) uint64
}

// OutboundHolder is optionally implemented by a DataPlane: a ChildSA with
// HoldOutbound set is installed for inbound traffic only, until
// ReleaseOutbound. As Quick Mode responder the manager installs a pair
// when it sends the second message, because the initiator may send on
// the new SA as soon as it has that message, and releases the outbound
// half when the initiator's third message shows it installed the SA too.
// Without it the pair is installed at the third message (a packet or two
// may be lost at each rekey the peer starts).
//
// As initiator of a rekey the manager holds the outbound half of the new
// pair too, until a packet arrives on it or initiatorHold has passed: a
// responder may install the SA only when our third message arrives
// (strongSwan does), and traffic on the new SA before that is lost. The
// old pair carries the traffic meanwhile.
type OutboundHolder interface {
	ReleaseOutbound(h ChildHandle)
}

// ChildKeys are one direction of one protocol of a negotiated SA pair.
type ChildKeys struct {
	SPI     uint32
	EncKey  []byte // ESP cipher key (with the 4-byte salt for AEAD)
	AuthKey []byte // HMAC key
}

// ChildSA is a negotiated IPsec SA pair for the data plane. "In" is what
// the peer sends to us.
type ChildSA struct {
	CryptoMap *conf.CryptoMap
	// Rule is the crypto ACL line (index into the ACL's rules) whose
	// traffic the pair carries: one IPsec SA per permit line.
	Rule     int
	Local    netip.AddrPort // outer addresses; the ports matter with Encap
	Remote   netip.AddrPort
	Encap    bool // ESP in UDP (RFC 3948)
	Mode     conf.Mode
	Selector acl.Selector

	// Protocol is "esp", "ah" or "ah+esp".
	Protocol    string
	Encryption  algo.Cipher // ESP cipher, CipherNone for AH only
	Integrity   algo.Hash   // ESP integrity, HashNone for AEAD
	AHIntegrity algo.Hash   // AH algorithm

	ESPIn, ESPOut ChildKeys
	AHIn, AHOut   ChildKeys

	Lifetime   time.Duration
	LifetimeKB uint64
	ESN        bool
	PFSGroup   algo.Group

	// HoldOutbound: install the inbound half only (see OutboundHolder).
	HoldOutbound bool
}

// Config configures a Manager.
type Config struct {
	Conf      *conf.Config
	Transport Transport
	DataPlane DataPlane
	Log       *logx.Logger
	// RemoteAccess applies Mode-Config leases of client maps (nil: only
	// the manager's own state changes, as in tests).
	RemoteAccess RemoteAccessHost
	// MaxHalfOpen bounds the responder's phase 1 negotiations whose peer
	// proved its address (MM3 echoed our cookie); beyond it a new one
	// waits for its peer's retransmission (default 256). See
	// manager_halfopen.go.
	MaxHalfOpen int
	// HalfOpenMemory bounds the memory of unproven Main Mode responders
	// in bytes (default 4 MiB, about 15,000 of them).
	HalfOpenMemory int
	// HalfOpenPerSource bounds the unproven, and the proven, responder
	// negotiations from one address (default 64).
	HalfOpenPerSource int
	// Settled, if set, is called from the manager's timer (with the
	// manager locked: it must not block or call back) when no negotiation
	// is in progress any more after SAs were established or removed: the
	// moment to give the garbage of the handshakes back to the kernel.
	Settled func()
}

// Timing of the manager. Variables so that tests may shorten them.
var (
	tickInterval     = 200 * time.Millisecond
	retxBase         = 2 * time.Second // first retransmission; doubles each time
	retxLimit        = 5               // retransmissions before giving up
	initiateBackoff  = 5 * time.Second // pause before retrying a failed map; doubles per failure
	maxBackoff       = 5 * time.Minute
	childRekeyMargin = 0.85            // initiator rekeys at this fraction of the lifetime
	rekeyGrace       = 3 * time.Second // old pair kept after make-before-break
	halfOpenTimeout  = 30 * time.Second
	initiatorHold    = time.Second // see OutboundHolder
)

// Manager runs IKEv1 for the crypto maps with keying "isakmp".
type Manager struct {
	// mu guards every field below it and all the state they reach: the
	// IKE SAs (their life, phase 1 and Quick Mode exchanges, children,
	// timers), the map states, the orphans, the half-open pool and the
	// cookie secret. Each entry point takes it for its whole run:
	// HandlePacket, Acquire, Expired, the timer tick, Reload, Status,
	// ExportIKEKeys, Start and Close; so a handler sees one consistent
	// manager and needs no finer locking.
	//
	// What must not run under mu: work of milliseconds, which would hold
	// up every peer's datagrams, the timers and status. A phase 1 step
	// (Diffie-Hellman, signatures, certificate checks) runs outside it
	// (manager_compute.go): the SA is busy and its state machine belongs
	// to the computation until the outcome is applied under mu again.
	// Certificates are parsed once per map, not per phase 1
	// (mapState.credentials). (The exception left: a gateway's bcrypt
	// check of an XAUTH password, raGatewayVerify, runs under mu.)
	// Nothing under mu blocks: calls out of the
	// manager are made with mu held and must return at once and never
	// call back into the Manager: Transport (SendIKE, SendKeepalive:
	// datagrams), DataPlane (InstallChild, RemoveChild, PacketsIn),
	// RemoteAccessHost and Config.Settled.
	mu  sync.Mutex
	cfg Config
	log *logx.Logger
	// holder and counter are cfg.DataPlane's optional interfaces, nil
	// when it lacks them: asserted once here, not at each use (flash).
	holder  OutboundHolder
	counter InboundCounter
	maps    []*mapState
	sas     []*ikeSA
	used    map[uint32]bool // inbound SPIs handed out

	tickIdx tickIndex // tickMaps' scratch (manager_timers.go)

	halfOpen *halfOpenPool // unproven Main Mode responders
	cookies  cookieJar     // our responder cookies
	drops    dropLog       // counters and log rate limits of dropped input
	compute  computations  // phase 1 steps running outside mu
	// inlineCompute: compute phase 1 steps under mu (benchmarks only).
	inlineCompute bool

	// timers orders the SAs by their next due timer (manager_timerq.go);
	// tickNow is the time of the tick in progress, zero outside ticks.
	timers  timerQueue
	tickNow mono

	// orphans are IPsec SA pairs whose IKE SA is gone, waiting for the
	// next one with their peer (manager_orphan.go); orphanDue paces
	// their timers.
	orphans   []*orphan
	orphanDue mono
	graves    []*ikeSA

	closed  bool
	started bool
	stop    chan struct{}
	done    chan struct{}

	settle settleState // manager_settle.go

	// shed remembers the first messages shed under load (it has its own
	// lock: the socket readers use it without mu; manager_inbound.go).
	shed shedMemory
}

// MarshalText is the crypto map's ID: log lines take the *mapState
// ("crypto_map", ms), a pointer that goes into their ...any as it is,
// instead of building and boxing the ID string at every call site; logx
// writes it by MarshalText, when the line is written (flash).
func (ms *mapState) MarshalText() ([]byte, error) { return []byte(ms.cm.ID()), nil }

// mapState is the manager's view of one crypto map entry.
type mapState struct {
	cm       *conf.CryptoMap
	acl      *acl.List
	rules    []proxyRule // one IPsec SA per permit line, as IOS does
	nextTry  mono
	failures int // consecutive failed attempts, for the backoff
	// p1Failures are the last failed phase 1 attempts, one per peer address,
	// oldest first, shown by status until an IKE SA with that peer is up
	// again. A dynamic map serves many spokes, and one spoke failing must
	// not hide another's failure, nor another's success clear it; at most
	// maxFailuresShown are kept, since unauthenticated peers cause them.
	p1Failures []*phase1Failure
	// wanted are the ACL lines that traffic is waiting for (on-traffic);
	// with initiate = always every line is wanted.
	wanted map[int]bool

	// Remote access. A client map's rules and acl come from raLease, what
	// the gateway assigned; the address survives rekeys and reconnects.
	// raRefused: the gateway refused our password; no retry until reload.
	// A gateway map's poolOwner says which client holds which address.
	raLease   *Lease
	raApplied bool // raLease is on the TUN, in the routes and the ACL
	raRefused bool
	poolOwner map[netip.Addr]string

	// creds and credsErr: the map's certificate credentials, parsed once
	// (manager_phase1.go).
	creds    *Credentials
	credsErr error
}

// proxyRule is an ACL permit line and the proxy ID it stands for.
type proxyRule struct {
	_     [0]func() // not comparable: no generated == function (flash)
	index int
	sel   acl.Selector
}

// NewManager prepares the manager; Start runs its timers.
func NewManager(c Config) (*Manager, error) {
	if c.Conf == nil || c.Transport == nil || c.DataPlane == nil {
		return nil, errors.New("ike: manager needs a configuration, a transport and a data plane")
	}
	if c.Log == nil {
		c.Log = logx.Discard()
	}
	if c.MaxHalfOpen <= 0 {
		c.MaxHalfOpen = defaultMaxHalfOpen
	}
	if c.HalfOpenMemory <= 0 {
		c.HalfOpenMemory = defaultHalfOpenMemory
	}
	if c.HalfOpenPerSource <= 0 {
		c.HalfOpenPerSource = defaultHalfOpenPerSource
	}
	m := &Manager{cfg: c, log: c.Log, used: map[uint32]bool{}, stop: make(chan struct{}), done: make(chan struct{}),
		halfOpen: &halfOpenPool{budget: c.HalfOpenMemory, perSource: c.HalfOpenPerSource, entries: map[hoKey]*hoEntry{}, bySource: map[netip.Addr][]hoKey{}}}
	m.holder, _ = c.DataPlane.(OutboundHolder)
	m.counter, _ = c.DataPlane.(InboundCounter)
	m.cookies.rotate(monoNow())
	for _, cm := range c.Conf.CryptoMaps {
		if !cm.IKEKeyed() {
			continue
		}
		push(&m.maps, newMapState(cm))
	}
	return m, nil
}

// Start runs the timer goroutine; initiate = "always" maps start at once.
func (m *Manager) Start() {
	m.mu.Lock()
	if !m.started && !m.closed {
		m.started = true
		m.prepareKeys()
		// The timers, until Close (a closure: `go m.run()` would add a
		// wrapper function; flash).
		go func() {
			t := time.NewTicker(tickInterval)
			m.tick(monoNow())
			for running := true; running; {
				select {
				case <-m.stop:
					running = false
				case <-t.C:
					m.tick(monoNow())
				}
			}
			t.Stop()
			close(m.done)
		}()
	}
	m.mu.Unlock()
}

// prepareKeys has the pool make the DH keys the configuration will
// take: the ISAKMP policies' groups (Main Mode in both roles, Aggressive
// Mode) and PFS groups, dh_keys_ready of each (m.mu held).
func (m *Manager) prepareKeys() {
	var groups []Group
	for _, p := range m.cfg.Conf.Policies {
		groups = append(groups, Group(p.Group))
	}
	for _, ms := range m.maps {
		if ms.cm.PFS != 0 {
			groups = append(groups, Group(ms.cm.PFS))
		}
	}
	dhKeys.prepare(m.cfg.Conf.Global.DHKeysReady, groups...)
}

// Close sends Delete for every SA, removes the pairs from the data plane
// and stops the timers.
func (m *Manager) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	// deleteIKE removes each SA from m.sas: walk a copy.
	for _, sa := range snapshot(m.sas) {
		m.deleteIKE(sa, true, "shutdown")
	}
	m.sas = nil
	for _, o := range m.orphans {
		m.dropOrphan(o)
	}
	m.orphans = nil
	m.buryGraves(0, true)
	started := m.started
	m.mu.Unlock()
	close(m.stop)
	if started {
		<-m.done
	}
}

// Acquire asks for an SA for the crypto map with this ID ("name/seq"):
// the data plane calls it when traffic matches an entry without an SA.
// pkt (may be nil) picks the ACL line, and is not retained. It does not
// block.
func (m *Manager) Acquire(cryptoMapID string, pkt []byte) {
	// Reload replaces m.maps under m.mu, so the look-up happens there, in
	// the goroutine; the packet is copied because the caller reuses it.
	//
	// The goroutine is a closure without arguments, locked in its own
	// body: `go m.f(args)` would add a wrapper function, and a shared
	// "run f under the lock" helper another closure (flash). It unlocks
	// without defer, as the manager does elsewhere: a deferred call costs
	// its own wrapper function and a call at every return, and nothing
	// recovers from a panic with the lock held.
	pkt = bytes.Clone(pkt)
	go func() {
		m.mu.Lock()
		for _, ms := range m.maps {
			if m.closed || ms.cm.ID() != cryptoMapID || ms.cm.Initiate == conf.InitiateNever || ms.cm.Dynamic {
				continue
			}
			// The ACL line the packet belongs to: the first permit line
			// that matches it, the first line when pkt is nil or
			// unparsable; none when the map has none. Rules go by
			// pointer: a proxyRule is 16 words on 32-bit routers, copied
			// at every call (flash).
			if len(ms.rules) > 0 {
				r := &ms.rules[0]
				for i := 0; pkt != nil && i < len(ms.rules); i++ {
					if ms.rules[i].sel.MatchesPacket(pkt, false) {
						r = &ms.rules[i]
						break
					}
				}
				var sa *ikeSA // the first the map may use
				for _, s := range m.sas {
					if ms.mayUse(s) {
						sa = s
						break
					}
				}
				m.initiateRule(ms, r, sa, monoNow())
			}
			break
		}
		m.mu.Unlock()
	}()
}

// Expired is the data plane's report that a pair reached its soft limit
// (traffic volume: rekey now) or its hard limit (it is gone: forget it and
// tell the peer). It does not block.
func (m *Manager) Expired(h ChildHandle, hard bool) {
	go func() { // as in Acquire
		m.mu.Lock()
		now := monoNow()
		var o *orphan // the pair's, if its IKE SA is gone
		oi := 0
		for i, x := range m.orphans {
			if x.c.handle == h {
				o, oi = x, i
				break
			}
		}
		if m.closed {
			// Nothing to do: Close deleted every SA.
		} else if o != nil {
			// No IKE SA to rekey on: a hard limit removes the pair, a
			// soft one brings the rekey forward (manager_orphan.go).
			if hard {
				m.log.Info("IPsec SA reached its hard lifetime", "crypto_map", o.c.ms, "peer", &o.remote)
				m.dropOrphan(o)
				m.orphans[oi] = nil
				m.orphans = withoutNil(m.orphans)
			} else if o.c.rekeyAt > now {
				o.c.rekeyAt, m.orphanDue = now, 0
			}
		} else {
		search:
			for _, sa := range m.sas {
				for _, c := range sa.children {
					if c.handle != h {
						continue
					}
					if hard {
						m.log.Info("IPsec SA reached its hard lifetime", "crypto_map", c.ms, "peer", &sa.remote)
						m.removeChild(sa, c, true)
					} else if !c.rekeying && c.removeAt == 0 && !sa.negotiating() {
						m.log.Info("rekeying IPsec SA (volume lifetime)", "crypto_map", c.ms, "peer", &sa.remote)
						// Due now: should the start wait for its PFS key or
						// for another Quick Mode, the timer's rekey check
						// starts it.
						c.rekeyAt = now
						if via := rekeyVia(sa); via != nil && quickSlotFree(via, now) {
							m.startQuick(via, c.ms, &c.rule, c, now)
						} else {
							m.schedule(sa, now)
						}
					}
					break search
				}
			}
		}
		m.mu.Unlock()
	}()
}

// reserveSPI returns a fresh random inbound SPI (values below 256 are
// reserved, RFC 4303) for the Quick Mode qs: the SPI stays reserved until
// the exchange ends, and afterwards only if a pair installed from it owns
// the SPI (installChild, dropQM, removeSA). Called with m.mu held.
func (m *Manager) reserveSPI(qs *qmState) uint32 {
	for {
		s := rand.Uint32()
		if s >= 256 && !m.used[s] {
			m.used[s] = true
			push(&qs.spis, s)
			return s
		}
	}
}

// releaseSPIs gives back the SPIs qs reserved, except those in keep (now
// owned by an installed pair, released when it is removed).
func (m *Manager) releaseSPIs(qs *qmState, keep ...uint32) {
	for _, s := range qs.spis {
		if !slices.Contains(keep, s) {
			delete(m.used, s)
		}
	}
	qs.spis = nil
}

// localAddrFor finds the source address the kernel would use towards
// remote (a connected UDP socket sends nothing).
func localAddrFor(cm *conf.CryptoMap, remote netip.Addr) (local netip.Addr, err error) {
	if cm.Local.IsValid() {
		return cm.Local, nil
	}
	// A connected UDP socket, as net.DialUDP would make, with the system
	// calls themselves: net's dialer is linked for nothing else (flash).
	// Package syscall's calls, which net links anyway: x/sys/unix's
	// Getsockname brought its own sockaddr decoder (4 KB). local stays
	// zero until the end: the error returns share it (flash).
	var family int
	var to syscall.Sockaddr
	if r := remote.Unmap(); r.Is4() {
		family, to = syscall.AF_INET, &syscall.SockaddrInet4{Port: IKEPort, Addr: r.As4()}
	} else {
		sa := &syscall.SockaddrInet6{Port: IKEPort, Addr: remote.As16()}
		if z := remote.Zone(); z != "" {
			i, err := netif.Index(z)
			if err != nil {
				return local, err
			}
			sa.ZoneId = uint32(i)
		}
		family, to = syscall.AF_INET6, sa
	}
	fd, err := syscall.Socket(family, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return local, os.NewSyscallError("socket", err)
	}
	var name syscall.Sockaddr
	op := "connect"
	if err = syscall.Connect(fd, to); err == nil {
		op = "getsockname"
		name, err = syscall.Getsockname(fd)
	}
	syscall.Close(fd) // not deferred: a deferred call costs a wrapper function (flash)
	if err != nil {
		return local, os.NewSyscallError(op, err)
	}
	switch a := name.(type) {
	case *syscall.SockaddrInet4:
		return netip.AddrFrom4(a.Addr), nil
	case *syscall.SockaddrInet6:
		return netip.AddrFrom16(a.Addr).Unmap(), nil
	}
	return local, errors.New("ike: no local address towards " + remote.String())
}

// failed records a failed attempt: the next one waits, twice as long
// after each failure in a row (at most maxBackoff), so that a peer with a
// different key or policy is not flooded.
func (ms *mapState) failed(now mono) {
	d := initiateBackoff << min(ms.failures, 6)
	ms.nextTry = now + mono(min(d, maxBackoff))
	ms.failures++
}

// phase1Failure is a failed phase 1 as status shows it.
type phase1Failure struct {
	_             [0]func() // not comparable: no generated == function (flash)
	peer, local   string
	initiator     bool
	state, reason string
	at            mono
}

// maxFailuresShown bounds the failures status shows per crypto map.
const maxFailuresShown = 16

// noteFailure records f as its peer's last failure on the map.
func (ms *mapState) noteFailure(f *phase1Failure) {
	ms.clearFailure(f.peer)
	if len(ms.p1Failures) >= maxFailuresShown {
		ms.p1Failures = append(ms.p1Failures[:0], ms.p1Failures[1:]...)
	}
	push(&ms.p1Failures, f)
}

// clearFailure forgets the failure of peer, if any.
func (ms *mapState) clearFailure(peer string) {
	for i, f := range ms.p1Failures {
		if f.peer == peer {
			ms.p1Failures[i] = nil
		}
	}
	ms.p1Failures = withoutNil(ms.p1Failures)
}

// failureOf returns peer's recorded failure, or nil.
func (ms *mapState) failureOf(peer string) *phase1Failure {
	for _, f := range ms.p1Failures {
		if f.peer == peer {
			return f
		}
	}
	return nil
}

// hostIs reports whether endpoint ap is at address a. Both go by
// pointer: on 32-bit routers an AddrPort is six words and an Addr five,
// and ap.Addr() == a copied them at every site (flash).
func hostIs(ap *netip.AddrPort, a *netip.Addr) bool { return ap.Addr() == *a }

// sameHost reports whether two endpoints have the same address.
func sameHost(a, b *netip.AddrPort) bool { return a.Addr() == b.Addr() }

// setPort moves endpoint ap to another port of its address, in place
// (x = netip.AddrPortFrom(x.Addr(), port) copied the six words three
// times at each site; flash).
func setPort(ap *netip.AddrPort, port uint16) { *ap = netip.AddrPortFrom(ap.Addr(), port) }

// rekeyAfter is how long after its start an SA of lifetime lt is
// rekeyed: at childRekeyMargin of it by the initiator, at 0.92 by the
// responder (the initiator normally rekeys first), reduced by up to 5 %
// at random, so that both ends (and many SAs) do not rekey in the same
// instant.
func rekeyAfter(lt time.Duration, initiator bool) time.Duration {
	margin := childRekeyMargin
	if !initiator {
		margin = 0.92
	}
	d := time.Duration(float64(lt) * margin)
	// Uint64 modulo rather than Int64N: the bias is negligible at these
	// sizes, and Int64N linked its own bounded-random code (flash).
	return d - time.Duration(rand.Uint64()%uint64(d/20+1))
}
