package conf

import (
	"errors"
	"strconv"
	"strings"

	"tinyipsec/internal/algo"
)

// The algorithms themselves are declared once, in internal/algo; this file
// only reads configuration values into them.

func weakHint(what string) string { return "weak " + what + "; set allow_weak = true to permit it" }

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
			return 0, errors.New(strconv.Quote(x) + " is not a DH group (want one of " + groupList() + ")")
		}
	default:
		return 0, errors.New("must be a DH group number, not " + typeName(v))
	}
	for _, g := range algo.Groups() {
		if int64(g) == n {
			return g, nil
		}
	}
	return 0, errors.New("unknown DH group " + strconv.FormatInt(n, 10) + " (want one of " + groupList() + ")")
}

func groupList() string {
	var s []string
	for _, g := range algo.Groups() {
		s = append(s, strconv.Itoa(int(g)))
	}
	return strings.Join(s, ", ")
}
