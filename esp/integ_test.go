package esp

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// TestHMACKnownAnswers checks the pre-keyed HMAC and the ICV truncation
// against published vectors: RFC 4231 test cases 1, 2 and 6 (which RFC 4868
// §2.7.1 reuses for HMAC-SHA-256/384/512) and RFC 2202 test case 1 for
// HMAC-SHA-1 and HMAC-MD5.
func TestHMACKnownAnswers(t *testing.T) {
	k0b := bytes.Repeat([]byte{0x0b}, 20)
	hiThere := []byte("Hi There")
	for _, tc := range []struct {
		alg       string
		key, data []byte
		mac       string
	}{
		{"sha256", k0b, hiThere, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
		{"sha384", k0b, hiThere, "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6"},
		{"sha512", k0b, hiThere, "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
		{"sha256", []byte("Jefe"), []byte("what do ya want for nothing?"), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		{"sha256", bytes.Repeat([]byte{0xaa}, 131), []byte("Test Using Larger Than Block-Size Key - Hash Key First"), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
		{"sha1", k0b, hiThere, "b617318655057264e28bc0b6fb378c8ef146be00"},
		{"md5", k0b[:16], hiThere, "9294727a3638bb1c13f48ef8158bfc9d"},
	} {
		alg := lookupInteg(tc.alg)
		h, err := newHMAC(alg, tc.key)
		if err != nil {
			t.Fatal(err)
		}
		for round := 0; round < 2; round++ { // the second round checks reset
			h.reset()
			h.write(tc.data[:3])
			h.write(tc.data[3:])
			got := hex.EncodeToString(h.sum())
			if got != tc.mac {
				t.Errorf("%s %q: got %s want %s", tc.alg, tc.data, got, tc.mac)
			}
		}
		// The ICV is the leading icvLen bytes (RFC 4868 §2.3, RFC 2404).
		want := map[string]int{"sha1": 12, "md5": 12, "sha256": 16, "sha384": 24, "sha512": 32}[tc.alg]
		if alg.ICVLen != want {
			t.Errorf("%s: ICV length %d, want %d", tc.alg, alg.ICVLen, want)
		}
		h.wipe()
	}
}
