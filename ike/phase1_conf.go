package ike

import (
	"fmt"

	"tinyipsec/conf"
)

// policyFromConf converts a configured ISAKMP policy into p, which
// starts zero (both by pointer: several words each on 32-bit).
// "ecdsa-sig" becomes AuthECDSA256; NewInitiator/NewResponder adapt it to
// the curve of the local key.
func policyFromConf(c *conf.ISAKMPPolicy, p *Policy) error {
	p.Priority, p.Group, p.Lifetime = c.Priority, Group(c.Group), c.Lifetime
	ci := c.Encryption.Info()
	if ci == nil {
		return fmt.Errorf("ike: isakmp policy %d: unsupported encryption %v", c.Priority, c.Encryption)
	}
	p.Cipher, p.KeyBits = CipherAlg(ci.IKEAttr), ci.KeyBits
	hi := c.Hash.Info()
	if hi == nil {
		return fmt.Errorf("ike: isakmp policy %d: unsupported hash %v", c.Priority, c.Hash)
	}
	p.Hash = HashAlg(hi.IKEAttr)
	ai := c.Auth.Info()
	if ai == nil {
		return fmt.Errorf("ike: isakmp policy %d: unsupported authentication %v", c.Priority, c.Auth)
	}
	p.Auth = AuthMethod(ai.IKEAttr)
	if !p.Group.Supported() {
		return fmt.Errorf("ike: isakmp policy %d: unsupported DH group %d", c.Priority, c.Group)
	}
	if p.Lifetime <= 0 {
		p.Lifetime = DefaultPhase1Lifetime
	}
	return nil
}

// PoliciesFromConf converts the configured policies (already sorted by
// priority), dropping weak ones unless allowWeak.
func PoliciesFromConf(cs []conf.ISAKMPPolicy, allowWeak bool) ([]Policy, error) {
	var out []Policy
	for i := range cs {
		out = append(out, Policy{})
		p := &out[len(out)-1]
		if err := policyFromConf(&cs[i], p); err != nil {
			return nil, err
		}
		if p.Weak() && !allowWeak {
			out = out[:len(out)-1]
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("ike: no usable ISAKMP policy")
	}
	return out, nil
}

// IDFromConf converts a configured identity; nil means "use the default"
// (the address, or the certificate's DN).
func IDFromConf(c conf.Identity) (*ID, error) {
	// The names, as the ID payload carries them, built here rather than
	// through IDFromFQDN and its siblings (a function each: flash).
	var t uint8
	switch c.Type {
	case "":
		return nil, nil
	case "ipv4", "ipv6":
		if !c.Addr.IsValid() {
			return nil, fmt.Errorf("ike: identity %q without an address", c.Value)
		}
		return IDFromAddr(c.Addr), nil
	case "fqdn":
		t = IDFQDN
	case "user-fqdn":
		t = IDUserFQDN
	case "keyid":
		t = IDKeyID // how Cisco remote-access clients name their group
	case "dn":
		der, err := ParseDN(c.Value)
		if err != nil {
			return nil, err
		}
		return &ID{IDType: IDDERASN1DN, Data: der}, nil
	default:
		return nil, fmt.Errorf("ike: unsupported identity type %q", c.Type)
	}
	return &ID{IDType: t, Data: []byte(c.Value)}, nil
}
