package algo

import "testing"

// Every row constructs its primitive with a key of its declared length,
// and the wire identifiers lead back to the same row.
func TestRowsAreConsistent(t *testing.T) {
	for _, n := range CipherNames() {
		c := Cipher(n)
		i := c.Info()
		if i == nil || i.Name != string(c) {
			t.Fatalf("%q: no row", c)
		}
		key := make([]byte, i.KeymatLen())
		switch {
		case i.NewAEAD != nil:
			a, err := i.NewAEAD(key[:i.KeyLen])
			if err != nil || a.Overhead() != i.TagLen || a.NonceSize() != i.SaltLen+i.IVLen {
				t.Errorf("%s: AEAD %v, overhead/nonce do not match the row", c, err)
			}
		case i.NewBlock != nil:
			b, err := i.NewBlock(key)
			if err != nil || b.BlockSize() != i.IVLen || i.PadAlign != i.IVLen {
				t.Errorf("%s: block %v does not match the row", c, err)
			}
		case c != NullCipher:
			t.Errorf("%s: no constructor", c)
		}
		if got, ok := CipherByTransform(i.TransformID, i.KeyBits); !ok || got != c {
			t.Errorf("%s: transform %d/%d gives %q", c, i.TransformID, i.KeyBits, got)
		}
	}
	// A missing key length means AES-128 (Cisco), for ESP as for phase 1.
	if c, _ := CipherByTransform(ESPTransformAESCBC, 0); c != AES128CBC {
		t.Errorf("AES-CBC without key length: %q", c)
	}
	if _, ok := CipherByTransform(2, 0); ok {
		t.Error("ESP DES is not implemented and must not be negotiated")
	}
	for _, n := range HashNames() {
		h := Hash(n)
		i := h.Info()
		if i.New().Size() != i.Size || i.ICVLen*2 > i.Size+8 || i.ICVLen < 12 {
			t.Errorf("%s: sizes do not match the row", h)
		}
		for name, lookup := range map[string]func() (Hash, bool){
			"ike":  func() (Hash, bool) { return HashByIKEAttr(i.IKEAttr) },
			"auth": func() (Hash, bool) { return HashByAuthAttr(i.AuthAttr) },
			"ah":   func() (Hash, bool) { return HashByAHTransform(i.AHTransformID) },
		} {
			if got, ok := lookup(); !ok || got != h {
				t.Errorf("%s: %s identifier gives %q", h, name, got)
			}
		}
	}
	for _, n := range P1CipherNames() {
		c := P1Cipher(n)
		i := c.Info()
		b, err := i.NewBlock(make([]byte, i.KeyLen))
		if err != nil || b.BlockSize() != i.BlockSize {
			t.Errorf("%s: %v", c, err)
		}
		if got, ok := P1CipherByAttr(i.IKEAttr, i.KeyBits); !ok || got != c {
			t.Errorf("%s: attribute gives %q", c, got)
		}
	}
	for _, g := range Groups() {
		if g.Info() == nil || g.Weak() != (g < 14) {
			t.Errorf("group %d: weak %v", g, g.Weak())
		}
	}
	weak := map[string]bool{}
	for _, n := range P1CipherNames() {
		weak[n] = P1Cipher(n).Info().Weak
	}
	if !weak["des"] || weak["3des"] || !MD5.Info().Weak || SHA1.Info().Weak {
		t.Error("weak flags: des and md5 need allow_weak, 3des and sha1 do not")
	}
	if Cipher("rc4").Info() != nil || Hash("").Info() != nil {
		t.Error("unknown and empty names must have no row")
	}
}
