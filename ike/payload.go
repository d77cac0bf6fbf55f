package ike

// PayloadType is the ISAKMP next-payload value.
type PayloadType uint8

// Payload types (RFC 2408 section 3.1, RFC 3947, and the private-use values
// of the NAT-T drafts and of IKEv1 fragmentation).
const (
	PayloadNone       PayloadType = 0
	PayloadSA         PayloadType = 1
	PayloadProposal   PayloadType = 2
	PayloadTransform  PayloadType = 3
	PayloadKE         PayloadType = 4
	PayloadID         PayloadType = 5
	PayloadCert       PayloadType = 6
	PayloadCR         PayloadType = 7
	PayloadHash       PayloadType = 8
	PayloadSig        PayloadType = 9
	PayloadNonce      PayloadType = 10
	PayloadNotify     PayloadType = 11
	PayloadDelete     PayloadType = 12
	PayloadVendorID   PayloadType = 13
	PayloadAttributes PayloadType = 14 // mode-config / XAUTH
	PayloadNATD       PayloadType = 20 // RFC 3947
	PayloadNATOA      PayloadType = 21 // RFC 3947
	PayloadNATDDraft  PayloadType = 130
	PayloadNATOADraft PayloadType = 131
	PayloadFragment   PayloadType = 132
)

// payloadNames are the names of the RFC 2408 and RFC 3947 types by
// number: an array is static data, a map is built at start (flash).
var payloadNames = [...]string{
	PayloadNone: "NONE", PayloadSA: "SA", PayloadProposal: "P", PayloadTransform: "T",
	PayloadKE: "KE", PayloadID: "ID", PayloadCert: "CERT", PayloadCR: "CR",
	PayloadHash: "HASH", PayloadSig: "SIG", PayloadNonce: "NONCE", PayloadNotify: "N",
	PayloadDelete: "D", PayloadVendorID: "VID", PayloadAttributes: "ATTR",
	PayloadNATD: "NAT-D", PayloadNATOA: "NAT-OA",
}

func (t PayloadType) String() string {
	switch t {
	case PayloadNATDDraft:
		return "NAT-D(draft)"
	case PayloadNATOADraft:
		return "NAT-OA(draft)"
	case PayloadFragment:
		return "FRAG"
	}
	return nameIn(payloadNames[:], int(t), "PAYLOAD(%d)")
}

// Payload is one payload of a message. The concrete types are *SA, *ID,
// *Cert (CERT and CR), *Notify, *Delete, *AttributesPayload and *Opaque
// (KE, HASH, SIG, NONCE, VID, NAT-D, NAT-OA, fragments and unknown
// types).
type Payload interface {
	Type() PayloadType
	// marshalBody writes the payload body (after the generic header).
	marshalBody(b *builder)
}

// Opaque is a payload whose body the codec does not interpret; PType
// says which it is: KE (the DH public value; for ECP groups x||y, RFC
// 5903), HASH, SIG, NONCE, VID, NAT-D (HASH(CKY-I | CKY-R | IP | Port);
// PayloadNATDDraft for the pre-RFC type 130), NAT-OA (checked by
// parsePayloads; PayloadNATOADraft for type 131), an IKEv1 fragment (type
// 132, read by Reassembler.Add) or a type this codec does not know, kept so the caller can answer INVALID_PAYLOAD_TYPE or ignore
// it. One type for all of them: a type per payload cost its descriptors
// and two methods each (flash).
type Opaque struct {
	PType PayloadType
	Data  []byte
}

func (p *Opaque) Type() PayloadType      { return p.PType }
func (p *Opaque) marshalBody(b *builder) { b.add(p.Data) }

// opaque returns the first payload of m of type t, which must be one the
// codec keeps as an *Opaque, or nil.
func (m *Message) opaque(t PayloadType) *Opaque {
	for _, p := range m.Payloads {
		if o, ok := p.(*Opaque); ok && o.PType == t {
			return o
		}
	}
	return nil
}

// Certificate encodings (RFC 2408 section 3.9).
const (
	CertPKCS7      uint8 = 1
	CertPGP        uint8 = 2
	CertDNSSigned  uint8 = 3
	CertX509Sig    uint8 = 4
	CertX509KeyEx  uint8 = 5
	CertKerberos   uint8 = 6
	CertCRL        uint8 = 7
	CertARL        uint8 = 8
	CertSPKI       uint8 = 9
	CertX509Attr   uint8 = 10
	CertRawRSAKey  uint8 = 11
	CertHashURL    uint8 = 12
	CertHashURLBun uint8 = 13
)

// Cert is the Certificate payload, or with Request set the Certificate
// Request payload, whose Data is then the DER subject of an acceptable
// CA (may be empty: any CA). One type for the two, which have the same
// fields: a type each cost its descriptors and two methods (flash).
type Cert struct {
	Request  bool
	Encoding uint8
	Data     []byte
}

func (p *Cert) Type() PayloadType {
	if p.Request {
		return PayloadCR
	}
	return PayloadCert
}

func (p *Cert) marshalBody(b *builder) {
	b.add([]byte{p.Encoding})
	b.add(p.Data)
}
