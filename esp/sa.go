package esp

import (
	"crypto/aes"
	"crypto/rand"
	"encoding/binary"
	"net/netip"
	"sync/atomic"
	"time"

	"tinyipsec/internal/algo"
)

// Proto says which IPsec protocol(s) an SA applies.
type Proto uint8

const (
	ProtoESP   Proto = iota + 1 // ESP only (RFC 4303)
	ProtoAH                     // AH only (RFC 4302)
	ProtoAHESP                  // bundle: outer IP | AH | ESP | payload
)

func (p Proto) String() string {
	switch p {
	case ProtoESP:
		return "esp"
	case ProtoAH:
		return "ah"
	case ProtoAHESP:
		return "ah+esp"
	}
	return "invalid"
}

// Mode is the IPsec encapsulation mode.
type Mode uint8

const (
	Tunnel    Mode = iota // a new outer IP header carries the whole inner packet
	Transport             // the packet's own IP header is kept; only its payload is protected
)

func (m Mode) String() string {
	if m == Transport {
		return "transport"
	}
	return "tunnel"
}

// Selector is the inbound policy check of RFC 4301 §5.2: after decapsulation
// the inner packet must match the traffic selectors the SA was negotiated
// for, otherwise a peer could inject traffic for networks it does not own.
// acl.Selector implements it.
type Selector interface {
	// MatchesPacket reports whether the cleartext IP packet pkt belongs to
	// the SA; Decap calls it with inbound true. It runs on the per-packet
	// path and must not allocate or retain pkt.
	MatchesPacket(pkt []byte, inbound bool) bool
}

// Params holds everything needed to build one direction of one SA (or of
// an AH+ESP bundle). Key slices are copied; the caller may wipe its copies.
type Params struct {
	Proto Proto
	Mode  Mode

	SPI   uint32 // ESP SPI, or the AH SPI when Proto == ProtoAH
	AHSPI uint32 // AH SPI of a ProtoAHESP bundle

	// Cipher is the ESP encryption algorithm; CipherNone for AH-only SAs.
	Cipher algo.Cipher
	// Integ is the ESP integrity algorithm; HashNone with an AEAD cipher.
	Integ algo.Hash
	// AHInteg is the AH integrity algorithm.
	AHInteg algo.Hash

	// EncKey is the ESP cipher key; for AES-GCM and ChaCha20-Poly1305 it is
	// the cipher key followed by the 4-byte salt (RFC 4106 §8.1, RFC 7634 §2).
	EncKey  []byte
	AuthKey []byte // ESP HMAC key
	AHKey   []byte // AH HMAC key

	// Local and Remote are the outer addresses: tunnel endpoints, or the two
	// hosts in transport mode. Both must be the same family.
	Local, Remote netip.Addr

	// LocalPort and RemotePort, when both non-zero, select UDP encapsulation
	// of ESP (NAT traversal, RFC 3948): Encap adds and Decap strips the UDP
	// header. Not allowed with AH, which cannot cross a NAT.
	LocalPort, RemotePort uint16

	ESN          bool // 64-bit extended sequence numbers (RFC 4303 §2.2.1)
	ReplayWindow int  // anti-replay window in packets, 64..4096; 0 disables the check

	// Selector, if not nil, is checked on every decapsulated packet
	// (inbound SAs), e.g. an acl.Selector.
	Selector Selector

	// Lifetimes; zero means unlimited. Byte counts are cleartext bytes.
	SoftBytes, HardBytes     uint64
	SoftPackets, HardPackets uint64
	SoftTime, HardTime       time.Duration
}

// Buffer room every SA fits in: a packet buffer with MaxHeadroom bytes
// before and MaxTailroom bytes after the cleartext packet can be handed to
// any SA's Encap.
const (
	MaxHeadroom = 128 // IPv6 40 + UDP 8 + AH 48 + ESP 8 + IV 16 = 120
	MaxTailroom = 64  // padding up to 16 + pad length + next header + ICV 32 = 50
)

// OutboundSA protects packets we send. Create it with NewOutbound. Encap is
// safe for concurrent use by several goroutines.
type OutboundSA struct {
	saCommon
	seq      atomic.Uint64 // last sequence number sent (never wraps)
	ipIDBase uint16        // outer IPv4 identification = ipIDBase + sequence number
	ivs      *ivSource     // unpredictable CBC IVs; nil for AEAD and AH
	headroom int
	tailroom int
}

// InboundSA verifies and decrypts packets we receive. Create it with
// NewInbound. Decap is safe for concurrent use by several goroutines.
type InboundSA struct {
	saCommon
	espReplay *replayWindow // ESP (or AH-only) sequence space: &replay, or nil when off
	ahReplay  *replayWindow // AH sequence space of a bundle
	selector  Selector
	replay    replayWindow // part of the SA: one allocation less per SA
}

// NewOutbound builds the sending half of an SA. It fails on an unknown
// algorithm name, a wrong key length or inconsistent parameters.
func NewOutbound(p Params) (*OutboundSA, error) { return newOutbound(&p) }

// newOutbound is NewOutbound with p by pointer, for NewPair: Params is
// some fifty words on a 32-bit router, and each copy cost flash.
func newOutbound(p *Params) (*OutboundSA, error) {
	sa := &OutboundSA{}
	sa.outbound = true
	if err := sa.init(p); err != nil {
		sa.saCommon.close() // wipe the key copies made so far
		return nil, err
	}
	if sa.block != nil {
		// A CBC SA's IV source, keyed with a fresh random AES key of its
		// own (cipher_iv.go); AEAD ciphers use the sequence number.
		ivs := &ivSource{}
		_, err := rand.Read(ivs.key[:])
		if err == nil {
			ivs.block, err = aes.NewCipher(ivs.key[:])
		}
		sa.ivs = ivs
		if err != nil {
			sa.Close()
			return nil, err
		}
	}
	var id [2]byte
	rand.Read(id[:])
	sa.ipIDBase = binary.BigEndian.Uint16(id[:])
	sa.headroom, sa.tailroom = sa.room()
	return sa, nil
}

// NewInbound builds the receiving half of an SA.
func NewInbound(p Params) (*InboundSA, error) { return newInbound(&p) }

// newInbound is NewInbound with p by pointer, for NewPair.
func newInbound(p *Params) (*InboundSA, error) {
	sa := &InboundSA{selector: p.Selector}
	if err := sa.init(p); err != nil {
		sa.saCommon.close()
		return nil, err
	}
	if p.ReplayWindow != 0 || p.ESN {
		// With ESN the window also supplies the high sequence bits, so it
		// is kept even when the replay check itself is off.
		sa.replay.init(p.ReplayWindow, p.ReplayWindow == 0)
		sa.espReplay = &sa.replay
		if p.Proto == ProtoAHESP {
			sa.ahReplay = newReplayWindow(p.ReplayWindow, p.ReplayWindow == 0)
		}
	}
	return sa, nil
}

// Headroom is the number of bytes Encap needs before the cleartext packet.
func (sa *OutboundSA) Headroom() int { return sa.headroom }

// Tailroom is the number of bytes Encap needs after the cleartext packet.
func (sa *OutboundSA) Tailroom() int { return sa.tailroom }

// Encap protects the cleartext IP packet buf[off:off+n] in place and returns
// the bounds of the packet to put on the wire, buf[start:end]. The result
// always begins with a complete outer IP header (IPv4 with a valid header
// checksum, or IPv6), followed by the UDP header when NAT-T encapsulation is
// on, then AH and/or ESP: ready for a raw socket with IP_HDRINCL (IPv4) or,
// for IPv6, to be sent from buf[start+40:end] on a raw socket of protocol
// 50/51 (or from after the UDP header on the IKE UDP socket for NAT-T).
//
// In tunnel mode the outer header is new (Local -> Remote, TTL 64, DSCP/ECN
// copied from the inner packet); in transport mode it is the packet's own
// header with the protocol and length fields updated.
//
// The caller must provide Headroom() bytes before off and Tailroom() bytes
// after off+n, otherwise ErrNoRoom is returned.
func (sa *OutboundSA) Encap(buf []byte, off, n int) (start, end int, err error) {
	return sa.encap(buf, off, n)
}

// Decap verifies and decrypts the received packet buf[start:end] (outer IP
// header, UDP header if NAT-T, then AH and/or ESP) in place and returns the
// cleartext packet buf[off:off+n]: in tunnel mode the inner IP packet
// (without TFC padding), in transport mode the packet rebuilt from the
// received IP header with the original protocol and length restored.
// Errors are the package's sentinel values (ErrAuth, ErrReplay, ...), so a
// caller can count drops by reason with ==, without allocating.
func (sa *InboundSA) Decap(buf []byte, start, end int) (off, n int, err error) {
	off, n, err = sa.decap(buf, start, end)
	if err != nil {
		sa.countDrop(err)
	}
	return off, n, err
}

// LookupKey is the (protocol, SPI) pair found first on the wire for this
// SA, as ParseSPI returns it: (ProtoAH, AHSPI) for a bundle.
func (sa *InboundSA) LookupKey() (Proto, uint32) {
	switch sa.proto {
	case ProtoAHESP:
		return ProtoAH, sa.ahSPI
	default:
		return sa.proto, sa.spi
	}
}

// Close wipes the SA's keys. The SA must not be used afterwards.
func (sa *OutboundSA) Close() { sa.saCommon.close(); sa.ivs.close() }

// Close wipes the SA's keys. The SA must not be used afterwards.
func (sa *InboundSA) Close() { sa.saCommon.close() }

// Seq returns the last sequence number used (including numbers refused at
// exhaustion); the next packet gets Seq()+1.
func (sa *OutboundSA) Seq() uint64 { return sa.seq.Load() }

// Seq returns the highest sequence number accepted so far (0 before the
// first packet, or when neither replay protection nor ESN is on).
func (sa *InboundSA) Seq() uint64 {
	w := sa.espReplay
	if w == nil {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.top
}
