package ike

import (
	"bytes"
	"io"
	"net/netip"
)

// Capabilities and NAT traversal in phase 1: the vendor IDs both sides
// announce (NAT-T flavour, DPD, fragmentation, XAUTH, Unity), the NAT-D
// hashes of RFC 3947 section 3.2 and the float to UDP 4500.

// ourVendors are the vendor IDs of our first phase 1 message in either
// direction, in order, each with the setting that announces it (a static
// table: flash).
var ourVendors = [...]struct {
	when uint8 // vendorAlways, vendorNATT, vendorFrag or vendorRA
	id   *[]byte
}{
	{vendorAlways, &VendorDPD},
	{vendorNATT, &VendorNATTRFC}, {vendorNATT, &VendorNATTDraft03}, {vendorNATT, &VendorNATTDraft02NL}, {vendorNATT, &VendorNATTDraft02},
	{vendorFrag, &vendorFragmentationOut},
	{vendorRA, &VendorXAuth}, {vendorRA, &VendorUnity},
}

const (
	vendorAlways = iota
	vendorNATT   // every NAT-T flavour we understand, unless NAT-T is off
	vendorFrag   // when fragmentation is enabled
	vendorRA     // XAUTH and Unity, for remote access
)

// vendorPayloads are the VID payloads of our first phase 1 message in
// either direction: DPD, the NAT-T flavours, fragmentation, XAUTH and
// Unity as the configuration says (ourVendors).
func (p *Phase1) vendorPayloads() []Payload {
	on := [...]bool{vendorAlways: true, vendorNATT: p.cfg.NATT != NATTOff, vendorFrag: p.cfg.Fragmentation, vendorRA: p.cfg.RemoteAccess}
	var out []Payload
	for i := range ourVendors {
		if v := &ourVendors[i]; on[v.when] {
			out = append(out, &Opaque{PayloadVendorID, *v.id})
		}
	}
	return out
}

// natdPayloads builds our two NAT-D payloads: the peer's address as we
// send to it, then our own. With NATTForce our own hash is random, so
// the peer sees a NAT and both sides encapsulate ESP in UDP.
func (p *Phase1) natdPayloads() ([]Payload, error) {
	if p.out.NATT == NATTNone {
		return nil, nil
	}
	h := p.out.Policy.Hash
	t := PayloadNATD
	if p.out.NATT.Draft() {
		t = PayloadNATDDraft
	}
	dst := NATDHash(h, p.out.CookieI, p.out.CookieR, &p.out.Remote)
	src := NATDHash(h, p.out.CookieI, p.out.CookieR, &p.out.Local)
	if p.cfg.NATT == NATTForce {
		if _, err := io.ReadFull(p.rand, src); err != nil {
			return nil, err
		}
	}
	return []Payload{&Opaque{t, dst}, &Opaque{t, src}}, nil
}

// checkNATD compares the peer's NAT-D payloads with the endpoints the
// datagram really used (RFC 3947 section 3.2): the first one hashes our
// endpoint as the peer saw it, the others the peer's own.
func (p *Phase1) checkNATD(m *Message, pkt *Packet) {
	if p.out.NATT == NATTNone {
		return
	}
	var me, them []byte
	localNAT, peerNAT, n := false, true, 0
	for _, pl := range m.Payloads {
		d, ok := pl.(*Opaque)
		if !ok || d.PType != PayloadNATD && d.PType != PayloadNATDDraft {
			continue
		}
		if n++; n == 1 {
			h := p.out.Policy.Hash
			local, remote := &pkt.Local, &pkt.Remote
			if !local.IsValid() {
				local = &p.out.Local
			}
			if !remote.IsValid() {
				remote = &p.out.Remote
			}
			me, them = NATDHash(h, p.out.CookieI, p.out.CookieR, local), NATDHash(h, p.out.CookieI, p.out.CookieR, remote)
			localNAT = !bytes.Equal(d.Data, me)
		} else if bytes.Equal(d.Data, them) {
			peerNAT = false
		}
	}
	if n < 2 {
		return
	}
	p.out.LocalNAT, p.out.PeerNAT = localNAT || p.cfg.NATT == NATTForce, peerNAT
}

// floatOnNAT moves the exchange to UDP 4500 on both ends when NAT-D
// found a NAT (ESP and the rest of IKE must move) and it has not moved
// yet; it reports whether it moved.
func (p *Phase1) floatOnNAT() bool {
	if p.out.NATT == NATTNone || !(p.out.LocalNAT || p.out.PeerNAT) || p.floated {
		return false
	}
	p.floated = true
	setPort(&p.out.Local, NATTPort)
	setPort(&p.out.Remote, NATTPort)
	return true
}

// noteEndpoints adopts the endpoints of a received datagram (the peer may
// have floated, or sit behind a NAT that rewrote its port).
func (p *Phase1) noteEndpoints(pkt *Packet) {
	for _, e := range [...][2]*netip.AddrPort{{&p.out.Remote, &pkt.Remote}, {&p.out.Local, &pkt.Local}} {
		if e[1].IsValid() {
			*e[0] = *e[1]
		}
		if e[0].Port() == NATTPort {
			p.floated = true
		}
	}
}
