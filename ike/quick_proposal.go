package ike

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"tinyipsec/conf"
)

// IPsec DOI transform identifiers (RFC 2407 section 4.4.3/4.4.4 and the
// IANA registry; ChaCha20-Poly1305 uses the value strongSwan shares with
// IKEv2's ENCR_CHACHA20_POLY1305).
const (
	espDES      uint8 = 2
	esp3DES     uint8 = 3
	espNULL     uint8 = 11
	espAESCBC   uint8 = 12
	espAESGCM16 uint8 = 20
	espChaCha20 uint8 = 28

	ahMD5    uint8 = 2
	ahSHA1   uint8 = 3
	ahSHA256 uint8 = 5
	ahSHA384 uint8 = 6
	ahSHA512 uint8 = 7
)

// Authentication algorithm attribute values (RFC 2407 section 4.5,
// RFC 4868).
const (
	authHMACMD5    uint16 = 1
	authHMACSHA1   uint16 = 2
	authHMACSHA256 uint16 = 5
	authHMACSHA384 uint16 = 6
	authHMACSHA512 uint16 = 7
)

// ErrPFSMismatch is what a one-sided PFS configuration produces, in words
// an admin recognises.
var ErrPFSMismatch = errors.New("PFS mismatch: one end has PFS set and the other end does not")

// ErrNoProposalChosen means none of the offered transform sets matched.
var ErrNoProposalChosen = errors.New("no proposal chosen: the transform sets (or PFS group, or mode) do not match")

// integAlg maps a configuration hash name to the auth-algorithm attribute,
// the AH transform ID and the key length in bytes.
func integAlg(name string) (attr uint16, ahID uint8, keyLen int, ok bool) {
	switch name {
	case "md5":
		return authHMACMD5, ahMD5, 16, true
	case "sha1":
		return authHMACSHA1, ahSHA1, 20, true
	case "sha256":
		return authHMACSHA256, ahSHA256, 32, true
	case "sha384":
		return authHMACSHA384, ahSHA384, 48, true
	case "sha512":
		return authHMACSHA512, ahSHA512, 64, true
	}
	return 0, 0, 0, false
}

func integName(attr uint16) string {
	switch attr {
	case authHMACMD5:
		return "md5"
	case authHMACSHA1:
		return "sha1"
	case authHMACSHA256:
		return "sha256"
	case authHMACSHA384:
		return "sha384"
	case authHMACSHA512:
		return "sha512"
	}
	return ""
}

// espCipher maps a configuration cipher name to the ESP transform ID, the
// key length attribute in bits (0: none sent) and the KEYMAT bytes it uses
// (for AEAD the 4-byte salt is included, RFC 4106 / RFC 7634).
func espCipher(name string) (id uint8, keyBits int, keymat int, aead, ok bool) {
	switch name {
	case "aes128gcm16":
		return espAESGCM16, 128, 16 + 4, true, true
	case "aes256gcm16":
		return espAESGCM16, 256, 32 + 4, true, true
	case "aes128":
		return espAESCBC, 128, 16, false, true
	case "aes192":
		return espAESCBC, 192, 24, false, true
	case "aes256":
		return espAESCBC, 256, 32, false, true
	case "3des":
		return esp3DES, 0, 24, false, true
	case "des":
		return espDES, 0, 8, false, true
	case "chacha20poly1305":
		return espChaCha20, 0, 32 + 4, true, true
	case "null":
		return espNULL, 0, 0, false, true
	}
	return 0, 0, 0, false, false
}

// espCipherName is the reverse of espCipher.
func espCipherName(id uint8, keyBits int) string {
	switch id {
	case espAESGCM16:
		switch keyBits {
		case 128:
			return "aes128gcm16"
		case 256:
			return "aes256gcm16"
		}
	case espAESCBC:
		switch keyBits {
		case 128, 0:
			return "aes128"
		case 192:
			return "aes192"
		case 256:
			return "aes256"
		}
	case esp3DES:
		return "3des"
	case espDES:
		return "des"
	case espChaCha20:
		return "chacha20poly1305"
	case espNULL:
		return "null"
	}
	return ""
}

// childOffer is what one end of a Quick Mode offers or accepts: the
// crypto map's transform sets and phase 2 parameters.
type childOffer struct {
	Sets       []*conf.TransformSet
	PFS        int
	Lifetime   time.Duration
	LifetimeKB uint64
	ESN        bool
	// Encap is the UDP encapsulation negotiated in phase 1: 0 none,
	// EncapUDPTunnel (RFC 3947) or EncapUDPTunnelDraft (NAT-T drafts).
	Encap uint64
}

// protoChoice is the negotiated transform of one protocol (ESP or AH) of
// a child SA, with both SPIs.
type protoChoice struct {
	Protocol    uint8
	TransformID uint8
	Encryption  string // conf name, ESP only
	Integrity   string // conf name, "" for AEAD / AH-less
	KeyBits     int
	SPIi, SPIr  uint32 // chosen by initiator / responder (each its inbound)
}

// childChoice is the negotiated child SA parameters.
type childChoice struct {
	Mode       string // tunnel | transport
	EncapMode  uint64 // the attribute value exchanged
	ESP, AH    *protoChoice
	PFS        int
	Lifetime   time.Duration
	LifetimeKB uint64
	ESN        bool
}

// encapMode returns the encapsulation mode attribute for mode under the
// phase 1 NAT-T result.
func encapMode(mode string, natt uint64) uint64 {
	transport := mode == "transport"
	switch natt {
	case EncapUDPTunnel:
		if transport {
			return EncapUDPTransport
		}
		return EncapUDPTunnel
	case EncapUDPTunnelDraft:
		if transport {
			return EncapUDPTransportDft
		}
		return EncapUDPTunnelDraft
	}
	if transport {
		return EncapTransport
	}
	return EncapTunnel
}

// modeOf maps any encapsulation mode attribute back to tunnel/transport.
func modeOf(encap uint64) (string, bool) {
	switch encap {
	case EncapTunnel, EncapUDPTunnel, EncapUDPTunnelDraft:
		return "tunnel", true
	case EncapTransport, EncapUDPTransport, EncapUDPTransportDft:
		return "transport", true
	}
	return "", false
}

// commonAttrs are the attributes every transform of a proposal carries.
func (o *childOffer) commonAttrs(mode string) Attributes {
	var as Attributes
	lt := o.Lifetime
	if lt <= 0 {
		lt = conf.DefaultP2Lifetime
	}
	as = append(as, AttrUint(AttrSALifeType, LifeSeconds), AttrUint(AttrSALifeDuration, uint64(lt/time.Second)))
	if o.LifetimeKB > 0 {
		as = append(as, AttrUint(AttrSALifeType, LifeKilobytes), AttrUint(AttrSALifeDuration, o.LifetimeKB))
	}
	if o.PFS != 0 {
		as = append(as, AttrUint(AttrP2GroupDesc, uint64(o.PFS)))
	}
	as = append(as, AttrUint(AttrEncapsulationMode, encapMode(mode, o.Encap)))
	if o.ESN {
		as = append(as, AttrUint(AttrExtendedSeq, 1))
	}
	return as
}

// buildSA returns the initiator's SA payload: one proposal number per
// transform set (AH+ESP bundles are two proposals sharing the number),
// each protocol with its own inbound SPI from spis (called once per
// protocol proposal).
func (o *childOffer) buildSA(spi func() uint32) (*SA, []uint32, error) {
	sa := &SA{DOI: DOIIPsec, Situation: SituationIdentityOnly}
	var spis []uint32
	for i, ts := range o.Sets {
		num := uint8(i + 1)
		mode := ts.Mode
		if mode == "" {
			mode = "tunnel"
		}
		if ts.AH != "" {
			attr, ahID, _, ok := integAlg(ts.AH)
			if !ok {
				return nil, nil, fmt.Errorf("transform set %s: unknown ah %q", ts.Name, ts.AH)
			}
			as := append(o.commonAttrs(mode), AttrUint(AttrAuthAlgorithm, uint64(attr)))
			s := spi()
			spis = append(spis, s)
			sa.Proposals = append(sa.Proposals, Proposal{Number: num, Protocol: ProtoAH, SPI: spiBytes(s),
				Transforms: []Transform{{Number: 1, ID: ahID, Attributes: as}}})
		}
		if ts.ESP != "" {
			id, bits, _, aead, ok := espCipher(ts.ESP)
			if !ok {
				return nil, nil, fmt.Errorf("transform set %s: unknown esp %q", ts.Name, ts.ESP)
			}
			as := o.commonAttrs(mode)
			if bits != 0 {
				as = append(as, AttrUint(AttrP2KeyLength, uint64(bits)))
			}
			if !aead && ts.ESPAuth != "" {
				attr, _, _, ok := integAlg(ts.ESPAuth)
				if !ok {
					return nil, nil, fmt.Errorf("transform set %s: unknown esp_auth %q", ts.Name, ts.ESPAuth)
				}
				as = append(as, AttrUint(AttrAuthAlgorithm, uint64(attr)))
			}
			s := spi()
			spis = append(spis, s)
			sa.Proposals = append(sa.Proposals, Proposal{Number: num, Protocol: ProtoESP, SPI: spiBytes(s),
				Transforms: []Transform{{Number: 1, ID: id, Attributes: as}}})
		}
	}
	if len(sa.Proposals) == 0 {
		return nil, nil, errors.New("no transform set to offer")
	}
	return sa, spis, nil
}

func spiBytes(s uint32) []byte { return binary.BigEndian.AppendUint32(nil, s) }

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
	group      int
	encap      uint64
	auth       uint16
	keyBits    int
	esn        bool
	unknownAtt uint16
}

func decodeTransform(t Transform) transformParams {
	var p transformParams
	lifeType := uint64(0)
	for _, a := range t.Attributes {
		v, ok := a.Uint()
		if !ok {
			p.unknownAtt = a.Type
			continue
		}
		switch a.Type {
		case AttrSALifeType:
			lifeType = v
		case AttrSALifeDuration:
			switch lifeType {
			case LifeSeconds:
				p.lifetime = time.Duration(v) * time.Second
			case LifeKilobytes:
				p.lifeKB = v
			}
		case AttrP2GroupDesc:
			p.group = int(v)
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
	return p
}

// proposalGroups splits an SA payload's proposals into AND-ed groups that
// share a proposal number, in order.
func proposalGroups(sa *SA) [][]Proposal {
	var groups [][]Proposal
	for _, p := range sa.Proposals {
		if n := len(groups); n > 0 && groups[n-1][0].Number == p.Number {
			groups[n-1] = append(groups[n-1], p)
			continue
		}
		groups = append(groups, []Proposal{p})
	}
	return groups
}

// matchTransform checks one offered transform against our transform set
// for protocol proto and returns the choice.
func matchTransform(proto uint8, t Transform, ts *conf.TransformSet) (*protoChoice, transformParams, bool) {
	p := decodeTransform(t)
	if p.unknownAtt != 0 {
		return nil, p, false
	}
	switch proto {
	case ProtoESP:
		if ts.ESP == "" {
			return nil, p, false
		}
		id, bits, _, aead, _ := espCipher(ts.ESP)
		if t.ID != id {
			return nil, p, false
		}
		if bits != 0 && p.keyBits != bits && !(p.keyBits == 0 && id == espAESCBC && bits == 128) {
			return nil, p, false
		}
		if aead {
			if p.auth != 0 {
				return nil, p, false
			}
		} else {
			want := uint16(0)
			if ts.ESPAuth != "" {
				want, _, _, _ = integAlg(ts.ESPAuth)
			}
			if p.auth != want {
				return nil, p, false
			}
		}
		return &protoChoice{Protocol: ProtoESP, TransformID: id, Encryption: ts.ESP, Integrity: integName(p.auth), KeyBits: bits}, p, true
	case ProtoAH:
		if ts.AH == "" {
			return nil, p, false
		}
		attr, ahID, _, _ := integAlg(ts.AH)
		if t.ID != ahID || (p.auth != 0 && p.auth != attr) {
			return nil, p, false
		}
		return &protoChoice{Protocol: ProtoAH, TransformID: ahID, Integrity: ts.AH}, p, true
	}
	return nil, p, false
}

// selectProposal is the responder's choice: the first offered proposal
// (in the initiator's order) that one of our transform sets accepts. It
// returns the reply SA payload (with our SPIs from spi) and the choice.
// A proposal that matched except for PFS yields ErrPFSMismatch when
// nothing else matches.
func (o *childOffer) selectProposal(offer *SA, spi func() uint32) (*SA, *childChoice, error) {
	pfsMismatch := false
	for _, group := range proposalGroups(offer) {
		for _, ts := range o.Sets {
			ch, reply, pfsOnly := o.matchGroup(group, ts, spi)
			if ch != nil {
				return reply, ch, nil
			}
			pfsMismatch = pfsMismatch || pfsOnly
		}
	}
	if pfsMismatch {
		return nil, nil, ErrPFSMismatch
	}
	return nil, nil, ErrNoProposalChosen
}

// matchGroup tries one AND-ed proposal group against one transform set.
// pfsOnly reports a group that failed only because of PFS.
func (o *childOffer) matchGroup(group []Proposal, ts *conf.TransformSet, spi func() uint32) (ch *childChoice, reply *SA, pfsOnly bool) {
	wantAH, wantESP := ts.AH != "", ts.ESP != ""
	var haveAH, haveESP bool
	for _, p := range group {
		haveAH = haveAH || p.Protocol == ProtoAH
		haveESP = haveESP || p.Protocol == ProtoESP
	}
	if haveAH != wantAH || haveESP != wantESP || len(group) != btoi(wantAH)+btoi(wantESP) {
		return nil, nil, false
	}
	wantMode := ts.Mode
	if wantMode == "" {
		wantMode = "tunnel"
	}
	ch = &childChoice{Mode: wantMode}
	reply = &SA{DOI: DOIIPsec, Situation: SituationIdentityOnly}
	groupPFS := false
	for _, p := range group {
		peerSPI, ok := spiValue(p.SPI)
		if !ok {
			return nil, nil, false
		}
		var found *protoChoice
		var params transformParams
		var chosen Transform
		for _, t := range p.Transforms {
			if c, tp, ok := matchTransform(p.Protocol, t, ts); ok {
				mode, ok := modeOf(tp.encap)
				if !ok || mode != wantMode || tp.esn != o.ESN {
					continue
				}
				if tp.group != o.PFS {
					groupPFS = groupPFS || (tp.group == 0) != (o.PFS == 0)
					continue
				}
				found, params, chosen = c, tp, t
				break
			}
		}
		if found == nil {
			return nil, nil, groupPFS
		}
		found.SPIi = peerSPI
		found.SPIr = spi()
		ch.EncapMode = params.encap
		ch.PFS = params.group
		ch.ESN = params.esn
		// The shorter lifetime wins; a longer offer is answered with
		// RESPONDER-LIFETIME by the caller.
		ch.Lifetime = minDur(params.lifetime, o.Lifetime)
		ch.LifetimeKB = minNonZero(params.lifeKB, o.LifetimeKB)
		if p.Protocol == ProtoAH {
			ch.AH = found
		} else {
			ch.ESP = found
		}
		reply.Proposals = append(reply.Proposals, Proposal{Number: p.Number, Protocol: p.Protocol,
			SPI: spiBytes(found.SPIr), Transforms: []Transform{chosen}})
	}
	return ch, reply, false
}

// acceptReply is the initiator's check of the responder's SA payload: it
// must be one of our proposals with exactly one of our transforms each.
func (o *childOffer) acceptReply(reply *SA, ourSA *SA) (*childChoice, error) {
	groups := proposalGroups(reply)
	if len(groups) != 1 {
		return nil, fmt.Errorf("%w: responder chose %d proposals", ErrNoProposalChosen, len(groups))
	}
	num := groups[0][0].Number
	idx := int(num) - 1
	if idx < 0 || idx >= len(o.Sets) {
		return nil, fmt.Errorf("%w: responder chose proposal %d which we did not offer", ErrNoProposalChosen, num)
	}
	ts := o.Sets[idx]
	ch := &childChoice{Mode: ts.Mode}
	if ch.Mode == "" {
		ch.Mode = "tunnel"
	}
	for _, p := range groups[0] {
		if len(p.Transforms) != 1 {
			return nil, fmt.Errorf("%w: responder returned %d transforms", ErrNoProposalChosen, len(p.Transforms))
		}
		c, tp, ok := matchTransform(p.Protocol, p.Transforms[0], ts)
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
		for _, our := range ourSA.Proposals {
			if our.Number == p.Number && our.Protocol == p.Protocol {
				c.SPIi, _ = spiValue(our.SPI)
			}
		}
		if c.SPIi == 0 {
			return nil, fmt.Errorf("%w: responder answered protocol %d that we did not offer", ErrNoProposalChosen, p.Protocol)
		}
		ch.EncapMode, ch.PFS, ch.ESN = tp.encap, tp.group, tp.esn
		ch.Lifetime = minDur(tp.lifetime, o.Lifetime)
		ch.LifetimeKB = minNonZero(tp.lifeKB, o.LifetimeKB)
		if p.Protocol == ProtoAH {
			ch.AH = c
		} else {
			ch.ESP = c
		}
	}
	if (ts.AH != "") != (ch.AH != nil) || (ts.ESP != "") != (ch.ESP != nil) {
		return nil, fmt.Errorf("%w: responder answered part of an AH+ESP bundle", ErrNoProposalChosen)
	}
	return ch, nil
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
