package esp

import "tinyipsec/internal/algo"

// PairSpec describes an SA pair as a manually keyed crypto map or a
// negotiated IKE child gives it: what both directions share, and each
// direction's SPIs and keys. It is the one place that spreads those over
// the two directions' Params; NewPair builds the SAs.
type PairSpec struct {
	// Shared holds the parameters common to both directions: protocol,
	// mode, algorithms, outer addresses (our view: Local is us), NAT-T
	// ports, ESN, replay window, lifetimes, and the inbound Selector.
	// Its SPI and key fields are ignored.
	Shared Params
	// In is what the peer sends to us, Out what we send.
	In, Out Keys
}

// Keys are one direction's SPIs and keys.
type Keys struct {
	SPI     uint32 // ESP SPI
	AHSPI   uint32 // AH SPI (of an AH-only SA too)
	EncKey  []byte // ESP cipher key (with the AEAD salt)
	AuthKey []byte // ESP HMAC key
	AHKey   []byte // AH HMAC key
}

// ProtoOf is the protocol of an SA with ESP, AH or both.
func ProtoOf(hasESP, hasAH bool) Proto {
	switch {
	case hasESP && hasAH:
		return ProtoAHESP
	case hasAH:
		return ProtoAH
	}
	return ProtoESP
}

// Directions returns the inbound and outbound Params.
func (s *PairSpec) Directions() (in, out Params) {
	in, out = s.Shared, s.Shared
	out.Selector = nil
	s.In.apply(&in)
	s.Out.apply(&out)
	return in, out
}

func (k *Keys) apply(p *Params) {
	p.EncKey, p.AuthKey, p.AHKey = nil, nil, nil
	p.SPI, p.AHSPI = k.spis(p.Proto)
	if p.Proto != ProtoAH {
		p.EncKey, p.AuthKey = k.EncKey, k.AuthKey
	}
	if p.Proto == ProtoAH || p.Proto == ProtoAHESP {
		p.AHKey = k.AHKey
	}
}

// spis are the direction's SPI fields for an SA of protocol proto: an
// AH-only SA's SPI is the AH one, and only a bundle has both.
func (k *Keys) spis(proto Proto) (spi, ahSPI uint32) {
	switch proto {
	case ProtoAH:
		return k.AHSPI, 0
	case ProtoAHESP:
		return k.SPI, k.AHSPI
	}
	return k.SPI, 0
}

// NewPair builds both SAs of spec. On error nothing is left open.
func NewPair(spec PairSpec) (*InboundSA, *OutboundSA, error) {
	pin, pout := spec.Directions()
	in, err := newInbound(&pin)
	if err != nil {
		return nil, nil, err
	}
	out, err := newOutbound(&pout)
	if err != nil {
		in.Close()
		return nil, nil, err
	}
	return in, out, nil
}

// Info fills the PairInfo fields that follow from the spec: protocol,
// mode, SPIs, algorithm names and the time lifetime; the caller adds who
// the pair belongs to.
func (s *PairSpec) Info() PairInfo {
	info := PairInfo{
		Protocol: s.Shared.Proto, Mode: s.Shared.Mode,
		Encryption: string(s.Shared.Cipher), Integrity: integrityName(s.Shared.Integ, s.Shared.AHInteg),
	}
	// The SPIs as Directions spreads them, without building both Params.
	info.SPIIn, info.AHSPIIn = s.In.spis(s.Shared.Proto)
	info.SPIOut, info.AHSPIOut = s.Out.spis(s.Shared.Proto)
	return info
}

// integrityName shows the integrity transforms, e.g. "sha256" or
// "sha256 ah-sha256" for an AH+ESP bundle.
func integrityName(esp, ah algo.Hash) string {
	name := ""
	if esp != algo.HashNone {
		name = string(esp)
	}
	if ah != algo.HashNone {
		if name != "" {
			name += " "
		}
		name += "ah-" + string(ah)
	}
	return name
}
