package ike

import "encoding/binary"

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

func (p *SA) marshalBody(b *builder) {
	b.add([]byte{byte(p.DOI >> 24), byte(p.DOI >> 16), byte(p.DOI >> 8), byte(p.DOI),
		byte(p.Situation >> 24), byte(p.Situation >> 16), byte(p.Situation >> 8), byte(p.Situation)})
	for i := range p.Proposals {
		pr := &p.Proposals[i]
		at := b.open(nextSub(PayloadProposal, i, len(p.Proposals)))
		b.add([]byte{pr.Number, pr.Protocol, uint8(len(pr.SPI)), uint8(len(pr.Transforms))})
		b.add(pr.SPI)
		for j := range pr.Transforms {
			t := &pr.Transforms[j]
			at := b.open(nextSub(PayloadTransform, j, len(pr.Transforms)))
			b.add([]byte{t.Number, t.ID, 0, 0}) // and 2 reserved bytes
			marshalAttributes(b, t.Attributes)
			b.close(at)
		}
		b.close(at)
	}
}

// nextSub is the next-payload field of the i-th of n sub-payloads of one
// kind (proposals, or a proposal's transforms): the kind again, 0 on the
// last. Each sub-payload's generic header counts itself in its length,
// as ISAKMP wants (builder.open, close).
func nextSub(kind PayloadType, i, n int) uint8 {
	if i == n-1 {
		return 0
	}
	return uint8(kind)
}

// readSubPayload reads a generic header and its body; the header's length
// covers itself.
func readSubPayload(s *wire, next *uint8, body *wire) bool {
	b := *s
	if len(b) < 4 {
		return false
	}
	l := int(binary.BigEndian.Uint16(b[2:4]))
	if l < 4 || l > len(b) {
		return false
	}
	*next, *body, *s = b[0], b[4:l], b[l:]
	return true
}

func parseSA(s wire) (Payload, error) {
	p := &SA{}
	// The DOI, when there is one, before the length of the rest: the
	// Informational-only DOI 0 SA carries no situation; everything we
	// speak is the IPsec DOI.
	if len(s) >= 4 {
		if p.DOI = binary.BigEndian.Uint32(s); p.DOI != DOIIPsec {
			return nil, malformed("SA DOI %d", p.DOI)
		}
	}
	if len(s) < 8 {
		return nil, malformed("short SA payload")
	}
	p.Situation, s = binary.BigEndian.Uint32(s[4:8]), s[8:]
	if p.Situation != SituationIdentityOnly {
		// SIT_SECRECY / SIT_INTEGRITY add labelled-domain fields that no
		// peer we talk to uses.
		return nil, malformed("unsupported situation %#x", p.Situation)
	}
	next := uint8(PayloadProposal)
	for len(s) != 0 || next != 0 {
		if next != uint8(PayloadProposal) {
			return nil, malformed("SA: payload %d inside SA", next)
		}
		if len(p.Proposals) >= MaxPayloads {
			return nil, ErrTooMany
		}
		var body wire
		if !readSubPayload(&s, &next, &body) {
			return nil, malformed("truncated proposal")
		}
		p.Proposals = append(p.Proposals, Proposal{})
		pr := &p.Proposals[len(p.Proposals)-1]
		// Proposal number, protocol, SPI size, number of transforms, SPI.
		if len(body) < 4 || len(body)-4 < int(body[2]) {
			return nil, malformed("truncated proposal header")
		}
		spiSize, nt := int(body[2]), body[3]
		pr.Number, pr.Protocol = body[0], body[1]
		if spiSize > 0 {
			pr.SPI = body[4 : 4+spiSize]
		}
		body = body[4+spiSize:]
		if nt == 0 {
			return nil, malformed("proposal without transforms")
		}
		tnext := uint8(PayloadTransform)
		for i := 0; i < int(nt); i++ {
			if tnext != uint8(PayloadTransform) {
				return nil, malformed("proposal: %d transforms announced, chain ends after %d", nt, i)
			}
			var tb wire
			if !readSubPayload(&body, &tnext, &tb) {
				return nil, malformed("truncated transform")
			}
			// Transform number, ID, reserved, then the attributes.
			if len(tb) < 4 {
				return nil, malformed("short transform")
			}
			as, err := parseAttributes(tb[4:])
			if err != nil {
				return nil, err
			}
			pr.Transforms = append(pr.Transforms, Transform{Number: tb[0], ID: tb[1], Attributes: as})
		}
		if tnext != 0 || len(body) != 0 {
			return nil, malformed("proposal: transform count %d does not match its contents", nt)
		}
	}
	if len(p.Proposals) == 0 {
		return nil, malformed("SA without proposals")
	}
	return p, nil
}
