package ike

import "net/netip"

// Who an IKE SA is with.
//
// A hub serves many peers from one dynamic crypto map, and several of them
// may share an address: branch routers behind one NAT, road warriors of one
// site, or simply many connections of one strongSwan under different
// identities. The address does not say who a peer is; the identity it
// authenticated with in phase 1 does (RFC 2407 §4.6.3.3 ties INITIAL-CONTACT
// to it). So:
//
//   - INITIAL-CONTACT clears the established IKE SAs (and their IPsec SAs)
//     of the same authenticated identity only, sending Delete for each,
//     and never touches a negotiation still in progress: that one has not
//     proved who it is.
//   - A new IKE SA is taken for the peer's rekey (or reauthentication) of
//     an older one, which then hands its IPsec SAs over and goes, only when
//     both are with the same identity on the same crypto map.
//   - A Delete for an IPsec SA is looked up among the SAs of the identity
//     that sent it, never another peer's that happens to share the address.
//
// An identity that is an address (ID_IPV4_ADDR and friends, the default)
// says nothing beyond the address; two spokes behind one NAT may both call
// themselves 192.168.1.2. For those the outer address is part of the
// identity, so that such peers are told apart by the NAT they sit behind.
// Named identities (FQDN, user FQDN, DN, key ID) stand on their own: a road
// warrior that comes back from a new address is still itself.

// peerIdentity is the authenticated identity of a phase 1 peer (made by
// p1Adapter.outcome from the peer's ID and outer address); the zero
// value means "not authenticated yet" and equals nothing. Identities are
// compared by is, written once, not with ==: each == was the comparison
// of all three fields written out at its site, and the type's generated
// == function came with it (flash).
type peerIdentity struct {
	_      [0]func()
	idType uint8
	id     string     // the ID payload's data as the peer sent it
	addr   netip.Addr // the outer address, for address identities only
}

func (p *peerIdentity) valid() bool { return p.idType != 0 || p.id != "" || p.addr.IsValid() }

// is reports whether p and q are the same identity.
func (p *peerIdentity) is(q *peerIdentity) bool {
	return p.idType == q.idType && p.id == q.id && p.addr == q.addr
}

// String renders the identity for status and logs.
func (p *peerIdentity) String() string {
	if !p.valid() {
		return ""
	}
	if p.idType == 0 {
		return p.addr.String()
	}
	return (&ID{IDType: p.idType, Data: []byte(p.id)}).String()
}

// samePeer reports whether two IKE SAs were authenticated by the same peer
// identity. SAs still negotiating are nobody's.
func samePeer(a, b *ikeSA) bool {
	if a.out == nil || b.out == nil || !a.out.peer.valid() {
		return false
	}
	return a.out.peer.is(&b.out.peer)
}
