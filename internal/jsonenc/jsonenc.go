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
		if v.Kind() == reflect.Map {
			return e.object(v, depth)
		}
		return e.array(v, depth)
	case reflect.Array:
		return e.array(v, depth)
	case reflect.Struct:
		return e.structure(v, depth)
	default:
		return errors.New("jsonenc: unsupported type " + v.Type().String())
	}
	return nil
}

func (e *encoder) array(v reflect.Value, depth int) error {
	if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
		return errors.New("jsonenc: []byte is not supported")
	}
	n := v.Len()
	if n == 0 {
		e.raw("[]")
		return nil
	}
	e.raw("[")
	for i := range n {
		if i > 0 {
			e.raw(",")
		}
		e.newline(depth + 1)
		if err := e.value(v.Index(i), depth+1); err != nil {
			return err
		}
	}
	e.newline(depth)
	e.raw("]")
	return nil
}

// object writes a map with string keys in sorted key order, as
// encoding/json does, so the output is stable.
func (e *encoder) object(v reflect.Value, depth int) error {
	if v.Type().Key().Kind() != reflect.String {
		return errors.New("jsonenc: map key type " + v.Type().Key().String() + " is not supported")
	}
	// The values are kept beside their key strings: looking them up
	// again with MapIndex would need the key converted to the map's key
	// type, and reflect.Value.Convert links every conversion reflect
	// knows. Each pair is inserted at its sorted place as it is read (the
	// maps are a few dozen counters): no map of values and no sort call
	// (flash). Map keys are distinct, so the order is total.
	n := v.Len()
	keys := make([]string, n)
	vals := make([]reflect.Value, n)
	i := 0
	for it := v.MapRange(); i < n && it.Next(); i++ {
		k, j := it.Key().String(), i
		for ; j > 0 && keys[j-1] > k; j-- {
			keys[j], vals[j] = keys[j-1], vals[j-1]
		}
		keys[j], vals[j] = k, it.Value()
	}
	if i == 0 {
		e.raw("{}")
		return nil
	}
	e.raw("{")
	for j := range i {
		if j > 0 {
			e.raw(",")
		}
		e.newline(depth + 1)
		e.key(keys[j])
		if err := e.value(vals[j], depth+1); err != nil {
			return err
		}
	}
	e.newline(depth)
	e.raw("}")
	return nil
}

func (e *encoder) key(k string) {
	e.str(k)
	e.raw(":")
	if e.pretty {
		e.raw(" ")
	}
}

// structure writes the exported fields in declaration order under their
// json tag names; "-" skips a field, omitempty skips an empty one.
// Embedded structs are not flattened: the status types have none, and a
// field that needs it is rejected rather than written differently from
// encoding/json.
func (e *encoder) structure(v reflect.Value, depth int) error {
	t := v.Type()
	first := true
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
		if first {
			e.raw("{")
			first = false
		} else {
			e.raw(",")
		}
		e.newline(depth + 1)
		e.key(name)
		if hasOption(opts, "string") {
			return errors.New("jsonenc: the ,string option is not supported")
		}
		if err := e.value(fv, depth+1); err != nil {
			return err
		}
	}
	if first {
		e.raw("{}")
		return nil
	}
	e.newline(depth)
	e.raw("}")
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
