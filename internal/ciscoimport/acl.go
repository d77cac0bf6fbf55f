package ciscoimport

import (
	"net/netip"
	"strconv"
	"strings"

	"tinyipsec/acl"
)

// aclDef is an extended ACL: ASA "access-list NAME extended ...", IOS
// "ip access-list extended NAME" with sub-lines, or IOS numbered
// "access-list 100 permit ...". Lines are translated only if a crypto
// map uses the ACL; other ACLs (interface filters) are reported whole.
type aclDef struct {
	name  string
	lines []aclLine
	bad   []*line // lines that are not extended entries (standard ACLs, ...)
	first int

	// While writing: whether a crypto map uses the ACL, whether it
	// yields a permit entry, and its translated rules.
	used, ok bool
	rules    []string
}

type aclLine struct {
	l        *line
	toks     []string // from the action on: permit|deny PROTO ...
	wildcard bool     // IOS masks are wildcards, ASA masks are netmasks
}

// entry keeps line l of the ACL, t from the action on ("permit ...",
// "remark ..."); the one-line form ("access-list NAME ...") also has
// ASA's "extended ...". One function for the forms of both commands
// (flash).
func (a *aclDef) entry(l *line, t []string, oneLine bool) {
	wildcard := true // IOS masks are wildcards, ASA masks are netmasks
	switch {
	case hasPrefix(t, "remark"):
		return
	case oneLine && hasPrefix(t, "extended"):
		t, wildcard = t[1:], false
	case hasPrefix(t, "permit"), hasPrefix(t, "deny"):
		// IOS; a numbered ACL 1-99 or 1300-1999 is a standard one.
	default:
		push(&a.bad, l)
		return
	}
	a.lines = append(a.lines, aclLine{l: l, toks: t, wildcard: wildcard})
}

// acl reads an ACL's entries: with name "", ASA "access-list NAME
// extended|remark|standard ..." or IOS numbered "access-list
// 100-199|2000-2699 permit|deny|remark ..."; else IOS "ip access-list
// extended NAME" (and "ipv6 access-list NAME") with "[SEQ] permit|deny
// ..." and "remark" sub-lines. One function for both commands (flash).
func (c *converter) acl(b *block, name string) {
	t := b.head.toks
	oneLine := name == ""
	if oneLine {
		c.noteChildren(b, "unexpected sub-line")
		if len(t) < 3 {
			c.note(&b.head, "incomplete access-list")
			return
		}
		name = t[1]
	}
	i, isNew := c.slot("a", name, len(c.acls))
	if isNew {
		push(&c.acls, &aclDef{name: name, first: b.head.num})
	}
	a := c.acls[i]
	if oneLine {
		rest := t[2:]
		if hasPrefix(rest, "line") && len(rest) > 2 {
			rest = rest[2:]
		}
		a.entry(&b.head, rest, true)
		return
	}
	for i := range b.children {
		l := &b.children[i]
		t := l.toks
		if isDigits(t[0]) && len(t) > 1 {
			t = t[1:]
		}
		a.entry(l, t, false)
	}
}

// netObject is an ASA "object network" / "object-group network" (also
// IOS "object-group network"): the prefixes it stands for.
type netObject struct {
	name     string
	head     *block
	group    bool
	prefixes []string // "host A", "A/LEN" or "any", in tinyipsec ACL syntax
	refs     []string // nested objects (object-group only)
	problem  string   // set when the object cannot be used in a crypto ACL
	problemL int      // line of the problem
	used     bool
}

// What a line of a network object is, as objectCommands names it.
const (
	objOther command = iota // an address with a mask, or a prefix
	objDescription
	objHost
	objSubnet
	objRef // a nested object or group
	objAny
	objRange
	objFQDN
	objNAT
)

// objectCommands classifies the lines of a network object (after
// "network-object" in a group), first match wins.
var objectCommands = [...]prefixRule{
	{"description", objDescription, 0},
	{"host", objHost, 2},
	{"subnet", objSubnet, 2},
	{"object", objRef, 2},
	{"group-object", objRef, 2},
	{"any", objAny, 0},
	{"range", objRange, 0},
	{"fqdn", objFQDN, 0},
	{"nat", objNAT, 0},
}

func (c *converter) netObject(b *block) {
	o := &netObject{name: b.head.toks[2], head: b, group: strings.EqualFold(b.head.toks[0], "object-group")}
	for i := range b.children {
		l := &b.children[i]
		t := l.toks
		if o.group && hasPrefix(t, "network-object") {
			t = t[1:]
		}
		why := ""         // why this line makes the object unusable
		add := ""         // the prefix the line adds, in tinyipsec ACL syntax
		isPrefix := false // t is "A MASK" or "A/LEN"
		switch cmd := classify(t, objectCommands[:]); {
		case len(t) == 0:
			why = "empty network-object"
		case cmd == objDescription:
		case cmd == objHost:
			if a, err := netip.ParseAddr(t[1]); err != nil {
				why = t[1] + " is not an IP address"
			} else {
				add = "host " + a.String()
			}
		case cmd == objSubnet:
			t, isPrefix = t[1:], true
		case cmd == objRef:
			push(&o.refs, t[1])
		case cmd == objAny:
			add = "any"
		case cmd == objRange:
			why = "an address range is not a prefix; a crypto ACL entry is one proxy ID"
		case cmd == objFQDN:
			why = "FQDN objects are not supported"
		case cmd == objNAT:
			c.note(l, "NAT is not IPsec configuration")
		default:
			_, err := netip.ParseAddr(t[0])
			isPrefix = err == nil || strings.Contains(t[0], "/")
			if !isPrefix {
				why = "no tinyipsec equivalent"
			}
		}
		// "A MASK" (netmask: ASA and IOS object groups) or "A/LEN" (IPv6).
		switch {
		case !isPrefix:
		case strings.Contains(t[0], "/"):
			if p, err := netip.ParsePrefix(t[0]); err != nil {
				why = t[0] + " is not a prefix"
			} else {
				add = p.Masked().String()
			}
		case len(t) < 2:
			why = "address without a mask"
		default:
			if p, ok := prefixOf(t[0], t[1], false); !ok {
				why = t[0] + " " + t[1] + " is not an address with a netmask"
			} else {
				add = prefixText(p)
			}
		}
		if add != "" {
			push(&o.prefixes, add)
		}
		if why != "" && o.problem == "" { // the first problem is reported
			o.problem, o.problemL = why, l.num
		}
	}
	if i, isNew := c.slot("o", o.name, len(c.objects)); isNew {
		push(&c.objects, o)
	} else {
		c.note(&b.head, "object "+o.name+" is defined twice; the later one is kept")
		c.objects[i] = o
	}
}

// prefixText writes a prefix in tinyipsec ACL syntax ("host A" for a
// whole address); the address and length are read once, as each call of
// a netip method copied the prefix (flash).
func prefixText(p netip.Prefix) string {
	a, bits := p.Addr(), p.Bits()
	switch {
	case bits == a.BitLen():
		return "host " + a.String()
	case bits == 0 && a.Is4():
		return "any4"
	}
	return p.String()
}

// expandObject gives the prefixes of a named object, following nested
// groups; depth bounds cycles.
func (c *converter) expandObject(name string, depth int) ([]string, string) {
	i := c.find("o", name)
	if i < 0 {
		return nil, "object " + name + " is not defined (or not a network object)"
	}
	o := c.objects[i]
	if depth > 8 {
		return nil, "object groups nested too deep (or in a cycle) at " + name
	}
	o.used = true
	if o.problem != "" {
		return nil, "object " + name + " (line " + strconv.Itoa(o.problemL) + "): " + o.problem
	}
	var out []string // a copy: the object's list is not grown
	for _, p := range o.prefixes {
		push(&out, p)
	}
	for _, r := range o.refs {
		more, why := c.expandObject(r, depth+1)
		if why != "" {
			return nil, why
		}
		for _, p := range more {
			push(&out, p)
		}
	}
	return out, ""
}

// maxExpanded bounds the lines one ACL entry may expand into.
const maxExpanded = 256

// translate turns one line of ACL a into tinyipsec rules (object groups
// expand into several), which it adds to a.rules, or says why it cannot
// (and adds none).
func (c *converter) translate(a *aclDef, al *aclLine) string {
	t := al.toks
	if len(t) < 2 {
		return "incomplete entry"
	}
	action, proto := strings.ToLower(t[0]), t[1]
	if strings.EqualFold(proto, "object-group") || strings.EqualFold(proto, "object") {
		return "service objects are not supported"
	}
	i := 2
	src, srcPorts, why := c.aclEndpoint(t, &i, al.wildcard)
	if why != "" {
		return why
	}
	dst, dstPorts, why := c.aclEndpoint(t, &i, al.wildcard)
	if why != "" {
		return why
	}
	for i < len(t) {
		switch lookup(entryOptions[:], strings.ToLower(t[i])) {
		case optLog:
			i = len(t) // log [LEVEL] [interval N] [disable]
		case optInactive:
			return "the entry is inactive"
		case optServiceGroup:
			return "service object groups are not supported (write one entry per port)"
		default:
			return "option " + t[i] + " has no tinyipsec equivalent"
		}
	}
	if len(src)*len(dst) > maxExpanded {
		return "the object groups expand to more than " + strconv.Itoa(maxExpanded) + " entries"
	}
	n := len(a.rules)
	for _, s := range src {
		for _, d := range dst {
			r := string(addWord(addWord(addWord(addWord(addWord(addWord(nil, action), proto), s), srcPorts), d), dstPorts))
			if _, err := acl.ParseRule(r); err != nil {
				a.rules = a.rules[:n]
				return err.Error()
			}
			push(&a.rules, r)
		}
	}
	return ""
}

// What the first word of an ACL entry's source or destination is, as
// endpointWords names it.
const (
	epAddress command = iota // an address and a mask, or a prefix
	epAny
	epHost
	epObject
	epInterface
)

var endpointWords = [...]wordRule{
	{"any", epAny}, {"any4", epAny}, {"any6", epAny}, {"host", epHost},
	{"object", epObject}, {"object-group", epObject}, {"interface", epInterface},
}

// portOperators: the port operators of an ACL entry, each with the
// number of words it takes, itself included.
var portOperators = [...]wordRule{{"eq", 2}, {"lt", 2}, {"gt", 2}, {"neq", 2}, {"range", 3}}

// What follows the destination of an ACL entry, as entryOptions names
// it.
const (
	optOther command = iota
	optLog
	optInactive
	optServiceGroup
)

var entryOptions = [...]wordRule{
	{"log", optLog}, {"log-input", optLog}, {"inactive", optInactive}, {"object-group", optServiceGroup},
}

// aclEndpoint reads a source or destination at t[*i]: its addresses
// (object groups expand) and its port match, or why it cannot. Port
// operators are passed through (acl.ParseRule checks them).
func (c *converter) aclEndpoint(t []string, i *int, wildcard bool) (addrs []string, ports, why string) {
	if *i >= len(t) {
		return nil, "", "missing address"
	}
	tok := strings.ToLower(t[*i])
	*i++
	// arg is the word after tok, which the forms below take (*i moves
	// past it); hasArg is false at the end of the line.
	arg, hasArg := "", *i < len(t)
	if hasArg {
		arg = t[*i]
	}
	// One address, or the object's, or why not; one exit for the
	// failures (each return of five words was code of its own: flash).
	addr := ""
	switch kind := lookup(endpointWords[:], tok); {
	case kind == epAny:
		addr = tok
	case kind == epHost:
		if !hasArg {
			why = "missing address after host"
			break
		}
		*i++
		addr = "host " + arg
	case kind == epObject:
		if !hasArg {
			why = "missing object name"
			break
		}
		*i++
		addrs, why = c.expandObject(arg, 0)
	case kind == epInterface:
		why = "interface addresses are not supported"
	case strings.Contains(tok, "/"):
		p, err := netip.ParsePrefix(tok)
		if err != nil {
			why = tok + " is not a prefix"
			break
		}
		addr = prefixText(p.Masked())
	case !hasArg:
		why = "address " + tok + " without a mask"
	default:
		*i++
		p, ok := prefixOf(tok, arg, wildcard)
		if !ok {
			kind := "netmask"
			if wildcard {
				kind = "contiguous wildcard"
			}
			why = tok + " " + arg + " is not an address with a " + kind
			break
		}
		addr = prefixText(p)
	}
	if why != "" {
		return nil, "", why
	}
	if addr != "" {
		addrs = []string{addr}
	}
	if *i >= len(t) {
		return addrs, "", ""
	}
	n := int(lookup(portOperators[:], strings.ToLower(t[*i])))
	if n == 0 {
		// Not a port match; "object-group SVC" here is a service
		// group, which translate refuses.
		return addrs, "", ""
	}
	if *i+n > len(t) {
		return nil, "", "incomplete port operator " + t[*i]
	}
	ports = strings.Join(t[*i:*i+n], " ")
	*i += n
	return addrs, ports, ""
}
