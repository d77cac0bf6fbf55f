package conf

import (
	"fmt"
	"strconv"
	"strings"
)

// Algorithm names as the configuration spells them. The lists are in the
// order error messages show them.
var (
	p1Encryptions = []string{"aes128", "aes192", "aes256", "3des", "des"}
	hashes        = []string{"sha1", "sha256", "sha384", "sha512", "md5"}
	authMethods   = []string{"pre-share", "rsa-sig", "ecdsa-sig"}
	espCiphers    = []string{"aes128gcm16", "aes256gcm16", "chacha20poly1305", "aes128", "aes192", "aes256", "3des", "null"}
	dhGroups      = []int{1, 2, 5, 14, 15, 16, 19, 20, 21, 31}
)

// Weak algorithms: accepted only with global allow_weak = true, because
// some old peers cannot do better but nobody should get them by accident.
func weakHash(h string) bool      { return h == "md5" }
func weakCipher(c string) bool    { return c == "des" }
func weakDHGroup(g int) bool      { return g == 1 || g == 2 || g == 5 }
func weakHint(what string) string { return "weak " + what + "; set allow_weak = true to permit it" }

// IsAEAD reports whether an ESP cipher also authenticates (and so takes no
// esp_auth).
func IsAEAD(esp string) bool {
	switch esp {
	case "aes128gcm16", "aes256gcm16", "chacha20poly1305":
		return true
	}
	return false
}

// ESPKeyLen is the manual-keying key length in bytes of an ESP cipher. For
// the AEAD ciphers it includes the 4-byte salt that follows the key.
// It returns -1 for unknown names.
func ESPKeyLen(esp string) int {
	switch esp {
	case "aes128gcm16":
		return 16 + 4
	case "aes256gcm16", "chacha20poly1305":
		return 32 + 4
	case "aes128":
		return 16
	case "aes192", "3des":
		return 24
	case "aes256":
		return 32
	case "null":
		return 0
	}
	return -1
}

// AuthKeyLen is the HMAC key length in bytes of an esp_auth or ah
// algorithm (its output length before truncation), or -1.
func AuthKeyLen(alg string) int {
	switch alg {
	case "md5":
		return 16
	case "sha1":
		return 20
	case "sha256":
		return 32
	case "sha384":
		return 48
	case "sha512":
		return 64
	}
	return -1
}

// parseDHGroup accepts 14, "14" or "group14".
func parseDHGroup(v any) (int, error) {
	var n int64
	switch x := v.(type) {
	case int64:
		n = x
	case string:
		s := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(x)), "group")
		var err error
		if n, err = strconv.ParseInt(s, 10, 32); err != nil {
			return 0, fmt.Errorf("%q is not a DH group (want one of %s)", x, groupList())
		}
	default:
		return 0, fmt.Errorf("must be a DH group number, not %s", typeName(v))
	}
	for _, g := range dhGroups {
		if int64(g) == n {
			return g, nil
		}
	}
	return 0, fmt.Errorf("unknown DH group %d (want one of %s)", n, groupList())
}

func groupList() string {
	s := make([]string, len(dhGroups))
	for i, g := range dhGroups {
		s[i] = strconv.Itoa(g)
	}
	return strings.Join(s, ", ")
}

func itoa(n int) string { return strconv.Itoa(n) }
