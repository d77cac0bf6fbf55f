package ike

// The phase 1 key exchange: the peer's KE and nonce, then SKEYID and the
// keys derived from it (RFC 2409 section 5 and appendix B).

// keAndNonce extracts and checks the peer's KE and nonce payloads.
func (p *Phase1) keAndNonce(m *Message) (ke, nonce []byte, err error) {
	k, n := m.opaque(PayloadKE), m.opaque(PayloadNonce)
	if k == nil || n == nil {
		return nil, nil, malformed("%v message without KE or nonce", p.exchange)
	}
	if len(k.Data) != p.policy.Group.PublicLen() {
		return nil, nil, fail(FailKeyExchange, NotifyInvalidKeyInformation, "KE of %d bytes for %v", len(k.Data), p.policy.Group)
	}
	if len(n.Data) < 8 || len(n.Data) > 256 {
		return nil, nil, fail(FailMalformed, NotifyPayloadMalformed, "nonce of %d bytes", len(n.Data))
	}
	return append([]byte(nil), k.Data...), append([]byte(nil), n.Data...), nil
}

// computeKeys derives SKEYID and the rest once both KE and nonces are
// known; peerPub is the peer's KE (g^xr for the initiator, g^xi for the
// responder).
func (p *Phase1) computeKeys(peerPub []byte) error {
	gxy, err := p.dh.SharedSecret(peerPub)
	if err != nil {
		return fail(FailKeyExchange, NotifyInvalidKeyInformation, "%v", err)
	}
	defer Wipe(gxy)
	p.dh.Wipe()
	h := p.policy.Hash
	var skeyid []byte
	if p.policy.Auth.PreShared() {
		skeyid = SKEYIDPSK(h, p.cfg.PSK, p.ni, p.nr)
	} else {
		skeyid = SKEYIDSig(h, p.ni, p.nr, gxy)
	}
	kl, err := p.policy.Cipher.KeyLen(p.policy.KeyBits)
	if err != nil {
		return fail(FailConfig, 0, "%v", err)
	}
	p.keys, err = DerivePhase1Keys(h, p.policy.Cipher, kl, skeyid, gxy, p.gxi, p.gxr, p.ckyI, p.ckyR)
	if err != nil {
		return err
	}
	p.blk, err = p.policy.Cipher.NewBlock(p.keys.Ka)
	if err != nil {
		return err
	}
	p.iv = p.keys.IV
	return nil
}
