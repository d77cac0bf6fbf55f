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
	"encoding/hex"
	"fmt"
	"io"
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

// WriteIKEv1 writes an ikev1_decryption_table.
func WriteIKEv1(w io.Writer, sas []IKESA) error {
	var b bytes.Buffer // not bufio, which the daemon links nowhere else (flash)
	fmt.Fprintln(&b, "# IKEv1 phase 1 keys exported by tinyipsec: SECRET, anyone holding this file can decrypt the exchanges.")
	for _, sa := range sas {
		fmt.Fprintf(&b, "%s,%s\n", hex.EncodeToString(sa.CookieI[:]), hex.EncodeToString(sa.Key))
	}
	return writeWiped(w, &b)
}

// WriteESP writes an esp_sa table. SAs whose cipher Wireshark cannot
// decrypt become comment lines, and are returned for the caller to say so.
func WriteESP(w io.Writer, sas []ESPSA) (skipped []string, err error) {
	var b bytes.Buffer
	fmt.Fprintln(&b, "# ESP keys exported by tinyipsec: SECRET, anyone holding this file can decrypt the traffic.")
	for _, sa := range sas {
		c, okC := dissectorName(cipherNames[:], sa.Cipher)
		i, okI := dissectorName(integrityNames[:], sa.Integrity)
		if !okC || !okI {
			why := fmt.Sprintf("SPI 0x%08x %s > %s: %s/%s is not among Wireshark's ESP algorithms", sa.SPI, sa.Src, sa.Dst, sa.Cipher, sa.Integrity)
			skipped = append(skipped, why)
			fmt.Fprintf(&b, "# %s\n", why)
			continue
		}
		family := "IPv4"
		if sa.Src.Is6() && !sa.Src.Is4In6() {
			family = "IPv6"
		}
		fmt.Fprintf(&b, "%q,%q,%q,\"0x%08x\",%q,%q,%q,%q\n", family, sa.Src.Unmap().String(), sa.Dst.Unmap().String(), sa.SPI,
			c, hexKey(sa.EncKey), i, hexKey(sa.AuthKey))
	}
	return skipped, writeWiped(w, &b)
}

// writeWiped writes the table to w and zeroes the buffer that held the
// keys.
func writeWiped(w io.Writer, b *bytes.Buffer) error {
	_, err := w.Write(b.Bytes())
	clear(b.Bytes()[:b.Cap()])
	return err
}

func hexKey(k []byte) string {
	if len(k) == 0 {
		return ""
	}
	return "0x" + hex.EncodeToString(k)
}

// Names of the two files in DIR, as Wireshark looks for them in a profile.
const (
	IKEv1File = "ikev1_decryption_table"
	ESPFile   = "esp_sa"
)

// bundleMark starts each table in a bundle: the daemon sends both tables
// in one answer, the client splits them into their files.
const bundleMark = "#@ "

// WriteBundle writes both tables, each after a "#@ NAME" line.
func WriteBundle(w io.Writer, ike []IKESA, esp []ESPSA) error {
	if _, err := io.WriteString(w, bundleMark+IKEv1File+"\n"); err != nil {
		return err
	}
	if err := WriteIKEv1(w, ike); err != nil {
		return err
	}
	if _, err := io.WriteString(w, bundleMark+ESPFile+"\n"); err != nil {
		return err
	}
	_, err := WriteESP(w, esp)
	return err
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
		if name, ok := bytes.CutPrefix(line, []byte(bundleMark)); ok {
			switch string(bytes.TrimSpace(name)) {
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
			return 0, 0, nil, fmt.Errorf("the daemon's answer has no %s table", name)
		}
		if err := secretfile.Write(filepath.Join(dir, name), data); err != nil {
			return 0, 0, nil, err
		}
		clear(data)
	}
	return ikeN, espN, skipped, nil
}
