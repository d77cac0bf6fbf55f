package wireshark

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTables(t *testing.T) {
	var b bytes.Buffer
	WriteBundle(&b, []IKESA{{CookieI: [8]byte{0xfa, 0xfa, 0xeb, 0x49, 0x38, 0x2a, 0x76, 0x3c}, Key: []byte{0x73, 0x5b, 0xe0}}}, []ESPSA{
		{Src: netip.MustParseAddr("192.168.0.1"), Dst: netip.MustParseAddr("192.168.0.100"), SPI: 0x070883c2, Cipher: "aes128",
			EncKey: []byte{0x5d, 0xe1}, Integrity: "sha1", AuthKey: []byte{0x51, 0xc9}},
		{Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2"), SPI: 1, Cipher: "aes256gcm16", EncKey: []byte{1, 2}},
		{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), SPI: 2, Cipher: "chacha20poly1305", EncKey: []byte{0xaa, 0xbb}},
	})
	ike, esp, ok := strings.Cut(b.String(), bundleMark+ESPFile+"\n")
	if !ok || !strings.HasPrefix(ike, bundleMark+IKEv1File+"\n# ") || !strings.HasSuffix(ike, "\nfafaeb49382a763c,735be0\n") {
		t.Errorf("ikev1 table:\n%s", ike)
	}
	for _, want := range []string{
		"\n" + `"IPv4","192.168.0.1","192.168.0.100","0x070883c2","AES-CBC [RFC3602]","0x5de1","HMAC-SHA-1-96 [RFC2404]","0x51c9"` + "\n",
		"\n" + `"IPv6","2001:db8::1","2001:db8::2","0x00000001","AES-GCM with 16 octet ICV [RFC4106]","0x0102","NULL",""` + "\n",
		"\n# SPI 0x00000002 10.0.0.1 > 10.0.0.2: chacha20poly1305/ is not among Wireshark's ESP algorithms\n",
	} {
		if !strings.Contains(esp, want) {
			t.Errorf("esp_sa lacks %s:\n%s", want, esp)
		}
	}
	if !strings.HasPrefix(esp, "# ESP keys") || strings.Count(esp, "\n") != 4 || strings.Contains(esp, "aabb") {
		t.Errorf("esp_sa: a skipped key must not be written:\n%s", esp)
	}
}

func TestWriteDirMode(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, ESPFile)
	if err := os.WriteFile(old, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	WriteBundle(&b, []IKESA{{Key: []byte{1}}}, []ESPSA{{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Cipher: "aes128", Integrity: "sha1"},
		{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Cipher: "chacha20poly1305"}})
	ikeN, espN, skipped, err := WriteDir(dir, b.Bytes())
	if err != nil || ikeN != 1 || espN != 1 || len(skipped) != 1 {
		t.Fatalf("WriteDir: %d %d %v %v\n%s", ikeN, espN, skipped, err, b.String())
	}
	if data, _ := os.ReadFile(filepath.Join(dir, IKEv1File)); !bytes.HasSuffix(data, []byte("\n0000000000000000,01\n")) || bytes.Contains(data, []byte("#@")) {
		t.Errorf("ikev1 table:\n%s", data)
	}
	if _, _, _, err := WriteDir(dir, []byte("garbage\n")); err == nil {
		t.Error("an answer without tables was written")
	}
	for _, f := range []string{IKEv1File, ESPFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, err, fi)
		}
	}
}
