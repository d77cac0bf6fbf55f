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

// out is one crypto map entry as it will be written. It lives on
// mapOut's stack while mapOut writes it: kept in a list, each one was a
// heap object whose type needed a descriptor of every field (flash).
type out struct {
	comment  string
	name     string
	seq      string
	peer     string
	match    string
	tsets    []string
	psk      string
	pskFile  string
	pfs      int
	life     int
	lifeKB   int64
	kbSet    bool
	exchange string
	dpd      int
	dpdTO    int
	dpdSet   bool
	natOff   bool
}

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
		if a, err := netip.ParseAddr(tg.name); err == nil {
			e.prefix = netip.PrefixFrom(a, a.BitLen())
		} else if tg.name == "DefaultL2LGroup" {
			e.prefix = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		} else {
			e.ident = "fqdn:" + tg.name
		}
		c.keys = append(c.keys, e)
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
	if c.platform == "ASA" {
		policyCmd = "crypto ikev1 policy"
	}
	for _, p := range c.policies {
		b.Table(policyCmd+" "+strconv.Itoa(p.priority)+" (line "+strconv.Itoa(p.line)+")", "[[isakmp_policy]]")
		b.Int("priority", int64(p.priority))
		b.Str("encryption", p.enc)
		b.Str("hash", p.hash)
		b.Str("authentication", p.auth)
		b.Int("group", int64(p.group))
		b.Int("lifetime", int64(p.lifetime))
	}
	for _, ts := range c.tsets {
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
	c.writeKeyring(b, haveDynamic)
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
func (c *converter) mapOut(b *conf.TOMLWriter, m *mapEntry, via string) string {
	kind, word := "crypto map", "map"
	if m.isDynamic {
		kind, word = "crypto dynamic-map", "dynamic-map"
	}
	head := &line{num: m.line, toks: []string{"crypto", word, m.name, m.seq}}
	if m.unusable != "" {
		return "" // noted where it was found
	}
	e := &out{name: m.name, seq: m.seq, pfs: m.pfs, life: m.life, lifeKB: m.lifeKB, kbSet: m.lifeKBSet, natOff: m.natOff || c.natTOff}
	e.comment = kind + " " + m.name + " " + m.seq + " (" + lineNo(m.line) + ")"
	if via != "" {
		e.comment += ", used by " + via
	}
	if e.life == 0 {
		e.life = c.saLifetime
	}
	if !e.kbSet && c.saKBSet {
		e.lifeKB, e.kbSet = c.saLifetimeKB, true
	}
	if m.aggressive {
		e.exchange = "aggressive"
	}

	// match address
	if m.match == "" {
		c.note(head, "no match address: the entry is not carried over")
		return ""
	}
	if !c.crypoACL(m.match) {
		c.note(m.matchLine, "ACL "+m.match+" is missing or has no usable permit entry: the entry is not carried over")
		return ""
	}
	e.match = m.match

	// transform sets
	for _, name := range m.tsets {
		var ts *transformSet
		if i := c.find("t", name); i >= 0 {
			ts = c.tsets[i]
		}
		switch {
		case ts == nil:
			c.note(m.tsLine, "transform set "+name+" is not defined; left out")
		case ts.bad:
			c.note(m.tsLine, "transform set "+name+" was not carried over; left out")
		case len(e.tsets) == 6:
			c.note(m.tsLine, "more than six transform sets; "+name+" left out")
		default:
			e.tsets = append(e.tsets, name)
		}
	}
	if len(e.tsets) == 0 {
		c.note(head, "no usable transform set: the entry is not carried over")
		return ""
	}

	// peer and key
	if m.isDynamic {
		e.peer = "dynamic"
		if len(m.peers) > 0 {
			c.note(m.peerLine, "set peer in a dynamic map: the entry answers any peer")
		}
		c.dynamicKey(e, head)
	} else {
		if len(m.peers) == 0 {
			c.note(head, "no set peer: the entry is not carried over")
			return ""
		}
		e.peer = m.peers[0]
		if len(m.peers) > 1 {
			c.note(m.peerLine, "backup peers ("+strings.Join(m.peers[1:], " ")+") are not supported; only "+e.peer+" is carried over")
		}
		c.staticKey(e, m)
	}
	// crypto isakmp keepalive, or the ASA tunnel group's keepalive. Cisco
	// declares a peer dead after about five retries.
	if i := c.find("g", e.peer); i >= 0 && (c.groups[i].dpdSet || c.groups[i].dpdOff) {
		tg := c.groups[i]
		e.dpdSet = true
		if !tg.dpdOff {
			e.dpd, e.dpdTO = tg.dpd, tg.dpd+5*tg.retry
		}
	} else if c.dpdSet {
		e.dpdSet, e.dpd, e.dpdTO = true, c.dpdDelay, c.dpdDelay+5*c.dpdRetry
	}
	b.Table(e.comment, "[[crypto_map]]")
	b.Str("name", e.name)
	b.Value("seq", e.seq)
	b.Str("peer", e.peer)
	b.Str("match", e.match)
	b.StrList("transform_set", e.tsets)
	if !optStr(b, "psk_file", e.pskFile) {
		optStr(b, "psk", e.psk)
	}
	if e.pfs != 0 {
		b.Int("pfs", int64(e.pfs))
	}
	if e.life != 0 {
		b.Int("lifetime", int64(e.life))
	}
	if e.kbSet {
		b.Int("lifetime_kb", e.lifeKB)
	}
	optStr(b, "exchange", e.exchange)
	if e.dpdSet {
		b.Int("dpd_delay", int64(e.dpd))
		if e.dpd > 0 {
			b.Int("dpd_timeout", int64(e.dpdTO))
		}
	}
	if e.natOff {
		b.Raw("nat_t = \"off\"\n")
	}
	return e.peer
}

// staticKey puts the peer's pre-shared key on the entry.
// The key is the one for the peer's host name, else the most specific
// address key that contains it.
func (c *converter) staticKey(e *out, m *mapEntry) {
	a, err := netip.ParseAddr(e.peer)
	var k *pskEntry
	for _, x := range c.keys {
		if err != nil && x.ident == "fqdn:"+e.peer {
			k = x
			break
		}
		if err == nil && x.prefix.IsValid() && x.prefix.Contains(a) && (k == nil || x.prefix.Bits() > k.prefix.Bits()) {
			k = x
		}
	}
	if k == nil {
		if c.preShare() {
			e.pskFile = c.pskDir + safeName(e.peer) + ".psk"
			c.note(m.peerLine, "no pre-shared key for peer "+e.peer+"; write it into "+e.pskFile+" (or set cert, key and ca)")
		}
		return
	}
	k.used = true
	c.useKey(e, k)
}

// dynamicKey: a dynamic entry takes the key for every address (Cisco's
// "address 0.0.0.0 0.0.0.0" or ASA's DefaultL2LGroup) as its own psk; the
// per-peer keys become [[keyring]] entries.
func (c *converter) dynamicKey(e *out, head *line) {
	for _, k := range c.keys {
		if k.prefix.IsValid() && k.prefix.Bits() == 0 {
			k.used = true
			c.useKey(e, k)
			return
		}
	}
	for _, k := range c.keys {
		if !k.used {
			return // the [[keyring]] entries written below serve it
		}
	}
	if c.preShare() {
		e.pskFile = c.pskDir + "dynamic.psk"
		c.note(head, "no pre-shared key for the peers of the dynamic map; write it into "+e.pskFile)
	}
}

func (c *converter) useKey(e *out, k *pskEntry) {
	switch {
	case k.key != "" && utf8.ValidString(k.key):
		e.psk = k.key
	case k.key != "":
		e.pskFile = c.pskDir + safeName(e.peer) + ".psk"
		c.noteAt(k.line, "(key)", "the key is not valid UTF-8 and cannot be written as TOML; write it into "+e.pskFile)
	default:
		e.pskFile = c.pskDir + safeName(e.peer) + ".psk"
		c.noteAt(k.line, "(key)", "write the clear key for peer "+e.peer+" into "+e.pskFile)
	}
}

func (c *converter) preShare() bool {
	for _, p := range c.policies {
		if p.auth == "pre-share" {
			return true
		}
	}
	return len(c.policies) == 0
}

// crypoACL translates an ACL once; false if it is missing or yields no
// permit entry.
func (c *converter) crypoACL(name string) bool {
	i := c.find("a", name)
	if i < 0 {
		return false
	}
	a := c.acls[i]
	if a.used {
		return a.ok
	}
	a.used = true
	permits := 0
	for i := range a.lines {
		al := &a.lines[i]
		rs, why := c.translate(al)
		if why != "" {
			c.note(al.l, why+"; the entry is left out of ACL "+name)
			continue
		}
		if strings.EqualFold(al.toks[0], "permit") {
			permits++
		}
		a.rules = append(a.rules, rs...)
	}
	for _, l := range a.bad {
		c.note(l, "not an extended ACL entry; left out of ACL "+name)
	}
	a.ok = permits > 0
	return a.ok
}

// writeKeyring writes the keys no static crypto map took as [[keyring]]
// entries, which dynamic crypto maps choose from per peer; without a
// dynamic map they would serve nobody.
func (c *converter) writeKeyring(b *conf.TOMLWriter, haveDynamic bool) {
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
