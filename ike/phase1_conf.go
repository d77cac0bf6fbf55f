package ike

import (
	"fmt"

	"tinyipsec/conf"
)

// PoliciesFromConf converts the configured policies (already sorted by
// priority), dropping weak ones unless allowWeak. "ecdsa-sig" becomes
// AuthECDSA256; NewInitiator/NewResponder adapt it to the curve of the
// local key.
func PoliciesFromConf(cs []conf.ISAKMPPolicy, allowWeak bool) ([]Policy, error) {
	var out []Policy
	for i := range cs {
		c := &cs[i] // by pointer: several words on 32-bit
		ci, hi, ai := c.Encryption.Info(), c.Hash.Info(), c.Auth.Info()
		switch {
		case ci == nil:
			return nil, fmt.Errorf("ike: isakmp policy %d: unsupported encryption %v", c.Priority, c.Encryption)
		case hi == nil:
			return nil, fmt.Errorf("ike: isakmp policy %d: unsupported hash %v", c.Priority, c.Hash)
		case ai == nil:
			return nil, fmt.Errorf("ike: isakmp policy %d: unsupported authentication %v", c.Priority, c.Auth)
		case !Group(c.Group).Supported():
			return nil, fmt.Errorf("ike: isakmp policy %d: unsupported DH group %d", c.Priority, c.Group)
		}
		out = append(out, Policy{Priority: c.Priority, Cipher: CipherAlg(ci.IKEAttr), KeyBits: ci.KeyBits,
			Hash: HashAlg(hi.IKEAttr), Auth: AuthMethod(ai.IKEAttr), Group: Group(c.Group), Lifetime: c.Lifetime})
		p := &out[len(out)-1]
		if p.Lifetime <= 0 {
			p.Lifetime = DefaultPhase1Lifetime
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
