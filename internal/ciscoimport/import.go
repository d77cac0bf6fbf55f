// Package ciscoimport turns the IPsec part of a Cisco IOS or ASA
// running-config into tinyipsec TOML.
//
// Convert reads the whole file first (a crypto map may name an ACL or a
// transform set defined further down), then writes TOML for every crypto map
// entry it can carry over, and a Note for every line it cannot, with the
// line number and the reason. Notes never contain key material: lines are
// shown through redact, which hides every token that follows a secret-bearing
// keyword.
package ciscoimport

import (
	"bytes"
	"fmt"
	"strings"

	"tinyipsec/internal/order"
)

// MaxInput bounds what Convert reads: a running-config is at most a few
// hundred kilobytes, and a runaway file must not exhaust memory.
const MaxInput = 4 << 20

// Note is one line (or block) of the input that was not carried over, or
// carried over with a caveat.
type Note struct {
	_      [0]func() // not comparable: no generated == function (flash)
	Line   int       // 1-based line number in the input
	Text   string    // the line, secrets replaced by <redacted>
	Reason string    // why, in words for the admin
}

func (n Note) String() string {
	return fmt.Sprintf("line %d: %s: %s", n.Line, n.Text, n.Reason)
}

// Result is the output of Convert.
type Result struct {
	Platform string // "IOS" or "ASA", as detected
	TOML     []byte // the configuration; contains the pre-shared keys
	Notes    []Note // in line order
}

// line is one non-blank input line split into tokens. Lines and blocks
// are passed by pointer: by value each call copied five or eight words
// (flash).
type line struct {
	num  int
	toks []string
}

// block is a top-level line with the indented lines below it
// (IOS and ASA sub-modes such as "crypto isakmp policy 10").
type block struct {
	head     line
	children []line
}

// Options adjust Convert. The zero value is the default.
type Options struct {
	// PSKDir is where psk_file points for keys the running-config does not
	// show in clear; default /etc/tinyipsec/.
	PSKDir string
}

// Convert reads a running-config. It fails only on input it cannot read
// at all (too large, not text); everything else becomes Notes.
func Convert(src []byte, opt Options) (*Result, error) {
	if len(src) > MaxInput {
		return nil, fmt.Errorf("larger than %d bytes", MaxInput)
	}
	if bytes.IndexByte(src, 0) >= 0 {
		return nil, fmt.Errorf("not a text file (contains NUL bytes)")
	}
	c := &converter{platform: "IOS", names: map[string]int{}}
	// The input as top-level commands with their indented sub-mode
	// lines. "!" and ":" lines are comments (IOS, ASA); Fields drops a
	// line's "\r" with the other spaces.
	var blocks []block
	for i, raw := range strings.Split(string(src), "\n") {
		toks := strings.Fields(raw)
		if len(toks) == 0 || toks[0][0] == '!' || toks[0][0] == ':' {
			continue
		}
		l := line{num: i + 1, toks: toks}
		if (raw[0] == ' ' || raw[0] == '\t') && len(blocks) > 0 {
			last := &blocks[len(blocks)-1]
			last.children = append(last.children, l)
			continue
		}
		blocks = append(blocks, block{head: l})
		// ASA is told from IOS by commands only ASA has.
		if classify(toks, asaCommands[:]) != 0 ||
			len(toks) > 2 && toks[0] == "access-list" && strings.EqualFold(toks[2], "extended") {
			c.platform, c.asa = "ASA", true
		}
	}
	c.pskDir = opt.PSKDir
	if c.pskDir == "" {
		c.pskDir = defaultPSKDir
	}
	if !strings.HasSuffix(c.pskDir, "/") {
		c.pskDir += "/"
	}
	for i := range blocks {
		b := &blocks[i]
		c.block(b)
	}
	out := c.emit()
	ns := c.notes
	order.Stable(len(ns), func(i, j int) bool { return ns[i].Line < ns[j].Line },
		func(i, j int) { ns[i], ns[j] = ns[j], ns[i] })
	return &Result{Platform: c.platform, TOML: out, Notes: c.notes}, nil
}

// hasPrefix reports whether toks starts with the space-separated words,
// case-insensitively. One string rather than a variadic list of words,
// which cost two stored words per word at each of some ninety call sites
// (flash).
func hasPrefix(toks []string, words string) bool {
	for i := 0; words != ""; i++ {
		w, rest, _ := strings.Cut(words, " ")
		if i >= len(toks) || !strings.EqualFold(toks[i], w) {
			return false
		}
		words = rest
	}
	return true
}

// command names what a line is, for a dispatching switch; 0 is "none of
// the table's".
type command uint8

// prefixRule: a line that starts with words (see hasPrefix) and has at
// least min tokens is cmd.
type prefixRule struct {
	words string
	cmd   command
	min   uint8
}

// classify is the command of the first rule toks matches, 0 if none: the
// dispatchers switch on it instead of calling hasPrefix case by case,
// which cost a call of seven stored words at each of some ninety sites
// (flash).
func classify(toks []string, rules []prefixRule) command {
	for i := range rules {
		r := &rules[i]
		if len(toks) >= int(r.min) && hasPrefix(toks, r.words) {
			return r.cmd
		}
	}
	return 0
}

// wordRule: a word, exactly as written (callers lower-case first), and
// what it is, for a dispatching switch.
type wordRule struct {
	word string
	cmd  command
}

// lookup is the command of word w in rules, 0 if none: a table rather
// than a switch on string cases, which MIPS compares inline byte by byte,
// four instructions a byte (flash).
func lookup(rules []wordRule, w string) command {
	for i := range rules {
		if rules[i].word == w {
			return rules[i].cmd
		}
	}
	return 0
}

// asaCommands are commands only ASA has (the command is 1, any).
var asaCommands = [...]prefixRule{
	{"ASA Version", 1, 0},
	{"PIX Version", 1, 0},
	{"tunnel-group", 1, 0},
	{"crypto ikev1", 1, 0},
	{"crypto ipsec ikev1", 1, 0},
}

// secretWords are the keywords after which IOS and ASA put a secret:
// the next token (after an optional encryption-type digit) is hidden.
var secretWords = [...]string{
	"key", "password", "secret", "pre-shared-key", "community", "key-string",
	"authentication-key", "cipher", "authenticator", "pass",
}

// keepWords end a redacted run: they follow a key in commands such as
// "crypto isakmp key K address A" and name no secret themselves. The
// first three name a key's peer (keySpec).
var keepWords = [...]string{
	"address", "hostname", "ipv6", "no-xauth", "encrypted", "privilege", "ro", "rw",
}

// isWord reports whether low is in words: static arrays searched in
// order rather than maps, which the program would build at start from
// code as long as the lists (flash).
func isWord(words []string, low string) bool {
	for _, w := range words {
		if w == low {
			return true
		}
	}
	return false
}

// redact shows a line with every secret replaced, so notes on stderr
// never reveal a key, whatever command the line holds: everything after
// a secret-bearing keyword is hidden up to a keyword known to follow a
// key, and a single digit right after it (the encryption type) is shown.
func redact(toks []string) string {
	var out []byte
	last := "" // the last word written
	hiding := false
	for i := 0; i < len(toks); i++ {
		tok := toks[i]
		low := strings.ToLower(tok)
		switch {
		case hiding && isWord(keepWords[:], low):
			hiding = false
		case hiding:
			if last == "<redacted>" {
				continue
			}
			tok = "<redacted>"
		case isWord(secretWords[:], low) &&
			// IOS keyring: "pre-shared-key address A key K"
			!(low == "pre-shared-key" && i+1 < len(toks) && isWord(keepWords[:], strings.ToLower(toks[i+1]))):
			hiding = true
			out = addWord(out, tok)
			if i+2 < len(toks) && len(toks[i+1]) == 1 && isDigits(toks[i+1]) {
				i++
				out = addWord(out, toks[i])
			}
			last = toks[i]
			if i+1 >= len(toks) {
				continue
			}
			i++ // the key itself, whatever word it is
			tok = "<redacted>"
		}
		out = addWord(out, tok)
		last = tok
	}
	return string(out)
}

// addWord appends w, unless empty, to a line of words: one buffer rather
// than a slice of words joined at the end (flash).
func addWord(out []byte, w string) []byte {
	if w == "" {
		return out // an optional word left out
	}
	if len(out) > 0 {
		out = append(out, ' ')
	}
	return append(out, w...)
}

// push appends v to *list. Inline, each append to a list held in the
// heap was some fifty instructions (growing, and a write barrier for
// each pointer stored); lists of pointers all share one instantiation of
// push, lists of strings another (flash).
func push[E any](list *[]E, v E) {
	*list = append(*list, v)
}

// isDigits reports a non-empty string of ASCII digits. A loop: strings.Trim
// is linked for nothing else (flash).
func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
