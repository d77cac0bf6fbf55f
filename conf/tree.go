package conf

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The builder reads a generic tree (map[string]any, []any, string, int64,
// bool, ...) so that TOML and UCI share one set of rules and messages. The
// TOML decoder produces that tree directly; the UCI bridge produces one
// whose leaves are all strings, which is why "text" mode converts strings
// to numbers and booleans while TOML mode insists on the real type.

// locator turns a key path into a line number and the key as the user
// should read it in an error message.
type locator interface {
	locate(p keyPath) (line int, key string)
}

// table is one TOML table (or UCI section) being read. It remembers which
// keys were consumed; done reports the rest as unknown.
type table struct {
	b    *builder
	path keyPath
	m    map[string]any
	used map[string]bool
}

func (b *builder) table(p keyPath, m map[string]any) *table {
	return &table{b: b, path: p, m: m, used: map[string]bool{}}
}

// has reports whether key is present (without consuming it).
func (t *table) has(key string) bool {
	_, ok := t.m[key]
	return ok
}

// get returns a value and marks the key as known. Only a present key
// needs marking: done reports the keys of m that were not asked for, so
// the readers do not call get for a key they found absent.
func (t *table) get(key string) (any, bool) {
	t.used[key] = true
	v, ok := t.m[key]
	return v, ok
}

// reject reports each of keys that is present: it has no meaning here
// (why says where it does).
func (t *table) reject(keys []string, why string) {
	for _, k := range keys {
		if t.has(k) {
			t.get(k)
			t.fail(k, why)
		}
	}
}

// fail reports msg at key (see builder.fail).
func (t *table) fail(key, msg string) {
	t.b.fail(t.path.key(key), msg)
}

// mustBe reports that the value v of key (element i of it when i >= 0)
// is of the wrong type: "must be WHAT, not TYPE". One site for the ten
// such messages instead of a formatting call with a boxed type name at
// each (flash).
func (t *table) mustBe(key string, i int, what string, v any) {
	p := t.path.key(key)
	if i >= 0 {
		p = p.index(i)
	}
	t.b.fail(p, "must be "+what+", not "+t.b.typeName(v))
}

// done reports every key that no reader asked for, in sorted order.
func (t *table) done() {
	var unknown []string
	for k := range t.m {
		if !t.used[k] {
			unknown = append(unknown, k)
		}
	}
	slices.SortFunc(unknown, strings.Compare) // shares crypto/x509's instantiation; sort.Strings would add one
	for _, k := range unknown {
		if t.b.text {
			t.fail(k, "unknown option")
		} else {
			t.fail(k, "unknown key")
		}
	}
}

// typeName is typeName in the words of the file format being read.
func (b *builder) typeName(v any) string {
	if b.text {
		switch v.(type) {
		case []any:
			return "a list"
		case map[string]any:
			return "a section"
		}
	}
	return typeName(v)
}

// typeName describes a tree value for "must be X, not Y" messages.
func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	default:
		return "a date/time"
	}
}

// scalar returns a value that must not be a list or table; in text mode
// the usual mistake is "list" where "option" was meant.
func (t *table) scalar(key string) (v any, present, ok bool) {
	v, present = t.get(key)
	if !present {
		return nil, false, true
	}
	switch v.(type) {
	case []any, []map[string]any, map[string]any:
		what := "a single value"
		if t.b.text {
			what = "a single value (option)"
		}
		t.mustBe(key, -1, what, v)
		return nil, true, false
	}
	return v, true, true
}

// str reads a string; def when absent. ok is false after an error.
func (t *table) str(key, def string) (string, bool) {
	v, present := t.get(key)
	if !present {
		return def, true
	}
	s, isStr := v.(string)
	if !isStr {
		t.mustBe(key, -1, "a string", v)
		return def, false
	}
	return s, true
}

// need reports whether key is present, and "missing (required)" if not.
func (t *table) need(key string) bool {
	if !t.has(key) {
		t.fail(key, "missing (required)")
		return false
	}
	return true
}

// requiredStr reads a string that must be present and non-empty.
func (t *table) requiredStr(key string) (string, bool) {
	if !t.need(key) {
		return "", false
	}
	s, ok := t.str(key, "")
	if ok && strings.TrimSpace(s) == "" {
		t.fail(key, "must not be empty")
		return "", false
	}
	return s, ok
}

// oneOf reads a string that must be one of choices; def when absent.
// The enumerated keys read through it and convert the result to their
// type: a generic reader was one more function, a dictionary per type and
// a copy of each choice list (flash). The lists are static arrays or
// algo's name lists (built per call from its tables), not variadic
// arguments.
func (t *table) oneOf(key, def string, choices []string) (string, bool) {
	if !t.has(key) {
		return def, true
	}
	s, ok := t.str(key, def)
	if !ok {
		return def, false
	}
	for _, c := range choices {
		if s == c {
			return s, true
		}
	}
	t.fail(key, "unknown value "+strconv.Quote(s)+" (want "+strings.Join(choices, ", ")+")")
	return def, false
}

// integer reads an integer in [lo, hi]; def when absent.
func (t *table) integer(key string, def, lo, hi int64) (int64, bool) {
	v, present := t.get(key)
	if !present {
		return def, true
	}
	// A TOML integer, or in text mode a decimal string.
	n, isInt := v.(int64)
	if s, isStr := v.(string); isStr && t.b.text {
		var err error
		if n, err = strconv.ParseInt(strings.TrimSpace(s), 10, 64); err != nil {
			t.fail(key, strconv.Quote(s)+" is not an integer")
			return def, false
		}
	} else if !isInt {
		t.mustBe(key, -1, "an integer", v)
		return def, false
	}
	if n < lo || n > hi {
		t.fail(key, strconv.FormatInt(n, 10)+" is out of range "+strconv.FormatInt(lo, 10)+".."+strconv.FormatInt(hi, 10))
		return def, false
	}
	return n, true
}

// The words UCI accepts for a boolean.
var (
	uciTrue  = [...]string{"1", "yes", "on", "true", "enabled"}
	uciFalse = [...]string{"0", "no", "off", "false", "disabled"}
)

// boolean reads true/false; in text mode also UCI's 1/0, yes/no, on/off.
func (t *table) boolean(key string, def bool) (bool, bool) {
	v, present := t.get(key)
	if !present {
		return def, true
	}
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		if t.b.text {
			w := strings.ToLower(strings.TrimSpace(x))
			if inList(uciTrue[:], w) {
				return true, true
			}
			if inList(uciFalse[:], w) {
				return false, true
			}
			t.fail(key, strconv.Quote(x)+" is not a boolean (want 1/0, yes/no, on/off, true/false)")
			return def, false
		}
	}
	t.mustBe(key, -1, "a boolean (true or false)", v)
	return def, false
}

// duration reads a lifetime or timer: an integer number of seconds, or a
// string such as "24h", "90m", "3600s", "1h30m", "1d" or "3600".
func (t *table) duration(key string, def time.Duration) (time.Duration, bool) {
	v, present, ok := t.scalar(key)
	if !present || !ok {
		return def, ok
	}
	d, err := parseDuration(v)
	if err != nil {
		t.fail(key, err.Error())
		return def, false
	}
	return d, true
}

func parseDuration(v any) (time.Duration, error) {
	switch x := v.(type) {
	case int64:
		if x < 0 {
			return 0, errors.New(strconv.FormatInt(x, 10) + " is negative")
		}
		if x > math.MaxInt64/int64(time.Second) {
			return 0, errors.New(strconv.FormatInt(x, 10) + " seconds is too long")
		}
		return time.Duration(x) * time.Second, nil
	case string:
		s := strings.TrimSpace(x)
		if s == "" {
			return 0, errors.New("empty duration (want seconds or e.g. \"24h\", \"90m\")")
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return parseDuration(n)
		}
		if days := s[:len(s)-1]; s[len(s)-1] == 'd' { // s is not empty
			if n, err := strconv.ParseInt(days, 10, 64); err == nil && n >= 0 && n < 100000 {
				return time.Duration(n) * 24 * time.Hour, nil
			}
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, errors.New(strconv.Quote(x) + " is not a duration (want seconds or e.g. \"24h\", \"90m\", \"30s\")")
		}
		if d < 0 {
			return 0, errors.New(strconv.Quote(x) + " is negative")
		}
		if d%time.Second != 0 {
			return 0, errors.New(strconv.Quote(x) + " is not a whole number of seconds")
		}
		return d, nil
	}
	return 0, errors.New("must be a duration string such as \"24h\" or an integer number of seconds, not " + typeName(v))
}

// requiredList is strList for a key that must be there: when it is
// missing it reports "missing (why)" on key and returns false.
func (t *table) requiredList(key, why string) ([]string, bool) {
	if !t.has(key) {
		t.fail(key, "missing ("+why+")")
		return nil, false
	}
	return t.strList(key)
}

// strList reads an array of strings; a single string is a one-element
// list. The element paths are key[0], key[1], ...
func (t *table) strList(key string) ([]string, bool) {
	v, present := t.get(key)
	if !present {
		return nil, true
	}
	switch x := v.(type) {
	case string:
		return []string{x}, true
	case []any:
		out := make([]string, 0, len(x))
		ok := true
		for i, e := range x {
			s, isStr := e.(string)
			if !isStr {
				t.mustBe(key, i, "a string", e)
				ok = false
				continue
			}
			out = append(out, s)
		}
		return out, ok
	}
	t.mustBe(key, -1, "a string or an array of strings", v)
	return nil, false
}

// subTable reads a key whose value must be a table.
func (t *table) subTable(key string) (*table, bool) {
	v, present := t.get(key)
	if !present {
		return nil, true
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.mustBe(key, -1, "a table", v)
		return nil, false
	}
	return t.b.table(t.path.key(key), m), true
}

// tableArray reads a key whose value must be an array of tables
// ([[key]] in TOML).
func (t *table) tableArray(key string) []*table {
	v, present := t.get(key)
	if !present {
		return nil
	}
	var elems []any
	switch x := v.(type) {
	case []map[string]any:
		for _, m := range x {
			elems = append(elems, m)
		}
	case []any:
		elems = x
	default:
		t.mustBe(key, -1, "an array of tables ([["+key+"]])", v)
		return nil
	}
	var out []*table
	for i, e := range elems {
		m, ok := e.(map[string]any)
		if !ok {
			t.mustBe(key, i, "a table", e)
			continue
		}
		out = append(out, t.b.table(t.path.key(key).index(i), m))
	}
	return out
}
