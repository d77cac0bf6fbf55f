package ciscoimport

import (
	"net/netip"
	"strconv"
	"strings"
	"tinyipsec/internal/order"
)

// converter collects what the running-config defines, then emit writes
// the TOML. Everything is keyed by the names the config uses.
type converter struct {
	platform string
	pskDir   string
	notes    []Note

	policies   []*policy
	transforms map[string]*transformSet
	tsOrder    []string
	acls       map[string]*aclDef
	aclOrder   []string
	objects    map[string]*netObject
	keys       []*pskEntry
	maps       map[string]*mapEntry // "NAME SEQ"; static maps
	mapOrder   []string
	dynMaps    map[string]*mapEntry // "DYN SEQ"; dynamic-map entries
	dynOrder   []string

	// Globals that apply to every crypto map entry.
	saLifetime   int // crypto ipsec security-association lifetime seconds
	saLifetimeKB int64
	saKBSet      bool
	dpdDelay     int // crypto isakmp keepalive
	dpdRetry     int
	dpdSet       bool
	natTOff      bool
	allowWeak    bool
	tunnelGroups map[string]*tunnelGroup

	// While writing: the ACLs crypto maps use, whether each yields a
	// permit entry, and their translated rules.
	usedACL, aclOK map[string]bool
	aclRules       map[string][]string
}

func newConverter(platform string) *converter {
	return &converter{
		platform:     platform,
		transforms:   map[string]*transformSet{},
		acls:         map[string]*aclDef{},
		objects:      map[string]*netObject{},
		maps:         map[string]*mapEntry{},
		dynMaps:      map[string]*mapEntry{},
		tunnelGroups: map[string]*tunnelGroup{},
		usedACL:      map[string]bool{},
		aclOK:        map[string]bool{},
		aclRules:     map[string][]string{},
	}
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

func (c *converter) sortNotes() {
	ns := c.notes
	order.Stable(len(ns), func(i, j int) bool { return ns[i].Line < ns[j].Line },
		func(i, j int) { ns[i], ns[j] = ns[j], ns[i] })
}

// weak marks that the result needs allow_weak and tells the admin why.
func (c *converter) weak(l *line, what string) {
	c.allowWeak = true
	c.note(l, "uses weak "+what+"; allow_weak = true is set so that it loads: replace it")
}

// ignorable are top-level lines that carry no configuration at all.
func ignorable(t []string) bool {
	switch {
	case hasPrefix(t, "end"), hasPrefix(t, "Building"),
		hasPrefix(t, "Current configuration"), hasPrefix(t, "Cryptochecksum"),
		hasPrefix(t, "exit"):
		return true
	}
	return false
}

// block dispatches one top-level command.
func (c *converter) block(b *block) {
	t := b.head.toks
	switch {
	case ignorable(t):
	case hasPrefix(t, "crypto isakmp policy"), hasPrefix(t, "crypto ikev1 policy"):
		c.policy(b)
	case hasPrefix(t, "crypto isakmp key"):
		c.isakmpKey(&b.head)
		c.noteChildren(b, "unexpected sub-line")
	case hasPrefix(t, "crypto keyring"):
		c.keyring(b)
	case hasPrefix(t, "crypto ipsec transform-set"):
		c.transformSet(b, t[3:])
	case hasPrefix(t, "crypto ipsec ikev1 transform-set"):
		c.transformSet(b, t[4:])
	case hasPrefix(t, "crypto ipsec security-association lifetime"):
		c.globalLifetime(&b.head, t[4:])
	case hasPrefix(t, "crypto map"):
		c.cryptoMap(b, false)
	case hasPrefix(t, "crypto dynamic-map"):
		c.cryptoMap(b, true)
	case hasPrefix(t, "crypto isakmp keepalive"):
		c.keepalive(&b.head, t[3:])
	case hasPrefix(t, "crypto isakmp nat-traversal"), hasPrefix(t, "crypto isakmp enable"),
		hasPrefix(t, "crypto ikev1 enable"), hasPrefix(t, "crypto isakmp identity address"):
		// tinyipsec does these by default: NAT-T auto, IKE on every
		// address, the address as identity.
	case hasPrefix(t, "no crypto isakmp nat-traversal"):
		c.natTOff = true
	case hasPrefix(t, "crypto ikev2"), hasPrefix(t, "crypto ipsec ikev2"):
		c.noteBlock(b, "IKEv2 is not supported (tinyipsec speaks IKEv1)")
	case hasPrefix(t, "crypto ca"), hasPrefix(t, "crypto pki"):
		c.noteBlock(b, "certificates are files in tinyipsec: set cert, key and ca on the crypto map")
	case hasPrefix(t, "crypto"):
		c.noteBlock(b, "no tinyipsec equivalent")
	case t[0] == "access-list":
		c.accessList(b)
	case hasPrefix(t, "ip access-list extended") && len(t) >= 4:
		c.namedACL(b, t[3])
	case hasPrefix(t, "ipv6 access-list") && len(t) >= 3:
		c.namedACL(b, t[2])
	case hasPrefix(t, "object network") && len(t) >= 3, hasPrefix(t, "object-group network") && len(t) >= 3:
		c.netObject(b)
	case hasPrefix(t, "tunnel-group") && len(t) >= 3:
		c.tunnelGroup(b)
	case hasPrefix(t, "interface"):
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

// keepalive: crypto isakmp keepalive SECONDS [RETRY] [periodic|on-demand].
// IOS declares a peer dead after five unanswered retries.
func (c *converter) keepalive(l *line, args []string) {
	if len(args) == 0 {
		c.note(l, "missing interval")
		return
	}
	d, ok := number(args[0], 1, 3600)
	if !ok {
		c.note(l, "interval must be 1-3600 seconds")
		return
	}
	retry := 2
	if len(args) > 1 && isDigits(args[1]) {
		retry, _ = strconv.Atoi(args[1])
	}
	c.dpdDelay, c.dpdRetry, c.dpdSet = d, retry, true
}

// globalLifetime: crypto ipsec security-association lifetime seconds N |
// kilobytes N|unlimited, the default of every crypto map entry.
func (c *converter) globalLifetime(l *line, args []string) {
	if !c.lifetime(l, args, &c.saLifetime, &c.saLifetimeKB, &c.saKBSet) {
		return
	}
}

// lifetime parses "seconds N" or "kilobytes N|unlimited" into *sec/*kb.
func (c *converter) lifetime(l *line, args []string, sec *int, kb *int64, kbSet *bool) bool {
	if len(args) < 2 {
		c.note(l, "incomplete lifetime")
		return false
	}
	switch strings.ToLower(args[0]) {
	case "seconds":
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
	case "kilobytes":
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
	case "days":
		c.note(l, "idle and day lifetimes have no tinyipsec equivalent")
		return false
	default:
		c.note(l, "no tinyipsec equivalent")
		return false
	}
	return true
}

// parseMask reads a dotted netmask (255.255.255.0) or, if wildcard,
// an IOS inverse mask (0.0.0.255) as a prefix length.
func parseMask(s string, wildcard bool) (int, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return 0, false
	}
	b := a.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	if wildcard {
		v = ^v
	}
	n := 0
	for n < 32 && v&(1<<(31-n)) != 0 {
		n++
	}
	if n < 32 && v<<n != 0 {
		return 0, false // not contiguous
	}
	return n, true
}

// prefixOf reads ADDR MASK as a prefix (netmask or wildcard).
func prefixOf(addr, mask string, wildcard bool) (netip.Prefix, bool) {
	a, err := netip.ParseAddr(addr)
	if err != nil || !a.Is4() {
		return netip.Prefix{}, false
	}
	n, ok := parseMask(mask, wildcard)
	if !ok {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, n).Masked(), true
}

// number reads a decimal number from lo to hi.
func number(s string, lo, hi int) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= lo && n <= hi
}
