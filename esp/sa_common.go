package esp

import (
	"crypto/cipher"
	"fmt"
	"net/netip"
	"runtime"
	"sync/atomic"
	"time"

	"tinyipsec/internal/algo"
)

// saCommon is the state shared by both directions of an SA.
type saCommon struct {
	proto      Proto
	mode       Mode
	spi, ahSPI uint32
	esn        bool
	v6         bool // outer family
	natt       bool
	outbound   bool     // the SA's direction (which CBC mode its slots need)
	local      [16]byte // outer addresses; IPv4 in the first 4 bytes
	remote     [16]byte
	lport      uint16
	rport      uint16

	ciph    *algo.CipherInfo // nil for AH-only
	integ   *algo.HashInfo   // ESP HMAC; nil with AEAD or AH-only
	ahInteg *algo.HashInfo   // nil without AH
	aead    cipher.AEAD
	block   cipher.Block
	salt    [4]byte
	authKey []byte // our copies (slots added later need them), wiped on Close
	ahKey   []byte

	ivLen, icvLen, padAlign int // ESP
	ahLen                   int // whole AH header including ICV and alignment padding

	life lifetime
	// drops counts refused packets by reason. Most SAs never refuse one,
	// so the counters are allocated with the first drop.
	drops atomic.Pointer[[numErrors]atomic.Uint64]

	// Per-packet scratch, last: its mutex is written by every packet.
	slots slots
}

// paramErr is not inlined: it runs only when an SA is refused, and each
// inlined copy cost flash.
//
//go:noinline
func paramErr(format string, a ...any) error {
	return fmt.Errorf("esp: invalid SA parameters: "+format, a...)
}

func (s *saCommon) init(p *Params) error {
	s.proto, s.mode, s.esn = p.Proto, p.Mode, p.ESN
	s.spi, s.ahSPI = p.SPI, p.AHSPI
	if p.Mode != Tunnel && p.Mode != Transport {
		return paramErr("mode %d", p.Mode)
	}
	if !p.Local.IsValid() || !p.Remote.IsValid() || p.Local.Is4() != p.Remote.Is4() {
		return paramErr("local %v and remote %v must be addresses of one family", p.Local, p.Remote)
	}
	s.v6 = !p.Local.Is4()
	// Both addresses by one loop (IPv4 in the first 4 bytes): each
	// inlined As4 and As16 cost flash.
	dst := [2]*[16]byte{&s.local, &s.remote}
	for i, a := range [2]*netip.Addr{&p.Local, &p.Remote} {
		copy(dst[i][:], a.AsSlice())
	}
	if p.ReplayWindow != 0 && (p.ReplayWindow < MinReplayWindow || p.ReplayWindow > MaxReplayWindow) {
		return paramErr("replay window %d outside %d..%d", p.ReplayWindow, MinReplayWindow, MaxReplayWindow)
	}
	hasESP := p.Proto == ProtoESP || p.Proto == ProtoAHESP
	hasAH := p.Proto == ProtoAH || p.Proto == ProtoAHESP
	if !hasESP && !hasAH {
		return paramErr("protocol %d", p.Proto)
	}
	if p.SPI < 256 || (p.Proto == ProtoAHESP && p.AHSPI < 256) {
		return paramErr("SPI values 0-255 are reserved (RFC 4303 §2.1)")
	}
	if (p.LocalPort != 0) != (p.RemotePort != 0) {
		return paramErr("UDP encapsulation needs both ports")
	}
	s.natt = p.LocalPort != 0
	s.lport, s.rport = p.LocalPort, p.RemotePort
	if s.natt && hasAH {
		return paramErr("AH cannot be UDP-encapsulated")
	}
	if hasESP {
		s.ciph = p.Cipher.Info()
		if s.ciph == nil {
			return paramErr("unknown ESP cipher %v", p.Cipher)
		}
		c := s.ciph
		if len(p.EncKey) != c.KeymatLen() {
			return paramErr("ESP %s key is %d bytes, want %d", c.Name, len(p.EncKey), c.KeymatLen())
		}
		// The cipher keeps its own (expanded) copy of the key; the SA keeps
		// none, only the salt.
		copy(s.salt[:], p.EncKey[c.KeyLen:])
		var err error
		switch {
		case c.NewAEAD != nil:
			if p.Integ != algo.HashNone {
				return paramErr("%s is an AEAD cipher; no separate integrity algorithm", c.Name)
			}
			s.aead, err = c.NewAEAD(p.EncKey[:c.KeyLen])
		case c.NewBlock != nil:
			s.block, err = c.NewBlock(p.EncKey)
		}
		if err != nil {
			return paramErr("%v", err)
		}
		s.ivLen, s.padAlign, s.icvLen = c.IVLen, c.PadAlign, c.TagLen
		if c.NewAEAD == nil {
			if p.Integ == algo.HashNone {
				if c.NewBlock == nil {
					return paramErr("ESP with neither encryption nor integrity (RFC 4303 §3.2)")
				}
				// Confidentiality-only ESP is allowed by RFC 4303 but is
				// open to cut-and-paste attacks (RFC 4303 §3.2); we refuse it.
				return paramErr("ESP %s needs an integrity algorithm", c.Name)
			}
			if s.integ, s.authKey, err = integrity("ESP", p.Integ, p.AuthKey); err != nil {
				return err
			}
			s.icvLen = s.integ.ICVLen
		}
	} else if p.Cipher != algo.CipherNone || p.Integ != algo.HashNone {
		return paramErr("ESP algorithms given for an AH-only SA")
	}
	if hasAH {
		var err error
		if s.ahInteg, s.ahKey, err = integrity("AH", p.AHInteg, p.AHKey); err != nil {
			return err
		}
		align := 4
		if s.v6 {
			align = 8 // RFC 4302 §3.3.3.2.1
		}
		s.ahLen = (12 + s.ahInteg.ICVLen + align - 1) / align * align
	} else if p.AHInteg != algo.HashNone {
		return paramErr("AH algorithm given for an ESP-only SA")
	}
	// The lifetimes, set here rather than by a method of their own, the
	// only caller (flash).
	l := &s.life
	l.softBytes, l.hardBytes = p.SoftBytes, p.HardBytes
	l.softPkts, l.hardPkts = p.SoftPackets, p.HardPackets
	l.softTime, l.hardTime = p.SoftTime, p.HardTime
	l.created = time.Now()
	// The first slot, now that the keys are in place; more come with
	// parallel packets, up to one per CPU.
	s.slots.max = uint32(min(runtime.GOMAXPROCS(0), maxSlots))
	s.slots.n.Store(1)
	return s.initSlot(&s.slots.first)
}

// integrity looks up an HMAC algorithm, checks its key's length and
// returns the SA's own copy of the key.
func integrity(what string, h algo.Hash, key []byte) (*algo.HashInfo, []byte, error) {
	i := h.Info()
	if i == nil {
		return nil, nil, paramErr("unknown %s integrity algorithm %v", what, h)
	}
	if len(key) != i.Size {
		return nil, nil, paramErr("%s %v key is %d bytes, want %d", what, h, len(key), i.Size)
	}
	return i, append([]byte(nil), key...), nil
}

// room returns the headroom and tailroom Encap needs.
func (s *saCommon) room() (head, tail int) {
	if s.mode == Tunnel {
		head = 20
		if s.v6 {
			head = 40
		}
	}
	if s.natt {
		head += 8
	}
	head += s.ahLen
	if s.ciph != nil {
		head += 8 + s.ivLen
		tail = s.padAlign - 1 + 2 + s.icvLen
		if s.padAlign < 4 {
			tail = 3 + 2 + s.icvLen
		}
	}
	return head, tail
}

// close wipes every key copy the SA owns. Go offers no way to reach the
// expanded key schedules inside crypto/aes, crypto/des and the AEADs (they
// become garbage and are overwritten when the memory is reused), nor copies
// the runtime made while moving memory.
//
// The SA is marked expired first; Encap and Decap check that again once they
// hold a slot, and wiping a slot waits for the packet using it, so a packet
// racing with Close is refused instead of being processed with half-wiped
// keys.
func (s *saCommon) close() {
	s.life.mark(lifeSoft | lifeHard)
	// Every slot's key material, each wiped once the packet using it is
	// done. No slot is added meanwhile, nor afterwards (the SA is marked
	// expired first).
	s.slots.grow.Lock()
	for sl := &s.slots.first; sl != nil; sl = sl.next.Load() {
		sl.mu.Lock()
		if sl.mac != nil {
			sl.mac.wipe()
		}
		if sl.ah != nil {
			sl.ah.mac.wipe()
		}
		clear(sl.nonce[:])
		sl.mu.Unlock()
	}
	s.slots.grow.Unlock()
	clear(s.authKey)
	clear(s.ahKey)
	clear(s.salt[:])
}

// Stats is a snapshot of an SA's counters.
type Stats struct {
	Packets, Bytes uint64            // processed packets and their cleartext bytes
	Drops          [NumErrors]uint64 // refused packets, indexed by Error
}

// Stats returns the SA's counters.
func (s *saCommon) Stats() Stats {
	var st Stats
	st.Packets = s.life.packets.Load()
	st.Bytes = s.life.bytes.Load()
	if d := s.drops.Load(); d != nil {
		for i := range d {
			st.Drops[i] = d[i].Load()
		}
	}
	return st
}

func (s *saCommon) countDrop(err error) {
	if e, ok := err.(Error); ok && e < numErrors {
		s.dropCounters()[e].Add(1)
	}
}

// dropCounters returns the SA's drop counters, allocating them the first
// time: once per SA, never again on the packet path.
func (s *saCommon) dropCounters() *[numErrors]atomic.Uint64 {
	if d := s.drops.Load(); d != nil {
		return d
	}
	s.drops.CompareAndSwap(nil, new([numErrors]atomic.Uint64))
	return s.drops.Load()
}

// Expired reports whether the soft lifetime (time to rekey) and the hard
// lifetime (the SA refuses packets) have been reached.
func (s *saCommon) Expired() (soft, hard bool) {
	st := s.life.state.Load()
	return st&lifeSoft != 0, st&lifeHard != 0
}

// CheckTime applies the time lifetimes; call it periodically (every second
// or so). The packet path itself never reads the clock.
func (s *saCommon) CheckTime(now time.Time) { s.life.checkTime(now) }

// Proto returns the SA's protocol.
func (s *saCommon) Proto() Proto { return s.proto }

// SPI returns the ESP SPI (the AH SPI for an AH-only SA).
func (s *saCommon) SPI() uint32 { return s.spi }
