package ciscoimport

import (
	"net/netip"
	"strconv"
	"strings"
	"tinyipsec/internal/algo"
)

// policy is one "crypto isakmp policy N" (IOS) or "crypto ikev1 policy N"
// (ASA). The running-config leaves out values at their default, so the
// struct starts with the platform's defaults.
type policy struct {
	_        [0]func() // not comparable: no generated == function (flash)
	line     int
	priority int
	enc      string
	hash     string
	auth     string
	group    int
	lifetime int
}

// The algorithms of a policy, as policyWords and algKeys name them.
const (
	algEnc uint8 = iota
	algHash
	algAuth
)

// algKeys are the algorithms' TOML keys, also the words of the notes.
var algKeys = [...]string{"encryption", "hash", "authentication"}

// What a line of a policy is, as policyCommands names it.
const (
	polOther command = iota
	polEncryption
	polHash
	polAuthentication
	polGroup
	polLifetime
)

var policyCommands = [...]wordRule{
	{"encr", polEncryption}, {"encryption", polEncryption}, {"hash", polHash},
	{"authentication", polAuthentication}, {"group", polGroup}, {"lifetime", polLifetime},
}

func (c *converter) policy(b *block) {
	t := b.head.toks
	if len(t) < 4 || !isDigits(t[3]) {
		c.noteBlock(b, "policy without a priority number")
		return
	}
	prio, _ := strconv.Atoi(t[3])
	if prio < 1 || prio > 10000 {
		c.noteBlock(b, "priority must be 1-10000")
		return
	}
	// The platform's defaults, which a running-config leaves out. IOS:
	// des, sha, rsa-sig, group 1. ASA: 3des, sha, pre-share, group 2.
	p := policy{line: b.head.num, priority: prio, enc: "des", hash: "sha1", auth: "rsa-sig", group: 1, lifetime: 86400}
	if c.asa {
		p.enc, p.auth, p.group = "3des", "pre-share", 2
	}
	dropped := false // a value is not supported: the policy is not carried over
	for i := range b.children {
		l := &b.children[i]
		t := l.toks
		var a1, a2 string // the arguments, lower case
		if len(t) > 1 {
			a1 = strings.ToLower(t[1])
		}
		if len(t) > 2 {
			a2 = strings.ToLower(t[2])
		}
		drop := "" // why the whole policy is not carried over
		var alg uint8
		var value *string // the algorithm the line sets
		switch lookup(policyCommands[:], strings.ToLower(t[0])) {
		case polEncryption:
			alg, value = algEnc, &p.enc
		case polHash:
			alg, value = algHash, &p.hash
		case polAuthentication:
			alg, value = algAuth, &p.auth
		case polGroup:
			// algo's table of the groups tinyipsec offers, not a copy of it
			if g, err := strconv.Atoi(a1); err != nil || g < 1 || g >= 1<<16 || algo.Group(g).Info() == nil {
				drop = "DH group " + a1 + " is not supported"
			} else {
				p.group = g
			}
		case polLifetime:
			n, err := strconv.Atoi(a1)
			switch {
			case err != nil || n <= 0:
				c.note(l, "lifetime is not a number of seconds")
			case n < 60:
				c.note(l, "tinyipsec's shortest phase 1 lifetime is 60 s; using 60")
				p.lifetime = 60
			case n > 86400:
				c.note(l, "tinyipsec's longest phase 1 lifetime is 86400 s; using 86400")
				p.lifetime = 86400
			default:
				p.lifetime = n
			}
		default:
			c.note(l, "no tinyipsec equivalent")
		}
		if value != nil {
			w := a1
			if alg == algEnc && w == "aes" {
				w = "aes " + a2
			}
			*value = "" // unless policyWords has Cisco's word w
			for i := range policyWords {
				if policyWords[i].alg == alg && policyWords[i].cisco == w {
					*value = policyWords[i].value
					break
				}
			}
			if *value == "" {
				drop = algKeys[alg] + " " + a1 + " is not supported"
				if alg == algAuth {
					drop += " (RSA encryption modes are not offered)"
				}
			}
		}
		if drop != "" {
			c.note(l, drop+"; the policy is not carried over")
			dropped = true
		}
	}
	if dropped {
		return
	}
	// What is weak, each after ", ": one string rather than a list of
	// words joined (flash).
	weak := ""
	if p.enc == "des" {
		weak = ", des"
	}
	if p.hash == "md5" {
		weak += ", md5"
	}
	if algo.Group(p.group).Weak() {
		weak += ", group " + strconv.Itoa(p.group)
	}
	if weak != "" {
		c.weak(&b.head, weak[2:]+" (a platform default if not written)")
	}
	// The list is kept in priority order, the order of the output.
	ps := c.policies
	i := 0
	for i < len(ps) && ps[i].priority < prio {
		i++
	}
	if i < len(ps) && ps[i].priority == prio {
		c.note(&b.head, "priority "+strconv.Itoa(prio)+" is defined twice; the later one is kept")
	} else {
		ps = append(ps, policy{})
		copy(ps[i+1:], ps[i:])
		c.policies = ps
	}
	ps[i] = p
}

// policyWords: Cisco's words for the values of an ISAKMP policy, and
// tinyipsec's. "aes N" is the encryption keyword with its key size (a
// space, which no token holds, keeps it apart from the one-token forms).
// A static table rather than switches whose cases each compare inline
// (flash).
var policyWords = [...]struct {
	alg          uint8
	cisco, value string
}{
	{algEnc, "aes ", "aes128"}, {algEnc, "aes 128", "aes128"}, {algEnc, "aes 192", "aes192"}, {algEnc, "aes 256", "aes256"},
	{algEnc, "aes-192", "aes192"}, {algEnc, "aes-256", "aes256"}, {algEnc, "3des", "3des"}, {algEnc, "des", "des"},
	{algHash, "sha", "sha1"}, {algHash, "sha256", "sha256"}, {algHash, "sha384", "sha384"}, {algHash, "sha512", "sha512"}, {algHash, "md5", "md5"},
	{algAuth, "pre-share", "pre-share"}, {algAuth, "rsa-sig", "rsa-sig"}, {algAuth, "ecdsa-sig", "ecdsa-sig"},
}

// pskEntry is a pre-shared key for a peer address or prefix, or for a
// peer identity (host name, tunnel-group name).
type pskEntry struct {
	_      [0]func() // not comparable: no generated == function (flash)
	line   int
	prefix netip.Prefix // valid for address keys
	ident  string       // for identity keys: "fqdn:NAME" (tinyipsec syntax)
	key    string       // the clear key; "" if hidden or encrypted
	hidden string       // why the key is not in the config, for the note
	used   bool
}

// How a key names its peer, as keyPeerWords names it.
const (
	keyOther command = iota
	keyAddress
	keyIPv6
	keyHostname
)

var keyPeerWords = [...]wordRule{{"address", keyAddress}, {"ipv6", keyIPv6}, {"hostname", keyHostname}}

// keySpec reads [TYPE] KEY address ADDR [MASK] | hostname NAME.
func (c *converter) keySpec(l *line, t []string, what string) {
	e := &pskEntry{line: l.num}
	if len(t) >= 2 && len(t[0]) == 1 && isDigits(t[0]) && !isWord(keepWords[:3], strings.ToLower(t[1])) {
		if t[0] != "0" {
			e.hidden = "the key is stored encrypted (type " + t[0] + ")"
		}
		t = t[1:]
	}
	if len(t) < 3 {
		c.note(l, "incomplete "+what)
		return
	}
	if !c.keyValue(e, t[0]) {
		c.note(l, "a key cannot contain NUL or other control characters")
		return
	}
	switch lookup(keyPeerWords[:], strings.ToLower(t[1])) {
	case keyAddress:
		a, err := netip.ParseAddr(t[2])
		if err != nil {
			c.note(l, "address "+t[2]+" is not an IP address")
			return
		}
		pfx := netip.PrefixFrom(a, a.BitLen())
		if len(t) > 3 && strings.Contains(t[3], ".") {
			var ok bool
			if pfx, ok = prefixOf(t[2], t[3], false); !ok {
				c.note(l, "mask "+t[3]+" is not a netmask")
				return
			}
		}
		e.prefix = pfx // one store of a Prefix (a copy with a write barrier: flash)
	case keyIPv6:
		pfx, err := netip.ParsePrefix(t[2])
		if err != nil {
			c.note(l, t[2]+" is not an IPv6 prefix")
			return
		}
		e.prefix = pfx.Masked()
	case keyHostname:
		e.ident = "fqdn:" + t[2]
	default:
		c.note(l, "no tinyipsec equivalent")
		return
	}
	if e.hidden != "" {
		c.note(l, e.hidden+": tinyipsec needs the clear key")
	}
	push(&c.keys, e)
}

// keyValue stores a clear key or records that it is hidden.
func (c *converter) keyValue(e *pskEntry, k string) bool {
	stars := 0 // counted here rather than by strings.Trim, linked for nothing else (flash)
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] == 0x7f {
			return false
		}
		if k[i] == '*' {
			stars++
		}
	}
	if stars == len(k) {
		e.hidden = "the key is hidden as " + k + " (ASA: \"more system:running-config\" shows it)"
	}
	if e.hidden == "" {
		e.key = k
	}
	return true
}

// keyring: IOS "crypto keyring NAME" with pre-shared-key lines. tinyipsec
// has no ISAKMP profiles, so the keys become global ones.
func (c *converter) keyring(b *block) {
	if len(b.children) > 0 {
		c.note(&b.head, "keyring carried over as global keys (tinyipsec has no ISAKMP profiles choosing a keyring)")
	}
	for i := range b.children {
		l := &b.children[i]
		t := l.toks
		if !hasPrefix(t, "pre-shared-key") || len(t) < 4 {
			c.note(l, "no tinyipsec equivalent")
			continue
		}
		// pre-shared-key address A [MASK] key [TYPE] K | hostname H key K
		i := 1
		for i < len(t) && !strings.EqualFold(t[i], "key") {
			i++
		}
		if i+1 >= len(t) {
			c.note(l, "incomplete pre-shared-key")
			continue
		}
		// The words after "key", then the peer's (t[1:i]): a copy, as
		// the capacity is the length.
		words := t[i+1 : len(t) : len(t)]
		for _, w := range t[1:i] {
			push(&words, w)
		}
		c.keySpec(l, words, "pre-shared-key")
	}
}

// tunnelGroup is an ASA "tunnel-group NAME ..." (type and attributes).
type tunnelGroup struct {
	_      [0]func() // not comparable: no generated == function (flash)
	name   string
	typ    string
	key    *pskEntry
	dpd    int
	retry  int
	dpdSet bool
	dpdOff bool
}

func (c *converter) tunnelGroup(b *block) {
	t := b.head.toks
	name := t[1]
	i, isNew := c.slot("g", name, len(c.groups))
	if isNew {
		push(&c.groups, &tunnelGroup{name: name})
	}
	tg := c.groups[i]
	switch {
	case hasPrefix(t[2:], "type"):
		if len(t) > 3 {
			tg.typ = strings.ToLower(t[3])
		}
		if tg.typ != "ipsec-l2l" {
			c.note(&b.head, "only LAN-to-LAN tunnel groups (type ipsec-l2l) are carried over")
		}
		c.noteChildren(b, "unexpected sub-line")
	case hasPrefix(t[2:], "ipsec-attributes"):
		for i := range b.children {
			l := &b.children[i]
			t := l.toks
			switch classify(t, tunnelGroupCommands[:]) {
			case tgKey:
				args := t[1:]
				if strings.EqualFold(t[0], "ikev1") { // the line matched case-insensitively
					args = t[2:]
				}
				k := args[0]
				if len(args) >= 2 && len(args[0]) == 1 && isDigits(args[0]) {
					k = args[1]
					if args[0] != "0" {
						k = "" // "pre-shared-key 8 ENCRYPTED": password encryption is on
					}
				}
				e := &pskEntry{line: l.num}
				if k == "" {
					e.hidden = "the key is stored encrypted"
				} else if !c.keyValue(e, k) {
					c.note(l, "a key cannot contain NUL or other control characters")
					continue
				}
				if e.hidden != "" {
					c.note(l, e.hidden+": tinyipsec needs the clear key")
				}
				tg.key = e
			case tgDPDOff:
				tg.dpdOff = true
			case tgDPD:
				d, err := strconv.Atoi(t[3])
				if err != nil || d < 1 || d > 3600 {
					c.note(l, "threshold must be 1-3600 seconds")
					continue
				}
				tg.dpd, tg.retry, tg.dpdSet = d, 2, true
				if len(t) >= 6 && strings.EqualFold(t[4], "retry") {
					if r, err := strconv.Atoi(t[5]); err == nil && r > 0 {
						tg.retry = r
					}
				}
			case tgIKEv2:
				c.note(l, "IKEv2 is not supported (tinyipsec speaks IKEv1)")
			default:
				c.note(l, "no tinyipsec equivalent")
			}
		}
	default:
		c.noteBlock(b, "no tinyipsec equivalent")
	}
}

// What a tunnel group's ipsec-attributes line is, as tunnelGroupCommands
// names it.
const (
	tgOther command = iota
	tgKey
	tgDPDOff
	tgDPD
	tgIKEv2
)

// tunnelGroupCommands classifies the lines of a tunnel group's
// ipsec-attributes, first match wins.
var tunnelGroupCommands = [...]prefixRule{
	{"ikev1 pre-shared-key", tgKey, 3},
	{"pre-shared-key", tgKey, 2},
	{"isakmp keepalive disable", tgDPDOff, 0},
	{"isakmp keepalive threshold", tgDPD, 4},
	{"ikev2", tgIKEv2, 0},
}
