package ike

import (
	"fmt"

	"tinyipsec/conf"
)

// PolicyFromConf converts a configured ISAKMP policy. "ecdsa-sig" becomes
// AuthECDSA256; NewInitiator/NewResponder adapt it to the curve of the
// local key.
func PolicyFromConf(c conf.ISAKMPPolicy) (Policy, error) {
	p := Policy{Priority: c.Priority, Group: Group(c.Group), Lifetime: c.Lifetime}
	ci := c.Encryption.Info()
	if ci == nil {
		return p, fmt.Errorf("ike: isakmp policy %d: unsupported encryption %v", c.Priority, c.Encryption)
	}
	p.Cipher, p.KeyBits = CipherAlg(ci.IKEAttr), ci.KeyBits
	hi := c.Hash.Info()
	if hi == nil {
		return p, fmt.Errorf("ike: isakmp policy %d: unsupported hash %v", c.Priority, c.Hash)
	}
	p.Hash = HashAlg(hi.IKEAttr)
	ai := c.Auth.Info()
	if ai == nil {
		return p, fmt.Errorf("ike: isakmp policy %d: unsupported authentication %v", c.Priority, c.Auth)
	}
	p.Auth = AuthMethod(ai.IKEAttr)
	if !p.Group.Supported() {
		return p, fmt.Errorf("ike: isakmp policy %d: unsupported DH group %d", c.Priority, c.Group)
	}
	if p.Lifetime <= 0 {
		p.Lifetime = DefaultPhase1Lifetime
	}
	return p, nil
}

// PoliciesFromConf converts the configured policies (already sorted by
// priority), dropping weak ones unless allowWeak.
func PoliciesFromConf(cs []conf.ISAKMPPolicy, allowWeak bool) ([]Policy, error) {
	var out []Policy
	for _, c := range cs {
		p, err := PolicyFromConf(c)
		if err != nil {
			return nil, err
		}
		if p.Weak() && !allowWeak {
			continue
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("ike: no usable ISAKMP policy")
	}
	return out, nil
}

// IDFromConf converts a configured identity; nil means "use the default"
// (the address, or the certificate's DN).
func IDFromConf(c conf.Identity) (*ID, error) {
	switch c.Type {
	case "":
		return nil, nil
	case "ipv4", "ipv6":
		if !c.Addr.IsValid() {
			return nil, fmt.Errorf("ike: identity %q without an address", c.Value)
		}
		return IDFromAddr(c.Addr), nil
	case "fqdn":
		return IDFromFQDN(c.Value), nil
	case "user-fqdn":
		return IDFromUserFQDN(c.Value), nil
	case "keyid":
		// ID_KEY_ID: how Cisco remote-access clients name their group.
		return &ID{IDType: IDKeyID, Data: []byte(c.Value)}, nil
	case "dn":
		der, err := ParseDN(c.Value)
		if err != nil {
			return nil, err
		}
		return IDFromDN(der), nil
	}
	return nil, fmt.Errorf("ike: unsupported identity type %q", c.Type)
}
