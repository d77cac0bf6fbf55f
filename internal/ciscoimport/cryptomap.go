package ciscoimport

import (
	"strconv"
	"strings"
)

// mapEntry is one "crypto map NAME SEQ" or "crypto dynamic-map NAME SEQ"
// entry, gathered from the IOS sub-mode or the ASA one-line form.
type mapEntry struct {
	name, seq  string
	line       int
	isDynamic  bool   // a crypto dynamic-map entry
	dynRef     string // "ipsec-isakmp dynamic DYN": this entry stands for DYN's entries
	manual     bool
	unusable   string // why the entry cannot be carried over at all
	peers      []string
	peerLine   line
	tsets      []string
	tsLine     line
	match      string
	matchLine  line
	pfs        int
	pfsLine    line
	life       int
	lifeKB     int64
	lifeKBSet  bool
	aggressive bool
	natOff     bool
}

func (c *converter) entry(dynamic bool, name, seq string, l *line) *mapEntry {
	key := name + " " + seq
	set, order := c.maps, &c.mapOrder
	if dynamic {
		set, order = c.dynMaps, &c.dynOrder
	}
	m := set[key]
	if m == nil {
		m = &mapEntry{name: name, seq: seq, line: l.num, isDynamic: dynamic}
		set[key] = m
		*order = append(*order, key)
	}
	return m
}

// cryptoMap handles every "crypto map ..." and "crypto dynamic-map ..."
// line, with sub-lines for the IOS form.
func (c *converter) cryptoMap(b *block, dynamic bool) {
	t := b.head.toks[2:]
	if len(t) >= 2 && !dynamic && strings.EqualFold(t[1], "interface") {
		// ASA "crypto map NAME interface IF": the binding is implicit.
		c.noteChildren(b, "unexpected sub-line")
		return
	}
	if len(t) < 2 || !isDigits(t[1]) {
		c.noteBlock(b, "no tinyipsec equivalent")
		return
	}
	if _, ok := number(t[1], 1, 65535); !ok {
		c.noteBlock(b, "sequence number must be 1-65535")
		return
	}
	m := c.entry(dynamic, t[0], t[1], &b.head)
	if len(t) > 2 {
		c.mapSetting(m, &b.head, t[2:])
	}
	for i := range b.children {
		l := &b.children[i]
		c.mapSetting(m, l, l.toks)
	}
}

// mapSetting reads one setting of a crypto map entry; t starts after
// "crypto map NAME SEQ" (ASA) or is the sub-line (IOS).
func (c *converter) mapSetting(m *mapEntry, l *line, t []string) {
	arg := func(i int) string {
		if i < len(t) {
			return t[i]
		}
		return ""
	}
	switch {
	case hasPrefix(t, "ipsec-isakmp"):
		if hasPrefix(t[1:], "dynamic") && len(t) > 2 {
			m.dynRef = t[2]
		} else if len(t) > 1 {
			c.note(l, "the "+t[1]+" option has no tinyipsec equivalent")
		}
	case hasPrefix(t, "ipsec-manual"):
		m.manual = true
		m.unusable = "manual keying (ipsec-manual) is not converted: write spi_in, spi_out and the keys by hand"
		c.note(l, m.unusable)
	case hasPrefix(t, "gdoi"), hasPrefix(t, "ipsec-isakmp-gdoi"):
		m.unusable = "GDOI group encryption is not supported"
		c.note(l, m.unusable)
	case hasPrefix(t, "match address") && len(t) >= 3:
		m.match, m.matchLine = t[2], *l
	case hasPrefix(t, "set peer") && len(t) >= 3:
		peers := t[2:]
		if len(peers) > 1 && (strings.EqualFold(peers[len(peers)-1], "dynamic") || strings.EqualFold(peers[len(peers)-1], "default")) {
			peers = peers[:len(peers)-1]
		}
		m.peers = append(m.peers, peers...)
		m.peerLine = *l
	case hasPrefix(t, "set transform-set") && len(t) >= 3:
		m.tsets, m.tsLine = t[2:], *l
	case hasPrefix(t, "set ikev1 transform-set") && len(t) >= 4:
		m.tsets, m.tsLine = t[3:], *l
	case hasPrefix(t, "set pfs"):
		g := strings.ToLower(arg(2))
		switch {
		case g == "" && c.platform == "ASA":
			g = "group2" // ASA's default PFS group
		case g == "":
			g = "group1" // IOS's default PFS group
		}
		n, err := strconv.Atoi(strings.TrimPrefix(g, "group"))
		if err != nil || !strings.HasPrefix(g, "group") || !supportedGroup(n) {
			c.note(l, "PFS group "+g+" is not supported; the entry is carried over without PFS")
			return
		}
		if weakGroup(n) {
			c.weak(l, "PFS "+g)
		}
		m.pfs, m.pfsLine = n, *l
	case hasPrefix(t, "set security-association lifetime"):
		var kbSet bool
		c.lifetime(l, t[3:], &m.life, &m.lifeKB, &kbSet)
		m.lifeKBSet = m.lifeKBSet || kbSet
	case hasPrefix(t, "set phase1-mode aggressive"), hasPrefix(t, "set ikev1 phase1-mode aggressive"):
		m.aggressive = true
	case hasPrefix(t, "set phase1-mode main"), hasPrefix(t, "set ikev1 phase1-mode main"):
	case hasPrefix(t, "set connection-type bidirectional"):
	case hasPrefix(t, "set nat-t-disable"):
		m.natOff = true
	case hasPrefix(t, "description"):
	case hasPrefix(t, "set ikev2"):
		c.note(l, "IKEv2 is not supported (tinyipsec speaks IKEv1)")
	case hasPrefix(t, "reverse-route"), hasPrefix(t, "set reverse-route"):
		c.note(l, "reverse route injection: tinyipsec installs routes for the ACL's remote prefixes itself")
	default:
		c.note(l, "no tinyipsec equivalent")
	}
}
