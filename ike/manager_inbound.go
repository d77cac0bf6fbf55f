package ike

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// Input under load. The socket reader hands the manager what one receive
// call brought (Batch). When the call filled every slot, the kernel
// queue likely holds more and the daemon is falling behind: at a flood of
// forged first messages that would otherwise end with the kernel
// dropping at random at the socket, real peers' messages among them.
// So the daemon chooses what to drop instead:
//
//   - a message that carries a responder cookie (Main Mode 3 onwards,
//     Quick Mode, Informational: a peer that receives what we send, or
//     garbage rejected after one hash) is handled at once, before the
//     first messages of its batch, and is never shed;
//   - a first message (Main or Aggressive Mode, no responder cookie) is
//     answered while the reader keeps up; in a full batch only a few are,
//     and the others are shed: counted, and remembered in shedMemory;
//   - the retransmission of a shed first message (the same initiator
//     cookie from the same address and port, which a real initiator
//     sends after its retransmission interval and a forged flood does
//     not) is answered even in a full batch.
//
// Shedding costs a header check and a few hashes, so the reader catches
// up and the kernel queue stays short; a real initiator's first message
// gets through at its first retransmission at the latest, and everything
// after it is preferred.

// firstUnderLoad is how many fresh first messages a full batch still
// answers (a variable for tests).
var firstUnderLoad = 0

// shedAboveRate: first messages are shed only while more than this many
// arrive a second. A burst of peers starting at once (a hub's spokes
// after a power cut: a few hundred within milliseconds) fills batches
// too, but is answered at once rather than at the peers' retransmission.
var shedAboveRate uint64 = 1000

// Batch receives the IKE datagrams of one receive call: Add each (pkt is
// only valid during the call), then Flush. One Batch per socket reader;
// it is not safe for concurrent use (the Manager behind it is).
type Batch struct {
	m     *Manager
	buf   []byte // copies of the deferred first messages
	first []deferred
}

type deferred struct {
	_             [0]func() // not comparable: no generated == function (flash)
	off, n        int
	local, remote netip.AddrPort
}

// NewBatch returns a batch receiver feeding m.
func (m *Manager) NewBatch() *Batch { return &Batch{m: m} }

// maxBatchBuf is what a Batch keeps of its copy buffer between batches.
const maxBatchBuf = 64 << 10

// Add takes one datagram: handled at once unless it is a first message,
// which waits for Flush.
func (b *Batch) Add(pkt []byte, local, remote netip.AddrPort) {
	// A first message opens a phase 1 exchange: Main or Aggressive Mode,
	// message ID 0, no responder cookie. Anything shorter than a header
	// is not (HandlePacket drops it).
	if len(pkt) < HeaderLen || binary.BigEndian.Uint64(pkt[8:16]) != 0 || binary.BigEndian.Uint32(pkt[20:24]) != 0 ||
		ExchangeType(pkt[18]) != ExchangeMain && ExchangeType(pkt[18]) != ExchangeAggressive {
		b.m.HandlePacket(pkt, local, remote)
		return
	}
	b.first = append(b.first, deferred{off: len(b.buf), n: len(pkt), local: local, remote: remote})
	b.buf = append(b.buf, pkt...)
}

// Flush handles the first messages of the batch; full reports that the
// receive call filled every slot (the reader is behind).
func (b *Batch) Flush(full bool) {
	if len(b.first) == 0 {
		return
	}
	now := monoNow()
	// The first messages are counted per second: shed only while they
	// arrive faster than shedAboveRate a second.
	s := &b.m.shed
	s.mu.Lock()
	if d := time.Duration(now - s.window); d >= time.Second {
		s.lastWindow = s.inWindow
		if d >= 2*time.Second {
			s.lastWindow = 0 // a quiet second in between
		}
		s.window, s.inWindow = now, 0
	}
	s.inWindow += uint64(len(b.first))
	full = full && max(s.inWindow, s.lastWindow) > shedAboveRate
	s.mu.Unlock()
	kept, shed := 0, 0
	for _, d := range b.first {
		pkt := b.buf[d.off : d.off+d.n]
		switch {
		case !full:
		case b.m.shed.seen(pkt[:ckyLen], d.remote, now):
			// Its first try was shed: the peer retransmits, so it is real
			// (or a flood that pays double for it).
		case kept < firstUnderLoad:
			kept++
		default:
			b.m.shed.add(pkt[:ckyLen], d.remote, now)
			shed++
			continue
		}
		b.m.HandlePacket(pkt, d.local, d.remote)
	}
	if shed > 0 {
		b.m.drops.counts[DropShed].Add(uint64(shed - 1))
		b.m.drop(DropShed, "IKE input backlog (a flood of first messages?): shedding first messages; retransmitted ones are answered")
	}
	b.first = b.first[:0]
	if cap(b.buf) > maxBatchBuf {
		b.buf = nil
	} else {
		b.buf = b.buf[:0]
	}
}

// shedMemory remembers the first messages shed lately (initiator cookie,
// address and port) in two generations of a Bloom filter, each for
// shedGeneration: a retransmission 2 to 6 s later (the usual intervals)
// is still recognized. 2^20 bits with three hashes hold the ~45,000 of a
// generation at the fastest flood with under 0.5 % false positives,
// in 256 KiB allocated at the first shed.
type shedMemory struct {
	mu       sync.Mutex
	cur, old []uint64
	rotated  mono
	seed     maphash.Seed

	// First messages counted per second: this one's so far, the last.
	window     mono
	inWindow   uint64
	lastWindow uint64
}

const (
	shedBits  = 1 << 20
	shedMask  = shedBits - 1
	shedShift = 20 // bits of the hash per probe
)

var shedGeneration = 4 * time.Second

func (s *shedMemory) hash(ckyI []byte, remote netip.AddrPort) uint64 {
	var k [ckyLen + 16 + 2]byte
	copy(k[:], ckyI)
	a := remote.Addr().As16()
	copy(k[ckyLen:], a[:])
	binary.BigEndian.PutUint16(k[ckyLen+16:], remote.Port())
	return maphash.Bytes(s.seed, k[:])
}

// rotate starts a new generation when the current one is old (s.mu held).
func (s *shedMemory) rotate(now mono) {
	if s.cur == nil {
		s.cur, s.old = make([]uint64, shedBits/64), make([]uint64, shedBits/64)
		s.seed, s.rotated = maphash.MakeSeed(), now
		return
	}
	if time.Duration(now-s.rotated) >= shedGeneration {
		s.cur, s.old = s.old, s.cur
		clear(s.cur)
		s.rotated = now
	}
}

func (s *shedMemory) add(ckyI []byte, remote netip.AddrPort, now mono) {
	s.mu.Lock()
	s.rotate(now)
	h := s.hash(ckyI, remote)
	for i := range 3 {
		bit := h >> (i * shedShift) & shedMask
		s.cur[bit/64] |= 1 << (bit % 64)
	}
	s.mu.Unlock()
}

// seen reports whether a first message with these values was shed in
// the current or the previous generation.
func (s *shedMemory) seen(ckyI []byte, remote netip.AddrPort, now mono) bool {
	s.mu.Lock()
	seen := false
	if s.cur != nil {
		s.rotate(now)
		h := s.hash(ckyI, remote)
		seen = shedHas(s.cur, h) || shedHas(s.old, h)
	}
	s.mu.Unlock()
	return seen
}

// shedHas reports whether generation f holds the three bits of hash h.
func shedHas(f []uint64, h uint64) bool {
	for i := range 3 {
		bit := h >> (i * shedShift) & shedMask
		if f[bit/64]&(1<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}

// ckyLen is the length of an ISAKMP cookie.
const ckyLen = len(Cookie{})
