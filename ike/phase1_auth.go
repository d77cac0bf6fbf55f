package ike

import "crypto/hmac"

// Phase 1 authentication: our identity, our HASH_I/HASH_R or signature
// (with certificates), the check of the peer's, and INITIAL-CONTACT, which
// only an authenticated message may carry.

// localIdentity fixes our ID payload for this negotiation.
func (p *Phase1) localIdentity() *ID {
	if p.cfg.LocalID != nil {
		id := *p.cfg.LocalID
		return &id
	}
	if !p.out.Policy.Auth.PreShared() { // signatures
		return &ID{IDType: IDDERASN1DN, Data: p.cfg.Creds.Cert.RawSubject}
	}
	return IDFromAddr(p.out.Local.Addr())
}

// ourProof is our [CERT...] HASH or SIG over our ID (localID): HASH_I as
// the initiator, HASH_R as the responder.
func (p *Phase1) ourProof() ([]Payload, error) {
	h := p.idHash(p.initiator, p.out.LocalID.Body())
	if p.out.Policy.Auth.PreShared() {
		return []Payload{&Opaque{PayloadHash, h}}, nil
	}
	sig, err := SignHash(p.rand, p.out.Policy.Auth, p.cfg.Creds.Key, h)
	if err != nil {
		return nil, fail(FailConfig, 0, "signing: %v", err)
	}
	ps := []Payload{&Cert{Encoding: CertX509Sig, Data: p.cfg.Creds.Cert.Raw}}
	for _, c := range p.cfg.Creds.Intermediates {
		ps = append(ps, &Cert{Encoding: CertX509Sig, Data: c.Raw})
	}
	return append(ps, &Opaque{PayloadSig, sig}), nil
}

// idHash is HASH_I over the initiator's ID body (ofInitiator) or HASH_R
// over the responder's: the same PRF with the two KEs and the two
// cookies in the other order (HashI, HashR). With the RFC 4754 methods
// the PRF is the HMAC matching the ECDSA curve (SHA-256/384/512),
// whatever hash the suite negotiated; strongSwan computes it that way
// too.
func (p *Phase1) idHash(ofInitiator bool, idBody []byte) []byte {
	g1, g2, c1, c2 := p.gxi, p.gxr, p.out.CookieI[:], p.out.CookieR[:]
	if !ofInitiator {
		g1, g2, c1, c2 = g2, g1, c2, c1
	}
	prf := p.out.Policy.Hash
	switch p.out.Policy.Auth {
	case AuthECDSA256:
		prf = HashSHA256
	case AuthECDSA384:
		prf = HashSHA384
	case AuthECDSA521:
		prf = HashSHA512
	}
	return prf.PRF(p.out.Keys.SKEYID, g1, g2, c1, c2, p.saiB, idBody)
}

// verifyPeer authenticates the peer from its ID and HASH/SIG (+CERT)
// payloads in m, at time now (certificate validity). The peer's HASH is
// HASH_R for the initiator, HASH_I for the responder.
func (p *Phase1) verifyPeer(id *ID, m *Message) error {
	if id == nil {
		return fail(FailInvalidID, NotifyInvalidIDInformation, "no ID payload")
	}
	if p.cfg.RemoteID != nil && !IDEqual(id, p.cfg.RemoteID) {
		return fail(FailInvalidID, NotifyInvalidIDInformation, "peer ID %v, want %v", id, p.cfg.RemoteID)
	}
	want := p.idHash(!p.initiator, id.Body())
	if p.out.Policy.Auth.PreShared() {
		hp := m.opaque(PayloadHash)
		if hp == nil {
			return fail(FailAuth, NotifyInvalidHashInformation, "no HASH payload")
		}
		if !hmac.Equal(hp.Data, want) {
			return fail(FailAuth, NotifyAuthenticationFailed, "HASH mismatch (pre-shared key differs?)")
		}
	} else {
		cert, err := p.cfg.Creds.verifyPeerCert(m, p.now)
		if err != nil {
			return fail(FailCert, NotifyInvalidCertificate, "%v", err)
		}
		if !IDMatchesCert(id, cert) {
			return fail(FailInvalidID, NotifyInvalidIDInformation, "peer ID %v is not in its certificate %v", id, cert.Subject)
		}
		sp := m.opaque(PayloadSig)
		if sp == nil {
			return fail(FailAuth, NotifyInvalidSignature, "no SIG payload")
		}
		if err := VerifyHash(p.out.Policy.Auth, cert.PublicKey, want, sp.Data); err != nil {
			return fail(FailAuth, NotifyInvalidSignature, "%v", err)
		}
		p.out.PeerCert = cert
	}
	p.out.PeerID = id
	return nil
}

// certRequest is our CR payloads (one per CA subject) when the chosen
// (in AM1: the first offered) policy authenticates with signatures.
func (p *Phase1) certRequest() []Payload {
	if p.out.Policy.Auth.PreShared() || p.cfg.Creds == nil {
		return nil
	}
	var out []Payload
	for _, ca := range p.cfg.Creds.CAs {
		out = append(out, &Cert{Request: true, Encoding: CertX509Sig, Data: ca.RawSubject})
	}
	return out
}

// noteInitialContact records an INITIAL-CONTACT notify in the peer's
// last phase 1 message (MM5, MM6, AM3) once that message has
// authenticated the peer. Only an encrypted one counts (RFC 2407
// 4.6.3.3): the notify makes us delete SAs, and the authenticating hash
// does not cover it.
func (p *Phase1) noteInitialContact(m *Message) {
	if !m.Encrypted() {
		return
	}
	for _, pl := range m.Payloads {
		if n, ok := pl.(*Notify); ok && n.Protocol == ProtoISAKMP && n.NotifyType == NotifyInitialContact {
			p.out.PeerInitialContact = true
		}
	}
}
