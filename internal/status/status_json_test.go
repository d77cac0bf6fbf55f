package status

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// fill sets every field reachable from v to a non-zero value (two
// elements per slice and map), so a field someone adds to the status
// report is covered without touching this test.
func fill(v reflect.Value, n int) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("s<" + string(rune('a'+n)) + ">\"")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(-1 - n))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(1 + n))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5 + float64(n))
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(s.Index(i), n+i)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for i := range 2 {
			k := reflect.New(v.Type().Key()).Elem()
			fill(k, n+i)
			e := reflect.New(v.Type().Elem()).Elem()
			fill(e, n+i)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n+i)
			}
		}
	}
}

// `status --json` is read by scripts and the rpcd plugin: the small
// encoder the daemon uses must write what encoding/json would, for every
// field of the report, filled or empty.
func TestStatusJSONMatchesEncodingJSON(t *testing.T) {
	var full Report
	fill(reflect.ValueOf(&full).Elem(), 0)
	for _, r := range []*Report{&full, {}} {
		var got bytes.Buffer
		if err := WriteJSON(&got, r); err != nil {
			t.Fatal(err)
		}
		want, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != string(want)+"\n" {
			t.Errorf("status JSON differs from encoding/json:\n got %s\nwant %s", got.String(), want)
		}
	}
}
