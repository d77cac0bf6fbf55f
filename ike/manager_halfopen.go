package ike

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"net/netip"
	"slices"
	"time"
)

// Half-open responder state, built to survive a flood of first messages
// from forged addresses while real peers keep getting in.
//
// A Main Mode first message (MM1) costs us a proposal choice and one
// answer, nothing more. Its source address may be forged, so the answer
// (MM2) is not retransmitted (the initiator retransmits MM1 instead) and
// what we must remember until MM3 is a small responderRecord in
// halfOpenPool, not a state machine. The responder cookie is derived from
// a rotating secret, the peer's cookie and its address and port (RFC 2408
// section 2.5.3): an MM3 that echoes it proves that the peer receives
// what we send to that address. Only then does the exchange become a real
// IKE SA in negotiation (m.sas), do the Diffie-Hellman computation, and
// count against MaxHalfOpen; such a proven exchange is never evicted to
// make room for unproven ones. A message carrying a responder cookie we
// did not issue is dropped after one hash.
//
// The unproven pool is bounded by memory (Config.HalfOpenMemory): when it
// is full, the oldest unproven record goes. Under a flood of forged MM1 a
// real initiator's record thus lives for as long as the flood takes to
// fill the pool (thousands of messages), far longer than its MM3 takes to
// arrive. One source address holds at most HalfOpenPerSource records, so
// a flood from a real address only pushes out its own.
//
// Aggressive Mode has no such round trip: its first message carries the
// initiator's Diffie-Hellman value and identity, and the answer needs our
// DH computation and authentication. Aggressive Mode responders are
// therefore admitted into m.sas as unproven SAs, at most
// maxAggressiveHalfOpen of them (the oldest goes) and HalfOpenPerSource
// per address; Main Mode is the exchange to use where floods matter.

// Defaults of the half-open bounds; Config overrides them.
const (
	defaultHalfOpenMemory    = 4 << 20 // bytes of unproven Main Mode records
	defaultHalfOpenPerSource = 64      // unproven, and proven, per address
	defaultMaxHalfOpen       = 256     // proven responder negotiations
	maxAggressiveHalfOpen    = 64      // Aggressive Mode responders before AM3
)

// cookieRotation is how often the cookie secret changes; a cookie stays
// valid for one to two rotations.
var cookieRotation = time.Minute

// cookieJar issues and recognizes our responder cookies.
type cookieJar struct {
	cur, prev [32]byte
	rotated   mono
}

func (j *cookieJar) rotate(now mono) {
	if j.rotated != 0 && time.Duration(now-j.rotated) < cookieRotation {
		return
	}
	j.prev = j.cur
	if _, err := rand.Read(j.cur[:]); err != nil {
		panic("ike: no randomness for the cookie secret: " + err.Error())
	}
	if j.rotated == 0 {
		j.prev = j.cur
	}
	j.rotated = now
}

// cookieFrom hashes the secret with what identifies the exchange: the
// initiator's cookie and address and port. The input has a fixed length,
// so the plain hash is a sound keyed function here. (The cookie and the
// endpoint go by pointer: a Cookie is copied byte by byte, an AddrPort is
// six words on 32-bit; flash.)
func cookieFrom(secret *[32]byte, ckyI *Cookie, remote *netip.AddrPort) Cookie {
	var b [32 + 8 + 16 + 2]byte
	copy(b[:32], secret[:])
	copy(b[32:40], ckyI[:])
	a := remote.Addr().As16()
	copy(b[40:56], a[:])
	b[56], b[57] = byte(remote.Port()>>8), byte(remote.Port())
	sum := sha256.Sum256(b[:])
	var c Cookie
	copy(c[:], sum[:8])
	if c == (Cookie{}) {
		c[7] = 1
	}
	return c
}

// issued reports whether ckyR is a cookie we gave this initiator.
func (j *cookieJar) issued(ckyI, ckyR *Cookie, remote *netip.AddrPort) bool {
	a, b := cookieFrom(&j.cur, ckyI, remote), cookieFrom(&j.prev, ckyI, remote)
	return subtle.ConstantTimeCompare(a[:], ckyR[:])|subtle.ConstantTimeCompare(b[:], ckyR[:]) == 1
}

// hoKey is a half-open exchange's cookie pair.
type hoKey [16]byte

func hoKeyOf(ckyI, ckyR *Cookie) hoKey {
	var k hoKey
	copy(k[:8], ckyI[:])
	copy(k[8:], ckyR[:])
	return k
}

// hoEntry is one unproven Main Mode responder.
type hoEntry struct {
	rec     *responderRecord
	ms      *mapState
	created mono
	seq     uint64
}

type hoRef struct {
	key hoKey
	seq uint64
}

// halfOpenPool holds the unproven Main Mode responders, oldest first.
type halfOpenPool struct {
	budget    int // bytes
	perSource int

	entries  map[hoKey]*hoEntry
	fifo     []hoRef // insertion order; refs of removed entries are skipped
	head     int
	bySource map[netip.Addr][]hoKey
	bytes    int
	seq      uint64

	// evicted counts records dropped for room (pool full / per source).
	evicted, evictedPerSource uint64
}

// add stores e (replacing an entry with the same cookies), making room
// first: the source's oldest when it has too many, else the pool's oldest.
func (p *halfOpenPool) add(k hoKey, e *hoEntry) {
	p.remove(k)
	src := e.rec.remote.Addr()
	if l := p.bySource[src]; len(l) >= p.perSource {
		p.remove(l[0])
		p.evictedPerSource++
	}
	size := e.rec.size()
	for p.bytes+size > p.budget && len(p.entries) > 0 {
		if r, e := p.oldest(); e != nil {
			p.remove(r.key)
		}
		p.evicted++
	}
	p.seq++
	e.seq = p.seq
	p.entries[k] = e
	p.bytes += size
	p.fifo = append(p.fifo, hoRef{k, e.seq})
	p.bySource[src] = append(p.bySource[src], k)
	p.compact()
}

// remove forgets an entry (no-op when absent).
func (p *halfOpenPool) remove(k hoKey) *hoEntry {
	e := p.entries[k]
	if e == nil {
		return nil
	}
	delete(p.entries, k)
	p.bytes -= e.rec.size()
	src := e.rec.remote.Addr()
	l := p.bySource[src]
	for i, x := range l {
		if x == k {
			l = append(l[:i], l[i+1:]...) // keys hold no pointers to clear
			break
		}
	}
	if len(l) == 0 {
		delete(p.bySource, src)
	} else {
		p.bySource[src] = l
	}
	return e
}

// oldest returns the oldest live entry's ref, skipping stale refs.
func (p *halfOpenPool) oldest() (hoRef, *hoEntry) {
	for p.head < len(p.fifo) {
		r := p.fifo[p.head]
		if e := p.entries[r.key]; e != nil && e.seq == r.seq {
			return r, e
		}
		p.fifo[p.head] = hoRef{}
		p.head++
	}
	return hoRef{}, nil
}

// compact keeps the insertion-order queue proportional to the live
// entries (removed entries leave stale refs behind).
func (p *halfOpenPool) compact() {
	if p.head > 0 && p.head >= len(p.fifo)/2 || len(p.fifo)-p.head > 2*len(p.entries)+64 {
		live := make([]hoRef, 0, len(p.entries)+16)
		for _, r := range p.fifo[p.head:] {
			if e := p.entries[r.key]; e != nil && e.seq == r.seq {
				live = append(live, r)
			}
		}
		p.fifo, p.head = live, 0
	}
}

// promote turns the unproven Main Mode responder that MM3 (pkt) belongs
// to into a negotiating IKE SA. It returns nil when the message is
// dropped (the pool entry stays: the peer retransmits MM3). remote goes
// by pointer (six words on 32-bit; flash).
func (m *Manager) promote(e *hoEntry, k hoKey, remote *netip.AddrPort, now mono) *ikeSA {
	if e.rec.remote != *remote {
		// The cookie was issued to the address and port of MM1.
		m.drop(DropWrongEndpoint, "MM3 from another address than MM1", "from", remote, "mm1_from", &e.rec.remote)
		return nil
	}
	if !slices.Contains(m.maps, e.ms) {
		m.halfOpen.remove(k) // its crypto map went in a reload
		return nil
	}
	// The responder negotiations whose peer proved its address, in all
	// and from this address.
	all, fromAddr := 0, 0
	for _, sa := range m.sas {
		if sa.negotiating() && !sa.initiator && !sa.unproven {
			all++
			if sameHost(&sa.remote, remote) {
				fromAddr++
			}
		}
	}
	if all >= m.cfg.MaxHalfOpen || fromAddr >= m.cfg.HalfOpenPerSource {
		m.drop(DropResponderBusy, "too many phase 1 negotiations: MM3 waits for the peer's retransmission", "peer", remote)
		return nil
	}
	m.halfOpen.remove(k)
	sa := &ikeSA{ms: e.ms, cookieI: e.rec.ckyI, cookieR: e.rec.ckyR, local: e.rec.local, remote: e.rec.remote,
		created: e.created}
	cfg, err := m.phase1ConfigFor(sa, false)
	var p *Phase1
	if err == nil {
		p, err = resumeResponder(cfg, e.rec)
	}
	if err != nil {
		m.log.Info("phase 1 refused", "peer", &sa.remote, "err", err)
		return nil
	}
	sa.p1 = &p1Adapter{p: p}
	m.addSA(sa, now)
	return sa
}
