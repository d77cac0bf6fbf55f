package ciscoimport

import (
	"strconv"
	"strings"

	"tinyipsec/internal/algo"
)

// mapEntry is one "crypto map NAME SEQ" or "crypto dynamic-map NAME SEQ"
// entry, gathered from the IOS sub-mode or the ASA one-line form.
type mapEntry struct {
	name, seq string
	line      int
	isDynamic bool   // a crypto dynamic-map entry
	dynRef    string // "ipsec-isakmp dynamic DYN": this entry stands for DYN's entries
	unusable  string // why the entry cannot be carried over at all
	peers     []string
	// The *Line fields point into the blocks Convert read, which live
	// until the output is written: a copy of a line was five words and
	// a write barrier (flash).
	peerLine   *line
	tsets      []string
	tsLine     *line
	match      string
	matchLine  *line
	pfs        int
	life       int
	lifeKB     int64
	lifeKBSet  bool
	aggressive bool
	natOff     bool
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
	if n, err := strconv.Atoi(t[1]); err != nil || n < 1 || n > 65535 {
		c.noteBlock(b, "sequence number must be 1-65535")
		return
	}
	kind, list := "m", &c.maps
	if dynamic {
		kind, list = "d", &c.dyn
	}
	i, isNew := c.slot(kind, t[0]+" "+t[1], len(*list))
	if isNew {
		push(list, &mapEntry{name: t[0], seq: t[1], line: b.head.num, isDynamic: dynamic})
	}
	m := (*list)[i]
	if len(t) > 2 {
		c.mapSetting(m, &b.head, t[2:])
	}
	for i := range b.children {
		l := &b.children[i]
		c.mapSetting(m, l, l.toks)
	}
}

// What a crypto map setting is, as mapCommands names it.
const (
	mapOther command = iota
	mapISAKMP
	mapManual
	mapGDOI
	mapMatch
	mapPeer
	mapTransformSet   // set transform-set NAME...
	mapTransformSetV1 // set ikev1 transform-set NAME...
	mapPFS
	mapLifetime
	mapAggressive
	mapDefault // what tinyipsec does anyway
	mapNATTOff
	mapIKEv2
	mapRRI
)

// mapCommands classifies the settings of a crypto map entry, first match
// wins.
var mapCommands = [...]prefixRule{
	{"ipsec-isakmp", mapISAKMP, 0},
	{"ipsec-manual", mapManual, 0},
	{"gdoi", mapGDOI, 0},
	{"ipsec-isakmp-gdoi", mapGDOI, 0},
	{"match address", mapMatch, 3},
	{"set peer", mapPeer, 3},
	{"set transform-set", mapTransformSet, 3},
	{"set ikev1 transform-set", mapTransformSetV1, 4},
	{"set pfs", mapPFS, 0},
	{"set security-association lifetime", mapLifetime, 0},
	{"set phase1-mode aggressive", mapAggressive, 0},
	{"set ikev1 phase1-mode aggressive", mapAggressive, 0},
	{"set phase1-mode main", mapDefault, 0},
	{"set ikev1 phase1-mode main", mapDefault, 0},
	{"set connection-type bidirectional", mapDefault, 0},
	{"set nat-t-disable", mapNATTOff, 0},
	{"description", mapDefault, 0},
	{"set ikev2", mapIKEv2, 0},
	{"reverse-route", mapRRI, 0},
	{"set reverse-route", mapRRI, 0},
}

// mapSetting reads one setting of a crypto map entry; t starts after
// "crypto map NAME SEQ" (ASA) or is the sub-line (IOS).
func (c *converter) mapSetting(m *mapEntry, l *line, t []string) {
	switch classify(t, mapCommands[:]) {
	case mapISAKMP:
		if hasPrefix(t[1:], "dynamic") && len(t) > 2 {
			m.dynRef = t[2]
		} else if len(t) > 1 {
			c.note(l, "the "+t[1]+" option has no tinyipsec equivalent")
		}
	case mapManual:
		m.unusable = "manual keying (ipsec-manual) is not converted: write spi_in, spi_out and the keys by hand"
		c.note(l, m.unusable)
	case mapGDOI:
		m.unusable = "GDOI group encryption is not supported"
		c.note(l, m.unusable)
	case mapMatch:
		m.match, m.matchLine = t[2], l
	case mapPeer:
		peers := t[2:]
		if len(peers) > 1 && (strings.EqualFold(peers[len(peers)-1], "dynamic") || strings.EqualFold(peers[len(peers)-1], "default")) {
			peers = peers[:len(peers)-1]
		}
		for _, p := range peers {
			push(&m.peers, p) // rather than an append of a list of its own (flash)
		}
		m.peerLine = l
	case mapTransformSet:
		m.tsets, m.tsLine = t[2:], l
	case mapTransformSetV1:
		m.tsets, m.tsLine = t[3:], l
	case mapPFS:
		g := ""
		if len(t) > 2 {
			g = strings.ToLower(t[2])
		}
		switch {
		case g == "" && c.asa:
			g = "group2" // ASA's default PFS group
		case g == "":
			g = "group1" // IOS's default PFS group
		}
		n, err := strconv.Atoi(strings.TrimPrefix(g, "group"))
		if err != nil || !strings.HasPrefix(g, "group") || n < 1 || n >= 1<<16 || algo.Group(n).Info() == nil {
			c.note(l, "PFS group "+g+" is not supported; the entry is carried over without PFS")
			return
		}
		if algo.Group(n).Weak() {
			c.weak(l, "PFS "+g)
		}
		m.pfs = n
	case mapLifetime:
		var kbSet bool
		c.lifetime(l, t[3:], &m.life, &m.lifeKB, &kbSet)
		m.lifeKBSet = m.lifeKBSet || kbSet
	case mapAggressive:
		m.aggressive = true
	case mapDefault:
	case mapNATTOff:
		m.natOff = true
	case mapIKEv2:
		c.note(l, "IKEv2 is not supported (tinyipsec speaks IKEv1)")
	case mapRRI:
		c.note(l, "reverse route injection: tinyipsec installs routes for the ACL's remote prefixes itself")
	default:
		c.note(l, "no tinyipsec equivalent")
	}
}
