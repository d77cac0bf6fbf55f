package esp

import (
	"crypto/cipher"
	"errors"
	"sync"
	"sync/atomic"
)

// slot is the per-packet scratch state. Arguments passed to interface
// methods (cipher.AEAD, hash.Hash) escape to the heap, so stack arrays
// would allocate on every packet; instead each SA owns slots and a packet
// borrows a free one. That keeps the path allocation-free while still
// letting several goroutines work on one SA in parallel.
//
// A slot holds only what its SA's direction and protocol use: an SA is one
// direction, so one CBC mode; AH's scratch is a separate object that
// ESP-only SAs, the usual case, do without. A hub keeps hundreds of idle
// SAs, and every byte here is paid by each of them.
type slot struct {
	_     [0]func() // not comparable: no generated == function (flash)
	mu    sync.Mutex
	cbc   cipher.BlockMode // CBC encrypter (outbound SA) or decrypter (inbound); nil for AEAD and AH-only
	mac   *hmacState       // ESP HMAC
	ah    *ahScratch       // nil without AH
	nonce [12]byte
	ivb   [16]byte             // CBC IV block; ESN AEAD data or high sequence bits
	next  atomic.Pointer[slot] // the SA's next slot, nil for the last
}

// ahScratch is a slot's AH state.
type ahScratch struct {
	mac *hmacState
	hdr [60]byte // IP header copy with the mutable fields zeroed
	icv [32]byte // received ICV, kept while its field is zeroed for the check
}

// slots holds an SA's scratch slots. The first is part of the SA; more
// are added, one at a time up to one per CPU (at most maxSlots), only
// when packets of the SA meet in parallel. Most SAs carry little traffic
// and never do, so they cost one slot instead of one per CPU; a busy SA
// allocates once per added slot, then never again. Slots added later are
// separate heap objects whose size is a multiple of the cache line, so
// two CPUs working on one SA do not share cache lines.
type slots struct {
	first slot
	n     atomic.Uint32 // slots in the list, first included
	max   uint32
	pick  atomic.Uint32 // spreads waiters when every slot is busy
	grow  sync.Mutex    // serializes adding slots, and adding with close
}

const maxSlots = 8

// initSlot keys the cipher and HMAC states of a slot.
func (s *saCommon) initSlot(sl *slot) error {
	if s.block != nil {
		zero := make([]byte, s.block.BlockSize())
		if s.outbound {
			sl.cbc = cipher.NewCBCEncrypter(s.block, zero)
		} else {
			sl.cbc = cipher.NewCBCDecrypter(s.block, zero)
		}
		if _, ok := sl.cbc.(ivSetter); !ok {
			return errors.New("esp: CBC mode cannot reset its IV")
		}
	}
	var err error
	if s.integ != nil {
		if sl.mac, err = newHMAC(s.integ, s.authKey); err != nil {
			return err
		}
	}
	if s.ahInteg != nil {
		sl.ah = &ahScratch{}
		if sl.ah.mac, err = newHMAC(s.ahInteg, s.ahKey); err != nil {
			return err
		}
	}
	return nil
}

// acquire locks a free slot. It tries them in order, so a single goroutine
// keeps reusing the first (warm in its cache) and parallel callers spread
// over the next ones; when all are busy it adds one if the SA has fewer
// than one per CPU, else waits for one, picked by a counter so the waiters
// spread too.
func (s *saCommon) acquire() *slot {
	for sl := &s.slots.first; sl != nil; sl = sl.next.Load() {
		if sl.mu.TryLock() {
			return sl
		}
	}
	if sl := s.addSlot(); sl != nil {
		return sl
	}
	sl := &s.slots.first
	for k := s.slots.pick.Add(1) % s.slots.n.Load(); k > 0; k-- {
		sl = sl.next.Load()
	}
	sl.mu.Lock()
	return sl
}

// addSlot appends a new slot and returns it locked, or nil when the SA
// has its maximum or is closed (close wipes the keys a slot is built
// from).
func (s *saCommon) addSlot() *slot {
	if s.slots.n.Load() >= s.slots.max {
		return nil
	}
	s.slots.grow.Lock()
	defer s.slots.grow.Unlock()
	n := s.slots.n.Load()
	if n >= s.slots.max || s.life.hard() {
		return nil
	}
	sl := &slot{}
	if s.initSlot(sl) != nil {
		return nil
	}
	sl.mu.Lock()
	last := &s.slots.first
	for x := last.next.Load(); x != nil; x = last.next.Load() {
		last = x
	}
	// Linked before it is counted, so that walking n slots never meets
	// a nil one.
	last.next.Store(sl)
	s.slots.n.Store(n + 1)
	return sl
}
