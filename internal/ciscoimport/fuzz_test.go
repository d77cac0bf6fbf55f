package ciscoimport

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tinyipsec/conf"
)

// FuzzConvert: any input converts without panic; the TOML it writes is
// always TOML (conf may refuse its content, never its syntax), and no
// note repeats the token after a "key" keyword.
func FuzzConvert(f *testing.F) {
	for _, n := range []string{"ios-branch.cfg", "asa-hq.cfg"} {
		data, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("crypto isakmp key \"\\\x01 address 1.1.1.1\ncrypto map M 1 ipsec-isakmp\n set peer 1.1.1.1\n match address A\n set transform-set T\naccess-list A extended permit ip any any\ncrypto ipsec transform-set T esp-gcm\n"))
	f.Add([]byte("object-group network G\n group-object G\n network-object object G\naccess-list A extended permit ip object-group G object-group G\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Convert(data, Options{PSKDir: "/nonexistent"})
		if err != nil {
			return
		}
		if _, err := conf.ParseTOML("fuzz.toml", res.TOML); err != nil {
			for _, e := range err.(conf.Errors) {
				if e.Line != 0 && e.Key == "" {
					t.Fatalf("invalid TOML syntax written: %v\n%s", e, res.TOML)
				}
			}
		}
		for _, n := range res.Notes {
			toks := strings.Fields(n.Text)
			for i, tok := range toks {
				if !strings.EqualFold(tok, "key") || i+1 >= len(toks) {
					continue
				}
				// What the importer adds after a line or a name is
				// no key: "(and N sub-lines)", an ACL's "(N entries)".
				added := strings.HasPrefix(toks[i+1], "(and") || i+2 < len(toks) && toks[i+2] == "entries)"
				if toks[i+1] != "<redacted>" && !added && !(len(toks[i+1]) == 1 && i+2 < len(toks) && toks[i+2] == "<redacted>") {
					t.Fatalf("note shows a key: %s", n)
				}
			}
		}
	})
}
