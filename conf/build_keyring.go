package conf

import (
	"net/netip"
	"strconv"
	"strings"
)

// KeyringEntry is one [[keyring]]: the pre-shared key of the peers at an
// address or in a prefix (Cisco "crypto isakmp key K address A MASK"), or
// of the peer that names itself with an identity in Aggressive Mode
// (Cisco "crypto isakmp key K hostname H"). A crypto map without its own
// psk (a dynamic one, typically) takes its key from the keyring, the most
// specific matching entry winning.
type KeyringEntry struct {
	Address  netip.Prefix // address: an address or a prefix; invalid when Identity is set
	Identity Identity     // identity: fqdn:, user-fqdn: or an address, as the peer sends it
	PSK      Secret       // psk, or the content of psk_file (never printed)
	PSKFile  string       // psk_file
}

// Match is what the entry matches, for logs and status: never the key.
func (e *KeyringEntry) Match() string {
	if e.Identity.Type != "" {
		return "identity " + e.Identity.String()
	}
	return "address " + e.Address.String()
}

// keyring reads the [[keyring]] array.
func (b *builder) keyring(ts []*table) {
	seen := map[string]string{} // match -> where it is set: a map type the daemon has anyway (flash)
	for _, t := range ts {
		if b.stopArray() {
			break
		}
		// One entry, read here (its one caller: flash).
		var e KeyringEntry
		nerr := len(b.errs)
		addr, _ := t.str("address", "")
		ident, _ := t.str("identity", "")
		var match string
		switch {
		case t.has("address") && t.has("identity"):
			t.fail("identity", "set address or identity, not both")
		case t.has("address"):
			// "10.0.0.1" is read as a /32 and "10.0.0.0/24" as is (host bits
			// must be zero, so a typo does not widen the match silently).
			var p netip.Prefix
			ok := false
			if strings.Contains(addr, "/") {
				var err error
				p, err = netip.ParsePrefix(addr)
				ok = err == nil && p == p.Masked() && !p.Addr().Is4In6()
			} else if a, err := netip.ParseAddr(addr); err == nil && a.Zone() == "" {
				a = a.Unmap()
				p, ok = netip.PrefixFrom(a, a.BitLen()), true
			}
			if !ok {
				t.fail("address", strconv.Quote(addr)+" is not an address or prefix (10.0.0.1, 10.0.0.0/24, 2001:db8::/32)")
				break
			}
			e.Address = p
			match = "address " + p.String()
		case t.has("identity"):
			id, err := ParseIdentity(ident)
			switch {
			case err != nil:
				t.fail("identity", err.Error())
			case id.Type == "dn":
				t.fail("identity", "a dn identity belongs to a certificate; the keyring holds pre-shared keys")
			default:
				if id.Type == "fqdn" || id.Type == "user-fqdn" {
					id.Value = strings.ToLower(id.Value)
				}
				e.Identity = id
				match = "identity " + id.String()
			}
		default:
			t.fail("address", "missing: set address (an address or prefix) or identity")
		}
		if match != "" {
			if first, dup := seen[match]; dup {
				key := "identity"
				if e.Address.IsValid() {
					key = "address"
				}
				t.fail(key, match+" already has a key in "+first)
			} else {
				seen[match] = t.path.String()
			}
		}

		e.PSK, e.PSKFile = b.secretOrFile(t, "psk", "set psk or psk_file")
		ok := len(b.errs) == nerr
		t.done()
		if ok {
			b.cfg.Keyring = append(b.cfg.Keyring, e)
		}
	}
	if len(ts) == 0 {
		return
	}
	for _, p := range b.cfg.Policies {
		if p.Auth == "pre-share" {
			return
		}
	}
	if len(b.cfg.Policies) > 0 {
		b.fail(keyPath{"keyring"}, "no isakmp_policy uses authentication = \"pre-share\"")
	}
}

// KeyringFor finds the key for a peer: the entry for its identity (if
// id is set: Aggressive Mode), else the most specific address entry that
// contains addr. nil when none matches.
func (c *Config) KeyringFor(addr netip.Addr, id *Identity) *KeyringEntry {
	if id != nil && id.Type != "" {
		for i := range c.Keyring {
			e := &c.Keyring[i]
			switch e.Identity.Type {
			case "ipv4", "ipv6":
				if (id.Type == "ipv4" || id.Type == "ipv6") && e.Identity.Addr == id.Addr.Unmap() {
					return e
				}
			case "fqdn", "user-fqdn":
				if id.Type == e.Identity.Type && strings.EqualFold(e.Identity.Value, id.Value) {
					return e
				}
			}
		}
	}
	addr = addr.Unmap()
	var best *KeyringEntry
	for i := range c.Keyring {
		e := &c.Keyring[i]
		if e.Address.IsValid() && e.Address.Contains(addr) && (best == nil || e.Address.Bits() > best.Address.Bits()) {
			best = e
		}
	}
	return best
}
