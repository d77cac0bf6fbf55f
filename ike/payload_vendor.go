package ike

import (
	"bytes"
	"crypto/md5"
)

// Vendor IDs sent and recognized. Most are MD5 hashes of a well-known
// string; they identify capabilities, not vendors, here.
var (
	// VendorDPD announces Dead Peer Detection (RFC 3706), version 1.0.
	VendorDPD = []byte{0xaf, 0xca, 0xd7, 0x13, 0x68, 0xa1, 0xf1, 0xc9, 0x6b, 0x86, 0x96, 0xfc, 0x77, 0x57, 0x01, 0x00}
	// VendorXAuth announces XAUTH support (sent by remote-access maps).
	VendorXAuth = []byte{0x09, 0x00, 0x26, 0x89, 0xdf, 0xd6, 0xb7, 0x12}
	// VendorUnity is Cisco Unity (MD5 of "CISCO-UNITY" with version 1.0
	// in the last two bytes): the peer understands the Unity Mode-Config
	// attributes, split-include among them.
	VendorUnity = append(md5Vendor("CISCO-UNITY")[:14], 0x01, 0x00)
	// VendorNATTRFC is NAT-T per RFC 3947.
	VendorNATTRFC = md5Vendor("RFC 3947")
	// VendorNATTDraft02 and the variant with a trailing newline that
	// several implementations shipped, and draft 03.
	VendorNATTDraft02   = md5Vendor("draft-ietf-ipsec-nat-t-ike-02")
	VendorNATTDraft02NL = md5Vendor("draft-ietf-ipsec-nat-t-ike-02\n")
	VendorNATTDraft03   = md5Vendor("draft-ietf-ipsec-nat-t-ike-03")
	// VendorFragmentation is the IKEv1 fragmentation capability (Cisco
	// scheme), recognized by its 16-byte prefix; we send it with the
	// 4 flag bytes strongSwan and Cisco append.
	VendorFragmentation    = md5Vendor("FRAGMENTATION")
	vendorFragmentationOut = append(md5Vendor("FRAGMENTATION"), 0x80, 0, 0, 0)
)

func md5Vendor(s string) []byte {
	h := md5.Sum([]byte(s))
	return h[:]
}

// NATTVariant says which NAT-T flavour a peer announced; the higher, the
// more preferred.
type NATTVariant int

// NAT-T flavours.
const (
	NATTNone NATTVariant = iota
	NATTDraft02
	NATTDraft03
	NATTRFC3947
)

// Draft reports whether the variant uses the draft payload types (130/131)
// and encapsulation-mode values.
func (v NATTVariant) Draft() bool { return v == NATTDraft02 || v == NATTDraft03 }

// PeerVendors summarizes the capability vendor IDs a peer sent.
type PeerVendors struct {
	_             [0]func() // not comparable: no generated == function (flash)
	DPD           bool
	XAuth         bool
	Unity         bool
	NATT          NATTVariant // best NAT-T flavour announced
	Fragmentation bool
}

// ScanVendors inspects the VID payloads of m and adds what it recognizes
// to v.
func (v *PeerVendors) ScanVendors(m *Message) {
	for _, p := range FindAll[*VendorID](m) {
		d := p.Data
		switch {
		case bytes.Equal(d, VendorDPD):
			v.DPD = true
		case bytes.Equal(d, VendorXAuth):
			v.XAuth = true
		case bytes.Equal(d, VendorUnity):
			v.Unity = true
		case bytes.Equal(d, VendorNATTRFC):
			v.NATT = max(v.NATT, NATTRFC3947)
		case bytes.Equal(d, VendorNATTDraft03):
			v.NATT = max(v.NATT, NATTDraft03)
		case bytes.Equal(d, VendorNATTDraft02), bytes.Equal(d, VendorNATTDraft02NL):
			v.NATT = max(v.NATT, NATTDraft02)
		case bytes.HasPrefix(d, VendorFragmentation):
			v.Fragmentation = true
		}
	}
}

// OurVendorIDs are the VID payloads put in the first message of a phase 1
// exchange in each direction: DPD and every NAT-T flavour we understand.
func OurVendorIDs() []Payload {
	return []Payload{
		&VendorID{Data: VendorDPD},
		&VendorID{Data: VendorNATTRFC},
		&VendorID{Data: VendorNATTDraft03},
		&VendorID{Data: VendorNATTDraft02NL},
		&VendorID{Data: VendorNATTDraft02},
	}
}
