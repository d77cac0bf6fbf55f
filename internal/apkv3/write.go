package apkv3

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
)

// Package is what goes into one .apk.
type Package struct {
	Name        string
	Version     string // apk syntax, e.g. 1.2.3-r1 (see ValidVersion)
	Arch        string // the OpenWrt package architecture, e.g. mipsel_24kc
	Description string
	License     string
	Origin      string
	Maintainer  string
	URL         string
	BuildTime   int64    // also every file's mtime (SOURCE_DATE_EPOCH)
	Depends     []string // package names
	Files       []File
	// DirModes overrides the mode of a directory (path without leading
	// slash); every other directory is 0755. All entries belong to root.
	DirModes map[string]uint32
	// Scripts maps a name of ScriptNames to the script's text.
	Scripts map[string]string
}

// File is a regular file of the package.
type File struct {
	Path string // absolute, e.g. /usr/sbin/tinyipsec
	Mode uint32 // permission bits
	Data []byte
}

// dir is one entry of the paths array, with its files sorted by name.
type dir struct {
	name  string
	mode  uint32
	files []File
}

// layout groups the files by directory in the order apk keeps them:
// directories sorted by name (every parent present, the root as ""), files
// sorted by name within each.
func (p *Package) layout() ([]dir, error) {
	byName := map[string]*dir{"": {name: "", mode: 0o755}}
	var add func(name string)
	add = func(name string) {
		if _, ok := byName[name]; ok {
			return
		}
		mode := uint32(0o755)
		if m, ok := p.DirModes[name]; ok {
			mode = m
		}
		byName[name] = &dir{name: name, mode: mode}
		if i := strings.LastIndexByte(name, '/'); i > 0 {
			add(name[:i])
		} else {
			add("")
		}
	}
	seen := map[string]bool{}
	for _, f := range p.Files {
		if !strings.HasPrefix(f.Path, "/") || path.Clean(f.Path) != f.Path || f.Path == "/" {
			return nil, fmt.Errorf("apkv3: file path %q must be absolute and clean", f.Path)
		}
		if seen[f.Path] {
			return nil, fmt.Errorf("apkv3: file %s listed twice", f.Path)
		}
		seen[f.Path] = true
		d := strings.TrimPrefix(path.Dir(f.Path), "/")
		add(d)
		byName[d].files = append(byName[d].files, f)
	}
	for name := range p.DirModes {
		add(name)
	}
	out := make([]dir, 0, len(byName))
	for _, d := range byName {
		slices.SortFunc(d.files, func(a, b File) int { return strings.Compare(path.Base(a.Path), path.Base(b.Path)) })
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b dir) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

// adbWriter appends values to an ADB payload.
type adbWriter struct {
	buf []byte
}

func newADB() *adbWriter {
	return &adbWriter{buf: make([]byte, 8, 4096)} // header; root patched in at the end
}

func (w *adbWriter) align(n int) {
	for len(w.buf)%n != 0 {
		w.buf = append(w.buf, 0)
	}
}

func val(typ, v uint32) uint32 { return typ<<28 | v }

func (w *adbWriter) offset() uint32 {
	if len(w.buf) > valueMask {
		panic("apkv3: ADB block over 256 MiB")
	}
	return uint32(len(w.buf))
}

func (w *adbWriter) int(n uint64) uint32 {
	switch {
	case n < 1<<28:
		return val(typeInt, uint32(n))
	case n < 1<<32:
		w.align(4)
		o := w.offset()
		w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(n))
		return val(typeInt32, o)
	default:
		w.align(4)
		o := w.offset()
		w.buf = binary.LittleEndian.AppendUint64(w.buf, n)
		return val(typeInt64, o)
	}
}

// blob stores b with the smallest length prefix; an empty blob is null,
// as in apk-tools.
func (w *adbWriter) blob(b []byte) uint32 {
	switch n := len(b); {
	case n == 0:
		return 0
	case n <= 0xff:
		o := w.offset()
		w.buf = append(w.buf, byte(n))
		w.buf = append(w.buf, b...)
		return val(typeBlob8, o)
	case n <= 0xffff:
		w.align(2)
		o := w.offset()
		w.buf = binary.LittleEndian.AppendUint16(w.buf, uint16(n))
		w.buf = append(w.buf, b...)
		return val(typeBlob16, o)
	default:
		w.align(4)
		o := w.offset()
		w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(n))
		w.buf = append(w.buf, b...)
		return val(typeBlob32, o)
	}
}

func (w *adbWriter) str(s string) uint32 { return w.blob([]byte(s)) }

// slots writes an object or array: slot 0 holds the slot count; trailing
// nulls are dropped and an object with no field set is itself null.
func (w *adbWriter) slots(typ uint32, fields []uint32) uint32 {
	n := len(fields)
	for n > 0 && fields[n-1] == 0 {
		n--
	}
	if n == 0 {
		return 0
	}
	w.align(4)
	o := w.offset()
	w.buf = binary.LittleEndian.AppendUint32(w.buf, uint32(n+1))
	for _, f := range fields[:n] {
		w.buf = binary.LittleEndian.AppendUint32(w.buf, f)
	}
	return val(typ, o)
}

// object takes fields by 1-based index: fields[0] is field 1.
func (w *adbWriter) object(fields ...uint32) uint32 { return w.slots(typeObject, fields) }
func (w *adbWriter) array(items []uint32) uint32    { return w.slots(typeArray, items) }

func (w *adbWriter) acl(mode uint32) uint32 {
	return w.object(w.int(uint64(mode&0o7777)), w.str("root"), w.str("root"))
}

// Write writes the package, deflate-compressed as apk mkpkg does by
// default.
func (p *Package) Write(out io.Writer) error {
	return p.WriteWith(out, nil)
}

// Deflater writes src to dst as a raw deflate stream (RFC 1951).
type Deflater func(dst io.Writer, src []byte) error

// WriteWith is Write with the deflate encoder given: any encoder of the
// format will do for apk, so a smaller one than compress/flate's (such as
// zopfli) makes a smaller package. nil means compress/flate at its best
// compression.
func (p *Package) WriteWith(out io.Writer, deflate Deflater) error {
	var plain bytes.Buffer
	if err := p.writePlain(&plain); err != nil {
		return err
	}
	if _, err := io.WriteString(out, magicDeflate); err != nil {
		return err
	}
	if deflate == nil {
		deflate = flateBest
	}
	return deflate(out, plain.Bytes())
}

func flateBest(dst io.Writer, src []byte) error {
	zw, err := flate.NewWriter(dst, flate.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(src); err != nil {
		return err
	}
	return zw.Close()
}

// checkHeader applies the schema's rules for the package's name, version,
// architecture and dependencies, which a package written must meet as
// one read does.
func checkHeader(name, version, arch string, depends []string) error {
	if !ValidName(name) {
		return fmt.Errorf("apkv3: invalid package name %q", name)
	}
	if !ValidVersion(version) {
		return fmt.Errorf("apkv3: invalid version %q (apk wants e.g. 1.2.3_p4~abc123-r1)", version)
	}
	if arch == "" {
		return fmt.Errorf("apkv3: no architecture")
	}
	for _, d := range depends {
		if !ValidName(d) {
			return fmt.Errorf("apkv3: invalid dependency %q", d)
		}
	}
	return nil
}

func (p *Package) check() error {
	if err := checkHeader(p.Name, p.Version, p.Arch, p.Depends); err != nil {
		return err
	}
	for name := range p.Scripts {
		if !slices.Contains(ScriptNames, name) {
			return fmt.Errorf("apkv3: unknown script %q", name)
		}
	}
	return nil
}

// writePlain writes the uncompressed container: the ADB block, then one
// DATA block per file with content.
func (p *Package) writePlain(out *bytes.Buffer) error {
	if err := p.check(); err != nil {
		return err
	}
	dirs, err := p.layout()
	if err != nil {
		return err
	}
	w := newADB()
	var installed uint64
	dirVals := make([]uint32, len(dirs))
	for i, d := range dirs {
		fileVals := make([]uint32, len(d.files))
		for j, f := range d.files {
			sum := sha256.Sum256(f.Data)
			installed += uint64(len(f.Data))
			fileVals[j] = w.object(
				w.str(path.Base(f.Path)),           // name
				w.acl(f.Mode),                      // acl
				w.int(uint64(len(f.Data))),         // size
				w.int(uint64(max(p.BuildTime, 0))), // mtime
				w.blob(sum[:]),                     // hash
			)
		}
		dirVals[i] = w.object(w.str(d.name), w.acl(d.mode), w.array(fileVals))
	}
	deps := slices.Clone(p.Depends)
	slices.Sort(deps)
	deps = slices.Compact(deps)
	depVals := make([]uint32, len(deps))
	for i, d := range deps {
		depVals[i] = w.object(w.str(d))
	}
	if installed == 0 {
		installed = 1 // as apk mkpkg: a package with content is never size 0
	}
	// The unique id is written as zeros and filled in once the whole
	// payload exists, over which it is computed.
	idVal := w.blob(make([]byte, uniqueIDLen))
	idOff := int(idVal&valueMask) + 1
	info := make([]uint32, piDepends)
	info[piName-1] = w.str(p.Name)
	info[piVersion-1] = w.str(p.Version)
	info[piHashes-1] = idVal
	info[piDescription-1] = w.str(p.Description)
	info[piArch-1] = w.str(p.Arch)
	info[piLicense-1] = w.str(p.License)
	info[piOrigin-1] = w.str(p.Origin)
	info[piMaintainer-1] = w.str(p.Maintainer)
	info[piURL-1] = w.str(p.URL)
	if p.BuildTime > 0 {
		info[piBuildTime-1] = w.int(uint64(p.BuildTime))
	}
	info[piInstalledSize-1] = w.int(installed)
	info[piDepends-1] = w.array(depVals)
	scripts := make([]uint32, len(ScriptNames))
	for i, name := range ScriptNames {
		scripts[i] = w.str(p.Scripts[name])
	}
	root := w.object(w.object(info...), w.array(dirVals), w.object(scripts...))
	binary.LittleEndian.PutUint32(w.buf[4:], root)
	sum := sha256.Sum256(w.buf)
	copy(w.buf[idOff:idOff+uniqueIDLen], sum[:])

	out.WriteString(magicPlain)
	binary.Write(out, binary.LittleEndian, uint32(schemaPackage))
	writeBlock(out, blockADB, w.buf)
	for i, d := range dirs {
		for j, f := range d.files {
			if len(f.Data) == 0 {
				continue // an empty file has no DATA block
			}
			hdr := make([]byte, 8, 8+len(f.Data))
			binary.LittleEndian.PutUint32(hdr[0:], uint32(i+1))
			binary.LittleEndian.PutUint32(hdr[4:], uint32(j+1))
			writeBlock(out, blockData, append(hdr, f.Data...))
		}
	}
	return nil
}

// writeBlock writes one block: the header counts itself in the size, the
// padding to 8 bytes does not.
func writeBlock(out *bytes.Buffer, typ uint32, payload []byte) {
	raw := 4 + len(payload)
	if raw > 0x3fffffff {
		panic("apkv3: block too large for a short header")
	}
	binary.Write(out, binary.LittleEndian, typ<<30|uint32(raw))
	out.Write(payload)
	for ; raw%blockAlign != 0; raw++ {
		out.WriteByte(0)
	}
}
