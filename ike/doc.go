// Package ike implements IKEv1 (RFC 2407/2408/2409): the ISAKMP message
// codec, key derivation, the Main, Aggressive and Quick Mode exchanges,
// Informational and Transaction (XAUTH, Mode-Config) messages, and the SA
// lifecycle. It installs negotiated SA pairs into the
// data plane through a small interface.
//
// # Wire format
//
// A Message is a Header plus a payload chain of concrete payload types
// (*SA, *ID, *Cert (CERT and CR), *Notify, *Delete, *AttributesPayload,
// and *Opaque for the payloads whose body is opaque bytes: KE, HASH,
// SIG, NONCE, VID, NAT-D, NAT-OA, fragments, unknown types).
// Marshal/Unmarshal handle plaintext messages; Seal/Open handle
// encrypted ones (CBC, zero padding on output, any padding on
// input: payload lengths delimit the chain; both return the next IV, the
// last ciphertext block). Parsed messages keep the wire bytes of every
// payload in Message.Raw so that hashes are computed over what was
// received. ParseHeader lets a dispatcher route a datagram before
// decrypting it. Find and FindAll pick payloads by type. A Reassembler
// rebuilds a datagram from IKEv1 fragments (payload 132) and
// FragmentDatagram makes them.
//
// Parsing is strict about lengths, never panics, and bounds allocations
// (MaxPayloads payloads, proposals, transforms or attributes per list).
// Errors from malformed input wrap ErrMalformed.
//
// # Cryptography
//
// HashAlg (phase 1 hash attribute values) provides Sum and PRF (HMAC).
// DerivePhase1Keys (SKEYID for pre-shared keys or signatures,
// SKEYID_d/a/e, Ka with the RFC 2409 appendix B expansion, the first IV of
// phase 1) produces a Phase1Keys. Phase2IV gives the first IV of each Quick Mode or
// Informational exchange (hash(last phase 1 IV | M-ID)). HashI/HashR are
// the phase 1 hashes; QuickHash1/2/3 the Quick Mode hashes (QuickHash1 is
// also the Informational HASH); QuickKeymat the per-SA KEYMAT (pass the
// SPI the SA's receiver chose, and g(qm)^xy or nil). NATDHash computes
// NAT-D values. CipherAlg covers DES, 3DES and AES-CBC. Group covers MODP
// groups 1, 2, 5, 14, 15, 16 (constant-time exponentiation, peer value
// check 1 < y < p-1), ECP groups 19, 20, 21 (RFC 5903 x||y encoding) and
// Curve25519 (31): GenerateKey, Public, SharedSecret, Wipe.
//
// # Phase 1
//
// Phase1 is one Main Mode or Aggressive Mode negotiation in either role,
// built by NewInitiator (then Start) or NewResponder (then Handle with the
// first message) from a Phase1Config. It is a pure state machine: Handle
// takes a received Packet and the time and returns a Result with the
// datagrams to send, whether to float to UDP 4500 (RFC 3947; strongSwan
// with kernel-libipsec always fakes a NAT so this always happens against
// it), and at the end either Done (a Phase1Done with keys, last IV, cipher,
// identities, NAT state, lifetime) or Failed (a Phase1Failure with a
// FailReason). An error from Handle means the datagram was dropped and the
// state is unchanged. Timers and retransmission belong to the caller
// (resend every datagram of LastSent: a fragmented message is several).
// With Phase1Config.Fragmentation both sides' certificate-carrying
// messages travel as IKEv1 fragments once the peer announced support too.
// Failures after the key exchange are told to the peer, and understood
// from it, in encrypted Informational messages.
//
// Each role's handlers are methods of Phase1 in a file of their own, as
// crypto/tls splits client and server handshakes: phase1_initiator.go and
// phase1_responder.go, each reading top to bottom through Main Mode, then
// Aggressive Mode, one handler per received message. phase1.go holds the
// shared types and Handle, which does what every message needs
// (retransmissions, cookies, fragments, Informationals) and passes the
// rest to the role's table. The helpers both roles use live in files by
// job: phase1_proposal.go (the responder's choice as the initiator
// accepts it; the offer is built in start and the choice made in
// choose), phase1_keys.go (KE, nonces, SKEYID), phase1_auth.go
// (identity, HASH/SIG, INITIAL-CONTACT), phase1_natt.go (vendor IDs,
// NAT-D, the float to 4500), phase1_send.go (encoding and encryption;
// Handle cuts fragments), phase1_info.go (Informationals during phase
// 1), phase1_resume.go (the stateless Main Mode responder). States carry
// Cisco's names (MM_WAIT_MSG2 .. MM_ACTIVE, AM_WAIT_MSG2/3, AM_ACTIVE).
// The responder chooses like Cisco: the first of its own policies that
// matches any offered transform; the lower lifetime wins
// (RESPONDER-LIFETIME when the responder lowers it).
//
// Authentication: pre-shared keys, RSA signatures (PKCS#1 v1.5 over the
// bare hash) and ECDSA (RFC 4754, r||s; HASH_I/HASH_R then use the HMAC of
// the curve's hash, as strongSwan does) with X.509 certificates chained to
// the configured CA (Credentials, ParseCredentials); the peer's ID must
// name its certificate (subject DN or a subjectAltName, IDMatchesCert).
// With certificates the local identity defaults to the subject DN.
//
// # Exchanges as tables
//
// Every exchange is a table of rows in the manner of Libreswan's IKEv1
// state table: the state a message arrives in, the state its handler
// leaves, whether it is encrypted (and with which HASH), the payloads it
// must and may carry, and the handler (an Informational on an
// established SA has rows per kind of item and no to-state: only a
// Delete of the IKE SA ends it). The code that receives a message finds
// the row and checks the message against it before the handler runs, so
// handlers only do the work (checkPayloads, phase1_table.go).
//
//   - Main and Aggressive Mode, one table per role and mode
//     (mainModeInitiator, aggressiveInitiator in phase1_initiator.go;
//     mainModeResponder, aggressiveResponder in phase1_responder.go),
//     run by phase1Step (phase1_table.go).
//   - Informational during phase 1: phase1Informational (phase1_info.go).
//   - Informational on an established IKE SA: infoTable
//     (manager_info.go), one row per kind of item (R-U-THERE and its ACK,
//     error notify, Delete of an IPsec SA, INITIAL-CONTACT, Delete of the
//     IKE SA) with the stages of the SA's life it counts in; openInfo
//     (info.go) checks HASH(1) and splits the message into items.
//   - Quick Mode, one table per role with the HASH each message carries:
//     quick.go, driven by quickMode.handle.
//   - XAUTH and Mode-Config (the Transaction exchange): transactionTable
//     in ra.go, by role, phase and configuration message type; txn.open
//     (transaction.go) checks HASH and the attribute payload.
//
// Each table has a test that feeds every message shape in every state
// (TestPhase1Tables, TestPhase1InformationalTable, TestInformationalTable,
// TestQuickTables, TestTransactionTable).
//
// # The manager
//
// Manager (manager*.go) owns the IKE SAs and drives the exchanges: sockets
// hand it datagrams (HandlePacket), the data plane asks for SAs (Acquire,
// Expired), a timer runs retransmissions, rekeys, expiry, DPD and NAT-T
// keepalives (manager_timers.go, manager_timerq.go), and finished pairs go
// to the data plane. An IKE SA's life is one explicit state (negotiating,
// configuring, active, dead: manager_salife.go); the dispatcher routes each
// datagram by a table of exchange and life (exchangeRoutes,
// manager_dispatch.go; TestExchangeRoutes), and status' Cisco state
// names derive from the life.
// One mutex, Manager.mu, guards it all; manager.go says what may not run
// under it. IPsec SAs outlive their IKE SA (manager_orphan.go); responders
// that have not proven their address cost a small record, not an SA
// (manager_halfopen.go).
package ike
