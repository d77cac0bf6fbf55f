package conf

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestThreeMistakes(t *testing.T) {
	path := filepath.Join("testdata", "three_mistakes.toml")
	_, err := Load(path)
	if err == nil {
		t.Fatal("loaded a broken file")
	}
	want := []string{
		path + `:8: isakmp_policy[0].hash: weak hash "md5"; set allow_weak = true to permit it`,
		path + `:18: acl.a1.rules[1]: `,
		path + `:35: crypto_map[1].transform_set[1]: unknown transform set "ts-foo"`,
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("error %d:\n got %s\nwant %s...", i, lines[i], w)
		}
	}
	t.Log(err)
}

func TestErrorFormat(t *testing.T) {
	es := Errors{
		{File: "a.toml", Line: 3, Key: "global.mtu", Msg: "bad"},
		{File: "a.toml", Key: "crypto_map", Msg: "missing"},
		{File: "a.toml", Msg: "cannot read"},
	}
	want := "a.toml:3: global.mtu: bad\na.toml: crypto_map: missing\na.toml: cannot read"
	if es.Error() != want {
		t.Fatalf("got\n%s\nwant\n%s", es.Error(), want)
	}
}

func TestTOMLSyntaxError(t *testing.T) {
	es := mustErrors(t, "x.toml", "[global]\nmtu = 1400\nlog_level = \"info\n")
	if len(es) != 1 || es[0].Line != 3 || es[0].File != "x.toml" {
		t.Fatalf("%#v", es)
	}
	es = mustErrors(t, "x.toml", "[global]\nmtu = 1\nmtu = 2\n")
	if es[0].Line != 3 {
		t.Fatalf("duplicate key: %v", es)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.toml"))
	if err == nil || !strings.Contains(err.Error(), "none.toml: cannot read") {
		t.Fatalf("%v", err)
	}
}
