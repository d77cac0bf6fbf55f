package ciscoimport

import (
	"net/netip"
	"strconv"
	"strings"
)

// converter collects what the running-config defines, then emit writes
// the TOML. Everything is found by the names the config uses: names maps
// a kind letter and a name to the definition's index in its kind's list,
// which keeps the order of first definition (kind "x" is a set: the
// dynamic maps emit has written, with an unused index). One map for every kind
// rather than a map per kind: each map type carried five type
// descriptors and its own calls (flash).
type converter struct {
	platform string // "IOS" or "ASA"
	asa      bool   // platform is "ASA": tested where the platforms differ (a string compare is code of its own: flash)
	pskDir   string
	notes    []Note

	names    map[string]int
	policies []policy       // in priority order
	tsets    []transformSet // kind "t"
	acls     []*aclDef      // kind "a"
	objects  []*netObject   // kind "o"
	keys     []*pskEntry
	maps     []*mapEntry    // kind "m", "NAME SEQ": static maps
	dyn      []*mapEntry    // kind "d", "DYN SEQ": dynamic-map entries
	groups   []*tunnelGroup // kind "g"
	// kind "x": dynamic maps already written (emit), no list

	// Globals that apply to every crypto map entry.
	saLifetime   int // crypto ipsec security-association lifetime seconds
	saLifetimeKB int64
	saKBSet      bool
	dpdDelay     int // crypto isakmp keepalive
	dpdRetry     int
	dpdSet       bool
	natTOff      bool
	allowWeak    bool
}

// find is the index of the definition of kind called name in its
// kind's list, -1 if there is none.
func (c *converter) find(kind, name string) int {
	if i, ok := c.names[kind+name]; ok {
		return i
	}
	return -1
}

// slot is the index of the definition of kind called name; when there
// is none it records n, the length of the kind's list, to which the
// caller then appends, and reports the name as new.
func (c *converter) slot(kind, name string, n int) (int, bool) {
	k := kind + name
	if i, ok := c.names[k]; ok {
		return i, false
	}
	c.names[k] = n
	return n, true
}

// note records a line that was not (fully) carried over.
func (c *converter) note(l *line, reason string) {
	c.noteAt(l.num, redact(l.toks), reason)
}

// noteAt records a note; one call site for the append (flash).
func (c *converter) noteAt(line int, text, reason string) {
	c.notes = append(c.notes, Note{Line: line, Text: text, Reason: reason})
}

// noteBlock records a whole block as not carried over: one note for the
// head line that says how many sub-lines went with it.
func (c *converter) noteBlock(b *block, reason string) {
	text := redact(b.head.toks)
	if n := len(b.children); n == 1 {
		text += " (and 1 sub-line)"
	} else if n > 1 {
		text += " (and " + strconv.Itoa(n) + " sub-lines)"
	}
	c.noteAt(b.head.num, text, reason)
}

// weak marks that the result needs allow_weak and tells the admin why.
func (c *converter) weak(l *line, what string) {
	c.allowWeak = true
	c.note(l, "uses weak "+what+"; allow_weak = true is set so that it loads: replace it")
}

// What a top-level line is, as topCommands names it.
const (
	topOther  command = iota // not IPsec configuration
	topIgnore                // carries no configuration at all
	topPolicy
	topIsakmpKey
	topKeyring
	topTransformSet   // crypto ipsec transform-set NAME ...
	topTransformSetV1 // crypto ipsec ikev1 transform-set NAME ...
	topLifetime
	topCryptoMap
	topDynamicMap
	topKeepalive
	topDefault // what tinyipsec does anyway
	topNATTOff
	topIKEv2
	topPKI
	topCrypto // any other crypto command
	topAccessList
	topNamedACL
	topIPv6ACL
	topObject
	topTunnelGroup
	topInterface
)

// topCommands classifies top-level lines, first match wins (the order
// of a switch; a table rather than a chain of calls: flash).
var topCommands = [...]prefixRule{
	{"end", topIgnore, 0},
	{"Building", topIgnore, 0},
	{"Current configuration", topIgnore, 0},
	{"Cryptochecksum", topIgnore, 0},
	{"exit", topIgnore, 0},
	{"crypto isakmp policy", topPolicy, 0},
	{"crypto ikev1 policy", topPolicy, 0},
	{"crypto isakmp key", topIsakmpKey, 0},
	{"crypto keyring", topKeyring, 0},
	{"crypto ipsec transform-set", topTransformSet, 0},
	{"crypto ipsec ikev1 transform-set", topTransformSetV1, 0},
	{"crypto ipsec security-association lifetime", topLifetime, 0},
	{"crypto map", topCryptoMap, 0},
	{"crypto dynamic-map", topDynamicMap, 0},
	{"crypto isakmp keepalive", topKeepalive, 0},
	// tinyipsec does these by default: NAT-T auto, IKE on every address,
	// the address as identity.
	{"crypto isakmp nat-traversal", topDefault, 0},
	{"crypto isakmp enable", topDefault, 0},
	{"crypto ikev1 enable", topDefault, 0},
	{"crypto isakmp identity address", topDefault, 0},
	{"no crypto isakmp nat-traversal", topNATTOff, 0},
	{"crypto ikev2", topIKEv2, 0},
	{"crypto ipsec ikev2", topIKEv2, 0},
	{"crypto ca", topPKI, 0},
	{"crypto pki", topPKI, 0},
	{"crypto", topCrypto, 0},
	{"ip access-list extended", topNamedACL, 4},
	{"ipv6 access-list", topIPv6ACL, 3},
	{"object network", topObject, 3},
	{"object-group network", topObject, 3},
	{"tunnel-group", topTunnelGroup, 3},
	{"interface", topInterface, 0},
}

// block dispatches one top-level command.
func (c *converter) block(b *block) {
	t := b.head.toks
	cmd := classify(t, topCommands[:])
	if t[0] == "access-list" && cmd == topOther {
		cmd = topAccessList // as written: hasPrefix would also take ACCESS-LIST
	}
	switch cmd {
	case topIgnore, topDefault:
	case topPolicy:
		c.policy(b)
	case topIsakmpKey:
		// crypto isakmp key [0|6|7] KEY address ADDR [MASK] [no-xauth]
		// or ... hostname NAME.
		c.keySpec(&b.head, t[3:], "crypto isakmp key")
		c.noteChildren(b, "unexpected sub-line")
	case topKeyring:
		c.keyring(b)
	case topTransformSet:
		c.transformSet(b, t[3:])
	case topTransformSetV1:
		c.transformSet(b, t[4:])
	case topLifetime:
		// crypto ipsec security-association lifetime seconds N |
		// kilobytes N|unlimited, the default of every crypto map entry.
		c.lifetime(&b.head, t[4:], &c.saLifetime, &c.saLifetimeKB, &c.saKBSet)
	case topCryptoMap:
		c.cryptoMap(b, false)
	case topDynamicMap:
		c.cryptoMap(b, true)
	case topKeepalive:
		// crypto isakmp keepalive SECONDS [RETRY] [periodic|on-demand].
		// IOS declares a peer dead after five unanswered retries.
		if len(t) < 4 {
			c.note(&b.head, "missing interval")
			return
		}
		d, err := strconv.Atoi(t[3])
		if err != nil || d < 1 || d > 3600 {
			c.note(&b.head, "interval must be 1-3600 seconds")
			return
		}
		retry := 2
		if len(t) > 4 && isDigits(t[4]) {
			retry, _ = strconv.Atoi(t[4])
		}
		c.dpdDelay, c.dpdRetry, c.dpdSet = d, retry, true
	case topNATTOff:
		c.natTOff = true
	case topIKEv2:
		c.noteBlock(b, "IKEv2 is not supported (tinyipsec speaks IKEv1)")
	case topPKI:
		c.noteBlock(b, "certificates are files in tinyipsec: set cert, key and ca on the crypto map")
	case topCrypto:
		c.noteBlock(b, "no tinyipsec equivalent")
	case topAccessList:
		c.acl(b, "")
	case topNamedACL:
		c.acl(b, t[3])
	case topIPv6ACL:
		c.acl(b, t[2])
	case topObject:
		c.netObject(b)
	case topTunnelGroup:
		c.tunnelGroup(b)
	case topInterface:
		reason := "not IPsec configuration"
		for i := range b.children {
			ch := &b.children[i]
			if hasPrefix(ch.toks, "crypto map") {
				reason += " (its crypto map binding needs no equivalent: tinyipsec protects matching traffic whichever interface it takes)"
				break
			}
		}
		c.noteBlock(b, reason)
	default:
		c.noteBlock(b, "not IPsec configuration")
	}
}

// noteChildren reports sub-lines of a block that has none in Cisco syntax.
func (c *converter) noteChildren(b *block, reason string) {
	for i := range b.children {
		ch := &b.children[i]
		c.note(ch, reason)
	}
}

// The units of a phase 2 lifetime, as lifetimeUnits names them.
const (
	lifeOther command = iota
	lifeSeconds
	lifeKilobytes
	lifeDays
)

var lifetimeUnits = [...]wordRule{{"seconds", lifeSeconds}, {"kilobytes", lifeKilobytes}, {"days", lifeDays}}

// lifetime parses "seconds N" or "kilobytes N|unlimited" into *sec/*kb.
func (c *converter) lifetime(l *line, args []string, sec *int, kb *int64, kbSet *bool) bool {
	if len(args) < 2 {
		c.note(l, "incomplete lifetime")
		return false
	}
	switch lookup(lifetimeUnits[:], strings.ToLower(args[0])) {
	case lifeSeconds:
		n, err := strconv.Atoi(args[1])
		if err != nil || n <= 0 {
			c.note(l, "lifetime is not a number of seconds")
			return false
		}
		switch {
		case n < 120:
			c.note(l, "tinyipsec's shortest phase 2 lifetime is 120 s; using 120")
			n = 120
		case n > 86400:
			c.note(l, "tinyipsec's longest phase 2 lifetime is 86400 s; using 86400")
			n = 86400
		}
		*sec = n
	case lifeKilobytes:
		if strings.EqualFold(args[1], "unlimited") || strings.EqualFold(args[1], "disable") {
			*kb, *kbSet = 0, true
			return true
		}
		n, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil || n < 0 {
			c.note(l, "lifetime is not a number of kilobytes")
			return false
		}
		switch {
		case n > 0 && n < 2560:
			c.note(l, "tinyipsec's smallest volume lifetime is 2560 kB; using 2560")
			n = 2560
		case n > 1<<32-1:
			c.note(l, "volume lifetime above 4294967295 kB; using that")
			n = 1<<32 - 1
		}
		*kb, *kbSet = n, true
	case lifeDays:
		c.note(l, "idle and day lifetimes have no tinyipsec equivalent")
		return false
	default:
		c.note(l, "no tinyipsec equivalent")
		return false
	}
	return true
}

// prefixOf reads ADDR MASK as a prefix: MASK is a dotted netmask
// (255.255.255.0) or, if wildcard, an IOS inverse mask (0.0.0.255).
func prefixOf(addr, mask string, wildcard bool) (netip.Prefix, bool) {
	a, err := netip.ParseAddr(addr)
	if err != nil || !a.Is4() {
		return netip.Prefix{}, false
	}
	m, err := netip.ParseAddr(mask)
	if err != nil || !m.Is4() {
		return netip.Prefix{}, false
	}
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	if wildcard {
		v = ^v
	}
	n := 0
	for n < 32 && v&(1<<(31-n)) != 0 {
		n++
	}
	if n < 32 && v<<n != 0 {
		return netip.Prefix{}, false // not contiguous
	}
	return netip.PrefixFrom(a, n).Masked(), true
}
