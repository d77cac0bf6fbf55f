// Package esp owns IPsec SAs, the per-packet ESP (RFC 4303) and AH
// (RFC 4302) transforms and the two packet paths: TUN -> ACL -> SA -> wire
// and wire -> SPI -> SA -> TUN. Per-packet code never allocates and never
// takes a global lock.
package esp
