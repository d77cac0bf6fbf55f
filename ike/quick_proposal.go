package ike

import (
	"encoding/binary"
	"fmt"
	"time"

	"tinyipsec/conf"
	"tinyipsec/internal/algo"
)

// ErrPFSMismatch is what a one-sided PFS configuration produces, in words
// an admin recognises.
var ErrPFSMismatch error = errorText("PFS mismatch: one end has PFS set and the other end does not")

// ErrNoProposalChosen means none of the offered transform sets matched.
var ErrNoProposalChosen error = errorText("no proposal chosen: the transform sets (or PFS group, or mode) do not match")

// childOffer is what one end of a Quick Mode offers or accepts: the
// crypto map's transform sets and phase 2 parameters.
type childOffer struct {
	Sets       []*conf.TransformSet
	PFS        algo.Group
	Lifetime   time.Duration
	LifetimeKB uint64
	ESN        bool
	// Encap is the UDP encapsulation negotiated in phase 1: 0 none,
	// EncapUDPTunnel (RFC 3947) or EncapUDPTunnelDraft (NAT-T drafts).
	Encap uint64
	// pfsKey is the initiator's PFS key, made ahead off the manager's
	// lock (dh_pool.go); nil: made when the exchange starts.
	pfsKey dhPrivate
}

// protoChoice is the negotiated transform of one protocol (ESP or AH) of
// a child SA, with both SPIs.
type protoChoice struct {
	_           [0]func() // not comparable: no generated == function (flash)
	Protocol    uint8
	TransformID uint8
	Encryption  algo.Cipher // ESP only
	Integrity   algo.Hash   // HashNone for AEAD
	KeyBits     int
	SPIi, SPIr  uint32 // chosen by initiator / responder (each its inbound)
}

// childChoice is the negotiated child SA parameters.
type childChoice struct {
	_          [0]func() // not comparable: no generated == function (flash)
	Mode       conf.Mode
	EncapMode  uint64 // the attribute value exchanged
	ESP, AH    *protoChoice
	PFS        algo.Group
	Lifetime   time.Duration
	LifetimeKB uint64
	ESN        bool
}

// buildSA returns the initiator's SA payload: one proposal number per
// transform set (AH+ESP bundles are two proposals sharing the number),
// each protocol with its own inbound SPI from spi (called once per
// protocol proposal).
func (o *childOffer) buildSA(spi func() uint32) (*SA, error) {
	sa := &SA{DOI: DOIIPsec, Situation: SituationIdentityOnly}
	lt := o.Lifetime
	if lt <= 0 {
		lt = conf.DefaultP2Lifetime
	}
	for i, ts := range o.Sets {
		num := uint8(i + 1)
		// The attributes every transform of the proposal carries. The
		// encapsulation mode is the phase 1 NAT-T result (0,
		// EncapUDPTunnel or EncapUDPTunnelDraft), EncapTunnel without
		// it, and each transport value is the tunnel value after it
		// (RFC 2407, RFC 3947, the drafts).
		var common Attributes
		common.addLife(AttrSALifeType, lt, o.LifetimeKB)
		if o.PFS != 0 {
			common.addUint(AttrP2GroupDesc, uint64(o.PFS))
		}
		encap := o.Encap
		if encap == 0 {
			encap = EncapTunnel
		}
		if ts.Mode == conf.ModeTransport {
			encap++
		}
		common.addUint(AttrEncapsulationMode, encap)
		if o.ESN {
			common.addUint(AttrExtendedSeq, 1)
		}
		// Clipped: the AH and the ESP transform each append to a copy.
		common = common[:len(common):len(common)]
		if ts.AH != algo.HashNone {
			h := ts.AH.Info()
			if h == nil {
				return nil, fmt.Errorf("transform set %s: unknown ah %v", ts.Name, ts.AH)
			}
			as := common
			as.addUint(AttrAuthAlgorithm, uint64(h.AuthAttr))
			sa.addProposal(num, ProtoAH, spi(), Transform{Number: 1, ID: h.AHTransformID, Attributes: as})
		}
		if ts.ESP != algo.CipherNone {
			c := ts.ESP.Info()
			if c == nil {
				return nil, fmt.Errorf("transform set %s: unknown esp %v", ts.Name, ts.ESP)
			}
			as := common
			if c.KeyBits != 0 {
				as.addUint(AttrP2KeyLength, uint64(c.KeyBits))
			}
			if !c.AEAD() && ts.ESPAuth != algo.HashNone {
				h := ts.ESPAuth.Info()
				if h == nil {
					return nil, fmt.Errorf("transform set %s: unknown esp_auth %v", ts.Name, ts.ESPAuth)
				}
				as.addUint(AttrAuthAlgorithm, uint64(h.AuthAttr))
			}
			sa.addProposal(num, ProtoESP, spi(), Transform{Number: 1, ID: c.TransformID, Attributes: as})
		}
	}
	if len(sa.Proposals) == 0 {
		return nil, errorText("no transform set to offer")
	}
	return sa, nil
}

// addProposal appends a proposal of one protocol with SPI spi and the
// single transform t.
func (sa *SA) addProposal(num, proto uint8, spi uint32, t Transform) {
	sa.Proposals = append(sa.Proposals, Proposal{Number: num, Protocol: proto, SPI: be32(spi), Transforms: []Transform{t}})
}

// be32 is a 32-bit value's four bytes, big-endian: an SPI, a message ID
// (one function for every such field: flash).
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func spiValue(b []byte) (uint32, bool) {
	if len(b) != 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(b), true
}

// transformParams are the attributes of one phase 2 transform, decoded.
type transformParams struct {
	lifetime   time.Duration
	lifeKB     uint64
	group      algo.Group
	encap      uint64
	auth       uint16
	keyBits    int
	esn        bool
	unknownAtt uint16
}

// decodeTransform fills p, which starts zero, from a transform's
// attributes as (p by pointer: copied at every call and return
// otherwise).
func decodeTransform(as Attributes, p *transformParams) {
	// unit: the SA Life Type before a SA Life Duration, which is in that
	// unit (RFC 2407 section 4.5).
	var unit uint64
	for i := range as {
		a := &as[i]
		v, ok := a.Uint()
		if !ok {
			p.unknownAtt = a.Type
			continue
		}
		switch a.Type {
		case AttrSALifeType:
			unit = v
		case AttrSALifeDuration:
			switch unit {
			case LifeSeconds:
				p.lifetime = time.Duration(v) * time.Second
			case LifeKilobytes:
				p.lifeKB = v
			}
		case AttrP2GroupDesc:
			p.group = algo.Group(v)
		case AttrEncapsulationMode:
			p.encap = v
		case AttrAuthAlgorithm:
			p.auth = uint16(v)
		case AttrP2KeyLength:
			p.keyBits = int(v)
		case AttrExtendedSeq:
			p.esn = v == 1
		default:
			p.unknownAtt = a.Type
		}
	}
}

// matchTransform checks one offered transform against our transform set
// for protocol proto and returns the choice; p gets t's attributes.
func matchTransform(proto uint8, t *Transform, ts *conf.TransformSet, p *transformParams) (*protoChoice, bool) {
	decodeTransform(t.Attributes, p)
	if p.unknownAtt != 0 {
		return nil, false
	}
	switch proto {
	case ProtoESP:
		c := ts.ESP.Info()
		if c == nil {
			return nil, false
		}
		if got, ok := algo.CipherByTransform(t.ID, p.keyBits); !ok || got != ts.ESP {
			return nil, false
		}
		want := uint16(0)
		if h := ts.ESPAuth.Info(); h != nil && !c.AEAD() {
			want = h.AuthAttr
		}
		if p.auth != want {
			return nil, false
		}
		return &protoChoice{Protocol: ProtoESP, TransformID: c.TransformID, Encryption: ts.ESP, Integrity: ts.ESPAuth, KeyBits: c.KeyBits}, true
	case ProtoAH:
		h := ts.AH.Info()
		if h == nil || t.ID != h.AHTransformID || (p.auth != 0 && p.auth != h.AuthAttr) {
			return nil, false
		}
		return &protoChoice{Protocol: ProtoAH, TransformID: h.AHTransformID, Integrity: ts.AH}, true
	}
	return nil, false
}

// selectProposal is the responder's choice: the first offered proposal
// (in the initiator's order) that one of our transform sets accepts. It
// returns the reply SA payload (with our SPIs from spi) and the choice.
// A proposal that matched except for PFS yields ErrPFSMismatch when
// nothing else matches.
func (o *childOffer) selectProposal(offer *SA, spi func() uint32) (*SA, *childChoice, error) {
	pfsMismatch := false
	// The AND-ed groups of proposals that share a number, in order.
	for i, j := 0, 0; i < len(offer.Proposals); i = j {
		for j = i + 1; j < len(offer.Proposals) && offer.Proposals[j].Number == offer.Proposals[i].Number; j++ {
		}
		group := offer.Proposals[i:j]
		var haveAH, haveESP bool
		for k := range group {
			haveAH = haveAH || group[k].Protocol == ProtoAH
			haveESP = haveESP || group[k].Protocol == ProtoESP
		}
		// Each of our transform sets against the group: the same
		// protocols, and for each one of the offered transforms.
	sets:
		for _, ts := range o.Sets {
			wantAH, wantESP := ts.AH != algo.HashNone, ts.ESP != algo.CipherNone
			if haveAH != wantAH || haveESP != wantESP || len(group) != btoi(wantAH)+btoi(wantESP) {
				continue
			}
			wantMode := ts.Mode
			if wantMode == "" {
				wantMode = conf.ModeTunnel
			}
			ch := &childChoice{Mode: wantMode}
			wantTransport := wantMode == conf.ModeTransport
			reply := &SA{DOI: DOIIPsec, Situation: SituationIdentityOnly}
			// groupPFS: the group failed only because of PFS.
			groupPFS := false
			for k := range group {
				p := &group[k]
				peerSPI, ok := spiValue(p.SPI)
				if !ok {
					continue sets
				}
				var found *protoChoice
				var tp transformParams
				var t *Transform
				for n := range p.Transforms {
					t, tp = &p.Transforms[n], transformParams{}
					c, ok := matchTransform(p.Protocol, t, ts, &tp)
					if !ok {
						continue
					}
					// Any encapsulation value of the wanted mode (plain,
					// RFC 3947 UDP or the drafts' UDP) will do.
					transport := false
					switch tp.encap {
					case EncapTunnel, EncapUDPTunnel, EncapUDPTunnelDraft:
					case EncapTransport, EncapUDPTransport, EncapUDPTransportDft:
						transport = true
					default:
						continue
					}
					if transport != wantTransport || tp.esn != o.ESN {
						continue
					}
					if tp.group != o.PFS {
						groupPFS = groupPFS || (tp.group == 0) != (o.PFS == 0)
						continue
					}
					found = c
					break
				}
				if found == nil {
					pfsMismatch = pfsMismatch || groupPFS
					continue sets
				}
				found.SPIi = peerSPI
				found.SPIr = spi()
				// A longer offer is answered with RESPONDER-LIFETIME by
				// the caller.
				o.choose(ch, p.Protocol, found, &tp)
				reply.addProposal(p.Number, p.Protocol, found.SPIr, *t)
			}
			return reply, ch, nil
		}
	}
	if pfsMismatch {
		return nil, nil, ErrPFSMismatch
	}
	return nil, nil, ErrNoProposalChosen
}

// acceptReply is the initiator's check of the responder's SA payload: it
// must be one of our proposals with exactly one of our transforms each.
func (o *childOffer) acceptReply(reply *SA, ourSA *SA) (*childChoice, error) {
	// One proposal number: one AND-ed group (AH+ESP bundles are two
	// proposals sharing the number).
	groups := 0
	for i := range reply.Proposals {
		if i == 0 || reply.Proposals[i].Number != reply.Proposals[i-1].Number {
			groups++
		}
	}
	if groups != 1 {
		return nil, fmt.Errorf("%w: responder chose %d proposals", ErrNoProposalChosen, groups)
	}
	num := reply.Proposals[0].Number
	idx := int(num) - 1
	if idx < 0 || idx >= len(o.Sets) {
		return nil, fmt.Errorf("%w: responder chose proposal %d which we did not offer", ErrNoProposalChosen, num)
	}
	ts := o.Sets[idx]
	ch := &childChoice{Mode: ts.Mode}
	if ch.Mode == "" {
		ch.Mode = conf.ModeTunnel
	}
	for i := range reply.Proposals {
		p := &reply.Proposals[i]
		if len(p.Transforms) != 1 {
			return nil, fmt.Errorf("%w: responder returned %d transforms", ErrNoProposalChosen, len(p.Transforms))
		}
		var tp transformParams
		c, ok := matchTransform(p.Protocol, &p.Transforms[0], ts, &tp)
		if !ok {
			return nil, fmt.Errorf("%w: responder's transform is not one we offered", ErrNoProposalChosen)
		}
		if (tp.group == 0) != (o.PFS == 0) {
			return nil, ErrPFSMismatch
		}
		if tp.group != o.PFS {
			return nil, fmt.Errorf("%w: responder chose PFS group %d, we offered %d", ErrNoProposalChosen, tp.group, o.PFS)
		}
		spiR, ok := spiValue(p.SPI)
		if !ok {
			return nil, fmt.Errorf("%w: SPI of %d bytes", ErrNoProposalChosen, len(p.SPI))
		}
		c.SPIr = spiR
		for j := range ourSA.Proposals {
			if our := &ourSA.Proposals[j]; our.Number == p.Number && our.Protocol == p.Protocol {
				c.SPIi, _ = spiValue(our.SPI)
			}
		}
		if c.SPIi == 0 {
			return nil, fmt.Errorf("%w: responder answered protocol %d that we did not offer", ErrNoProposalChosen, p.Protocol)
		}
		o.choose(ch, p.Protocol, c, &tp)
	}
	if (ts.AH != algo.HashNone) != (ch.AH != nil) || (ts.ESP != algo.CipherNone) != (ch.ESP != nil) {
		return nil, fmt.Errorf("%w: responder answered part of an AH+ESP bundle", ErrNoProposalChosen)
	}
	return ch, nil
}

// choose records in ch the transform chosen for one protocol of the
// bundle (c, with attributes tp): its mode, PFS group and ESN, and the
// shorter of its lifetimes and ours.
func (o *childOffer) choose(ch *childChoice, proto uint8, c *protoChoice, tp *transformParams) {
	ch.EncapMode, ch.PFS, ch.ESN = tp.encap, tp.group, tp.esn
	ch.Lifetime = minDur(tp.lifetime, o.Lifetime)
	ch.LifetimeKB = minNonZero(tp.lifeKB, o.LifetimeKB)
	if proto == ProtoAH {
		ch.AH = c
	} else {
		ch.ESP = c
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func minDur(a, b time.Duration) time.Duration {
	switch {
	case a <= 0:
		return b
	case b <= 0:
		return a
	case a < b:
		return a
	}
	return b
}

func minNonZero(a, b uint64) uint64 {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	case a < b:
		return a
	}
	return b
}
