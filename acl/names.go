package acl

// Protocol numbers (IANA) of the keywords an ACL line may use.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoGRE    = 47
	ProtoESP    = 50
	ProtoAH     = 51
	ProtoICMPv6 = 58
	ProtoSCTP   = 132
)

// protoNames maps the IOS/ASA protocol keywords to numbers. "ip" is 0, the
// Rule's encoding of "any protocol"; a literal 0 is read the same way
// because IOS does, even though 0 is IPv6 hop-by-hop on the wire. "ipv6"
// is not here: in IOS IPv6 ACLs it means any IPv6 packet, not protocol 41,
// and ParseRule handles it as such.
var protoNames = map[string]uint8{
	"ip":        0,
	"icmp":      ProtoICMP,
	"igmp":      2,
	"tcp":       ProtoTCP,
	"udp":       ProtoUDP,
	"gre":       ProtoGRE,
	"esp":       ProtoESP,
	"ahp":       ProtoAH,
	"ah":        ProtoAH,
	"icmp6":     ProtoICMPv6,
	"ipv6-icmp": ProtoICMPv6,
	"eigrp":     88,
	"ospf":      89,
	"pim":       103,
	"sctp":      ProtoSCTP,
}

// portNames are the well-known port keywords admins copy from IOS configs.
// One table for all protocols: IOS uses the same numbers wherever a name
// exists for both TCP and UDP, and none of these collide.
var portNames = map[string]uint16{
	"echo":          7,
	"discard":       9,
	"daytime":       13,
	"chargen":       19,
	"ftp-data":      20,
	"ftp":           21,
	"ssh":           22,
	"telnet":        23,
	"smtp":          25,
	"time":          37,
	"nameserver":    42,
	"whois":         43,
	"tacacs":        49,
	"domain":        53,
	"bootps":        67,
	"bootpc":        68,
	"tftp":          69,
	"gopher":        70,
	"finger":        79,
	"www":           80,
	"http":          80,
	"pop2":          109,
	"pop3":          110,
	"sunrpc":        111,
	"ident":         113,
	"nntp":          119,
	"ntp":           123,
	"netbios-ns":    137,
	"netbios-dgm":   138,
	"netbios-ss":    139,
	"imap":          143,
	"snmp":          161,
	"snmptrap":      162,
	"xdmcp":         177,
	"bgp":           179,
	"irc":           194,
	"ldap":          389,
	"https":         443,
	"isakmp":        500,
	"syslog":        514,
	"lpd":           515,
	"rip":           520,
	"ldaps":         636,
	"l2tp":          1701,
	"pptp":          1723,
	"radius":        1812,
	"radius-acct":   1813,
	"non500-isakmp": 4500,
	"sip":           5060,
}

// hasPorts reports whether ACL lines for proto may carry port operators.
func hasPorts(proto uint8) bool {
	return proto == ProtoTCP || proto == ProtoUDP || proto == ProtoSCTP
}
