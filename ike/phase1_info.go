package ike

import (
	"errors"
	"fmt"
	"io"
)

// Informational messages during phase 1. Before the key exchange a notify
// or Delete is unauthenticated: anyone who saw our first message could
// have sent it, so it is only shown (CleartextNotice). After it, the peer's
// failure notify comes encrypted and hashed under the phase 1 keys and
// ends the negotiation. Ours go the same two ways (failWith).

// plainNotify builds an unencrypted Informational with one notification.
func (p *Phase1) plainNotify(t uint16) ([]byte, error) {
	var mid [4]byte
	if _, err := io.ReadFull(p.rand, mid[:]); err != nil {
		return nil, err
	}
	m := &Message{
		Header: Header{CookieI: p.ckyI, CookieR: p.ckyR, Exchange: ExchangeInformational,
			MessageID: uint32(mid[0])<<24 | uint32(mid[1])<<16 | uint32(mid[2])<<8 | uint32(mid[3])},
		Payloads: []Payload{&Notify{DOI: DOIIPsec, Protocol: ProtoISAKMP, NotifyType: t,
			SPI: append(append([]byte(nil), p.ckyI[:]...), p.ckyR[:]...)}},
	}
	return m.Marshal()
}

func (p *Phase1) handleInformational(h Header, pkt Packet) (Result, error) {
	var m *Message
	var err error
	switch {
	case h.Encrypted() && p.keys != nil:
		// A peer that rejects our MM5/AM3 tells us why in an encrypted,
		// hashed notification (its IV derives from the phase 1 chain).
		if m, err = p.openInformational(pkt.Data, h.MessageID); err != nil {
			return Result{}, err
		}
	case h.Encrypted():
		return Result{}, errors.New("ike: encrypted informational before keys")
	case p.keys != nil:
		// Once keys exist an unauthenticated notify could be forged.
		return Result{}, errors.New("ike: unencrypted informational after key exchange")
	default:
		// Before keys nothing authenticates a notify: anyone who saw our
		// first message could have sent it, with any responder cookie.
		// It changes nothing; the caller may show it as a hint.
		if m, err = Unmarshal(pkt.Data); err != nil {
			return Result{}, err
		}
		return Result{}, cleartextNoticeOf(m)
	}
	if d := Find[*Delete](m); d != nil && d.Protocol == ProtoISAKMP {
		return p.failWith(fail(FailPeerNotify, 0, "peer deleted the ISAKMP SA")), nil
	}
	n := Find[*Notify](m)
	if n == nil || n.NotifyType >= NotifyConnected {
		return Result{}, errors.New("ike: informational without error notify")
	}
	f := fail(FailPeerNotify, n.NotifyType, "peer sent notify %d", n.NotifyType)
	return p.failWith(f), nil
}

// CleartextNotice is an unauthenticated Informational received during
// phase 1 before keys: dropped, never acted upon.
type CleartextNotice struct {
	Notify uint16 // 0: a Delete or no error notify
	Delete bool
}

func (c *CleartextNotice) Error() string {
	if c.Delete {
		return "ike: unauthenticated Delete during phase 1 ignored"
	}
	return fmt.Sprintf("ike: unauthenticated notify %d during phase 1 ignored", c.Notify)
}

func cleartextNoticeOf(m *Message) *CleartextNotice {
	c := &CleartextNotice{}
	if d := Find[*Delete](m); d != nil && d.Protocol == ProtoISAKMP {
		c.Delete = true
	}
	if n := Find[*Notify](m); n != nil && n.NotifyType < NotifyConnected {
		c.Notify = n.NotifyType
	}
	return c
}

// openInformational decrypts an Informational exchange message during
// phase 1 and checks its HASH; the phase 1 IV chain is left untouched.
func (p *Phase1) openInformational(b []byte, mid uint32) (*Message, error) {
	iv := Phase2IV(p.policy.Hash, p.iv, mid, p.blk.BlockSize())
	m, _, err := Open(b, p.blk, iv)
	if err != nil {
		return nil, err
	}
	hp, ok := m.Payloads[0].(*Hash)
	if !ok || len(m.Payloads) < 2 {
		return nil, malformed("informational without leading HASH")
	}
	var rest []byte
	for _, r := range m.Raw[1:] {
		rest = append(rest, r...)
	}
	if !hmacEqual(hp.Data, QuickHash1(p.policy.Hash, p.keys.SKEYIDa, mid, rest)) {
		return nil, errors.New("ike: informational HASH mismatch")
	}
	return m, nil
}

// sealedNotify builds an encrypted, hashed Informational with one
// notification about the ISAKMP SA.
func (p *Phase1) sealedNotify(t uint16) ([]byte, error) {
	midb, err := p.random(4)
	if err != nil {
		return nil, err
	}
	mid := uint32(midb[0])<<24 | uint32(midb[1])<<16 | uint32(midb[2])<<8 | uint32(midb[3])
	n := &Notify{DOI: DOIIPsec, Protocol: ProtoISAKMP, NotifyType: t,
		SPI: append(append([]byte(nil), p.ckyI[:]...), p.ckyR[:]...)}
	rest, err := MarshalPayloads([]Payload{n})
	if err != nil {
		return nil, err
	}
	hash := QuickHash1(p.policy.Hash, p.keys.SKEYIDa, mid, rest)
	m := &Message{Header: Header{CookieI: p.ckyI, CookieR: p.ckyR, Exchange: ExchangeInformational, MessageID: mid},
		Payloads: []Payload{&Hash{Data: hash}, n}}
	out, _, err := m.Seal(p.blk, Phase2IV(p.policy.Hash, p.iv, mid, p.blk.BlockSize()))
	return out, err
}
