package conf

import (
	"os"
	"path/filepath"
	"testing"
)

func benchmarkParse(b *testing.B, file string) {
	data, err := os.ReadFile(filepath.Join("..", "init", file))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(file, data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseTOML(b *testing.B) { benchmarkParse(b, "tinyipsec.toml") }
func BenchmarkParseUCI(b *testing.B)  { benchmarkParse(b, "tinyipsec.config") }
