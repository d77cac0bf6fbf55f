// Package cliflag parses the command line's string and boolean flags with
// the syntax and errors of Go's package flag, which the commands used
// before: -name value, -name=value, --name, a boolean set by -name or
// -name=BOOL, "--" ending the flags, the same one-line error texts. flag
// itself links every kind of flag it offers (numbers, durations, text
// and function values), reflection for its help output and a sort of the
// flags, about 30 KB of a router binary for the four commands' seven
// flags (flash).
package cliflag

import (
	"errors"
	"strconv"
)

// ErrHelp is returned for -h or -help when no such flag is defined; its
// text is flag.ErrHelp's.
var ErrHelp = errors.New("flag: help requested")

// Set is one command's flags.
type Set struct {
	_     [0]func() // not comparable: no generated == function (flash)
	name  string
	flags []flagDef // in the order they were defined
	args  []string  // what is left after Parse
}

type flagDef struct {
	_    [0]func() // not comparable: no generated == function (flash)
	name string
	str  *string // a string flag, or
	b    *bool   // a boolean flag
}

// New makes an empty set for the command called name.
func New(name string) *Set { return &Set{name: name} }

// Name is the command's name.
func (s *Set) Name() string { return s.name }

// String defines a string flag with a default value. usage documents
// the flag where it is defined; the commands print usage of their own.
func (s *Set) String(name, value, usage string) *string {
	p := new(string)
	s.StringVar(p, name, value, usage)
	return p
}

// StringVar defines a string flag stored in p.
func (s *Set) StringVar(p *string, name, value, usage string) {
	*p = value
	s.flags = append(s.flags, flagDef{name: name, str: p})
}

// Bool defines a boolean flag with a default value.
func (s *Set) Bool(name string, value bool, usage string) *bool {
	p := new(bool)
	*p = value
	s.flags = append(s.flags, flagDef{name: name, b: p})
	return p
}

// VisitAll calls fn with the name of each defined flag, in lexical order:
// each time the least name after the last one visited. A command has a
// handful of flags, and only its help lists them; keeping the list in
// order as flags were defined was longer code (flash).
func (s *Set) VisitAll(fn func(name string)) {
	last := ""
	for range s.flags {
		next := ""
		for i := range s.flags {
			if n := s.flags[i].name; n > last && (next == "" || n < next) {
				next = n
			}
		}
		fn(next)
		last = next
	}
}

// Parse sets the flags from args, which do not include the command name,
// and keeps what follows them for Arg and NArg. The first problem is
// returned, worded as package flag words it.
func (s *Set) Parse(args []string) error {
	s.args = args
	for len(s.args) > 0 {
		a := s.args[0]
		if len(a) < 2 || a[0] != '-' {
			return nil
		}
		name := a[1:]
		if a[1] == '-' {
			if len(a) == 2 { // "--" ends the flags
				s.args = s.args[1:]
				return nil
			}
			name = a[2:]
		}
		if len(name) == 0 || name[0] == '-' || name[0] == '=' {
			return errors.New("bad flag syntax: " + a)
		}
		s.args = s.args[1:]
		value, hasValue := "", false
		for i := 1; i < len(name); i++ { // "=" cannot be first
			if name[i] == '=' {
				name, value, hasValue = name[:i], name[i+1:], true
				break
			}
		}
		var d *flagDef // the flag of that name (looked up here, the one caller: flash)
		for i := range s.flags {
			if s.flags[i].name == name {
				d = &s.flags[i]
				break
			}
		}
		switch {
		case d == nil && (name == "help" || name == "h"):
			return ErrHelp
		case d == nil:
			return errors.New("flag provided but not defined: -" + name)
		case d.b != nil && !hasValue:
			*d.b = true
		case d.b != nil:
			v, err := strconv.ParseBool(value)
			if err != nil {
				return errors.New("invalid boolean value " + strconv.Quote(value) + " for -" + name + ": parse error")
			}
			*d.b = v
		default:
			if !hasValue {
				if len(s.args) == 0 {
					return errors.New("flag needs an argument: -" + name)
				}
				value, s.args = s.args[0], s.args[1:]
			}
			*d.str = value
		}
	}
	return nil
}

// NArg is the number of arguments left after the flags.
func (s *Set) NArg() int { return len(s.args) }

// Arg is the i-th argument left after the flags ("" if there is none).
func (s *Set) Arg(i int) string {
	if i < 0 || i >= len(s.args) {
		return ""
	}
	return s.args[i]
}
