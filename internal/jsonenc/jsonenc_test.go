package jsonenc

import (
	"encoding/json"
	"math"
	"testing"
)

type inner struct {
	Name  string            `json:"name"`
	Count uint64            `json:"count,omitempty"`
	Drops map[string]uint64 `json:"drops"`
	List  []string          `json:"list,omitempty"`
}

type named string

type outer struct {
	Version  string           `json:"version"`
	UptimeS  int64            `json:"uptime_s"`
	Up       bool             `json:"up"`
	Group    int              `json:"group"`
	Items    []inner          `json:"items"`
	Nil      []inner          `json:"nil_items"`
	Ptr      *inner           `json:"ptr"`
	NilPtr   *inner           `json:"nil_ptr"`
	Any      any              `json:"any"`
	Skip     string           `json:"-"`
	NoTag    string           // field name as key
	Named    map[named]int8   `json:"named,omitempty"`
	Arr      [2]uint16        `json:"arr"`
	Omit     map[string]int   `json:"omit,omitempty"`
	OmitB    bool             `json:"omit_b,omitempty"`
	Empty    map[string]int   `json:"empty"`
	private  int              //nolint:unused // must not appear
	Iface    map[string]any   `json:"iface"`
	Neg      int32            `json:"neg"`
	Big      uint64           `json:"big"`
	Strs     []string         `json:"strs"`
	EmptyArr []int            `json:"empty_arr"`
	Nested   map[string][]int `json:"nested"`
}

func sample() outer {
	return outer{
		Version: "v1.2 <&> \"quoted\" \\ \n\t\r\b\f \x01 \u2028 \u2029 é ☃ \xff end",
		UptimeS: 12345,
		Up:      true,
		Group:   14,
		Items: []inner{
			{Name: "a", Count: 3, Drops: map[string]uint64{"replay": 2, "auth": 1, "": 0}},
			{Name: "b", Drops: nil, List: []string{"x", "y"}},
		},
		Ptr:      &inner{Name: "p"},
		Any:      map[string]any{"k": []any{1, "two", true, nil, -2}},
		Skip:     "secret",
		NoTag:    "plain",
		Named:    map[named]int8{"z": -1, "a": 1},
		Arr:      [2]uint16{1, 65535},
		Empty:    map[string]int{},
		private:  7,
		Iface:    map[string]any{"n": nil},
		Neg:      -42,
		Big:      math.MaxUint64,
		Strs:     []string{},
		EmptyArr: []int{},
		Nested:   map[string][]int{"b": {2}, "a": {1, 1}},
	}
}

// The output must be what encoding/json writes, compact and indented,
// because scripts and the rpcd plugin read it.
func TestMatchesEncodingJSON(t *testing.T) {
	values := []any{
		sample(), &struct{}{}, []int(nil), map[string]int(nil), nil, "s", 0, -1,
		[]outer{sample(), {}},
	}
	for i, v := range values {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Marshal(v)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if string(got) != string(want) {
			t.Errorf("%d: compact\n got %s\nwant %s", i, got, want)
		}
		want, _ = json.MarshalIndent(v, "", "  ")
		got, err = MarshalIndent(v, "", "  ")
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if string(got) != string(want) {
			t.Errorf("%d: indented\n got %s\nwant %s", i, got, want)
		}
	}
}

func TestUnsupported(t *testing.T) {
	type cyc struct {
		Next *cyc `json:"next"`
	}
	c := &cyc{}
	c.Next = c
	for _, v := range []any{make(chan int), 1.5, float32(0), math.NaN(), map[int]int{1: 1}, []byte("x"), c, func() {}} {
		if _, err := Marshal(v); err == nil {
			t.Errorf("%T: no error", v)
		}
	}
}

// Strings are where hand-written escaping goes wrong: any byte sequence
// must come out as encoding/json writes it.
func FuzzString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\x00\x1f\x7f", "<script>&", "\u2028\u2029", "\xff\xfe", "é\xc3", "\U0001F600"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(map[string]string{s: s})
		got, err := Marshal(map[string]string{s: s})
		if err != nil || string(got) != string(want) {
			t.Fatalf("%q: got %s (%v), want %s", s, got, err, want)
		}
	})
}
