package conf

import "strings"

// Configuration errors must never show a secret, also when the secret is
// what is malformed: the TOML decoder quotes what it could not read
// ("expected value but found \"...\""), and `tinyipsec check` prints that,
// a reload logs it. Every key that holds a secret is marked here; an error
// at such a key's line, or about such a key, says what is wrong without
// the value, and as a last guard any text of a secret assignment is cut
// out of every message.

// secretKeys are the keys that hold a secret. A static list: the keys
// are the configuration's own, so a lock and a map built at start would
// guard a table that never changes (flash).
var secretKeys = [...]string{
	"psk",        // crypto_map, keyring
	"esp_key_in", // manual keying
	"esp_key_out",
	"esp_auth_key_in",
	"esp_auth_key_out",
	"ah_key_in",
	"ah_key_out",
	"xauth_password", // remote-access client
}

// lastKeyElement is what follows the last '.', quote or space of a key
// path (a loop, not strings.LastIndexAny, which is linked for nothing
// else: flash).
func lastKeyElement(key string) string {
	for i := len(key) - 1; i >= 0; i-- {
		if c := key[i]; c == '.' || c == '\'' || c == ' ' {
			return key[i+1:]
		}
	}
	return key
}

// trimSet is strings.Trim for a cutset of ASCII bytes, such as quotes:
// strings.Trim's general cutset code (Unicode, ASCII and single-byte
// variants at each end) is linked for nothing else of the daemon's
// (flash).
func trimSet(s, set string) string {
	for s != "" && strings.IndexByte(set, s[0]) >= 0 {
		s = s[1:]
	}
	for s != "" && strings.IndexByte(set, s[len(s)-1]) >= 0 {
		s = s[:len(s)-1]
	}
	return s
}

// IsSecretKey reports whether a key name (the last element of a key path
// such as "crypto_map[0].psk") holds a secret.
func IsSecretKey(key string) bool {
	key = lastKeyElement(key)
	key = trimSet(key, `"'`)
	return inList(secretKeys[:], key)
}

// The two line shapes that assign a key are matched by hand rather than
// with package regexp, which would add about 0.37 MB (its compiler and
// the Unicode tables) to the binary for these two patterns alone.

// isRESpace is the space class of the line shapes (\s: tab, newline,
// form feed, carriage return, space).
func isRESpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

func trimRESpace(s string) string {
	for len(s) > 0 && isRESpace(s[0]) {
		s = s[1:]
	}
	return s
}

// tomlAssign splits a TOML line `KEY = REST`, where KEY is a bare key
// ([A-Za-z0-9_-]+) or a quoted one ("..." or '...', quotes kept).
func tomlAssign(line string) (key, rest string, ok bool) {
	s := trimRESpace(line)
	if s == "" {
		return "", "", false
	}
	if q := s[0]; q == '"' || q == '\'' {
		j := strings.IndexByte(s[1:], q)
		if j < 0 {
			return "", "", false
		}
		key, s = s[:j+2], s[j+2:]
	} else {
		n := 0 // the bare key's bytes: [A-Za-z0-9_-]
		for ; n < len(s); n++ {
			if c := s[n]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
				break
			}
		}
		if n == 0 {
			return "", "", false
		}
		key, s = s[:n], s[n:]
	}
	s = trimRESpace(s)
	if s == "" || s[0] != '=' {
		return "", "", false
	}
	return key, trimRESpace(s[1:]), true
}

// uciSecretLine splits a UCI line `option|list KEY REST`; KEY is
// everything up to the next space, quotes included.
func uciSecretLine(line string) (key, rest string, ok bool) {
	s := trimRESpace(line)
	switch {
	case strings.HasPrefix(s, "option"):
		s = s[len("option"):]
	case strings.HasPrefix(s, "list"):
		s = s[len("list"):]
	default:
		return "", "", false
	}
	if s == "" || !isRESpace(s[0]) {
		return "", "", false
	}
	s = trimRESpace(s)
	n := 0
	for n < len(s) && !isRESpace(s[n]) {
		n++
	}
	if n == 0 {
		return "", "", false
	}
	return s[:n], trimRESpace(s[n:]), true
}

// secretAssignment is a line of the file that sets a secret key.
type secretAssignment struct {
	_     [0]func() // not comparable: no generated == function (flash)
	line  int
	key   string
	value string // the raw text after the key (may be malformed)
}

// secretMessage says what is wrong with a secret value without it.
func secretMessage(key string, uci bool) string {
	if uci {
		return "the value cannot be read (not shown: it is secret); write it in single quotes: option " + key + " '...'"
	}
	return "the value cannot be read (not shown: it is secret); write it as a quoted string: " + key + ` = "..."`
}

// redactSecrets rewrites the errors of a failed parse so that none
// contains a secret.
func redactSecrets(data []byte, uci bool, err error) error {
	es, ok := err.(Errors) // this package returns Errors unwrapped
	if !ok {
		return err
	}
	// The lines that set secret keys.
	var secrets []secretAssignment
	for i, line := range strings.Split(string(data), "\n") {
		split := tomlAssign
		if uci {
			split = uciSecretLine
		}
		rawKey, rest, ok := split(line)
		if !ok {
			continue
		}
		key := trimSet(rawKey, `"'`)
		if IsSecretKey(key) {
			secrets = append(secrets, secretAssignment{line: i + 1, key: key, value: strings.TrimSpace(rest)})
		}
	}
	// Each error rewritten in place (here, not by a helper taking the
	// seven-word Error: flash).
	for i := range es {
		e := &es[i]
		// This package's own checks never quote a secret value (tests hold
		// them to that); this cut is the last guard: every piece of a secret
		// assignment's text (the whole value, and each word of four
		// characters or more) is cut out of the message.
		for _, s := range secrets {
			pieces := []string{s.value, trimSet(s.value, `"'`)}
			pieces = append(pieces, strings.FieldsFunc(s.value, func(r rune) bool {
				return r == ' ' || r == '\t' || r == '"' || r == '\'' || r == '[' || r == ']' || r == ',' || r == '#'
			})...)
			for _, p := range pieces {
				if len(p) >= 4 {
					e.Msg = strings.ReplaceAll(e.Msg, p, "[redacted]")
					e.Key = strings.ReplaceAll(e.Key, p, "[redacted]")
				}
			}
		}
		if !e.syntax {
			continue
		}
		// The syntax parser's message about a secret key may quote the
		// value. Point at the key's assignment (a multi-line string may end
		// far below it) and say what is wrong in words.
		if IsSecretKey(e.Key) {
			name := lastKeyElement(e.Key)
			// The nearest assignment of the key before the error; an
			// unterminated multi-line string opened by one of them swallows
			// the lines below it, so such an opener wins.
			at, opener := 0, 0
			for _, s := range secrets {
				if s.key == name && (e.Line == 0 || s.line <= e.Line) {
					at = s.line
					if opener == 0 && (strings.HasPrefix(s.value, `"""`) || strings.HasPrefix(s.value, "'''")) {
						opener = s.line
					}
				}
			}
			if opener > 0 {
				at = opener
			}
			if at > 0 {
				e.Line = at
			}
			e.Msg = secretMessage(name, uci)
			continue
		}
		// A syntax error on a line that sets a secret, under another key.
		for _, s := range secrets {
			if e.Line == s.line {
				if e.Key == "" {
					e.Key = s.key
				} else {
					e.Key += "." + s.key
				}
				e.Msg = secretMessage(s.key, uci)
				break
			}
		}
	}
	return es
}
