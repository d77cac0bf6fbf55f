// Package ike implements IKEv1 (RFC 2407/2408/2409): the ISAKMP message
// codec, key derivation, Main/Aggressive/Quick Mode exchanges as state
// tables, and the SA lifecycle. It installs negotiated SA pairs into the
// data plane through a small interface.
//
// # Wire format
//
// A Message is a Header plus a payload chain of concrete payload types
// (*SA, *KE, *ID, *Cert, *CertRequest, *Hash, *Sig, *Nonce, *Notify,
// *Delete, *VendorID, *NATD, *NATOA, *AttributesPayload, *Fragment,
// *Unknown). Marshal/Unmarshal handle plaintext messages; Seal/Open
// handle encrypted ones (CBC, zero padding on output, any padding on
// input: payload lengths delimit the chain). Parsed messages keep the wire
// bytes of every payload in Message.Raw so that hashes are computed over
// what was received. ParseHeader lets a dispatcher route a datagram before
// decrypting it. Find and FindAll pick payloads by type.
//
// Parsing is strict about lengths, never panics, and bounds allocations
// (MaxPayloads payloads, proposals, transforms or attributes per list).
// Errors from malformed input wrap ErrMalformed.
package ike
