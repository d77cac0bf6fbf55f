package ike

import (
	"net/netip"
	"time"

	"tinyipsec/acl"
)

// p1Outcome is an established phase 1.
type p1Outcome struct {
	_        [0]func() // not comparable: no generated == function (flash)
	sec      *p1Secrets
	lifetime time.Duration

	exchange   string // main | aggressive
	encryption string
	hash       string
	group      int
	auth       string // pre-share | rsa-sig | ecdsa-sig

	natDetected    bool        // any NAT between us (ESP goes in UDP)
	behindNAT      bool        // we are behind a NAT (we send keepalives)
	natt           NATTVariant // which NAT-T flavour was agreed
	peerUnity      bool        // the peer announced Cisco Unity
	peerDPD        bool        // the peer announced DPD
	initialContact bool        // the peer sent INITIAL-CONTACT
	// peer is the identity the peer authenticated with (manager_peer.go).
	peer peerIdentity
}

// retx is the retransmission state of the last request we sent.
type retx struct {
	out   []byte
	tries int
	next  mono
}

func (r *retx) arm(out []byte, now mono) {
	r.out, r.tries, r.next = out, 0, now+mono(retxBase)
}

func (r *retx) clear() { r.out = nil }

// due reports whether to retransmit now, or give up.
func (r *retx) due(now mono) (send, giveUp bool) {
	if r.out == nil || now < r.next {
		return false, false
	}
	if r.tries >= retxLimit {
		return false, true
	}
	r.tries++
	r.next = now + mono(retxBase<<r.tries)
	return true, false
}

// ikeSA is one phase 1 SA with everything hanging off it.
type ikeSA struct {
	ms        *mapState // nil for a responder until phase 1 says which map
	initiator bool
	cookieI   Cookie
	cookieR   Cookie
	local     netip.AddrPort
	// Log lines take &sa.remote (and an orphan's &o.remote): a pointer
	// goes into the line's ...any as it is, where the 24-byte value was
	// copied and boxed at every call site; logx writes both the same,
	// by MarshalText (flash).
	remote  netip.AddrPort
	created mono

	p1     *p1Adapter
	p1Retx retx
	p1Last []byte // last phase 1 message we sent (for duplicates after done)
	p1In   []byte // last phase 1 message received
	// (Both go once the peer has sent an authenticated message after
	// phase 1: phase1Confirmed.)

	out         *p1Outcome // set once established
	established mono
	expires     mono
	rekeyAt     mono
	replacedBy  *ikeSA // a newer IKE SA took over (make-before-break)
	replaces    *ikeSA // the IKE SA this one rekeys
	rekeying    bool   // a replacement phase 1 was started
	// life is where the SA stands (manager_salife.go).
	life ikeLife
	// graveUntil: deleted, but its keys still authenticate late Deletes
	// for its IPsec SAs until then (manager_orphan.go).
	graveUntil mono
	// unproven: an Aggressive Mode responder before AM3; its peer has not
	// shown that it receives our messages (manager_halfopen.go).
	unproven bool
	// busy: a phase 1 message is being computed outside the manager's
	// lock (manager_compute.go); p1 belongs to that computation, and
	// busyState is the state status shows meanwhile.
	busy      bool
	busyState string
	// computing counts the computations running outside the lock (the
	// Quick Mode ones with the phase 1 keys); qmPending are the message
	// IDs of the peer's QM1s among them (manager_compute.go).
	computing int
	qmPending []uint32

	// p2Error is the last Quick Mode failure, in words, for status.
	p2Error string
	// p1Note is what unauthenticated input told us during phase 1 (a
	// cleartext notify), in words, for status: never acted upon.
	p1Note string
	// infoSeen are the message IDs of the peer's latest Informational
	// exchanges (replay detection).
	infoSeen midRing

	// qms are the Quick Modes in negotiation or recently finished, by
	// message ID; nil when there are none (most of an SA's life).
	qms      map[uint32]*qmState
	children []*child
	dpd      *dpdState
	ra       *raState // remote access (XAUTH, Mode-Config); nil for site-to-site
	// early is a Transaction message that arrived before phase 1 was
	// complete (a gateway's XAUTH request overtaking MM6), kept for then.
	early  []byte
	nextKA mono // NAT-T keepalive

	// due and tqIndex place the SA in the manager's timer queue.
	due     mono
	tqIndex int
}

// qmState is a Quick Mode exchange of an IKE SA.
type qmState struct {
	q       *quickMode
	retx    retx
	sel     acl.Selector
	ms      *mapState
	rule    proxyRule
	rekeyOf *child
	doneAt  mono // completed: kept a while to answer retransmissions
	// held is the pair a responder installed at QM2 with its outbound
	// half held until QM3 (see OutboundHolder).
	held *child
	// busy: the peer's answer is being computed outside the lock (q
	// belongs to that computation; busyState is its state meanwhile).
	busy      bool
	busyState QMState
	// spis are the inbound SPIs reserved for this exchange (m.used) that
	// no installed pair owns: given back when the exchange ends, however
	// it ends (reserveSPI, releaseSPIs).
	spis []uint32
}

// child is an installed IPsec SA pair.
type child struct {
	_         [0]func() // not comparable: no generated == function (flash)
	ms        *mapState
	rule      proxyRule
	handle    ChildHandle
	initiator bool // we initiated its Quick Mode
	rekeyAt   mono
	expires   mono
	rekeying  bool // a replacement is being negotiated
	removeAt  mono // replaced: removed after a grace period
	// releaseAt: the outbound half is held (our rekey, see
	// OutboundHolder) until then, or until a packet arrives on the pair.
	releaseAt mono
	pktsIn    uint64 // inbound packets at the last DPD check
	// doubtfulUntil: kept across the peer's INITIAL-CONTACT as part of a
	// re-authentication (initialContact); until then a new pair for the
	// same traffic from that peer means it did restart, and replaces this
	// one at once instead of after rekeyGrace.
	doubtfulUntil mono

	// The manager keeps only the SPIs of the ChildSA it installed, for
	// Delete payloads (0: no such SA); the rest is the data plane's, and
	// about 500 bytes per pair. (Its selector is rule.sel.)
	espIn, espOut, ahIn, ahOut uint32
}

// midRing remembers the last len(ids) message IDs (openInfoOnce).
type midRing struct {
	ids  [32]uint32
	n    int
	next int
}

// phase1Confirmed notes an authenticated message from the peer after
// phase 1 (a Quick Mode or Informational message under the phase 1
// keys): the peer has finished phase 1, so it will not repeat its last
// phase 1 message, and the copies kept to answer that go (on a hub, about
// 200 bytes per peer for the IKE SA's lifetime).
func (sa *ikeSA) phase1Confirmed() { sa.p1In, sa.p1Last = nil, nil }

// push appends e to the list at s. Each append site brings its own growth
// path (some 150 bytes on MIPS); the manager's lists of pointers share
// this one instantiation (flash).
func push[E any](s *[]E, e E) { *s = append(*s, e) }

// withoutNil returns s without its nil entries, in order, the freed
// tail cleared (no pointer kept reachable). The manager's lists are
// filtered by setting what goes to nil in a plain loop and calling this
// once: a predicate for a filter function was a closure, a function of
// its own, at each of a dozen sites. E is any pointer type, compared as
// an interface: with the constraint comparable each list of pointers
// took an instantiation of its own, with any they share one (flash).
func withoutNil[E any](s []E) []E {
	var none E
	kept := s[:0]
	for _, e := range s {
		if any(e) != any(none) {
			kept = append(kept, e)
		}
	}
	clear(s[len(kept):])
	return kept
}

// snapshot returns a copy of the list s, for a loop whose body may
// remove entries from s (withoutNil filters in place). One instantiation
// serves every list of pointers, where append([]T(nil), s...) was a
// growth path of its own at each site (flash).
func snapshot[E any](s []E) []E { return append([]E(nil), s...) }
