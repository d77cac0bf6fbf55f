package ike

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
	b.add([]byte{byte(p.DOI >> 24), byte(p.DOI >> 16), byte(p.DOI >> 8), byte(p.DOI),
		p.Protocol, uint8(len(p.SPI)), byte(p.NotifyType >> 8), byte(p.NotifyType)})
	b.add(p.SPI)
	b.add(p.Data)
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
	size := p.SPISize
	if size == 0 && len(p.SPIs) > 0 {
		size = uint8(len(p.SPIs[0]))
	}
	n := len(p.SPIs)
	b.add([]byte{byte(p.DOI >> 24), byte(p.DOI >> 16), byte(p.DOI >> 8), byte(p.DOI),
		p.Protocol, size, byte(n >> 8), byte(n)})
	for _, spi := range p.SPIs {
		if len(spi) != int(size) {
			b.fail(malformed("delete: SPI of %d bytes in a list of %d", len(spi), size))
			return
		}
		b.add(spi)
	}
}
