package ike

import "io"

// The phase 1 key exchange: the peer's KE and nonce, ours, then SKEYID
// and the keys derived from it (RFC 2409 section 5 and appendix B). The
// initiator's values are g^xi and Ni, the responder's g^xr and Nr; each
// role sends its own first (initiator) or second (responder), and the
// keys are derived as soon as both are known.

// peerKE takes the peer's KE and nonce (MM3, MM4, AM1, AM2) and checks
// its NAT-D hashes; the initiator then has both and derives the keys.
func (p *Phase1) peerKE(m *Message, pkt *Packet) error {
	k, n := m.opaque(PayloadKE), m.opaque(PayloadNonce)
	if k == nil || n == nil {
		return malformed("%v message without KE or nonce", p.out.Exchange)
	}
	if len(k.Data) != p.out.Policy.Group.PublicLen() {
		return fail(FailKeyExchange, NotifyInvalidKeyInformation, "KE of %d bytes for %v", len(k.Data), p.out.Policy.Group)
	}
	if len(n.Data) < 8 || len(n.Data) > 256 {
		return fail(FailMalformed, NotifyPayloadMalformed, "nonce of %d bytes", len(n.Data))
	}
	ke, nonce, initiator := &p.gxi, &p.ni, p.initiator
	if initiator {
		ke, nonce = &p.gxr, &p.nr
	}
	*ke, *nonce = append([]byte(nil), k.Data...), append([]byte(nil), n.Data...)
	p.checkNATD(m, pkt)
	if initiator {
		return p.computeKeys()
	}
	return nil
}

// ourKE makes our key pair and nonce (MM2, MM3, AM1 either way) and
// returns their KE and NONCE payloads; the responder then has both and
// derives the keys. The key pair comes from an Aggressive Mode
// initiator's key made ahead, else from the pool of keys made ahead when
// the manager lets phase 1 use it (Phase1Config.pooledKeys), else it is
// made now (dh_pool.go).
func (p *Phase1) ourKE() ([]Payload, error) {
	g := p.out.Policy.Group
	switch k := p.cfg.dhKey; {
	case k != nil && k.Group == g:
		p.dh, p.cfg.dhKey = k, nil
	case p.cfg.pooledKeys:
		p.dh = dhKeys.take(g)
	}
	var err error
	if p.dh == nil {
		if p.dh, err = g.GenerateKey(p.rand); err != nil {
			return nil, err
		}
	}
	ke, nonce, initiator := &p.gxr, &p.nr, p.initiator
	if initiator {
		ke, nonce = &p.gxi, &p.ni
	}
	*ke = p.dh.Public()
	*nonce = make([]byte, nonceLen)
	if _, err = io.ReadFull(p.rand, *nonce); err != nil {
		return nil, err
	}
	ps := []Payload{&Opaque{PayloadKE, *ke}, &Opaque{PayloadNonce, *nonce}}
	if !initiator {
		err = p.computeKeys()
	}
	return ps, err
}

// computeKeys derives SKEYID and the rest once both KE and nonces are
// known. g^xy is wiped before it returns (no defer: each deferred call
// is a wrapper function, flash).
func (p *Phase1) computeKeys() error {
	kl, err := p.out.Policy.Cipher.KeyLen(p.out.Policy.KeyBits)
	if err != nil {
		return fail(FailConfig, 0, "%v", err)
	}
	peerPub := p.gxi
	if p.initiator {
		peerPub = p.gxr
	}
	gxy, err := p.dh.SharedSecret(peerPub)
	if err != nil {
		return fail(FailKeyExchange, NotifyInvalidKeyInformation, "%v", err)
	}
	p.dh.Wipe()
	// DerivePhase1Keys takes a nil key for signatures: a pre-shared key
	// method must therefore never reach it without a key, or SKEYID
	// would be the signature formula, which the peer can compute alone.
	var psk []byte
	if p.out.Policy.Auth.PreShared() {
		if len(p.cfg.PSK) == 0 {
			return fail(FailConfig, 0, "pre-shared key authentication without a key")
		}
		psk = p.cfg.PSK
	}
	p.out.Keys, err = DerivePhase1Keys(p.out.Policy.Hash, p.out.Policy.Cipher, kl, psk, p.ni, p.nr, gxy, p.gxi, p.gxr, p.out.CookieI, p.out.CookieR)
	Wipe(gxy)
	if err != nil {
		return err
	}
	// The registry row of the negotiated key length (KeyLen found it)
	// makes the phase 1 cipher.
	p.out.Block, err = p.out.Policy.Cipher.info(p.out.Policy.KeyBits).NewBlock(p.out.Keys.Ka)
	p.iv = p.out.Keys.IV
	return err
}
