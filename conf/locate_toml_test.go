package conf

import (
	"testing"

	"github.com/BurntSushi/toml"
)

func TestLocateTOML(t *testing.T) {
	src := `# comment with [brackets] and key = "value"
top = 1
[global]
listen = [
  "192.0.2.1", # first
  # a comment line
  "192.0.2.2",
]
"quoted key" = 'x'
dotted.inner = 2
str = "a # not a comment [x]"
multi = """
fake = "line"
[fake]
"""
lit = '''
[[also_fake]]
'''

[[crypto_map]]
name = "a"
transform_set = ["t1",
   "t2"]

[ crypto_map . sub ]
x = 1

[[crypto_map]]
name = "b"
inline = { a = 1, b = { c = 2 }, d = [ { e = 3 } ] }

[transform_set."odd name"]
esp = "null"
[transform_set.plain]
mode = "tunnel"
arr = [[1, 2], [3,
4]]
date = 1979-05-27 07:32:00Z
after = true
`
	var tree map[string]any
	if _, err := toml.Decode(src, &tree); err != nil {
		t.Fatalf("test input is not valid TOML: %v", err)
	}
	l := locateTOML([]byte(src))
	want := map[string]int{
		"top":                            2,
		"global":                         3,
		"global.listen":                  4,
		"global.listen[0]":               5,
		"global.listen[1]":               7,
		`global."quoted key"`:            9,
		"global.dotted":                  10,
		"global.dotted.inner":            10,
		"global.str":                     11,
		"global.multi":                   12,
		"global.lit":                     16,
		"crypto_map":                     20,
		"crypto_map[0]":                  20,
		"crypto_map[0].name":             21,
		"crypto_map[0].transform_set[0]": 22,
		"crypto_map[0].transform_set[1]": 23,
		"crypto_map[0].sub":              25,
		"crypto_map[0].sub.x":            26,
		"crypto_map[1]":                  28,
		"crypto_map[1].name":             29,
		"crypto_map[1].inline.b.c":       30,
		"crypto_map[1].inline.d[0].e":    30,
		`transform_set."odd name"`:       32,
		`transform_set."odd name".esp`:   33,
		"transform_set.plain.mode":       35,
		"transform_set.plain.arr[1][1]":  37,
		"transform_set.plain.date":       38,
		"transform_set.plain.after":      39,
	}
	for k, line := range want {
		if got := l.lines[k]; got != line {
			t.Errorf("%s: line %d, want %d", k, got, line)
		}
	}
	for _, bad := range []string{"fake", "global.fake", "also_fake", "global.fake[0]"} {
		if _, ok := l.lines[bad]; ok {
			t.Errorf("%s: found a key inside a string", bad)
		}
	}
	// Missing keys fall back to the nearest ancestor.
	if line, key := l.locate(keyPath{"crypto_map", "[1]", "peer"}); line != 28 || key != "crypto_map[1].peer" {
		t.Errorf("fallback: %d %s", line, key)
	}
}

// The locator must survive anything, including text the decoder rejects.
func TestLocateTOMLGarbage(t *testing.T) {
	for _, s := range []string{"", "[", "[[", "a", "a =", `a = "`, "a = '''", `a = """\`, "a = [", "a = {", "a = [{", "[a.\"b", "= 1", "a = [1,,]", "\\"} {
		locateTOML([]byte(s))
	}
}
