// Package jsonenc writes JSON for the daemon's status report and control
// answers: the subset of encoding/json's Marshal that plain data needs
// (structs with `json:"name,omitempty"` tags, pointers, slices, arrays,
// maps with string keys, strings, booleans and integers), with
// byte-for-byte the same output as encoding/json for those types. Floats
// are refused: no report has one, and their formatting rules were code
// the router carried for nothing.
//
// It exists for flash size: encoding/json's encoder and decoder, their
// caches and sort instantiations cost about 130 KB of a MIPS router
// binary, this package a few KB. Adding a field to a status struct with a
// json tag needs no change here.
package jsonenc

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Marshal returns the compact JSON encoding of v, as json.Marshal does.
func Marshal(v any) ([]byte, error) {
	e := encoder{}
	if err := e.value(reflect.ValueOf(v), 0); err != nil {
		return nil, err
	}
	return e.buf, nil
}

// MarshalIndent is Marshal with each element on its own line, as
// json.MarshalIndent formats it.
func MarshalIndent(v any, prefix, indent string) ([]byte, error) {
	e := encoder{prefix: prefix, indent: indent, pretty: true}
	if err := e.value(reflect.ValueOf(v), 0); err != nil {
		return nil, err
	}
	return e.buf, nil
}

type encoder struct {
	buf            []byte
	prefix, indent string
	pretty         bool
	ptrDepth       int // pointers and interfaces followed: bounds a cycle
}

// maxDepth bounds the nesting, as a cycle through pointers would
// otherwise never end.
const maxDepth = 64

// raw appends s: every piece of output goes through this one append site
// instead of an append at each (flash).
func (e *encoder) raw(s string) { e.buf = append(e.buf, s...) }

func (e *encoder) newline(depth int) {
	if !e.pretty {
		return
	}
	e.raw("\n")
	e.raw(e.prefix)
	for range depth {
		e.raw(e.indent)
	}
}

func (e *encoder) value(v reflect.Value, depth int) error {
	if depth+e.ptrDepth > maxDepth {
		// Made here, not in a package variable: errors.New at package
		// level is code run at start (flash).
		return errors.New("jsonenc: value nested too deeply (cycle?)")
	}
	if !v.IsValid() {
		e.raw("null")
		return nil
	}
	switch v.Kind() {
	case reflect.Bool:
		if v.Bool() { // not strconv.AppendBool, linked for nothing else (flash)
			e.raw("true")
		} else {
			e.raw("false")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.buf = strconv.AppendInt(e.buf, v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.buf = strconv.AppendUint(e.buf, v.Uint(), 10)
	case reflect.String:
		e.str(v.String())
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			e.raw("null")
			return nil
		}
		e.ptrDepth++
		err := e.value(v.Elem(), depth)
		e.ptrDepth--
		return err
	case reflect.Slice, reflect.Map:
		if v.IsNil() {
			e.raw("null")
			return nil
		}
		return e.container(v, depth)
	case reflect.Array, reflect.Struct:
		return e.container(v, depth)
	default:
		return errors.New("jsonenc: unsupported type " + v.Type().String())
	}
	return nil
}

// container writes an array or slice, a map or a struct: its elements
// are gathered first (a struct's or map's with their keys), then written
// by one loop, rather than by a writer for each kind with the same loop
// (flash). An error found while gathering comes before the elements are
// written; a failed Marshal returns no output either way.
func (e *encoder) container(v reflect.Value, depth int) error {
	var keys []string // nil for an array
	var vals []reflect.Value
	t := v.Type()
	switch v.Kind() {
	case reflect.Map:
		// In sorted key order, as encoding/json writes it, so the output
		// is stable. The values are kept beside their key strings:
		// looking them up again with MapIndex would need the key
		// converted to the map's key type, and reflect.Value.Convert
		// links every conversion reflect knows. Each pair is inserted at
		// its sorted place as it is read (the maps are a few dozen
		// counters): no map of values and no sort call (flash). Map keys
		// are distinct, so the order is total.
		if t.Key().Kind() != reflect.String {
			return errors.New("jsonenc: map key type " + t.Key().String() + " is not supported")
		}
		n := v.Len()
		keys = make([]string, n)
		vals = make([]reflect.Value, n)
		i := 0
		for it := v.MapRange(); i < n && it.Next(); i++ {
			k, j := it.Key().String(), i
			for ; j > 0 && keys[j-1] > k; j-- {
				keys[j], vals[j] = keys[j-1], vals[j-1]
			}
			keys[j], vals[j] = k, it.Value()
		}
		keys, vals = keys[:i], vals[:i]
	case reflect.Struct:
		// The exported fields in declaration order under their json tag
		// names; "-" skips a field, omitempty skips an empty one.
		// Embedded structs are not flattened: the status types have
		// none, and a field that needs it is rejected rather than
		// written differently from encoding/json.
		keys = []string{}
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			if f.Anonymous {
				return errors.New("jsonenc: embedded field " + t.String() + "." + f.Name + " is not supported")
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" && opts == "" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fv := v.Field(i)
			if hasOption(opts, "omitempty") {
				// encoding/json's notion of empty.
				empty := false
				switch fv.Kind() {
				case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
					empty = fv.Len() == 0
				case reflect.Bool:
					empty = !fv.Bool()
				case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
					empty = fv.Int() == 0
				case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
					empty = fv.Uint() == 0
				case reflect.Interface, reflect.Pointer:
					empty = fv.IsNil()
				}
				if empty {
					continue
				}
			}
			if hasOption(opts, "string") {
				return errors.New("jsonenc: the ,string option is not supported")
			}
			keys = append(keys, name)
			vals = append(vals, fv)
		}
	default:
		if v.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			return errors.New("jsonenc: []byte is not supported")
		}
		for i := range v.Len() {
			vals = append(vals, v.Index(i))
		}
	}
	opening, closing := "{", "}"
	if keys == nil {
		opening, closing = "[", "]"
	}
	if len(vals) == 0 {
		e.raw(opening + closing)
		return nil
	}
	e.raw(opening)
	for i, x := range vals {
		if i > 0 {
			e.raw(",")
		}
		e.newline(depth + 1)
		if keys != nil {
			e.str(keys[i])
			e.raw(":")
			if e.pretty {
				e.raw(" ")
			}
		}
		if err := e.value(x, depth+1); err != nil {
			return err
		}
	}
	e.newline(depth)
	e.raw(closing)
	return nil
}

func hasOption(opts, want string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == want {
			return true
		}
	}
	return false
}

const hexDigits = "0123456789abcdef"

// str writes s as a JSON string with encoding/json's default escaping:
// control characters, quote and backslash, the HTML-sensitive <, > and &,
// U+2028 and U+2029; invalid UTF-8 becomes U+FFFD. Every escape but the
// two-character ones is \uXXXX of a code point, written by one append.
func (e *encoder) str(s string) {
	e.raw(`"`)
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		code, size := rune(b), 1
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			if k := strings.IndexByte("\\\"\b\f\n\r\t", b); k >= 0 {
				e.raw(s[start:i])
				e.raw(`\`)
				e.raw(`\"bfnrt`[k : k+1])
				i++
				start = i
				continue
			}
		} else {
			code, size = utf8.DecodeRuneInString(s[i:])
			if (code != utf8.RuneError || size != 1) && code != '\u2028' && code != '\u2029' {
				i += size
				continue
			}
		}
		e.raw(s[start:i])
		e.buf = append(e.buf, '\\', 'u', hexDigits[code>>12&0xf], hexDigits[code>>8&0xf], hexDigits[code>>4&0xf], hexDigits[code&0xf])
		i += size
		start = i
	}
	e.raw(s[start:])
	e.raw(`"`)
}
