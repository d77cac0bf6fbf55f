package ike

import "time"

// NAT traversal runtime (RFC 3947/3948): once phase 1 has found a NAT,
// IKE moves to UDP 4500 (messages there carry the 4-byte non-ESP marker,
// added and removed by the socket layer), ESP is encapsulated in UDP, and
// the end behind the NAT sends one-byte keepalives so the NAT mapping
// stays open.

// NATTPort is the UDP port of floated IKE and ESP-in-UDP.
const NATTPort = 4500

// IKEPort is the UDP port of IKE before floating.
const IKEPort = 500

// nattKeepaliveInterval is how often the end behind a NAT sends a
// keepalive (RFC 3948 section 4 suggests 20 s).
const nattKeepaliveInterval = 20 * time.Second

// nattKeepalive is the NAT-keepalive packet: a single 0xFF octet.
var nattKeepalive = []byte{0xff}
