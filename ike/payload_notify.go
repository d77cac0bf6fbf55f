package ike

import "encoding/binary"

// Notify message types (RFC 2408 section 3.14.1, RFC 2407 section 4.6.3,
// RFC 3706).
const (
	NotifyInvalidPayloadType     uint16 = 1
	NotifyDOINotSupported        uint16 = 2
	NotifySituationNotSupported  uint16 = 3
	NotifyInvalidCookie          uint16 = 4
	NotifyInvalidMajorVersion    uint16 = 5
	NotifyInvalidExchangeType    uint16 = 7
	NotifyInvalidFlags           uint16 = 8
	NotifyInvalidMessageID       uint16 = 9
	NotifyInvalidProtocolID      uint16 = 10
	NotifyInvalidSPI             uint16 = 11
	NotifyInvalidTransformID     uint16 = 12
	NotifyAttributesNotSupported uint16 = 13
	NotifyNoProposalChosen       uint16 = 14
	NotifyBadProposalSyntax      uint16 = 15
	NotifyPayloadMalformed       uint16 = 16
	NotifyInvalidKeyInformation  uint16 = 17
	NotifyInvalidIDInformation   uint16 = 18
	NotifyInvalidCertEncoding    uint16 = 19
	NotifyInvalidCertificate     uint16 = 20
	NotifyCertTypeUnsupported    uint16 = 21
	NotifyInvalidCertAuthority   uint16 = 22
	NotifyInvalidHashInformation uint16 = 23
	NotifyAuthenticationFailed   uint16 = 24
	NotifyInvalidSignature       uint16 = 25
	NotifyAddressNotification    uint16 = 26
	NotifyNotifySALifetime       uint16 = 27
	NotifyCertificateUnavailable uint16 = 28
	NotifyUnsupportedExchange    uint16 = 29
	NotifyUnequalPayloadLengths  uint16 = 30

	NotifyConnected         uint16 = 16384
	NotifyResponderLifetime uint16 = 24576
	NotifyReplayStatus      uint16 = 24577
	NotifyInitialContact    uint16 = 24578
	NotifyDPDRUThere        uint16 = 36136
	NotifyDPDRUThereAck     uint16 = 36137
)

// Notify is the Notification payload. For phase 1 notifies the SPI is
// usually the two cookies (16 bytes) or empty; for phase 2 the 4-byte SPI.
type Notify struct {
	DOI        uint32
	Protocol   uint8
	NotifyType uint16
	SPI        []byte
	Data       []byte
}

func (*Notify) Type() PayloadType { return PayloadNotify }

func (p *Notify) marshalBody(b *builder) {
	b.u32(p.DOI)
	b.u8(p.Protocol)
	b.u8(uint8(len(p.SPI)))
	b.u16(p.NotifyType)
	b.add(p.SPI)
	b.add(p.Data)
}

func parseNotify(s wire) (Payload, error) {
	// DOI, protocol, SPI size, notify type, SPI, data.
	if len(s) < 8 || len(s)-8 < int(s[5]) {
		return nil, malformed("short notify payload")
	}
	end := 8 + int(s[5])
	return &Notify{DOI: binary.BigEndian.Uint32(s), Protocol: s[4], NotifyType: binary.BigEndian.Uint16(s[6:8]),
		SPI: s[8:end], Data: s[end:]}, nil
}

// Delete is the Delete payload: SPIs of one protocol (16-byte cookie
// pairs for ISAKMP, 4-byte SPIs for AH/ESP).
type Delete struct {
	DOI      uint32
	Protocol uint8
	SPISize  uint8
	SPIs     [][]byte
}

func (*Delete) Type() PayloadType { return PayloadDelete }

func (p *Delete) marshalBody(b *builder) {
	b.u32(p.DOI)
	b.u8(p.Protocol)
	size := p.SPISize
	if size == 0 && len(p.SPIs) > 0 {
		size = uint8(len(p.SPIs[0]))
	}
	b.u8(size)
	b.u16(uint16(len(p.SPIs)))
	for _, spi := range p.SPIs {
		if len(spi) != int(size) {
			b.fail(malformed("delete: SPI of %d bytes in a list of %d", len(spi), size))
			return
		}
		b.add(spi)
	}
}

func parseDelete(s wire) (Payload, error) {
	// DOI, protocol, SPI size, number of SPIs, the SPIs.
	if len(s) < 8 {
		return nil, malformed("short delete payload")
	}
	p := &Delete{DOI: binary.BigEndian.Uint32(s), Protocol: s[4], SPISize: s[5]}
	n, size := int(binary.BigEndian.Uint16(s[6:8])), int(s[5])
	s = s[8:]
	if size == 0 || n*size != len(s) {
		return nil, malformed("delete: %d SPIs of %d bytes in %d bytes", n, size, len(s))
	}
	for ; len(s) > 0; s = s[size:] {
		p.SPIs = append(p.SPIs, s[:size:size])
	}
	return p, nil
}

// parseNATOA checks a NAT Original Address payload (RFC 3947 section
// 5.2: an ID type, three reserved bytes, an IPv4 or IPv6 address) and
// keeps it as opaque bytes: nothing reads the address (it would only
// correct transport-mode checksums), so no type of its own (flash).
func parseNATOA(s wire, t PayloadType) (Payload, error) {
	if len(s) < 4 {
		return nil, malformed("short NAT-OA payload")
	}
	if id, n := s[0], len(s)-4; !(id == IDIPv4Addr && n == 4) && !(id == IDIPv6Addr && n == 16) {
		return nil, malformed("NAT-OA type %d with %d bytes", id, n)
	}
	return &Opaque{PType: t, Data: s}, nil
}
