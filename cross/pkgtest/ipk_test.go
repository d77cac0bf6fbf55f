package pkgtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
)

// entry is one member of a tar archive.
type entry struct {
	hdr  *tar.Header
	data []byte
}

// readTarGz returns the members of a gzip-compressed tar in archive order.
func readTarGz(t *testing.T, what string, b []byte) []entry {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: not gzip: %v", what, err)
	}
	tr := tar.NewReader(zr)
	var out []entry
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("%s: %s: %v", what, h.Name, err)
		}
		out = append(out, entry{h, data})
	}
	return out
}

func gunzippedSize(t *testing.T, b []byte) int64 {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, zr)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func names(es []entry) []string {
	var n []string
	for _, e := range es {
		n = append(n, e.hdr.Name)
	}
	return n
}

func member(t *testing.T, es []entry, name string) entry {
	t.Helper()
	for _, e := range es {
		if e.hdr.Name == name {
			return e
		}
	}
	t.Fatalf("no member %s in %v", name, names(es))
	return entry{}
}

// ipkg is an unpacked .ipk.
type ipkg struct {
	outer, control, data []entry
	fields               map[string]string
	fieldOrder           []string
}

func openIPK(t *testing.T, path string) *ipkg {
	t.Helper()
	b := readFile(t, path)
	p := &ipkg{outer: readTarGz(t, path, b)}
	p.control = readTarGz(t, "control.tar.gz", member(t, p.outer, "./control.tar.gz").data)
	p.data = readTarGz(t, "data.tar.gz", member(t, p.outer, "./data.tar.gz").data)
	p.fields = map[string]string{}
	var last string
	for _, line := range strings.Split(string(member(t, p.control, "./control").data), "\n") {
		switch {
		case line == "":
		case line[0] == ' ':
			p.fields[last] += "\n" + line[1:]
		default:
			k, v, ok := strings.Cut(line, ": ")
			if !ok {
				t.Fatalf("control: bad line %q", line)
			}
			if _, dup := p.fields[k]; dup {
				t.Errorf("control: %s twice", k)
			}
			p.fields[k], last = v, k
			p.fieldOrder = append(p.fieldOrder, k)
		}
	}
	return p
}

// wantFile is one path of the data archive and its mode.
type wantFile struct {
	path string
	mode int64
	dir  bool
}

// The installed tree. Configuration files are 0600 and /etc/tinyipsec 0700
// because they hold pre-shared and manual keys.
var dataTree = []wantFile{
	{"./", 0o755, true},
	{"./etc/", 0o755, true},
	{"./etc/config/", 0o755, true},
	{"./etc/config/tinyipsec", 0o600, false},
	{"./etc/init.d/", 0o755, true},
	{"./etc/init.d/tinyipsec", 0o755, false},
	{"./etc/tinyipsec/", 0o700, true},
	{"./etc/tinyipsec/tinyipsec.toml", 0o600, false},
	{"./usr/", 0o755, true},
	{"./usr/libexec/", 0o755, true},
	{"./usr/libexec/rpcd/", 0o755, true},
	{"./usr/libexec/rpcd/tinyipsec", 0o755, false},
	{"./usr/sbin/", 0o755, true},
	{"./usr/sbin/tinyipsec", 0o755, false},
	{"./usr/share/", 0o755, true},
	{"./usr/share/rpcd/", 0o755, true},
	{"./usr/share/rpcd/acl.d/", 0o755, true},
	{"./usr/share/rpcd/acl.d/tinyipsec.json", 0o644, false},
}

// Where each shipped file comes from in the repository ("" = the binary).
var dataSource = map[string]string{
	"./etc/config/tinyipsec":                "init/tinyipsec.config",
	"./etc/init.d/tinyipsec":                "init/tinyipsec.init",
	"./etc/tinyipsec/tinyipsec.toml":        "init/tinyipsec.toml",
	"./usr/libexec/rpcd/tinyipsec":          "init/rpcd/tinyipsec",
	"./usr/sbin/tinyipsec":                  "",
	"./usr/share/rpcd/acl.d/tinyipsec.json": "init/rpcd/tinyipsec.json",
}

func TestIPKStructure(t *testing.T) {
	root := repoRoot(t)
	forEachTarget(t, func(t *testing.T, tg target) {
		p := openIPK(t, tg.ipk(t))
		_, version := artifacts(t)

		// Outer archive: OpenWrt's tar.gz, fixed member order.
		if got, want := strings.Join(names(p.outer), " "), "./debian-binary ./control.tar.gz ./data.tar.gz"; got != want {
			t.Errorf("outer members %q, want %q", got, want)
		}
		if got := string(member(t, p.outer, "./debian-binary").data); got != "2.0\n" {
			t.Errorf("debian-binary = %q", got)
		}
		for _, arch := range [][]entry{p.outer, p.control, p.data} {
			for _, e := range arch {
				if e.hdr.Uid != 0 || e.hdr.Gid != 0 || e.hdr.Uname != "" || e.hdr.Gname != "" {
					t.Errorf("%s: owner %d:%d (%q:%q), want numeric 0:0", e.hdr.Name, e.hdr.Uid, e.hdr.Gid, e.hdr.Uname, e.hdr.Gname)
				}
			}
		}

		// control
		want := map[string]string{
			"Package":      "tinyipsec",
			"Version":      version,
			"Depends":      "libc, kmod-tun",
			"Section":      "net",
			"License":      "MIT",
			"Architecture": tg.arch,
		}
		for k, v := range want {
			if p.fields[k] != v {
				t.Errorf("control %s = %q, want %q", k, p.fields[k], v)
			}
		}
		for _, k := range []string{"Source", "Maintainer", "Description", "Installed-Size", "SourceDateEpoch"} {
			if p.fields[k] == "" {
				t.Errorf("control has no %s", k)
			}
		}
		if p.fieldOrder[0] != "Package" || p.fieldOrder[len(p.fieldOrder)-1] != "Description" {
			t.Errorf("control must start with Package and end with Description: %v", p.fieldOrder)
		}
		// OpenWrt's ipkg-build: the size of the uncompressed data.tar.
		size := gunzippedSize(t, member(t, p.outer, "./data.tar.gz").data)
		if got := p.fields["Installed-Size"]; got != strconv.FormatInt(size, 10) {
			t.Errorf("Installed-Size %s, data.tar is %d bytes", got, size)
		}

		if got := string(member(t, p.control, "./conffiles").data); got != "/etc/config/tinyipsec\n/etc/tinyipsec/tinyipsec.toml\n" {
			t.Errorf("conffiles = %q", got)
		}
		for _, s := range []string{"./postinst", "./prerm"} {
			e := member(t, p.control, s)
			if e.hdr.Mode&0o777 != 0o755 || !bytes.HasPrefix(e.data, []byte("#!/bin/sh\n")) {
				t.Errorf("%s: mode %o, must be an executable /bin/sh script", s, e.hdr.Mode)
			}
		}

		// data: exactly the expected tree, modes, and content.
		if len(p.data) != len(dataTree) {
			t.Errorf("data members:\n%s", strings.Join(names(p.data), "\n"))
		}
		for _, w := range dataTree {
			e := member(t, p.data, w.path)
			if e.hdr.Mode&0o7777 != w.mode {
				t.Errorf("%s: mode %o, want %o", w.path, e.hdr.Mode&0o7777, w.mode)
			}
			if isDir := e.hdr.Typeflag == tar.TypeDir; isDir != w.dir {
				t.Errorf("%s: directory=%v, want %v", w.path, isDir, w.dir)
			}
			if w.dir {
				continue
			}
			src := tg.binary(t)
			if rel := dataSource[w.path]; rel != "" {
				src = root + "/" + rel
			}
			b := readFile(t, src)
			if !bytes.Equal(b, e.data) {
				t.Errorf("%s differs from %s", w.path, src)
			}
		}
	})
}
