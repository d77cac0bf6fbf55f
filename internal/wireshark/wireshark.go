// Package wireshark writes IPsec keys in the files Wireshark's ISAKMP and
// ESP dissectors read (their "UAT" tables), so that an admin can decrypt a
// capture of tinyipsec's traffic:
//
//	ikev1_decryption_table   INITIATOR_COOKIE_HEX,ENCRYPTION_KEY_HEX
//	esp_sa                   "IPv4","SRC","DST","0xSPI","CIPHER","0xKEY","INTEGRITY","0xKEY"
//
// The cipher and integrity columns are the names Wireshark's ESP
// dissector lists for its algorithm choices (Wireshark 3.x/4.0).
package wireshark

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"path/filepath"

	"tinyipsec/internal/secretfile"
)

// IKESA is one IKEv1 SA: the initiator's cookie and the phase 1 cipher key.
type IKESA struct {
	CookieI [8]byte
	Key     []byte
}

// ESPSA is one direction of an ESP SA, with tinyipsec's algorithm names
// (transform set values: aes128gcm16, aes256, sha256, ...). For AES-GCM
// the key is followed by its 4-byte salt, as Wireshark expects it.
type ESPSA struct {
	Src, Dst  netip.Addr
	SPI       uint32
	Cipher    string
	EncKey    []byte
	Integrity string // "" with an AEAD
	AuthKey   []byte
}

// Names of the ESP dissector's algorithm choices, by tinyipsec's names:
// static arrays searched by name (maps would be built at start; flash).
var (
	cipherNames = [...][2]string{
		{"null", "NULL"},
		{"3des", "TripleDES-CBC [RFC2451]"},
		{"des", "DES-CBC [RFC2405]"},
		{"aes128", "AES-CBC [RFC3602]"},
		{"aes192", "AES-CBC [RFC3602]"},
		{"aes256", "AES-CBC [RFC3602]"},
		{"aes128gcm16", "AES-GCM with 16 octet ICV [RFC4106]"},
		{"aes256gcm16", "AES-GCM with 16 octet ICV [RFC4106]"},
	}
	integrityNames = [...][2]string{
		{"", "NULL"},
		{"sha1", "HMAC-SHA-1-96 [RFC2404]"},
		{"sha256", "HMAC-SHA-256-128 [RFC4868]"},
		{"sha384", "HMAC-SHA-384-192 [RFC4868]"},
		{"sha512", "HMAC-SHA-512-256 [RFC4868]"},
		{"md5", "HMAC-MD5-96 [RFC2403]"},
	}
)

// dissectorName is the name table gives to ours.
func dissectorName(table [][2]string, ours string) (string, bool) {
	for _, row := range table {
		if row[0] == ours {
			return row[1], true
		}
	}
	return "", false
}

// Names of the two files in DIR, as Wireshark looks for them in a profile.
const (
	IKEv1File = "ikev1_decryption_table"
	ESPFile   = "esp_sa"
)

// bundleMark starts each table in a bundle: the daemon sends both tables
// in one answer, the client splits them into their files.
const bundleMark = "#@ "

// WriteBundle writes both tables into b, each after a "#@ NAME" line;
// b then holds the keys, for the caller to wipe once they are sent. SAs
// whose cipher Wireshark cannot decrypt become "# SPI ..." comment lines,
// which WriteDir reports as skipped.
func WriteBundle(b *bytes.Buffer, ike []IKESA, esp []ESPSA) {
	b.WriteString(bundleMark + IKEv1File + "\n# IKEv1 phase 1 keys exported by tinyipsec: SECRET, anyone holding this file can decrypt the exchanges.\n")
	for _, sa := range ike {
		b.WriteString(hex.EncodeToString(sa.CookieI[:]) + "," + hex.EncodeToString(sa.Key) + "\n")
	}
	b.WriteString(bundleMark + ESPFile + "\n# ESP keys exported by tinyipsec: SECRET, anyone holding this file can decrypt the traffic.\n")
	for _, sa := range esp {
		var spi [4]byte
		binary.BigEndian.PutUint32(spi[:], sa.SPI)
		c, okC := dissectorName(cipherNames[:], sa.Cipher)
		i, okI := dissectorName(integrityNames[:], sa.Integrity)
		if !okC || !okI {
			b.WriteString("# SPI 0x" + hex.EncodeToString(spi[:]) + " " + sa.Src.String() + " > " + sa.Dst.String() + ": " +
				sa.Cipher + "/" + sa.Integrity + " is not among Wireshark's ESP algorithms\n")
			continue
		}
		family := "IPv4"
		if sa.Src.Is6() && !sa.Src.Is4In6() {
			family = "IPv6"
		}
		// Every field in double quotes; none of them holds a quote or a
		// backslash, so none needs escaping.
		for j, f := range [...]string{family, sa.Src.Unmap().String(), sa.Dst.Unmap().String(), "0x" + hex.EncodeToString(spi[:]),
			c, hexKey(sa.EncKey), i, hexKey(sa.AuthKey)} {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString("\"" + f + "\"")
		}
		b.WriteByte('\n')
	}
}

func hexKey(k []byte) string {
	if len(k) == 0 {
		return ""
	}
	return "0x" + hex.EncodeToString(k)
}

// WriteDir splits a bundle into its two files in dir, mode 0600 (they are
// secrets), replacing older ones. It returns the number of entries and
// the comment lines of skipped SAs.
func WriteDir(dir string, bundle []byte) (ikeN, espN int, skipped []string, err error) {
	var tables [2][]byte // IKEv1File, ESPFile: nil until its mark
	cur := -1            // index into tables; 2: a table of another name; -1: none
	// Lines cut one by one rather than by bytes.SplitAfter, linked for
	// nothing else (flash).
	for rest := bundle; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line = rest[:i+1]
		}
		rest = rest[len(line):]
		// HasPrefix and a slice rather than bytes.CutPrefix, linked for
		// nothing else (flash).
		if bytes.HasPrefix(line, []byte(bundleMark)) {
			switch string(bytes.TrimSpace(line[len(bundleMark):])) {
			case IKEv1File:
				cur = 0
			case ESPFile:
				cur = 1
			case "":
				cur = -1
			default:
				cur = 2
				continue
			}
			if cur >= 0 {
				tables[cur] = []byte{}
			}
			continue
		}
		if cur < 0 || len(line) == 0 {
			continue
		}
		if cur < 2 {
			tables[cur] = append(tables[cur], line...)
		}
		switch {
		case bytes.HasPrefix(line, []byte("# SPI")):
			skipped = append(skipped, string(bytes.TrimSpace(line[2:])))
		case bytes.HasPrefix(line, []byte("#")):
		case cur == 0:
			ikeN++
		case cur == 1:
			espN++
		}
	}
	for i, name := range [...]string{IKEv1File, ESPFile} {
		data := tables[i]
		if data == nil {
			return 0, 0, nil, errors.New("the daemon's answer has no " + name + " table")
		}
		if err := secretfile.Write(filepath.Join(dir, name), data); err != nil {
			return 0, 0, nil, err
		}
		clear(data)
	}
	return ikeN, espN, skipped, nil
}
