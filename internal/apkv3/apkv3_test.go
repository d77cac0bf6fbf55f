package apkv3

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func testPackage() *Package {
	return &Package{
		Name: "tinyipsec", Version: "1.2.3_p4~abc123-r1", Arch: "mipsel_24kc",
		Description: "IPsec VPN", License: "MIT", Origin: "net/tinyipsec", Maintainer: "m",
		BuildTime: 1735689600,
		Depends:   []string{"libc", "kmod-tun", "libc"},
		Files: []File{
			{Path: "/usr/sbin/tinyipsec", Mode: 0o755, Data: bytes.Repeat([]byte{0x7f, 'E', 'L', 'F'}, 100000)},
			{Path: "/etc/config/tinyipsec", Mode: 0o600, Data: []byte("config global\n")},
			{Path: "/etc/tinyipsec/tinyipsec.toml", Mode: 0o600, Data: []byte("[global]\n")},
			{Path: "/etc/init.d/tinyipsec", Mode: 0o755, Data: []byte("#!/bin/sh /etc/rc.common\n")},
			{Path: "/etc/init.d/empty", Mode: 0o644},
		},
		DirModes: map[string]uint32{"etc/tinyipsec": 0o700},
		Scripts:  map[string]string{"post-install": "#!/bin/sh\necho hi\n", "pre-deinstall": "#!/bin/sh\n"},
	}
}

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	if err := testPackage().Write(&buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("ADBd")) {
		t.Fatalf("magic %q", buf.Bytes()[:4])
	}
	p, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !p.Compressed || p.Name != "tinyipsec" || p.Version != "1.2.3_p4~abc123-r1" || p.Arch != "mipsel_24kc" ||
		p.License != "MIT" || p.Origin != "net/tinyipsec" || p.Maintainer != "m" || p.Description != "IPsec VPN" ||
		p.BuildTime != 1735689600 || p.Signatures != 0 {
		t.Errorf("info: %+v", p)
	}
	if !reflect.DeepEqual(p.Depends, []string{"kmod-tun", "libc"}) {
		t.Errorf("depends %q", p.Depends)
	}
	if p.InstalledSize != 400000+14+9+25 {
		t.Errorf("installed-size %d", p.InstalledSize)
	}
	var names []string
	for _, d := range p.Dirs {
		names = append(names, d.Name)
		if d.User != "root" || d.Group != "root" {
			t.Errorf("%s: owner %s:%s", d.Name, d.User, d.Group)
		}
		if want := map[bool]uint64{true: 0o700, false: 0o755}[d.Name == "etc/tinyipsec"]; d.Mode != want {
			t.Errorf("%s: mode %o", d.Name, d.Mode)
		}
	}
	if want := []string{"", "etc", "etc/config", "etc/init.d", "etc/tinyipsec", "usr", "usr/sbin"}; !reflect.DeepEqual(names, want) {
		t.Errorf("paths %q, want %q", names, want)
	}
	initd := p.Dirs[3]
	if len(initd.Files) != 2 || initd.Files[0].Name != "empty" || initd.Files[1].Name != "tinyipsec" || initd.Files[1].Mode != 0o755 || initd.Files[0].Size != 0 {
		t.Errorf("init.d files %+v", initd.Files)
	}
	bin := p.Dirs[6].Files[0]
	if bin.Name != "tinyipsec" || bin.Size != 400000 || bin.MTime != 1735689600 || !bytes.Equal(bin.Data, testPackage().Files[0].Data) {
		t.Errorf("binary %s %d %d", bin.Name, bin.Size, bin.MTime)
	}
	if p.Scripts["post-install"] != "#!/bin/sh\necho hi\n" || p.Scripts["pre-deinstall"] != "#!/bin/sh\n" || len(p.Scripts) != 2 {
		t.Errorf("scripts %q", p.Scripts)
	}
	// The same input gives the same bytes: packages are reproducible.
	var again bytes.Buffer
	testPackage().Write(&again)
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("two writes differ")
	}
}

// Another deflate encoder (mkapk uses zopfli when installed) gives a
// package that parses to the same content; a failing encoder fails Write.
func TestWriteWithDeflater(t *testing.T) {
	var def, fast bytes.Buffer
	if err := testPackage().Write(&def); err != nil {
		t.Fatal(err)
	}
	fastest := func(dst io.Writer, src []byte) error {
		zw, _ := flate.NewWriter(dst, flate.BestSpeed)
		zw.Write(src)
		return zw.Close()
	}
	if err := testPackage().WriteWith(&fast, fastest); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(def.Bytes(), fast.Bytes()) {
		t.Fatal("the encoder given was not used")
	}
	a, err := Parse(def.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse(fast.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("packages differ:\n%+v\n%+v", a, b)
	}
	boom := errors.New("boom")
	if err := testPackage().WriteWith(&bytes.Buffer{}, func(io.Writer, []byte) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("encoder error lost: %v", err)
	}
}

func plain(t *testing.T) []byte {
	var buf bytes.Buffer
	if err := testPackage().writePlain(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Every rule Parse enforces fails on a package that breaks it.
func TestParseRejects(t *testing.T) {
	good := plain(t)
	if _, err := Parse(good); err != nil {
		t.Fatalf("uncompressed: %v", err)
	}
	adbLen := int(binary.LittleEndian.Uint32(good[8:])&0x3fffffff) - 4
	adbStart := 12
	mut := func(name string, f func(b []byte) []byte, want string) {
		t.Helper()
		b := f(bytes.Clone(good))
		if _, err := Parse(b); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want %q", name, err, want)
		}
	}
	mut("magic", func(b []byte) []byte { b[3] = 'x'; return b }, "magic")
	mut("schema", func(b []byte) []byte { b[4] = 'x'; return b }, "schema")
	mut("compat", func(b []byte) []byte { b[adbStart] = 1; return b }, "compat")
	mut("truncated", func(b []byte) []byte { return b[:len(b)-9] }, "out of bounds")
	mut("data flipped", func(b []byte) []byte { b[len(b)-20] ^= 1; return b }, "SHA-256")
	mut("adb flipped", func(b []byte) []byte {
		// the description text: changes the unique id's input
		i := bytes.Index(b[adbStart:adbStart+adbLen], []byte("IPsec VPN"))
		b[adbStart+i] = 'X'
		return b
	}, "unique id")
	mut("root out of bounds", func(b []byte) []byte {
		binary.LittleEndian.PutUint32(b[adbStart+4:], 0xe0000000|uint32(adbLen+100))
		return b
	}, "outside the ADB block")
	mut("no data", func(b []byte) []byte { return b[:adbStart+(adbLen+4+7)/8*8-4] }, "")
	mut("extra data", func(b []byte) []byte {
		var extra bytes.Buffer
		writeBlock(&extra, blockData, make([]byte, 12))
		return append(b, extra.Bytes()...)
	}, "DATA block")
	mut("second ADB", func(b []byte) []byte {
		var extra bytes.Buffer
		writeBlock(&extra, blockADB, make([]byte, 12))
		return append(b, extra.Bytes()...)
	}, "out of order")
}

func TestWriteRejects(t *testing.T) {
	for name, f := range map[string]func(p *Package){
		"version":   func(p *Package) { p.Version = "0.1.0+gabc-1" },
		"name":      func(p *Package) { p.Name = "-x" },
		"dep":       func(p *Package) { p.Depends = []string{"a b"} },
		"path":      func(p *Package) { p.Files[0].Path = "usr/sbin/x" },
		"duplicate": func(p *Package) { p.Files[1].Path = p.Files[0].Path },
		"script":    func(p *Package) { p.Scripts = map[string]string{"postinst": "x"} },
		"arch":      func(p *Package) { p.Arch = "" },
	} {
		p := testPackage()
		f(p)
		if err := p.Write(&bytes.Buffer{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestValidVersion(t *testing.T) {
	for _, v := range []string{"1", "1.2.3", "1.2.3a", "1.2.3_rc1", "1.2_alpha_p2", "0.1.0~abc123", "0.1.0_p4~abc123-r1", "25.12.0-r0", "1.0-r10"} {
		if !ValidVersion(v) {
			t.Errorf("%q rejected", v)
		}
	}
	for _, v := range []string{"", "v1", "1.", "1..2", "1.2-1", "1.2_foo", "0.1.0+g123-1", "1~", "1~xyz", "1-r", "1.2.3ab", "1-r1-r2", "1~ab~cd"} {
		if ValidVersion(v) {
			t.Errorf("%q accepted", v)
		}
	}
}

// A parser of untrusted bytes never panics and never allocates without
// bound.
func FuzzParse(f *testing.F) {
	var buf bytes.Buffer
	testPackage().writePlain(&buf)
	f.Add(buf.Bytes())
	buf.Reset()
	testPackage().Write(&buf)
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		Parse(b)
	})
}
