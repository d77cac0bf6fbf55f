package ike

import (
	"crypto/hmac"
	"encoding/binary"
	"fmt"
)

// Informational exchanges (RFC 2408 section 4.8, RFC 2409 section 5.7)
// after phase 1: every one is encrypted and starts with
// HASH(1) = prf(SKEYID_a, M-ID | N/D). A message whose HASH does not
// verify changes nothing: an unauthenticated Delete never kills an SA.

// childSPI names one IPsec SA by protocol and SPI.
type childSPI struct {
	Protocol uint8
	SPI      uint32
}

// infoEvents is what an authenticated Informational message asks for.
type infoEvents struct {
	DeleteIKE      bool       // the peer deleted this ISAKMP SA
	DeleteChild    []childSPI // SPIs the peer deleted (its inbound = our outbound)
	InitialContact bool       // the peer restarted: drop older SAs with it
	DPDRequest     bool       // R-U-THERE with DPDSeq
	DPDAck         bool       // R-U-THERE-ACK with DPDSeq
	DPDSeq         uint32
	Errors         []uint16 // error notifies (type < 16384)
}

// An Informational message on an established IKE SA (the dispatcher
// routes it there once phase 1 is up: exchangeRoutes) is one row: INFO*,
// encrypted, HASH(1) first, then notifies and Deletes. During phase 1 its
// table is phase1Informational.
var (
	infoRequired = payloads(withHash)
	infoAllowed  = payloads(withDelete) // N always
)

// sealInfo builds a protected Informational message with a fresh M-ID.
func sealInfo(sec *p1Secrets, payloads ...Payload) ([]byte, error) {
	mid := newMessageID()
	out, _, err := sealHashed(sec, ExchangeInformational, mid, sec.exchangeIV(mid), func(rest []byte) []byte {
		return sec.prf(sec.SKEYIDa, midBytes(mid), rest)
	}, payloads)
	return out, err
}

// openInfo decrypts and authenticates an Informational message.
func openInfo(sec *p1Secrets, pkt []byte) (*infoEvents, error) {
	h, err := ParseHeader(pkt)
	if err != nil {
		return nil, err
	}
	if h.Exchange != ExchangeInformational {
		return nil, fmt.Errorf("ike: %v exchange is not Informational", h.Exchange)
	}
	if !h.Encrypted() {
		return nil, fmt.Errorf("%w: unencrypted Informational after phase 1", errUnauthenticated)
	}
	m, hash, rest, _, err := openHashed(sec, pkt, sec.exchangeIV(h.MessageID))
	if err != nil {
		return nil, err
	}
	if !hmac.Equal(hash, sec.prf(sec.SKEYIDa, midBytes(h.MessageID), rest)) {
		return nil, fmt.Errorf("%w (Informational HASH(1))", errUnauthenticated)
	}
	if err := checkPayloads("INFO*", infoRequired, infoAllowed, m); err != nil {
		return nil, err
	}
	return sec.infoEventsOf(m), nil
}

// infoEventsOf interprets the Delete and Notify payloads of an
// authenticated message (an Informational exchange, or the notifies that
// come inside phase 1 messages such as INITIAL-CONTACT).
func (sec *p1Secrets) infoEventsOf(m *Message) *infoEvents {
	ev := &infoEvents{}
	for _, p := range m.Payloads {
		switch p := p.(type) {
		case *Delete:
			switch p.Protocol {
			case ProtoISAKMP:
				for _, spi := range p.SPIs {
					if len(spi) == 16 && Cookie(spi[:8]) == sec.CookieI && Cookie(spi[8:]) == sec.CookieR {
						ev.DeleteIKE = true
					}
				}
			case ProtoESP, ProtoAH:
				for _, spi := range p.SPIs {
					if v, ok := spiValue(spi); ok {
						ev.DeleteChild = append(ev.DeleteChild, childSPI{p.Protocol, v})
					}
				}
			}
		case *Notify:
			switch p.NotifyType {
			case NotifyInitialContact:
				ev.InitialContact = true
			case NotifyDPDRUThere, NotifyDPDRUThereAck:
				if len(p.Data) != 4 || !sec.cookiesMatch(p.SPI) {
					continue
				}
				ev.DPDSeq = binary.BigEndian.Uint32(p.Data)
				ev.DPDRequest = p.NotifyType == NotifyDPDRUThere
				ev.DPDAck = p.NotifyType == NotifyDPDRUThereAck
			default:
				if p.NotifyType < 16384 {
					ev.Errors = append(ev.Errors, p.NotifyType)
				}
			}
		}
	}
	return ev
}

// cookiesMatch accepts a notify SPI that is this SA's cookie pair (some
// peers send an empty SPI for DPD; RFC 3706 wants the cookies).
func (sec *p1Secrets) cookiesMatch(spi []byte) bool {
	if len(spi) == 0 {
		return true
	}
	return len(spi) == 16 && Cookie(spi[:8]) == sec.CookieI && Cookie(spi[8:]) == sec.CookieR
}

func (sec *p1Secrets) cookieSPI() []byte {
	return append(append([]byte(nil), sec.CookieI[:]...), sec.CookieR[:]...)
}

// deleteIKE is the Delete payload for this ISAKMP SA.
func (sec *p1Secrets) deleteIKE() *Delete {
	return &Delete{DOI: DOIIPsec, Protocol: ProtoISAKMP, SPISize: 16, SPIs: [][]byte{sec.cookieSPI()}}
}

// deleteChild is the Delete payload for our inbound SPIs of one protocol.
func deleteChild(proto uint8, spis ...uint32) *Delete {
	d := &Delete{DOI: DOIIPsec, Protocol: proto, SPISize: 4}
	for _, s := range spis {
		d.SPIs = append(d.SPIs, spiBytes(s))
	}
	return d
}

// notifyISAKMP is a notify about this ISAKMP SA (SPI = cookies).
func (sec *p1Secrets) notifyISAKMP(t uint16, data []byte) *Notify {
	return &Notify{DOI: DOIIPsec, Protocol: ProtoISAKMP, NotifyType: t, SPI: sec.cookieSPI(), Data: data}
}

// dpdNotify is R-U-THERE (ack=false) or R-U-THERE-ACK with seq.
func (sec *p1Secrets) dpdNotify(ack bool, seq uint32) *Notify {
	t := NotifyDPDRUThere
	if ack {
		t = NotifyDPDRUThereAck
	}
	return sec.notifyISAKMP(t, binary.BigEndian.AppendUint32(nil, seq))
}

// notifyName names the notify types an admin may see in logs and status.
func notifyName(t uint16) string {
	switch t {
	case NotifyNoProposalChosen:
		return "NO-PROPOSAL-CHOSEN"
	case NotifyInvalidIDInformation:
		return "INVALID-ID-INFORMATION"
	case NotifyAuthenticationFailed:
		return "AUTHENTICATION-FAILED"
	case NotifyPayloadMalformed:
		return "PAYLOAD-MALFORMED"
	case NotifyInvalidKeyInformation:
		return "INVALID-KEY-INFORMATION"
	case NotifyInvalidHashInformation:
		return "INVALID-HASH-INFORMATION"
	case NotifyInvalidSPI:
		return "INVALID-SPI"
	case NotifyInvalidCookie:
		return "INVALID-COOKIE"
	case NotifyInvalidExchangeType:
		return "INVALID-EXCHANGE-TYPE"
	case NotifyInvalidPayloadType:
		return "INVALID-PAYLOAD-TYPE"
	case NotifyInvalidMessageID:
		return "INVALID-MESSAGE-ID"
	}
	return fmt.Sprintf("notify %d", t)
}
