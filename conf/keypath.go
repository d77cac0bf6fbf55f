package conf

import (
	"strconv"
	"strings"
)

// keyPath names a value inside the configuration tree, one element per
// level: table keys as written, array positions as "[N]" (0-based). Both
// the TOML key locator and the UCI bridge index their positions by the
// rendered path, so they meet the builder's paths exactly.
type keyPath []string

// key returns a new path with one more table key.
func (p keyPath) key(k string) keyPath {
	return append(p[:len(p):len(p)], k)
}

// index returns a new path with one more array position.
func (p keyPath) index(i int) keyPath {
	return append(p[:len(p):len(p)], "["+strconv.Itoa(i)+"]")
}

// String renders the path the way it is written in TOML:
// crypto_map[1].transform_set, transform_set."odd name".esp.
func (p keyPath) String() string {
	var b strings.Builder
	for i, e := range p {
		if strings.HasPrefix(e, "[") { // an array position
			b.WriteString(e)
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tomlKey(e))
	}
	return b.String()
}

// tomlKey writes a key bare when TOML allows it, quoted otherwise.
func tomlKey(k string) string {
	if k == "" {
		return `""`
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return TOMLString(k)
		}
	}
	return k
}

// TOMLString quotes s as a TOML basic string. Go's strconv.Quote is close
// but emits \x and \a escapes that TOML does not have.
func TOMLString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				b.WriteString(`\u00`)
				b.WriteByte("0123456789ABCDEF"[r>>4])
				b.WriteByte("0123456789ABCDEF"[r&15])
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
