package conf

import (
	"bytes"
	"path/filepath"
	"testing"
)

func TestExampleTOMLLoads(t *testing.T) {
	c, err := Load(filepath.Join("..", "init", "tinyipsec.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.CryptoMaps) != 1 || len(c.Policies) != 2 || len(c.TransformSets) != 2 {
		t.Fatalf("unexpected model: %+v", c)
	}
	u, err := Load(filepath.Join("..", "init", "tinyipsec.config"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	WriteTOML(&buf, u)
	t.Log(buf.String())
}
