package ike

import (
	"golang.org/x/crypto/cryptobyte"
)

// DOIIPsec is the IPsec Domain of Interpretation (RFC 2407).
const DOIIPsec uint32 = 1

// SituationIdentityOnly is SIT_IDENTITY_ONLY, the only situation supported.
const SituationIdentityOnly uint32 = 1

// Protocol IDs (RFC 2407 section 4.4.1).
const (
	ProtoISAKMP uint8 = 1
	ProtoAH     uint8 = 2
	ProtoESP    uint8 = 3
	ProtoIPComp uint8 = 4
)

// TransformKeyIKE is the only phase 1 transform ID (KEY_IKE).
const TransformKeyIKE uint8 = 1

// SA is the Security Association payload with its nested proposals.
// Proposals that share a Number are one AND-ed offer (e.g. AH+ESP).
type SA struct {
	DOI       uint32
	Situation uint32
	Proposals []Proposal
}

// Proposal is one proposal payload.
type Proposal struct {
	Number     uint8
	Protocol   uint8
	SPI        []byte
	Transforms []Transform
}

// Transform is one transform payload.
type Transform struct {
	Number     uint8
	ID         uint8
	Attributes Attributes
}

func (*SA) Type() PayloadType { return PayloadSA }

func (p *SA) marshalBody(b *cryptobyte.Builder) {
	b.AddUint32(p.DOI)
	b.AddUint32(p.Situation)
	addSubPayloads(b, PayloadProposal, len(p.Proposals), func(b *cryptobyte.Builder, i int) {
		pr := &p.Proposals[i]
		b.AddUint8(pr.Number)
		b.AddUint8(pr.Protocol)
		b.AddUint8(uint8(len(pr.SPI)))
		b.AddUint8(uint8(len(pr.Transforms)))
		b.AddBytes(pr.SPI)
		addSubPayloads(b, PayloadTransform, len(pr.Transforms), func(b *cryptobyte.Builder, j int) {
			t := &pr.Transforms[j]
			b.AddUint8(t.Number)
			b.AddUint8(t.ID)
			b.AddUint16(0)
			marshalAttributes(b, t.Attributes)
		})
	})
}

// addSubPayloads writes n sub-payloads of one kind (proposals, or a
// proposal's transforms), body(i) being the i-th: each in a generic header
// whose length includes the header itself, as ISAKMP wants, and whose next
// field names the kind again, 0 on the last.
func addSubPayloads(b *cryptobyte.Builder, kind PayloadType, n int, body func(b *cryptobyte.Builder, i int)) {
	for i := 0; i < n; i++ {
		next := uint8(kind)
		if i == n-1 {
			next = 0
		}
		inner := cryptobyte.NewBuilder(nil)
		body(inner, i)
		bs, err := inner.Bytes()
		if err != nil || len(bs)+4 > 0xffff {
			b.SetError(malformed("sub-payload too long"))
			return
		}
		b.AddUint8(next)
		b.AddUint8(0)
		b.AddUint16(uint16(len(bs) + 4))
		b.AddBytes(bs)
	}
}

// readSubPayload reads a generic header and its body; the header's length
// covers itself.
func readSubPayload(s *cryptobyte.String, next *uint8, body *cryptobyte.String) bool {
	var reserved uint8
	var l uint16
	if !s.ReadUint8(next) || !s.ReadUint8(&reserved) || !s.ReadUint16(&l) || l < 4 {
		return false
	}
	return s.ReadBytes((*[]byte)(body), int(l)-4)
}

func parseSA(s cryptobyte.String) (Payload, error) {
	p := &SA{}
	if !s.ReadUint32(&p.DOI) {
		return nil, malformed("short SA payload")
	}
	// The Informational-only DOI 0 SA carries no situation; everything we
	// speak is the IPsec DOI.
	if p.DOI != DOIIPsec {
		return nil, malformed("SA DOI %d", p.DOI)
	}
	if !s.ReadUint32(&p.Situation) {
		return nil, malformed("short SA payload")
	}
	if p.Situation != SituationIdentityOnly {
		// SIT_SECRECY / SIT_INTEGRITY add labelled-domain fields that no
		// peer we talk to uses.
		return nil, malformed("unsupported situation %#x", p.Situation)
	}
	next := uint8(PayloadProposal)
	for !s.Empty() || next != 0 {
		if next != uint8(PayloadProposal) {
			return nil, malformed("SA: payload %d inside SA", next)
		}
		if len(p.Proposals) >= MaxPayloads {
			return nil, ErrTooMany
		}
		var body cryptobyte.String
		if !readSubPayload(&s, &next, &body) {
			return nil, malformed("truncated proposal")
		}
		pr, err := parseProposal(body)
		if err != nil {
			return nil, err
		}
		p.Proposals = append(p.Proposals, pr)
	}
	if len(p.Proposals) == 0 {
		return nil, malformed("SA without proposals")
	}
	return p, nil
}

func parseProposal(s cryptobyte.String) (Proposal, error) {
	var pr Proposal
	var spiSize, nt uint8
	if !s.ReadUint8(&pr.Number) || !s.ReadUint8(&pr.Protocol) || !s.ReadUint8(&spiSize) ||
		!s.ReadUint8(&nt) || !s.ReadBytes(&pr.SPI, int(spiSize)) {
		return pr, malformed("truncated proposal header")
	}
	if spiSize == 0 {
		pr.SPI = nil
	}
	if nt == 0 {
		return pr, malformed("proposal without transforms")
	}
	next := uint8(PayloadTransform)
	for i := 0; i < int(nt); i++ {
		if next != uint8(PayloadTransform) {
			return pr, malformed("proposal: %d transforms announced, chain ends after %d", nt, i)
		}
		var body cryptobyte.String
		if !readSubPayload(&s, &next, &body) {
			return pr, malformed("truncated transform")
		}
		var t Transform
		var reserved uint16
		if !body.ReadUint8(&t.Number) || !body.ReadUint8(&t.ID) || !body.ReadUint16(&reserved) {
			return pr, malformed("short transform")
		}
		as, err := parseAttributes(body)
		if err != nil {
			return pr, err
		}
		t.Attributes = as
		pr.Transforms = append(pr.Transforms, t)
	}
	if next != 0 || !s.Empty() {
		return pr, malformed("proposal: transform count %d does not match its contents", nt)
	}
	return pr, nil
}
