package conf

import (
	"errors"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"tinyipsec/acl"
	"tinyipsec/internal/algo"
)

// builder turns a generic tree into a Config, collecting every error
// instead of stopping at the first.
type builder struct {
	file string  // for messages
	dir  string  // relative psk_file/cert/key/ca paths are relative to the config file
	loc  locator // key path -> line and printable key
	text bool    // UCI: every leaf is a string
	errs Errors

	cfg *Config
	// Names that were defined, even if their definition had errors, so a
	// broken ACL does not also produce "unknown ACL" at every reference.
	aclDefined, tsDefined map[string]bool
	hasPolicies           bool // some [[isakmp_policy]] exists, valid or not
	hasKeyring            bool // some [[keyring]] exists, valid or not
	dropped               int  // errors beyond maxErrors
}

func newBuilder(file string, loc locator, text bool) *builder {
	return &builder{
		file:       file,
		dir:        filepath.Dir(file),
		loc:        loc,
		text:       text,
		aclDefined: map[string]bool{},
		tsDefined:  map[string]bool{},
		cfg:        &Config{Source: file},
	}
}

// maxErrors bounds the list: past a hundred problems the file is
// probably not a tinyipsec configuration at all, and a garbage file of a
// megabyte must not become a megabyte of messages.
const maxErrors = 100

// fail reports msg at p. Messages with values are concatenated at
// their sites (strconv.Quote where %q was meant) rather than formatted by
// an errorf: fmt's boxed arguments cost more machine code at each call
// (flash).
func (b *builder) fail(p keyPath, msg string) {
	if len(b.errs) >= maxErrors {
		b.dropped++ // skip the work of locating it
		return
	}
	line, key := b.loc.locate(p)
	b.add(Error{File: b.file, Line: line, Key: key, Msg: msg})
}

// add keeps e in line order: errors without a line go last, and the
// order of discovery is kept otherwise. Inserted in place (the list is at
// most maxErrors long) rather than sorted at the end, whose less and swap
// functions over seven-word errors were larger (flash).
func (b *builder) add(e Error) {
	if len(b.errs) >= maxErrors {
		b.dropped++
		return
	}
	i := len(b.errs)
	for e.Line > 0 && i > 0 && (b.errs[i-1].Line == 0 || b.errs[i-1].Line > e.Line) {
		i--
	}
	b.errs = append(b.errs, Error{})
	copy(b.errs[i+1:], b.errs[i:])
	b.errs[i] = e
}

// path resolves a file name from the configuration relative to the
// configuration file's directory.
func (b *builder) path(p string) string {
	if p == "" || p[0] == '/' { // filepath.IsAbs on Linux, linked for nothing else
		return p
	}
	return filepath.Join(b.dir, p)
}

// build reads the whole tree. It returns the Config only when there were
// no errors.
func (b *builder) build(root map[string]any) (*Config, error) {
	top := b.table(nil, root)

	g, _ := top.subTable("global")
	b.global(g)
	policies := top.tableArray("isakmp_policy")
	b.hasPolicies = len(policies) > 0
	// int keys: a map of int64 links its own lookup code; string values:
	// a map type the daemon has anyway (flash).
	byPrio := map[int]string{}
	for _, t := range policies {
		if b.stopArray() {
			break
		}
		b.policy(t, byPrio)
		t.done()
	}
	if ts, _ := top.subTable("transform_set"); ts != nil {
		b.named(ts, false)
	}
	if acls, _ := top.subTable("acl"); acls != nil {
		b.named(acls, true)
	}
	keyring := top.tableArray("keyring")
	b.hasKeyring = len(keyring) > 0
	b.keyring(keyring)
	maps := top.tableArray("crypto_map")
	// The crypto maps, kept sorted by (name, seq) as IOS evaluates them:
	// each map is inserted at its place, after those that sort equal,
	// rather than sorted at the end, whose less and swap closures were two
	// functions more (flash).
	seen := map[string]string{} // ID -> where it is defined: a map type the daemon has anyway (flash)
	needPolicy := false
	for _, t := range maps {
		if b.stopArray() {
			break
		}
		m := b.cryptoMap(t, seen)
		t.done()
		if m != nil {
			ms := append(b.cfg.CryptoMaps, m)
			i := len(ms) - 1
			for ; i > 0 && (ms[i-1].Name > m.Name || ms[i-1].Name == m.Name && ms[i-1].Seq > m.Seq); i-- {
				ms[i] = ms[i-1]
			}
			ms[i] = m
			b.cfg.CryptoMaps = ms
		}
		if k, _ := t.m["keying"].(string); k != "manual" {
			needPolicy = true
		}
	}
	if needPolicy && len(b.cfg.Policies) == 0 && !b.hasPolicies {
		b.fail(keyPath{"isakmp_policy"}, "at least one isakmp_policy is required for keying = \"isakmp\"")
	}
	top.done()

	if len(maps) == 0 && !top.has("crypto_map") {
		b.fail(keyPath{"crypto_map"}, "at least one crypto_map is required")
	}
	for _, m := range b.cfg.CryptoMaps {
		if m.IKEKeyed() {
			m.policies = b.cfg.Policies
		}
		if m.ACL != nil {
			m.ACL.List() // compiled now, not on first use: see ACL.List
		}
	}
	if len(b.errs) > 0 {
		if b.dropped > 0 {
			b.errs = append(b.errs, Error{File: b.file, Msg: "more errors not shown"})
		}
		return nil, b.errs
	}
	return b.cfg, nil
}

// stopArray is asked before each table of an array ([[crypto_map]],
// ...): once the error list is full the rest of the array is not read
// and counts as dropped errors' worth of input. A check in a plain loop
// rather than an iterator, whose loop bodies would be compiled as
// separate functions (flash).
func (b *builder) stopArray() bool {
	if len(b.errs) >= maxErrors { // no further error would be kept
		b.dropped++
		return true
	}
	return false
}

// named reads a table of named tables ([acl.NAME] when acls, else
// [transform_set.NAME]) in name order, checks each and keeps it if it is
// valid. A name is defined even when its body has errors, so that the
// maps that use it are not told it is missing as well. The tables'
// unknown keys are reported here, after each is read (and at the callers
// of the array readers), rather than by a defer in each reader: a defer
// costs a record, a wrapper function and a call at every return. Not
// generic: each instantiation was a copy of the loop; both readers are
// written in the loop, chosen by a flag, rather than methods passed as
// values, which compile to a wrapper function each, or called once each
// (flash).
func (b *builder) named(t *table, acls bool) {
	defined := b.tsDefined
	if acls {
		defined = b.aclDefined
	}
	names := make([]string, 0, len(t.m))
	for k := range t.m {
		names = append(names, k)
	}
	slices.SortFunc(names, strings.Compare) // shares crypto/x509's instantiation; sort.Strings would add one
	for _, name := range names {
		if len(b.errs) >= maxErrors {
			b.dropped++
			t.get(name)
			continue
		}
		s, ok := t.subTable(name)
		if !ok || s == nil {
			continue
		}
		if strings.TrimSpace(name) == "" {
			b.fail(s.path, "name must not be empty")
		}
		defined[name] = true
		if acls {
			// [acl.NAME]: the rules, of which at least one permits.
			if lines, ok := s.requiredList("rules", "an ACL needs at least one permit rule"); ok {
				a := &ACL{Name: name}
				permits := 0
				for i, line := range lines {
					r, err := acl.ParseRule(line)
					if errors.Is(err, acl.ErrRemark) {
						continue
					}
					if err != nil {
						b.fail(s.path.key("rules").index(i), err.Error())
						ok = false
						continue
					}
					if r.Permit {
						permits++
					}
					a.Rules = append(a.Rules, r)
				}
				switch {
				case !ok:
				case permits == 0:
					s.fail("rules", "an ACL needs at least one permit rule")
				default:
					b.cfg.ACLs = append(b.cfg.ACLs, a) // in name order
				}
			}
		} else {
			// [transform_set.NAME]: its algorithms, kept if it is valid.
			weakOK := b.cfg.Global.AllowWeak
			ts := &TransformSet{Name: name}
			// Kept only if reading it reported no error, counting those dropped
			// past maxErrors: each reader that fails reports why (flash: no
			// validity flag set at every step).
			nerr := len(b.errs) + b.dropped

			esp, _ := s.oneOf("esp", "", algo.CipherNames())
			ts.ESP = algo.Cipher(esp)
			hashes := algo.HashNames()
			espAuth, _ := s.oneOf("esp_auth", "", hashes)
			ts.ESPAuth = algo.Hash(espAuth)
			ah, _ := s.oneOf("ah", "", hashes)
			ts.AH = algo.Hash(ah)
			mode, _ := s.oneOf("mode", string(ModeTunnel), modes[:])
			ts.Mode = Mode(mode)

			switch {
			case !s.has("esp") && !s.has("ah"):
				b.fail(s.path, "needs esp, ah or both")
			case ts.ESP == algo.CipherNone && s.has("esp_auth") && !s.has("esp"):
				s.fail("esp_auth", "given without esp")
			case ts.ESP.AEAD() && s.has("esp_auth"):
				s.fail("esp_auth", "must not be set: "+string(ts.ESP)+" already authenticates")
			case ts.ESP != algo.CipherNone && !ts.ESP.AEAD() && !s.has("esp_auth"):
				s.fail("esp_auth", "missing: esp = "+strconv.Quote(string(ts.ESP))+" needs an integrity algorithm (or use an AEAD cipher such as aes128gcm16)")
			}
			for _, h := range []struct {
				key string
				alg algo.Hash
			}{{"esp_auth", ts.ESPAuth}, {"ah", ts.AH}} {
				if i := h.alg.Info(); i != nil && i.Weak && !weakOK {
					s.fail(h.key, weakHint(`hash "`+i.Name+`"`))
				}
			}
			if len(b.errs)+b.dropped == nerr {
				b.cfg.TransformSets = append(b.cfg.TransformSets, ts) // in name order
			}
		}
		s.done()
	}
	t.done()
}

func (b *builder) global(t *table) {
	g := &b.cfg.Global
	*g = Global{
		LogLevel:      "info",
		Tun:           DefaultTun,
		MTU:           DefaultMTU,
		ControlSocket: DefaultControlSocket,
		DHKeysReady:   DefaultDHKeysReady,
	}
	if t == nil {
		return
	}
	g.LogLevel, _ = t.oneOf("log_level", "info", logLevels[:])
	g.AllowWeak, _ = t.boolean("allow_weak", false)
	ready, _ := t.integer("dh_keys_ready", DefaultDHKeysReady, 1, MaxDHKeysReady)
	g.DHKeysReady = int(ready)

	// Duplicates found by a scan of the few addresses kept so far, not a
	// map keyed by address (its map types and hash code) nor
	// slices.Contains (an instantiation for netip.Addr: flash).
	listen, _ := t.strList("listen")
	for i, s := range listen {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			b.fail(t.path.key("listen").index(i), strconv.Quote(s)+" is not an IP address")
			continue
		}
		dup := false
		for _, l := range g.Listen {
			dup = dup || l == a
		}
		if dup {
			b.fail(t.path.key("listen").index(i), a.String()+" is listed twice")
			continue
		}
		g.Listen = append(g.Listen, a)
	}

	if tun, ok := t.str("tun", DefaultTun); ok {
		// A Linux interface name.
		bad := tun == "." || tun == ".."
		for _, c := range tun {
			bad = bad || c <= ' ' || c == '/' || c == ':' || c >= 0x7f
		}
		switch {
		case tun == "":
			t.fail("tun", "must not be empty")
		case len(tun) > 15:
			t.fail("tun", strconv.Quote(tun)+" is longer than 15 characters (the kernel's limit)")
		case bad:
			t.fail("tun", strconv.Quote(tun)+" is not a valid interface name")
		default:
			g.Tun = tun
		}
	}
	mtu, _ := t.integer("mtu", DefaultMTU, 576, 9000)
	g.MTU = int(mtu)

	if sock, ok := t.str("control_socket", DefaultControlSocket); ok {
		switch {
		case sock == "":
			t.fail("control_socket", "must not be empty")
		case len(sock) >= 108: // sizeof(sun_path)
			t.fail("control_socket", "path is longer than a unix socket allows (107 bytes)")
		default:
			g.ControlSocket = sock
		}
	}
	t.done()
}
