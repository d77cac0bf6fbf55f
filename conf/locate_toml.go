package conf

import (
	"strconv"
	"strings"
)

// The TOML decoder knows where every key is but does not export it (and
// forgets array-of-tables positions), so error messages get their line
// numbers from this small scanner. It runs only over text the decoder has
// already accepted, and it is deliberately forgiving: whatever it does not
// understand it skips to the end of the line, so the worst outcome is a
// message that names the enclosing table's line instead of the key's.

// tomlLocator maps rendered key paths to the line where they are defined.
// The scan runs on the first error only: a valid file never pays for it.
type tomlLocator struct {
	src   []byte
	lines map[string]int
}

// locate returns the line of path, or of its nearest ancestor that has
// one, and the path rendered for the message.
func (l *tomlLocator) locate(p keyPath) (int, string) {
	if l.lines == nil {
		l.lines = locateTOML(l.src).lines
	}
	for n := len(p); n > 0; n-- {
		if line, ok := l.lines[p[:n].String()]; ok {
			return line, p.String()
		}
	}
	return 0, p.String()
}

// locateTOML scans src and records the first line of every table, array
// element and key, e.g. "crypto_map[1]", "crypto_map[1].peer",
// "acl.branch.rules[2]".
func locateTOML(src []byte) *tomlLocator {
	s := &tomlScanner{src: src, lines: map[string]int{}, arrays: map[string]int{}}
	for i, c := range src {
		if c == '\n' {
			s.newlines = append(s.newlines, i)
		}
	}
	// The document: tables and keys, a line at a time.
	for {
		s.skipSpace()
		if s.eof() {
			return &tomlLocator{lines: s.lines}
		}
		start := s.i
		if s.peek() == '[' {
			// A header, [a.b] or [[a.b]] (read here, its one caller:
			// flash).
			s.i++
			double := s.peek() == '['
			if double {
				s.i++
			}
			if segs := s.key(); len(segs) > 0 {
				s.skipBlanks()
				if s.peek() == ']' {
					var p keyPath
					for n, seg := range segs {
						p = p.key(seg)
						k := p.String()
						if n == len(segs)-1 && double {
							idx := s.arrays[k]
							s.arrays[k] = idx + 1
							s.recordKey(k, start)
							p = p.index(idx)
						} else if cnt, ok := s.arrays[k]; ok && cnt > 0 {
							// [a.b] under [[a]] extends the last element of a.
							p = p.index(cnt - 1)
						}
						s.recordKey(p.String(), start)
					}
					s.table = p
					s.i++
					if double && s.peek() == ']' {
						s.i++
					}
				}
			}
		} else {
			s.keyValue(s.table)
		}
		// Whatever follows on the line is a comment or something this
		// scanner does not understand; either way it holds no keys.
		if s.i == start {
			s.i++
		}
		s.skipLine()
	}
}

type tomlScanner struct {
	src      []byte
	i        int
	newlines []int          // offsets of '\n', for offset -> line
	lines    map[string]int // rendered path -> line
	arrays   map[string]int // array-of-tables path -> elements seen so far
	table    keyPath        // current [table] / [[array]] element
}

// recordKey records the line of offset off for k, unless k has one: one
// more than the newlines before off, found by binary search (written out:
// sort.SearchInts, with sort.Search and its closure, was linked for this
// alone; flash).
func (s *tomlScanner) recordKey(k string, off int) {
	if _, ok := s.lines[k]; ok {
		return
	}
	lo, hi := 0, len(s.newlines)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.newlines[m] < off {
			lo = m + 1
		} else {
			hi = m
		}
	}
	s.lines[k] = lo + 1
}

func (s *tomlScanner) eof() bool { return s.i >= len(s.src) }
func (s *tomlScanner) peek() byte {
	if s.i < len(s.src) {
		return s.src[s.i]
	}
	return 0
}

func (s *tomlScanner) skipBlanks() {
	for !s.eof() && (s.peek() == ' ' || s.peek() == '\t') {
		s.i++
	}
}

func (s *tomlScanner) skipLine() {
	for !s.eof() && s.peek() != '\n' {
		s.i++
	}
}

// skipSpace skips blanks, newlines and comments.
func (s *tomlScanner) skipSpace() {
	for !s.eof() {
		switch s.peek() {
		case ' ', '\t', '\r', '\n':
			s.i++
		case '#':
			s.skipLine()
		default:
			return
		}
	}
}

// keyValue handles "a.b = value" relative to base.
func (s *tomlScanner) keyValue(base keyPath) {
	start := s.i
	segs := s.key()
	if len(segs) == 0 {
		return
	}
	p := base
	for _, seg := range segs {
		p = p.key(seg)
		s.recordKey(p.String(), start)
	}
	s.skipBlanks()
	if s.peek() != '=' {
		return
	}
	s.i++
	s.skipBlanks()
	s.value(p)
}

// key reads a dotted key of bare and quoted parts.
func (s *tomlScanner) key() []string {
	var segs []string
	for {
		s.skipBlanks()
		var seg string
		switch c := s.peek(); {
		case c == '"':
			raw, ok := s.quoted('"', true)
			if !ok {
				return nil
			}
			if u, err := strconv.Unquote(raw); err == nil {
				seg = u
			} else {
				seg = trimSet(raw, `"`)
			}
		case c == '\'':
			raw, ok := s.quoted('\'', false)
			if !ok {
				return nil
			}
			seg = raw[1 : len(raw)-1]
		default:
			from := s.i
			for !s.eof() && !strings.ContainsRune(" \t\r\n.=[]#\"',{}", rune(s.peek())) {
				s.i++
			}
			if s.i == from {
				return nil
			}
			seg = string(s.src[from:s.i])
		}
		segs = append(segs, seg)
		s.skipBlanks()
		if s.peek() != '.' {
			return segs
		}
		s.i++
	}
}

// quoted reads a one-line string between quote characters q, with
// backslash escapes when escapes is set (a "..." basic string, not a
// '...' literal one), and returns it with its quotes.
func (s *tomlScanner) quoted(q byte, escapes bool) (string, bool) {
	from := s.i
	s.i++
	for !s.eof() {
		switch c := s.peek(); {
		case c == '\\' && escapes:
			s.i += 2
		case c == q:
			s.i++
			return string(s.src[from:s.i]), true
		case c == '\n':
			return "", false
		default:
			s.i++
		}
	}
	if s.i > len(s.src) {
		s.i = len(s.src)
	}
	return "", false
}

// value skips one value, recording the positions of array elements and
// inline-table keys under p.
func (s *tomlScanner) value(p keyPath) {
	switch q := s.peek(); q {
	case '"', '\'': // basic strings have escapes, literal ones do not
		if s.i+2 < len(s.src) && s.src[s.i+1] == q && s.src[s.i+2] == q {
			// A multi-line string, up to its closing triple quote (read
			// here, the one caller: flash).
			s.i += 3
			for !s.eof() {
				c := s.peek()
				if c == '\\' && q == '"' {
					s.i += 2
					continue
				}
				if c == q && s.i+2 < len(s.src) && s.src[s.i+1] == q && s.src[s.i+2] == q {
					s.i += 3
					// Up to two more quotes belong to the content: """a""""" .
					for n := 0; n < 2 && s.peek() == q; n++ {
						s.i++
					}
					return
				}
				s.i++
			}
			s.i = len(s.src)
		} else {
			s.quoted(q, q == '"')
		}
	case '[':
		s.items(']', p)
	case '{':
		s.items('}', p)
	default:
		for !s.eof() && !strings.ContainsRune(",]}#\r\n", rune(s.peek())) {
			s.i++
		}
	}
}

// items scans the comma-separated items of an array (close is ']': the
// position of element n is recorded as p[n]) or an inline table (close
// is '}': its keys are recorded under p); the scanner is at the opening
// bracket. An item this scanner does not know is stepped over a byte at
// a time, so that the scan always makes progress. One function for both,
// without an item callback: the two callers and their closures were
// four functions (flash).
func (s *tomlScanner) items(close byte, p keyPath) {
	var base string
	if close == ']' {
		base = p.String() // rendered once: arrays can be long
	}
	n := 0
	s.i++
	for {
		s.skipSpace()
		switch s.peek() {
		case 0:
			s.i = len(s.src)
			return
		case close:
			s.i++
			return
		case ',':
			s.i++
			continue
		}
		before := s.i
		if close == '}' {
			s.keyValue(p)
		} else {
			s.recordKey(base+"["+strconv.Itoa(n)+"]", s.i)
			if c := s.peek(); c == '[' || c == '{' {
				s.value(p.index(n))
			} else {
				s.value(nil) // a scalar: no keys inside
			}
			n++
		}
		if s.i == before {
			s.i++
		}
	}
}
