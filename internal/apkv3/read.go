package apkv3

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
)

// Parsed is a package read back by Parse, every field as the installer
// sees it.
type Parsed struct {
	Compressed    bool
	Name          string
	Version       string
	UniqueID      []byte
	Description   string
	Arch          string
	License       string
	Origin        string
	Maintainer    string
	URL           string
	BuildTime     uint64
	InstalledSize uint64
	Depends       []string
	Dirs          []ParsedDir
	Scripts       map[string]string
	Signatures    int
}

// ParsedDir is one entry of the paths array.
type ParsedDir struct {
	Name        string
	Mode        uint64
	User, Group string
	Files       []ParsedFile
}

// ParsedFile is one file object with the content of its DATA block.
type ParsedFile struct {
	Name        string
	Mode        uint64
	User, Group string
	Size        uint64
	MTime       uint64
	Hash        []byte
	Data        []byte
}

// maxPackage bounds what Parse inflates.
const maxPackage = 256 << 20

// Parse reads a package and checks it against the rules apk-tools
// applies when it installs one: the magic and the package schema, block
// order, sizes and padding, the ADB header, every value in bounds, the
// schema's fields, sorted arrays, one DATA block per non-empty file in
// paths order with the announced size and a matching SHA-256, and the
// unique id.
func Parse(b []byte) (*Parsed, error) {
	p := &Parsed{}
	if bytes.HasPrefix(b, []byte(magicDeflate)) {
		zr := flate.NewReader(bytes.NewReader(b[4:]))
		plain, err := io.ReadAll(io.LimitReader(zr, maxPackage+1))
		if err != nil {
			return nil, fmt.Errorf("apkv3: deflate stream: %w", err)
		}
		if len(plain) > maxPackage {
			return nil, fmt.Errorf("apkv3: package over %d bytes", maxPackage)
		}
		b, p.Compressed = plain, true
	}
	if len(b) < 8 || string(b[:4]) != magicPlain {
		return nil, fmt.Errorf("apkv3: no ADB magic")
	}
	if s := binary.LittleEndian.Uint32(b[4:]); s != schemaPackage {
		return nil, fmt.Errorf("apkv3: schema %#x, want package (%#x)", s, schemaPackage)
	}
	var adb []byte
	type dataBlock struct {
		path, file uint32
		data       []byte
	}
	var data []dataBlock
	for rest := b[8:]; len(rest) > 0; {
		if len(rest) < 4 {
			return nil, fmt.Errorf("apkv3: truncated block header")
		}
		ts := binary.LittleEndian.Uint32(rest)
		typ, raw := ts>>30, int(ts&0x3fffffff)
		if typ == blockExt {
			return nil, fmt.Errorf("apkv3: extended block headers are not written by this package")
		}
		padded := (raw + blockAlign - 1) / blockAlign * blockAlign
		if raw < 4 || padded > len(rest) {
			return nil, fmt.Errorf("apkv3: block size %d out of bounds", raw)
		}
		payload := rest[4:raw]
		if bytes.IndexFunc(rest[raw:padded], func(r rune) bool { return r != 0 }) >= 0 {
			return nil, fmt.Errorf("apkv3: non-zero block padding")
		}
		rest = rest[padded:]
		switch {
		case typ == blockADB && adb == nil && p.Signatures == 0 && data == nil:
			adb = payload
		case typ == blockSig && adb != nil && data == nil:
			p.Signatures++
		case typ == blockData && adb != nil:
			if len(payload) < 8 {
				return nil, fmt.Errorf("apkv3: DATA block without its header")
			}
			data = append(data, dataBlock{binary.LittleEndian.Uint32(payload), binary.LittleEndian.Uint32(payload[4:]), payload[8:]})
		default:
			return nil, fmt.Errorf("apkv3: block type %d out of order", typ)
		}
	}
	if adb == nil {
		return nil, fmt.Errorf("apkv3: no ADB block")
	}
	if len(adb) < 8 || adb[0] != 0 {
		return nil, fmt.Errorf("apkv3: ADB header: compat version %d, want 0", adb[0])
	}
	r := reader{adb: adb}
	root := r.obj(binary.LittleEndian.Uint32(adb[4:]))
	info := r.obj(root.at(pkgInfo))
	p.Name = r.str(info.at(piName))
	p.Version = r.str(info.at(piVersion))
	p.UniqueID = r.blob(info.at(piHashes))
	p.Description = r.str(info.at(piDescription))
	p.Arch = r.str(info.at(piArch))
	p.License = r.str(info.at(piLicense))
	p.Origin = r.str(info.at(piOrigin))
	p.Maintainer = r.str(info.at(piMaintainer))
	p.URL = r.str(info.at(piURL))
	p.BuildTime = r.int(info.at(piBuildTime))
	p.InstalledSize = r.int(info.at(piInstalledSize))
	deps := r.obj(info.at(piDepends))
	for i := 1; i < deps.n(); i++ {
		p.Depends = append(p.Depends, r.str(r.obj(deps.at(i)).at(depName)))
	}
	scripts := r.obj(root.at(pkgScripts))
	p.Scripts = map[string]string{}
	for i, name := range ScriptNames {
		if s := r.str(scripts.at(i + 1)); s != "" {
			p.Scripts[name] = s
		}
	}
	paths := r.obj(root.at(pkgPaths))
	for i := 1; i < paths.n(); i++ {
		d := r.obj(paths.at(i))
		acl := r.obj(d.at(diACL))
		pd := ParsedDir{Name: r.str(d.at(diName)), Mode: r.int(acl.at(aclMode)), User: r.str(acl.at(aclUser)), Group: r.str(acl.at(aclGroup))}
		files := r.obj(d.at(diFiles))
		for j := 1; j < files.n(); j++ {
			f := r.obj(files.at(j))
			facl := r.obj(f.at(fiACL))
			pd.Files = append(pd.Files, ParsedFile{
				Name: r.str(f.at(fiName)), Mode: r.int(facl.at(aclMode)),
				User: r.str(facl.at(aclUser)), Group: r.str(facl.at(aclGroup)),
				Size: r.int(f.at(fiSize)), MTime: r.int(f.at(fiTime)), Hash: r.blob(f.at(fiHash)),
			})
		}
		p.Dirs = append(p.Dirs, pd)
	}
	if r.err != nil {
		return nil, r.err
	}
	if err := p.checkSchema(); err != nil {
		return nil, err
	}
	// The DATA blocks, in paths order, one per file with content.
	k := 0
	for i := range p.Dirs {
		for j := range p.Dirs[i].Files {
			f := &p.Dirs[i].Files[j]
			if f.Size == 0 {
				continue
			}
			if k >= len(data) {
				return nil, fmt.Errorf("apkv3: no DATA block for %s/%s", p.Dirs[i].Name, f.Name)
			}
			db := data[k]
			k++
			if db.path != uint32(i+1) || db.file != uint32(j+1) || uint64(len(db.data)) != f.Size {
				return nil, fmt.Errorf("apkv3: DATA block %d is for path %d file %d (%d bytes), want %d/%d (%d bytes)", k, db.path, db.file, len(db.data), i+1, j+1, f.Size)
			}
			if sum := sha256.Sum256(db.data); !bytes.Equal(sum[:], f.Hash) {
				return nil, fmt.Errorf("apkv3: %s/%s: content does not match its SHA-256", p.Dirs[i].Name, f.Name)
			}
			f.Data = db.data
		}
	}
	if k != len(data) {
		return nil, fmt.Errorf("apkv3: %d DATA blocks for no file", len(data)-k)
	}
	// The unique id: SHA-256 of the ADB payload with the id zeroed.
	if len(p.UniqueID) != uniqueIDLen {
		return nil, fmt.Errorf("apkv3: unique id is %d bytes, want %d", len(p.UniqueID), uniqueIDLen)
	}
	off := int(info.at(piHashes)&valueMask) + 1
	zeroed := bytes.Clone(adb)
	clear(zeroed[off : off+uniqueIDLen])
	if sum := sha256.Sum256(zeroed); !bytes.Equal(sum[:uniqueIDLen], p.UniqueID) {
		return nil, fmt.Errorf("apkv3: unique id does not match the ADB block")
	}
	return p, nil
}

// checkSchema applies the package schema's rules to the decoded values.
func (p *Parsed) checkSchema() error {
	if err := checkHeader(p.Name, p.Version, p.Arch, p.Depends); err != nil {
		return err
	}
	for i, d := range p.Depends {
		if i > 0 && p.Depends[i-1] >= d {
			return fmt.Errorf("apkv3: dependencies must be sorted and unique: %q", p.Depends)
		}
	}
	var total uint64
	for i, d := range p.Dirs {
		if i > 0 && p.Dirs[i-1].Name >= d.Name {
			return fmt.Errorf("apkv3: paths not sorted: %q after %q", d.Name, p.Dirs[i-1].Name)
		}
		if strings.HasPrefix(d.Name, "/") || strings.HasSuffix(d.Name, "/") {
			return fmt.Errorf("apkv3: path %q must be relative without a trailing slash", d.Name)
		}
		if d.Mode&^0o7777 != 0 || d.User == "" || d.Group == "" {
			return fmt.Errorf("apkv3: path %q: acl mode %o user %q group %q", d.Name, d.Mode, d.User, d.Group)
		}
		for j, f := range d.Files {
			if f.Name == "" || strings.Contains(f.Name, "/") || j > 0 && d.Files[j-1].Name >= f.Name {
				return fmt.Errorf("apkv3: %s: file names must be plain and sorted: %q", d.Name, f.Name)
			}
			if f.Mode&^0o7777 != 0 || f.User == "" || f.Group == "" {
				return fmt.Errorf("apkv3: %s/%s: acl mode %o user %q group %q", d.Name, f.Name, f.Mode, f.User, f.Group)
			}
			if len(f.Hash) != sha256.Size {
				return fmt.Errorf("apkv3: %s/%s: hash of %d bytes, want a SHA-256", d.Name, f.Name, len(f.Hash))
			}
			total += f.Size
		}
	}
	if want := max(total, 1); p.InstalledSize != want {
		return fmt.Errorf("apkv3: installed-size %d, files add up to %d", p.InstalledSize, want)
	}
	return nil
}

// reader decodes values of one ADB payload; the first error sticks and
// every later read returns a zero value.
type reader struct {
	adb []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("apkv3: "+format, args...)
	}
}

func (r *reader) at(off uint32, n int) []byte {
	if r.err != nil {
		return nil
	}
	if uint64(off)+uint64(n) > uint64(len(r.adb)) || off < 8 {
		r.fail("value at %d+%d outside the ADB block (%d bytes)", off, n, len(r.adb))
		return nil
	}
	return r.adb[off : int(off)+n]
}

func (r *reader) int(v uint32) uint64 {
	switch v >> 28 {
	case typeSpecial:
		if v != 0 {
			r.fail("special value %#x where an integer belongs", v)
		}
		return 0
	case typeInt:
		return uint64(v & valueMask)
	case typeInt32:
		if b := r.at(v&valueMask, 4); b != nil {
			return uint64(binary.LittleEndian.Uint32(b))
		}
	case typeInt64:
		if b := r.at(v&valueMask, 8); b != nil {
			return binary.LittleEndian.Uint64(b)
		}
	default:
		r.fail("value type %#x where an integer belongs", v>>28)
	}
	return 0
}

func (r *reader) blob(v uint32) []byte {
	off := v & valueMask
	var n, hdr int
	switch v >> 28 {
	case typeSpecial:
		if v != 0 {
			r.fail("special value %#x where a blob belongs", v)
		}
		return nil
	case typeBlob8:
		if b := r.at(off, 1); b != nil {
			n, hdr = int(b[0]), 1
		}
	case typeBlob16:
		if b := r.at(off, 2); b != nil {
			n, hdr = int(binary.LittleEndian.Uint16(b)), 2
		}
	case typeBlob32:
		if b := r.at(off, 4); b != nil {
			n, hdr = int(binary.LittleEndian.Uint32(b)), 4
		}
	default:
		r.fail("value type %#x where a blob belongs", v>>28)
		return nil
	}
	return r.at(off+uint32(hdr), n)
}

func (r *reader) str(v uint32) string { return string(r.blob(v)) }

// slots is a decoded object or array: slots[0] is the slot count.
type slots []uint32

func (s slots) n() int { return len(s) }

// at returns slot i, or null when the object has fewer slots.
func (s slots) at(i int) uint32 {
	if i < len(s) {
		return s[i]
	}
	return 0
}

func (r *reader) obj(v uint32) slots {
	if v == 0 {
		return slots{1}
	}
	if t := v >> 28; t != typeObject && t != typeArray {
		r.fail("value type %#x where an object belongs", t)
		return slots{1}
	}
	b := r.at(v&valueMask, 4)
	if b == nil {
		return slots{1}
	}
	n := binary.LittleEndian.Uint32(b)
	if n == 0 || n > 1<<20 {
		r.fail("object with %d slots", n)
		return slots{1}
	}
	b = r.at(v&valueMask, int(n)*4)
	if b == nil {
		return slots{1}
	}
	out := make(slots, n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint32(b[i*4:])
	}
	return out
}
