package ike

import "bytes"

// Vendor IDs sent and recognized. Most are MD5 hashes of a well-known
// string, written out (static data rather than hashes computed at start;
// TestVendorIDHashes checks them); they identify capabilities, not
// vendors, here.
var (
	// VendorDPD announces Dead Peer Detection (RFC 3706), version 1.0.
	VendorDPD = []byte{0xaf, 0xca, 0xd7, 0x13, 0x68, 0xa1, 0xf1, 0xc9, 0x6b, 0x86, 0x96, 0xfc, 0x77, 0x57, 0x01, 0x00}
	// VendorXAuth announces XAUTH support (sent by remote-access maps).
	VendorXAuth = []byte{0x09, 0x00, 0x26, 0x89, 0xdf, 0xd6, 0xb7, 0x12}
	// VendorUnity is Cisco Unity (MD5 of "CISCO-UNITY" with version 1.0
	// in the last two bytes): the peer understands the Unity Mode-Config
	// attributes, split-include among them.
	VendorUnity = []byte{0x12, 0xf5, 0xf2, 0x8c, 0x45, 0x71, 0x68, 0xa9, 0x70, 0x2d, 0x9f, 0xe2, 0x74, 0xcc, 0x01, 0x00}
	// VendorNATTRFC is NAT-T per RFC 3947: MD5("RFC 3947").
	VendorNATTRFC = []byte{0x4a, 0x13, 0x1c, 0x81, 0x07, 0x03, 0x58, 0x45, 0x5c, 0x57, 0x28, 0xf2, 0x0e, 0x95, 0x45, 0x2f}
	// VendorNATTDraft02 (MD5("draft-ietf-ipsec-nat-t-ike-02")) and the
	// variant with a trailing newline that several implementations
	// shipped, and draft 03.
	VendorNATTDraft02   = []byte{0xcd, 0x60, 0x46, 0x43, 0x35, 0xdf, 0x21, 0xf8, 0x7c, 0xfd, 0xb2, 0xfc, 0x68, 0xb6, 0xa4, 0x48}
	VendorNATTDraft02NL = []byte{0x90, 0xcb, 0x80, 0x91, 0x3e, 0xbb, 0x69, 0x6e, 0x08, 0x63, 0x81, 0xb5, 0xec, 0x42, 0x7b, 0x1f}
	VendorNATTDraft03   = []byte{0x7d, 0x94, 0x19, 0xa6, 0x53, 0x10, 0xca, 0x6f, 0x2c, 0x17, 0x9d, 0x92, 0x15, 0x52, 0x9d, 0x56}
	// VendorFragmentation is the IKEv1 fragmentation capability (Cisco
	// scheme): MD5("FRAGMENTATION"), recognized as a prefix; we send it
	// with the 4 flag bytes strongSwan and Cisco append.
	VendorFragmentation    = []byte{0x40, 0x48, 0xb7, 0xd5, 0x6e, 0xbc, 0xe8, 0x85, 0x25, 0xe7, 0xde, 0x7f, 0x00, 0xd6, 0xc2, 0xd3}
	vendorFragmentationOut = []byte{0x40, 0x48, 0xb7, 0xd5, 0x6e, 0xbc, 0xe8, 0x85, 0x25, 0xe7, 0xde, 0x7f, 0x00, 0xd6, 0xc2, 0xd3, 0x80, 0, 0, 0}
)

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
	for _, p := range m.Payloads {
		o, ok := p.(*Opaque)
		if !ok || o.PType != PayloadVendorID {
			continue
		}
		d := o.Data
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
