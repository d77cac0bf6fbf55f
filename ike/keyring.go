package ike

import (
	"net/netip"

	"tinyipsec/conf"
)

// Pre-shared keys from the [[keyring]] (Cisco "crypto isakmp key ...
// address" / "hostname"). A hub's dynamic crypto map serves spokes with
// different keys: Main Mode must pick the key by the peer's address, since
// MM5 is encrypted with a key derived from it; Aggressive Mode can pick it
// by the identity in message 1. A peer no entry matches is refused there,
// before the responder does any Diffie-Hellman work.

// keyringApplies: static maps with their own psk keep it; maps without one,
// and dynamic maps, take their key from the keyring (a dynamic map's own
// psk is then the key for peers that no entry matches).
func keyringApplies(c *conf.Config, cm *conf.CryptoMap) bool {
	return len(c.Keyring) > 0 && (cm.Dynamic || len(cm.PSK) == 0)
}

// pskForPeerID is the Aggressive Mode responder's choice of key once
// message 1 has told it who the peer is: the keyring entry for its
// identity, else the key phase1ConfigFor chose by its address. Without a
// key the peer is refused before any Diffie-Hellman work.
func (p *Phase1) pskForPeerID(id *ID) *Phase1Failure {
	if p.cfg.keyring == nil || !p.out.Policy.Auth.PreShared() {
		return nil
	}
	// The peer's ID as the configuration writes identities.
	var ci conf.Identity
	switch id.IDType {
	case IDIPv4Addr, IDIPv6Addr:
		if a, ok := netip.AddrFromSlice(id.Data); ok {
			a = a.Unmap()
			ci.Type, ci.Value, ci.Addr = "ipv6", a.String(), a
			if a.Is4() {
				ci.Type = "ipv4"
			}
		}
	case IDFQDN:
		ci.Type, ci.Value = "fqdn", string(id.Data)
	case IDUserFQDN:
		ci.Type, ci.Value = "user-fqdn", string(id.Data)
	}
	if ci.Type != "" {
		if e := p.cfg.keyring.KeyringFor(p.cfg.Remote.Addr(), &ci); e != nil {
			p.cfg.PSK = []byte(e.PSK)
		}
	}
	if len(p.cfg.PSK) == 0 {
		return fail(FailAuth, 0, "no pre-shared key for peer ID %v: no [[keyring]] entry matches its identity or address", id)
	}
	return nil
}
