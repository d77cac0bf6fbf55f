// Package acl compiles Cisco-style crypto ACLs into packet matchers and
// derives the IKE proxy IDs (traffic selectors) from them.
//
// The pieces, in the order a configuration flows through them:
//
//   - ParseRule reads one extended-ACL line ("permit udp host 10.1.0.5
//     10.2.0.0 0.0.0.255 range 5000 5100") into a Rule. The config loader
//     calls it per line and shows its short error next to file and line.
//   - Compile turns an ACL's rules into a List, which matches raw IPv4/IPv6
//     packets with IOS semantics: first match wins, implicit deny.
//   - A Classifier evaluates the ACLs of all crypto map entries in order for
//     the data plane: a deny only means "not this entry", the first permit
//     picks the entry that protects the packet.
//   - Selector is a proxy ID pair for IKEv1 Quick Mode: List.ProxyIDs gives
//     what an initiator proposes, List.AllowsProxyID / FindProxyID / Narrow
//     are the responder's checks, and Selector.MatchesPacket enforces an
//     SA's selector on every packet, above all on inbound packets after
//     decapsulation.
//
// Every per-packet function (Match, Classify, ParsePacket, MatchesPacket)
// is allocation-free, since it runs for each packet on a small router.
package acl
