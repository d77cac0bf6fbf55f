package ike

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Informational exchanges (RFC 2408 section 4.8, RFC 2409 section 5.7)
// after phase 1: every one is encrypted and starts with
// HASH(1) = prf(SKEYID_a, M-ID | N/D). A message whose HASH does not
// verify changes nothing: an unauthenticated Delete never kills an SA.

// childSPI names one IPsec SA by protocol and SPI.
type childSPI struct {
	_        [0]func() // not comparable: no generated == function (flash)
	Protocol uint8
	SPI      uint32
}

// peerNotify is an error notify from the peer: its type, and the protocol
// and SPI it names (strongSwan names the refused proposal's protocol and
// our SPI from it; a message it could not parse, the ISAKMP SA). The SPI
// is kept as a string so that items compare with ==.
type peerNotify struct {
	_        [0]func() // not comparable: no generated == function (flash)
	Type     uint16
	Protocol uint8
	SPI      string
}

// An Informational message on an established IKE SA (the dispatcher
// routes it there once phase 1 is up: exchangeRoutes) is encrypted,
// HASH(1) first, then notifies and Deletes; openInfo checks that and
// splits the message into items, one per Delete or notify that asks for
// something. The items then go through infoTable (manager_info.go).
// During phase 1 the table is phase1Informational.
const (
	infoRequired = withHash
	infoAllowed  = withDelete // N always
)

// sealInfo builds a protected Informational message with a fresh M-ID.
func sealInfo(sec *p1Secrets, payloads ...Payload) ([]byte, error) {
	mid := newMessageID()
	out, _, err := sealHashed(sec, ExchangeInformational, mid, sec.exchangeIV(mid), [][]byte{be32(mid)}, payloads)
	return out, err
}

// openInfo decrypts and authenticates an Informational message and
// returns it with its items.
func openInfo(sec *p1Secrets, pkt []byte) (*Message, []infoItem, error) {
	var h Header // filled in place: ParseHeader returns a copy
	if err := h.parse(pkt); err != nil {
		return nil, nil, err
	}
	if h.Exchange != ExchangeInformational {
		return nil, nil, fmt.Errorf("ike: %v exchange is not Informational", h.Exchange)
	}
	if !h.Encrypted() {
		return nil, nil, fmt.Errorf("%w: unencrypted Informational after phase 1", errUnauthenticated)
	}
	m, _, err := openHashed(sec, pkt, sec.exchangeIV(h.MessageID), [][]byte{be32(h.MessageID)}, true, "Informational HASH(1)")
	if err != nil {
		return nil, nil, err
	}
	if err := checkPayloads("INFO*", infoRequired, infoAllowed, m); err != nil {
		return nil, nil, err
	}
	return m, sec.infoItemsOf(m), nil
}

// infoKind is what one Delete or notify of an Informational message asks.
type infoKind uint8

const (
	infoRUThere        infoKind = iota // N(R-U-THERE): answer with an ACK (RFC 3706)
	infoRUThereAck                     // N(R-U-THERE-ACK): the peer is alive
	infoError                          // an error notify (type < 16384): the peer refused something
	infoDeleteChild                    // D(ESP|AH): the peer deleted an IPsec SA (its inbound, our outbound)
	infoInitialContact                 // N(INITIAL-CONTACT): the peer restarted
	infoDeleteIKE                      // D(ISAKMP) naming this SA
	infoKinds
)

var infoKindNames = [...]string{"R-U-THERE", "R-U-THERE-ACK", "error notify", "Delete IPsec SA", "INITIAL-CONTACT", "Delete IKE SA"}

func (k infoKind) String() string { return nameIn(infoKindNames[:], int(k), "info(%d)") }

// infoItem is one thing an authenticated Informational message asks.
type infoItem struct {
	_      [0]func() // not comparable: no generated == function (flash)
	kind   infoKind
	child  childSPI   // infoDeleteChild
	seq    uint32     // infoRUThere, infoRUThereAck
	notify peerNotify // infoError
}

// infoItemsOf splits the Delete and Notify payloads of an authenticated
// message into items. What asks for nothing is left out: a Delete of
// another ISAKMP SA, an SPI of the wrong size, a DPD notify without a
// 4-byte sequence number or with another SA's cookies, status notifies
// we do not know.
func (sec *p1Secrets) infoItemsOf(m *Message) []infoItem {
	var items []infoItem
	for _, p := range m.Payloads {
		switch p := p.(type) {
		case *Delete:
			for _, spi := range p.SPIs {
				it := infoItem{kind: infoDeleteIKE}
				v, ok := spiValue(spi)
				switch {
				case p.Protocol == ProtoISAKMP:
					if !sec.isCookiePair(spi) {
						continue
					}
				case ok && (p.Protocol == ProtoESP || p.Protocol == ProtoAH):
					it.kind, it.child = infoDeleteChild, childSPI{Protocol: p.Protocol, SPI: v}
				default:
					continue
				}
				items = append(items, it)
			}
		case *Notify:
			it := infoItem{kind: infoInitialContact}
			switch p.NotifyType {
			case NotifyInitialContact:
			case NotifyDPDRUThere, NotifyDPDRUThereAck:
				// The SPI is this SA's cookie pair, or empty: some peers
				// send none for DPD (RFC 3706 wants the cookies).
				if len(p.Data) != 4 || len(p.SPI) != 0 && !sec.isCookiePair(p.SPI) {
					continue
				}
				it.kind = infoRUThere
				if p.NotifyType == NotifyDPDRUThereAck {
					it.kind = infoRUThereAck
				}
				it.seq = binary.BigEndian.Uint32(p.Data)
			default:
				if p.NotifyType >= 16384 {
					continue
				}
				it.kind, it.notify = infoError, peerNotify{Type: p.NotifyType, Protocol: p.Protocol, SPI: string(p.SPI)}
			}
			items = append(items, it)
		}
	}
	return items
}

// isCookiePair reports whether spi is this SA's cookies, CKY-I | CKY-R.
func (sec *p1Secrets) isCookiePair(spi []byte) bool {
	return len(spi) == 16 && bytes.Equal(spi[:8], sec.CookieI[:]) && bytes.Equal(spi[8:], sec.CookieR[:])
}

func (sec *p1Secrets) cookieSPI() []byte { return cookiePair(&sec.CookieI, &sec.CookieR) }

// cookiePair is CKY-I | CKY-R, the SPI of the ISAKMP SA.
func cookiePair(i, r *Cookie) []byte {
	return append(append(make([]byte, 0, 16), i[:]...), r[:]...)
}

// isakmpNotify is a notify about the ISAKMP SA of cookies i and r (its
// SPI is the pair), for phase 1 and after it.
func isakmpNotify(i, r *Cookie, t uint16, data []byte) *Notify {
	return &Notify{DOI: DOIIPsec, Protocol: ProtoISAKMP, NotifyType: t, SPI: cookiePair(i, r), Data: data}
}

// deleteIKE is the Delete payload for this ISAKMP SA.
func (sec *p1Secrets) deleteIKE() *Delete {
	return &Delete{DOI: DOIIPsec, Protocol: ProtoISAKMP, SPISize: 16, SPIs: [][]byte{sec.cookieSPI()}}
}

// deleteChild is the Delete payload for our inbound SPIs of one protocol.
func deleteChild(proto uint8, spis ...uint32) *Delete {
	d := &Delete{DOI: DOIIPsec, Protocol: proto, SPISize: 4}
	for _, s := range spis {
		d.SPIs = append(d.SPIs, be32(s))
	}
	return d
}

// dpdNotify is R-U-THERE (ack=false) or R-U-THERE-ACK with seq.
func (sec *p1Secrets) dpdNotify(ack bool, seq uint32) *Notify {
	t := NotifyDPDRUThere
	if ack {
		t = NotifyDPDRUThereAck
	}
	return isakmpNotify(&sec.CookieI, &sec.CookieR, t, be32(seq))
}

// notifyName names the notify types an admin may see in logs and status.
func notifyName(t uint16) string { return nameIn(notifyNames[:], int(t), "notify %d") }

var notifyNames = [...]string{
	NotifyNoProposalChosen:       "NO-PROPOSAL-CHOSEN",
	NotifyInvalidIDInformation:   "INVALID-ID-INFORMATION",
	NotifyAuthenticationFailed:   "AUTHENTICATION-FAILED",
	NotifyPayloadMalformed:       "PAYLOAD-MALFORMED",
	NotifyInvalidKeyInformation:  "INVALID-KEY-INFORMATION",
	NotifyInvalidHashInformation: "INVALID-HASH-INFORMATION",
	NotifyInvalidSPI:             "INVALID-SPI",
	NotifyInvalidCookie:          "INVALID-COOKIE",
	NotifyInvalidExchangeType:    "INVALID-EXCHANGE-TYPE",
	NotifyInvalidPayloadType:     "INVALID-PAYLOAD-TYPE",
	NotifyInvalidMessageID:       "INVALID-MESSAGE-ID",
}
