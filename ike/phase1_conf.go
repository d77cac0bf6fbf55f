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
	switch c.Encryption {
	case "aes128", "aes":
		p.Cipher, p.KeyBits = CipherAES, 128
	case "aes192":
		p.Cipher, p.KeyBits = CipherAES, 192
	case "aes256":
		p.Cipher, p.KeyBits = CipherAES, 256
	case "3des":
		p.Cipher = Cipher3DES
	case "des":
		p.Cipher = CipherDES
	default:
		return p, fmt.Errorf("ike: isakmp policy %d: unsupported encryption %q", c.Priority, c.Encryption)
	}
	switch c.Hash {
	case "md5":
		p.Hash = HashMD5
	case "sha1", "sha":
		p.Hash = HashSHA1
	case "sha256":
		p.Hash = HashSHA256
	case "sha384":
		p.Hash = HashSHA384
	case "sha512":
		p.Hash = HashSHA512
	default:
		return p, fmt.Errorf("ike: isakmp policy %d: unsupported hash %q", c.Priority, c.Hash)
	}
	switch c.Auth {
	case "pre-share":
		p.Auth = AuthPSK
	case "rsa-sig":
		p.Auth = AuthRSASig
	case "ecdsa-sig":
		p.Auth = AuthECDSA256
	default:
		return p, fmt.Errorf("ike: isakmp policy %d: unsupported authentication %q", c.Priority, c.Auth)
	}
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
	case "dn":
		der, err := ParseDN(c.Value)
		if err != nil {
			return nil, err
		}
		return IDFromDN(der), nil
	}
	return nil, fmt.Errorf("ike: unsupported identity type %q", c.Type)
}
