package ciscoimport

import (
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"tinyipsec/conf"
)

// pskDir is where the output points psk_file for keys the config does not
// show in clear (ASA "*****", IOS type 6/7): the admin writes them there.
const defaultPSKDir = "/etc/tinyipsec/"

func (c *converter) emit() []byte {
	// ASA tunnel groups become keys: a group named by an address is
	// that peer's key, DefaultL2LGroup every peer's, any other name the
	// key of the peer whose IKE identity is that name.
	for _, tg := range c.groups {
		if tg.key == nil {
			continue
		}
		if tg.typ != "" && tg.typ != "ipsec-l2l" {
			c.noteAt(tg.key.line, "(key of tunnel-group "+tg.name+")", "only LAN-to-LAN tunnel groups are carried over")
			continue
		}
		e := tg.key
		a, err := netip.ParseAddr(tg.name)
		bits := a.BitLen()
		if tg.name == "DefaultL2LGroup" { // 0.0.0.0/0
			a, bits, err = netip.IPv4Unspecified(), 0, nil
		}
		if err != nil {
			e.ident = "fqdn:" + tg.name
		} else {
			e.prefix = netip.PrefixFrom(a, bits) // one store of a prefix, a copy with write barriers
		}
		push(&c.keys, e)
	}
	// The entries are written into their own buffer as they are checked,
	// which decides the ACLs and keys written before them.
	entries := &conf.TOMLWriter{}
	n, haveDynamic := 0, false

	for _, m := range c.maps {
		if m.dynRef == "" {
			if peer := c.mapOut(entries, m, ""); peer != "" {
				n++
				haveDynamic = haveDynamic || peer == "dynamic" // "set peer dynamic"
			}
			continue
		}
		// Kind "x" marks a dynamic map as written, in the name index
		// rather than a set of its own (flash).
		if _, isNew := c.slot("x", m.dynRef, 0); !isNew {
			continue
		}
		found := false
		for _, d := range c.dyn {
			if d.name != m.dynRef {
				continue
			}
			found = true
			if c.mapOut(entries, d, "crypto map "+m.name+" "+m.seq) != "" {
				n++
				haveDynamic = true
			}
		}
		if !found {
			c.note(&line{num: m.line, toks: []string{"crypto", "map", m.name, m.seq, "ipsec-isakmp", "dynamic", m.dynRef}},
				"dynamic map "+m.dynRef+" is not defined")
		}
	}
	for _, d := range c.dyn {
		if c.find("x", d.name) < 0 {
			c.note(&line{num: d.line, toks: []string{"crypto", "dynamic-map", d.name, d.seq}}, "no crypto map uses this dynamic map")
		}
	}
	// ACLs and objects that no crypto map uses.
	for _, a := range c.acls {
		if !a.used {
			n := len(a.lines) + len(a.bad)
			c.noteAt(a.first, "access-list "+a.name+" ("+strconv.Itoa(n)+" entries)", "not used by a crypto map (interface and other ACLs have no tinyipsec equivalent)")
		}
	}
	for _, o := range c.objects {
		if !o.used {
			c.noteBlock(o.head, "not used by a crypto ACL")
		}
	}

	b := &conf.TOMLWriter{}
	b.Raw("# Converted from a Cisco " + c.platform + " running-config by \"tinyipsec import-cisco\".\n" +
		"# It holds pre-shared keys: keep it readable by root only (chmod 600).\n")
	if c.allowWeak {
		b.Raw("\n[global]\n# The original uses weak algorithms (see the notes of import-cisco).\nallow_weak = true\n")
	}
	policyCmd := "crypto isakmp policy"
	if c.asa {
		policyCmd = "crypto ikev1 policy"
	}
	for i := range c.policies {
		p := &c.policies[i]
		b.Table(policyCmd+" "+strconv.Itoa(p.priority)+" (line "+strconv.Itoa(p.line)+")", "[[isakmp_policy]]")
		b.Int("priority", int64(p.priority))
		b.Str("encryption", p.enc)
		b.Str("hash", p.hash)
		b.Str("authentication", p.auth)
		b.Int("group", int64(p.group))
		b.Int("lifetime", int64(p.lifetime))
	}
	for i := range c.tsets {
		ts := &c.tsets[i]
		if ts.bad {
			continue
		}
		b.Table(lineNo(ts.line), "[transform_set."+conf.TOMLString(ts.name)+"]")
		optStr(b, "esp", ts.esp)
		optStr(b, "esp_auth", ts.espAuth)
		optStr(b, "ah", ts.ah)
		b.Str("mode", ts.mode)
	}
	for _, a := range c.acls {
		if !a.used || !a.ok {
			continue
		}
		b.Table(lineNo(a.first), "[acl."+conf.TOMLString(a.name)+"]")
		b.Raw("rules = [\n")
		for _, r := range a.rules {
			b.Raw("  " + conf.TOMLString(r) + ",\n")
		}
		b.Raw("]\n")
	}
	b.Raw(string(entries.Bytes()))
	// The keys no static crypto map took, as [[keyring]] entries, which
	// dynamic crypto maps choose from per peer; without a dynamic map
	// they would serve nobody.
	for _, k := range c.keys {
		if k.used {
			continue
		}
		who := k.ident
		if who == "" {
			who = k.prefix.String()
		}
		if !haveDynamic {
			c.noteAt(k.line, "(key for "+who+")", "no crypto map has this peer: the key is not carried over")
			continue
		}
		b.Table(lineNo(k.line), "[[keyring]]")
		if k.ident != "" {
			b.Str("identity", k.ident)
		} else {
			b.Str("address", who)
		}
		switch {
		case k.key != "" && utf8.ValidString(k.key):
			b.Str("psk", k.key)
		default:
			f := c.pskDir + safeName(who) + ".psk"
			b.Str("psk_file", f)
			c.noteAt(k.line, "(key for "+who+")", "write the clear key into "+f)
		}
	}
	if len(c.policies) == 0 && n > 0 {
		c.noteAt(0, "(whole file)", "no crypto isakmp policy: the platform's built-in default policies are not carried over; add an [[isakmp_policy]]")
	}
	return b.Bytes()
}

// optStr writes key = "v" unless v is empty, and reports whether it did.
func optStr(b *conf.TOMLWriter, key, v string) bool {
	if v == "" {
		return false
	}
	b.Str(key, v)
	return true
}

func lineNo(n int) string { return "line " + strconv.Itoa(n) }

// mapOut checks one entry, resolves its names and writes it to b; it
// returns the peer written, "" (with notes) when the entry cannot be
// carried over. via names the crypto map a dynamic-map entry is used by.
// The values are written from the entry and a few locals as they are
// checked (a struct of the 17 values to write was copied field by field:
// flash).
func (c *converter) mapOut(b *conf.TOMLWriter, m *mapEntry, via string) string {
	kind, word := "crypto map", "map"
	if m.isDynamic {
		kind, word = "crypto dynamic-map", "dynamic-map"
	}
	head := &line{num: m.line, toks: []string{"crypto", word, m.name, m.seq}}
	if m.unusable != "" {
		return "" // noted where it was found
	}

	// match address
	if m.match == "" {
		c.note(head, "no match address: the entry is not carried over")
		return ""
	}
	// The ACL is translated once, by the first entry that uses it; the
	// entry needs one that yields a permit entry.
	var a *aclDef
	if i := c.find("a", m.match); i >= 0 {
		a = c.acls[i]
	}
	if a != nil && !a.used {
		a.used = true
		permits := 0
		for i := range a.lines {
			al := &a.lines[i]
			if why := c.translate(a, al); why != "" {
				c.note(al.l, why+"; the entry is left out of ACL "+a.name)
			} else if strings.EqualFold(al.toks[0], "permit") {
				permits++
			}
		}
		for _, l := range a.bad {
			c.note(l, "not an extended ACL entry; left out of ACL "+a.name)
		}
		a.ok = permits > 0
	}
	if a == nil || !a.ok {
		c.note(m.matchLine, "ACL "+m.match+" is missing or has no usable permit entry: the entry is not carried over")
		return ""
	}

	// transform sets
	var tsets []string
	for _, name := range m.tsets {
		var ts *transformSet
		if i := c.find("t", name); i >= 0 {
			ts = &c.tsets[i]
		}
		switch {
		case ts == nil:
			c.note(m.tsLine, "transform set "+name+" is not defined; left out")
		case ts.bad:
			c.note(m.tsLine, "transform set "+name+" was not carried over; left out")
		case len(tsets) == 6:
			c.note(m.tsLine, "more than six transform sets; "+name+" left out")
		default:
			push(&tsets, name)
		}
	}
	if len(tsets) == 0 {
		c.note(head, "no usable transform set: the entry is not carried over")
		return ""
	}

	// peer and key
	peer := "dynamic"
	if m.isDynamic {
		if len(m.peers) > 0 {
			c.note(m.peerLine, "set peer in a dynamic map: the entry answers any peer")
		}
	} else {
		if len(m.peers) == 0 {
			c.note(head, "no set peer: the entry is not carried over")
			return ""
		}
		peer = m.peers[0]
		if len(m.peers) > 1 {
			c.note(m.peerLine, "backup peers ("+strings.Join(m.peers[1:], " ")+") are not supported; only "+peer+" is carried over")
		}
	}
	psk, pskFile := c.entryKey(m, peer, head)

	comment := kind + " " + m.name + " " + m.seq + " (" + lineNo(m.line) + ")"
	if via != "" {
		comment += ", used by " + via
	}
	b.Table(comment, "[[crypto_map]]")
	b.Str("name", m.name)
	b.Value("seq", m.seq)
	b.Str("peer", peer)
	b.Str("match", m.match)
	b.StrList("transform_set", tsets)
	if !optStr(b, "psk_file", pskFile) {
		optStr(b, "psk", psk)
	}
	if m.pfs != 0 {
		b.Int("pfs", int64(m.pfs))
	}
	life := m.life
	if life == 0 {
		life = c.saLifetime
	}
	if life != 0 {
		b.Int("lifetime", int64(life))
	}
	if m.lifeKBSet {
		b.Int("lifetime_kb", m.lifeKB)
	} else if c.saKBSet {
		b.Int("lifetime_kb", c.saLifetimeKB)
	}
	if m.aggressive {
		b.Str("exchange", "aggressive")
	}
	// crypto isakmp keepalive, or the ASA tunnel group's keepalive. Cisco
	// declares a peer dead after about five retries.
	dpd, retry := c.dpdDelay, c.dpdRetry
	dpdSet := c.dpdSet
	if i := c.find("g", peer); i >= 0 && (c.groups[i].dpdSet || c.groups[i].dpdOff) {
		tg := c.groups[i]
		dpd, retry, dpdSet = tg.dpd, tg.retry, true
		if tg.dpdOff {
			dpd = 0
		}
	}
	if dpdSet {
		b.Int("dpd_delay", int64(dpd))
		if dpd > 0 {
			b.Int("dpd_timeout", int64(dpd+5*retry))
		}
	}
	if m.natOff || c.natTOff {
		b.Raw("nat_t = \"off\"\n")
	}
	return peer
}

// entryKey is the pre-shared key of an entry, as psk, or as the file
// the admin writes it into (with a note) when the config does not show
// it in clear or TOML cannot hold it. A static entry takes the key for
// its peer's host name, else the most specific address key that
// contains the peer. A dynamic entry (peer "dynamic") takes the key for
// every address (Cisco's "address 0.0.0.0 0.0.0.0" or ASA's
// DefaultL2LGroup); without one, the per-peer keys become [[keyring]]
// entries, which serve it. One function for both: each function costs
// its frame code and tables (flash).
func (c *converter) entryKey(m *mapEntry, peer string, head *line) (psk, file string) {
	var k *pskEntry
	if m.isDynamic {
		for _, x := range c.keys {
			if x.prefix.Bits() == 0 { // -1 for identity keys
				k = x
				break
			}
		}
	} else {
		a, err := netip.ParseAddr(peer)
		fqdn := "fqdn:" + peer
		best := -1 // k's prefix length; each call of a netip method copied the prefix (flash)
		for _, x := range c.keys {
			if err != nil {
				if x.ident == fqdn {
					k = x
					break
				}
				continue
			}
			// Identity keys have no prefix: Bits is -1.
			if bits := x.prefix.Bits(); bits > best && x.prefix.Contains(a) {
				k, best = x, bits
			}
		}
	}
	file = c.pskDir + safeName(peer) + ".psk"
	if k == nil {
		if m.isDynamic {
			for _, x := range c.keys {
				if !x.used {
					return "", "" // the [[keyring]] entries written below serve it
				}
			}
		}
		// Without a policy that uses pre-shared keys (Cisco's default
		// policies do), the peer needs none.
		preShare := len(c.policies) == 0
		for i := range c.policies {
			preShare = preShare || c.policies[i].auth == "pre-share"
		}
		if !preShare {
			return "", ""
		}
		if m.isDynamic {
			c.note(head, "no pre-shared key for the peers of the dynamic map; write it into "+file)
		} else {
			c.note(m.peerLine, "no pre-shared key for peer "+peer+"; write it into "+file+" (or set cert, key and ca)")
		}
		return "", file
	}
	k.used = true
	switch {
	case k.key == "":
		c.noteAt(k.line, "(key)", "write the clear key for peer "+peer+" into "+file)
	case !utf8.ValidString(k.key):
		c.noteAt(k.line, "(key)", "the key is not valid UTF-8 and cannot be written as TOML; write it into "+file)
	default:
		return k.key, ""
	}
	return "", file
}

// safeName makes a peer name usable in a file name.
func safeName(s string) string {
	if _, err := netip.ParseAddr(s); err == nil {
		return strings.ReplaceAll(s, ":", "_")
	}
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
