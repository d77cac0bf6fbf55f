package ike

// Encoding phase 1 messages: in clear or encrypted with the phase 1 IV
// chain (they are cut into IKEv1 fragments, when both sides announced
// support, by Handle).

// nonceLen is the nonce size sent (RFC 2409 allows 8..256).
const nonceLen = 32

// sendPlain sends the unencrypted message ps (MM1, MM2, AM1) and moves to
// the state next.
func (p *Phase1) sendPlain(ps []Payload, next State) (*Result, error) {
	m := &Message{Header: Header{CookieI: p.out.CookieI, CookieR: p.out.CookieR, Exchange: p.out.Exchange}, Payloads: ps}
	b, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	p.state = next
	return &Result{Send: [][]byte{b}}, nil
}

// sendPlainWithNATD is sendPlain with our NAT-D payloads appended (MM3,
// MM4, AM2).
func (p *Phase1) sendPlainWithNATD(ps []Payload, next State) (*Result, error) {
	natd, err := p.natdPayloads()
	if err != nil {
		return nil, err
	}
	return p.sendPlain(append(ps, natd...), next)
}

// marshalEncrypted encodes an encrypted phase 1 message, advancing the IV.
func (p *Phase1) marshalEncrypted(ps []Payload) ([]byte, error) {
	m := &Message{Header: Header{CookieI: p.out.CookieI, CookieR: p.out.CookieR, Exchange: p.out.Exchange}, Payloads: ps}
	b, next, err := m.Seal(p.out.Block, p.iv)
	if err != nil {
		return nil, err
	}
	p.iv = next
	return b, nil
}
