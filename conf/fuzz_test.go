package conf

import (
	"os"
	"path/filepath"
	"testing"
)

func seedFiles(f *testing.F, names ...string) {
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// FuzzParseTOML: any input gives a Config or Errors, never a panic, and
// every error names the file.
func FuzzParseTOML(f *testing.F) {
	seedFiles(f, filepath.Join("..", "init", "tinyipsec.toml"), filepath.Join("testdata", "three_mistakes.toml"))
	f.Add([]byte(doc(tPolicy, tTS, tACL, tMap)))
	f.Add([]byte("a = [{b = \"\"\"\n[x]\"\"\"}]\n[[c]]\n[c.d]\ne.f = 1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseTOML("fuzz.toml", data)
		checkResult(t, c, err)
	})
}

// FuzzParseUCI is the same for the UCI bridge.
func FuzzParseUCI(f *testing.F) {
	seedFiles(f, filepath.Join("..", "init", "tinyipsec.config"))
	f.Add([]byte(uciBase))
	f.Add([]byte("config a 'b'\"c\"\\\n option x 'y'\\'z # c; list q ''"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseUCI("fuzz", data)
		checkResult(t, c, err)
	})
}

func checkResult(t *testing.T, c *Config, err error) {
	if (c == nil) == (err == nil) {
		t.Fatalf("config %v with error %v", c, err)
	}
	if err != nil {
		es, ok := err.(Errors)
		if !ok || len(es) == 0 {
			t.Fatalf("error is %T %v", err, err)
		}
		for _, e := range es {
			if e.File == "" || e.Msg == "" {
				t.Fatalf("incomplete error %#v", e)
			}
		}
		return
	}
	// What loads must also write and load back.
	var buf bytesBuffer
	if werr := WriteTOML(&buf, c); werr != nil {
		return // e.g. a UCI value that is not UTF-8
	}
	c2, err := ParseTOML("fuzz-out.toml", buf.b)
	if err != nil {
		t.Fatalf("WriteTOML output does not load: %v\n%s", err, buf.b)
	}
	if !c.Equal(c2) {
		t.Fatalf("WriteTOML output loads as a different model:\n%s", buf.b)
	}
}

type bytesBuffer struct{ b []byte }

func (w *bytesBuffer) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }
