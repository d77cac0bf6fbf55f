package conf

import (
	"strconv"
	"strings"
)

// Error is one problem in a configuration file.
type Error struct {
	_    [0]func() // not comparable: no generated == function (flash)
	File string    // the file as given to Load or Parse
	Line int       // 1-based; 0 when the position is unknown
	Key  string    // "crypto_map[1].transform_set" (TOML) or "crypto_map 'branch1' option 'pfs'" (UCI)
	Msg  string

	// syntax: the file's syntax parser wrote Msg (it may quote what it
	// could not read); see secret_errors.go.
	syntax bool
}

// Error is a method of *Error: the package hands out Errors, whose Error
// calls it on each element in place, and an Error value was never used
// as an error itself; a value method also had a pointer wrapper kept
// for it (flash).
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one file, ordered by line. Load and
// Parse return all of them at once so an admin can fix a file in one pass.
type Errors []Error

// Error joins the problems one per line.
func (es Errors) Error() string {
	var b strings.Builder
	for i := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(es[i].Error())
	}
	return b.String()
}
