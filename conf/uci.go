package conf

import (
	"strconv"
	"strings"
)

// The UCI bridge maps /etc/config/tinyipsec onto the same tree the TOML
// decoder produces, so both formats share every rule and message:
//
//	config global                 -> [global]
//	config isakmp_policy          -> [[isakmp_policy]]
//	config transform_set 'NAME'   -> [transform_set.NAME]
//	config acl 'NAME' / list rule -> [acl.NAME] rules = [...]
//	config crypto_map ['NAME']    -> [[crypto_map]] (option name is the map name)
//	config keyring                -> [[keyring]]
//
// Option names are the TOML key names; list lines become arrays. Every
// value is a string, and the builder runs in text mode to convert them.

// uciServiceOptions are read by the procd init script (service tuning),
// not by the daemon: they live in the global section so that all settings
// stay in one UCI package, and the parser accepts and ignores them.
var uciServiceOptions = [...]string{
	"enabled", "config_file", "gomemlimit", "gogc", "respawn_threshold",
	"respawn_timeout", "respawn_retry", "trigger_interface",
}

// inList reports whether s is one of list: the keyword lists of this
// package are static arrays searched in order rather than maps, which the
// program would build at start from code as long as the lists, or
// switches, whose cases each compare inline (flash).
func inList(list []string, s string) bool {
	for _, w := range list {
		if w == s {
			return true
		}
	}
	return false
}

// ParseUCI validates UCI configuration text; its errors leave through
// the one return at the end, which takes the secrets out of them.
func ParseUCI(name string, data []byte) (*Config, error) {
	secs, synErrs := parseUCI(data)
	loc := &uciLocator{index: map[string]int{}}
	b := newBuilder(name, loc, true)
	for _, e := range synErrs {
		b.add(Error{File: name, Line: e.Line, Msg: e.Msg, syntax: true})
	}

	root := map[string]any{}
	for _, s := range secs {
		// The section the way uci show names it: 'name' or @type[N].
		disp := s.Type + " '" + s.Name + "'"
		if s.Name == "" {
			disp = s.Type + " @" + s.Type + "[" + strconv.Itoa(s.Index) + "]"
		}
		var p keyPath
		switch s.Type {
		case "global":
			if _, dup := root["global"]; dup {
				b.at(s.Line, disp, "only one global section is allowed")
				continue
			}
			p = keyPath{"global"}
			root["global"] = loc.options(s, p, disp, b)
		case "isakmp_policy", "crypto_map", "keyring":
			list, _ := root[s.Type].([]any)
			p = keyPath{s.Type}.index(len(list))
			root[s.Type] = append(list, loc.options(s, p, disp, b))
		case "transform_set", "acl":
			if s.Name == "" {
				b.at(s.Line, disp, "needs a name: config "+s.Type+" 'NAME'")
				continue
			}
			// name -> options, kept in the root itself (no second map
			// of a type of its own: flash).
			tbl, _ := root[s.Type].(map[string]any)
			if tbl == nil {
				tbl = map[string]any{}
				root[s.Type] = tbl
			}
			if _, dup := tbl[s.Name]; dup {
				b.at(s.Line, disp, s.Type+" "+strconv.Quote(s.Name)+" is defined twice")
				continue
			}
			p = keyPath{s.Type, s.Name}
			tbl[s.Name] = loc.options(s, p, disp, b)
		default:
			b.at(s.Line, disp, "unknown section type "+strconv.Quote(s.Type)+" (want global, isakmp_policy, transform_set, acl or crypto_map)")
			continue
		}
		loc.add(p.String(), uciLoc{line: s.Line, key: disp, section: s.Type})
	}
	c, err := b.build(root)
	return c, redactSecrets(data, true, err)
}

// at reports msg at a UCI section (key is its display name) or at one of
// its options: a method rather than a closure per section, which the
// option reader was handed as well (flash).
func (b *builder) at(line int, key, msg string) {
	b.add(Error{File: b.file, Line: line, Key: key, Msg: msg})
}

type uciLoc struct {
	_       [0]func() // not comparable: no generated == function (flash)
	line    int
	key     string
	section string // section type when this entry is a section, else ""
}

// uciLocator maps the builder's key paths to UCI lines and wording:
// "crypto_map 'branch1' option 'pfs'".
type uciLocator struct {
	// index maps a rendered key path to its entry in locs: a map of int,
	// a type the daemon has anyway, rather than one of uciLoc with map
	// type descriptors of its own (flash).
	index map[string]int
	locs  []uciLoc
}

// add records where the key path k is (a later record of k wins).
func (l *uciLocator) add(k string, e uciLoc) {
	l.index[k] = len(l.locs)
	l.locs = append(l.locs, e)
}

func (l *uciLocator) locate(p keyPath) (int, string) {
	for n := len(p); n > 0; n-- {
		i, ok := l.index[p[:n].String()]
		if !ok {
			continue
		}
		e := &l.locs[i]
		key := e.key
		// A key the section does not have, e.g. a missing required option.
		if e.section != "" && n < len(p) && !strings.HasPrefix(p[n], "[") {
			opt := p[n] // the TOML key; the UCI option that sets it:
			if e.section == "acl" && opt == "rules" {
				opt = "rule"
			}
			key += " option '" + opt + "'"
		}
		return e.line, key
	}
	return 0, p.String()
}

// options converts a section's options to a tree table and records their
// positions; b takes a duplicate's error.
func (l *uciLocator) options(s *uciSection, p keyPath, disp string, b *builder) map[string]any {
	m := map[string]any{}
	for _, o := range s.Options {
		key := o.Name
		if s.Type == "acl" && key == "rule" {
			key = "rules"
		}
		if s.Type == "global" && inList(uciServiceOptions[:], key) {
			continue
		}
		if _, dup := m[key]; dup {
			b.at(s.Line, disp, "both "+strconv.Quote(o.Name)+" and "+strconv.Quote(key)+" are set")
			continue
		}
		kind := "option"
		if o.List {
			kind = "list"
		}
		op := p.key(key)
		odisp := disp + " " + kind + " '" + o.Name + "'"
		l.add(op.String(), uciLoc{line: o.Lines[0], key: odisp})
		if !o.List {
			m[key] = o.Values[0]
			continue
		}
		vals := make([]any, len(o.Values))
		for i, v := range o.Values {
			vals[i] = v
			l.add(op.index(i).String(), uciLoc{line: o.Lines[i], key: odisp})
		}
		m[key] = vals
	}
	return m
}
