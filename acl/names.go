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

// keyword is one name an ACL line may use for a number.
type keyword struct {
	name string
	num  uint16
}

// lookup finds a lower-case keyword. The tables are static arrays
// searched in order rather than maps, which the program would build at
// start from code as long as the tables (flash, and heap at start).
//
//go:noinline
func lookup(tab []keyword, low string) (uint16, bool) {
	for i := range tab {
		if tab[i].name == low {
			return tab[i].num, true
		}
	}
	return 0, false
}

// protoNames are the IOS/ASA protocol keywords. "ip" is 0, the Rule's
// encoding of "any protocol"; a literal 0 is read the same way because
// IOS does, even though 0 is IPv6 hop-by-hop on the wire. "ipv6" is not
// here: in IOS IPv6 ACLs it means any IPv6 packet, not protocol 41, and
// ParseRule handles it as such. The first nProtoNames are the names
// ProtoName writes; the rest are other spellings and protocols it writes
// as numbers.
var protoNames = [...]keyword{
	{"ip", 0},
	{"icmp", ProtoICMP},
	{"tcp", ProtoTCP},
	{"udp", ProtoUDP},
	{"gre", ProtoGRE},
	{"esp", ProtoESP},
	{"ahp", ProtoAH},
	{"icmp6", ProtoICMPv6},
	{"sctp", ProtoSCTP},
	{"igmp", 2},
	{"ah", ProtoAH},
	{"ipv6-icmp", ProtoICMPv6},
	{"eigrp", 88},
	{"ospf", 89},
	{"pim", 103},
}

const nProtoNames = 9

// portNames are the well-known port keywords admins copy from IOS configs.
// One table for all protocols: IOS uses the same numbers wherever a name
// exists for both TCP and UDP, and none of these collide.
var portNames = [...]keyword{
	{"echo", 7},
	{"discard", 9},
	{"daytime", 13},
	{"chargen", 19},
	{"ftp-data", 20},
	{"ftp", 21},
	{"ssh", 22},
	{"telnet", 23},
	{"smtp", 25},
	{"time", 37},
	{"nameserver", 42},
	{"whois", 43},
	{"tacacs", 49},
	{"domain", 53},
	{"bootps", 67},
	{"bootpc", 68},
	{"tftp", 69},
	{"gopher", 70},
	{"finger", 79},
	{"www", 80},
	{"http", 80},
	{"pop2", 109},
	{"pop3", 110},
	{"sunrpc", 111},
	{"ident", 113},
	{"nntp", 119},
	{"ntp", 123},
	{"netbios-ns", 137},
	{"netbios-dgm", 138},
	{"netbios-ss", 139},
	{"imap", 143},
	{"snmp", 161},
	{"snmptrap", 162},
	{"xdmcp", 177},
	{"bgp", 179},
	{"irc", 194},
	{"ldap", 389},
	{"https", 443},
	{"isakmp", 500},
	{"syslog", 514},
	{"lpd", 515},
	{"rip", 520},
	{"ldaps", 636},
	{"l2tp", 1701},
	{"pptp", 1723},
	{"radius", 1812},
	{"radius-acct", 1813},
	{"non500-isakmp", 4500},
	{"sip", 5060},
}

// hasPorts reports whether ACL lines for proto may carry port operators.
func hasPorts(proto uint8) bool {
	return proto == ProtoTCP || proto == ProtoUDP || proto == ProtoSCTP
}
