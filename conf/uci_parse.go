package conf

import (
	"strconv"
)

// This file reads the UCI file format (/etc/config/NAME on OpenWrt) the
// way libuci does, without libuci:
//
//	package NAME
//	config TYPE ['NAME']
//		option NAME VALUE
//		list NAME VALUE
//
// A word is any mix of unquoted text, '...' (taken literally) and "..."
// (backslash takes the next character literally); adjacent pieces are
// concatenated, so 'a'"b"c is "abc". An unquoted # starts a comment, a ;
// ends a statement, and a backslash at the end of a line continues it.

// uciSection is one "config" block.
type uciSection struct {
	Type, Name string
	Line       int
	Index      int // position among the sections of the same type, for @type[N]
	Options    []*uciOption
	byName     map[string]int // option name -> index in Options: a map type the daemon has anyway (flash)
}

// uciOption is one option, or all "list" lines of one name.
type uciOption struct {
	Name   string
	List   bool
	Values []string
	Lines  []int // line of each value
}

// uciError is a syntax problem at a line.
type uciError struct {
	_    [0]func() // not comparable: no generated == function (flash)
	Line int
	Msg  string
}

// uciStatement is one parsed line: its words and where they started.
type uciStatement struct {
	Line  int
	Words []string
}

type uciLexer struct {
	src  []byte
	i    int
	line int
}

// statements splits src into statements of words: each reads words up
// to the end of the line, a ';' or a comment (read here, its one caller,
// rather than by a statement method: flash).
func uciStatements(src []byte) ([]uciStatement, []uciError) {
	lx := &uciLexer{src: src, line: 1}
	var out []uciStatement
	var errs []uciError
	for lx.i < len(lx.src) {
		st := uciStatement{Line: lx.line}
		var err *uciError
	words:
		for err == nil {
			// Blanks between words.
			for lx.i < len(lx.src) && (lx.src[lx.i] == ' ' || lx.src[lx.i] == '\t' || lx.src[lx.i] == '\r') {
				lx.i++
			}
			if lx.i >= len(lx.src) {
				break
			}
			switch c := lx.src[lx.i]; {
			case c == '\n':
				lx.i++
				lx.line++
				break words
			case c == ';':
				lx.i++
				break words
			case c == '#':
				for lx.i < len(lx.src) && lx.src[lx.i] != '\n' {
					lx.i++
				}
				continue
			case c == '\\' && lx.i+1 < len(lx.src) && lx.src[lx.i+1] == '\n':
				lx.i += 2 // continuation between words
				lx.line++
				continue
			}
			// A word made of unquoted and quoted pieces. Like libuci, an
			// unquoted # ends the line even inside a word.
			var w []byte
		word:
			for lx.i < len(lx.src) {
				switch c := lx.src[lx.i]; c {
				case ' ', '\t', '\r', '\n', ';', '#':
					break word
				case '\'', '"':
					if w, err = lx.quoted(w, c); err != nil {
						break word
					}
				case '\\':
					if !lx.escape(&w) {
						break word
					}
				default:
					w = append(w, c)
					lx.i++
				}
			}
			if err == nil {
				if len(st.Words) == 0 {
					st.Line = lx.line
				}
				st.Words = append(st.Words, string(w))
			}
		}
		if err != nil {
			if len(errs) <= maxErrors {
				errs = append(errs, *err)
			}
			// Skip the rest of the line.
			for lx.i < len(lx.src) {
				lx.i++
				if lx.src[lx.i-1] == '\n' {
					lx.line++
					break
				}
			}
			continue
		}
		if len(st.Words) > 0 {
			out = append(out, st)
		}
	}
	return out, errs
}

// quoted appends the piece quoted by q (the quote at lx.i) to b. As in a
// shell, a backslash escapes inside double quotes only; neither kind of
// quote spans lines.
func (lx *uciLexer) quoted(b []byte, q byte) ([]byte, *uciError) {
	unterminated := &uciError{Line: lx.line, Msg: "unterminated " + string(q) + " quote"}
	lx.i++
	for {
		if lx.i >= len(lx.src) || lx.src[lx.i] == '\n' {
			return nil, unterminated
		}
		d := lx.src[lx.i]
		switch {
		case d == q:
			lx.i++
			return b, nil
		case d == '\\' && q == '"':
			if !lx.escape(&b) {
				return nil, unterminated
			}
		default:
			b = append(b, d)
			lx.i++
		}
	}
}

// escape handles a backslash at lx.i: before a newline it continues the
// line, otherwise it stands for the next character. It reports false at
// the end of the input.
func (lx *uciLexer) escape(b *[]byte) bool {
	lx.i++
	if lx.i >= len(lx.src) {
		return false
	}
	c := lx.src[lx.i]
	lx.i++
	if c == '\n' {
		lx.line++
		return true
	}
	*b = append(*b, c)
	return true
}

// uciBad appends a syntax error at line, up to the builder's limit (it
// keeps no more anyway). A function with the message made by the caller
// (strconv.Quote is fmt's %q) rather than a closure formatting it per
// statement (flash).
func uciBad(errs []uciError, line int, msg string) []uciError {
	if len(errs) <= maxErrors {
		errs = append(errs, uciError{Line: line, Msg: msg})
	}
	return errs
}

// parseUCI turns statements into sections.
func parseUCI(src []byte) ([]*uciSection, []uciError) {
	stmts, errs := uciStatements(src)
	var secs []*uciSection
	perType := map[string]int{}
	var cur *uciSection
	for _, st := range stmts {
		w := st.Words
		switch w[0] {
		case "package":
			if len(w) != 2 {
				errs = uciBad(errs, st.Line, "package takes one name")
			}
		case "config":
			if len(w) < 2 || len(w) > 3 {
				errs = uciBad(errs, st.Line, "config takes a type and an optional name")
				cur = nil
				continue
			}
			if !uciName(w[1]) {
				errs = uciBad(errs, st.Line, "invalid section type "+strconv.Quote(w[1]))
			}
			s := &uciSection{Type: w[1], Line: st.Line, Index: perType[w[1]], byName: map[string]int{}}
			perType[w[1]]++
			if len(w) == 3 {
				if !uciName(w[2]) {
					errs = uciBad(errs, st.Line, "invalid section name "+strconv.Quote(w[2])+" (letters, digits and _ only)")
				}
				s.Name = w[2]
			}
			secs = append(secs, s)
			cur = s
		case "option", "list":
			if len(w) != 3 {
				errs = uciBad(errs, st.Line, w[0]+" takes a name and one value")
				continue
			}
			if cur == nil {
				errs = uciBad(errs, st.Line, w[0]+" outside of a config section")
				continue
			}
			if !uciName(w[1]) {
				errs = uciBad(errs, st.Line, "invalid option name "+strconv.Quote(w[1]))
				continue
			}
			isList := w[0] == "list"
			var o *uciOption
			i, seen := cur.byName[w[1]]
			switch {
			case !seen:
				o = &uciOption{Name: w[1], List: isList}
				cur.byName[o.Name] = len(cur.Options)
				cur.Options = append(cur.Options, o)
			case !isList || !cur.Options[i].List:
				errs = uciBad(errs, st.Line, "option "+strconv.Quote(w[1])+" is set twice in this section")
				continue
			default:
				o = cur.Options[i]
			}
			o.Values = append(o.Values, w[2])
			o.Lines = append(o.Lines, st.Line)
		default:
			errs = uciBad(errs, st.Line, "unknown statement "+strconv.Quote(w[0])+" (want package, config, option or list)")
		}
	}
	return secs, errs
}

// uciName checks libuci's rule for types and names: [A-Za-z0-9_]+.
func uciName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
