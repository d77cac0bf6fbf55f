package conf

import (
	"fmt"
	"strconv"
	"strings"

	"tinyipsec/internal/algo"
)

// The algorithms themselves are declared once, in internal/algo; this file
// only reads configuration values into them.

func weakHint(what string) string { return "weak " + what + "; set allow_weak = true to permit it" }

// algorithm reads a key whose value must name one of the algorithms all;
// the empty "none" value when absent.
func algorithm[T ~string](t *table, key string, all []T) (T, bool) {
	return enum(t, key, "", all...)
}

// enum reads a key whose value must be one of choices; def when absent.
func enum[T ~string](t *table, key string, def T, choices ...T) (T, bool) {
	names := make([]string, len(choices))
	for i, c := range choices {
		names[i] = string(c)
	}
	s, ok := t.oneOf(key, string(def), names...)
	return T(s), ok
}

// parseDHGroup accepts 14, "14" or "group14".
func parseDHGroup(v any) (algo.Group, error) {
	var n int64
	switch x := v.(type) {
	case int64:
		n = x
	case string:
		s := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(x)), "group")
		var err error
		if n, err = strconv.ParseInt(s, 10, 32); err != nil {
			return 0, fmt.Errorf("%q is not a DH group (want one of %s)", x, groupList())
		}
	default:
		return 0, fmt.Errorf("must be a DH group number, not %s", typeName(v))
	}
	for _, g := range algo.Groups() {
		if int64(g) == n {
			return g, nil
		}
	}
	return 0, fmt.Errorf("unknown DH group %d (want one of %s)", n, groupList())
}

func groupList() string {
	var s []string
	for _, g := range algo.Groups() {
		s = append(s, strconv.Itoa(int(g)))
	}
	return strings.Join(s, ", ")
}
