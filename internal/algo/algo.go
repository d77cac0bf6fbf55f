// Package algo is the one table of cryptographic algorithms. Each
// algorithm is declared once, in a row that gives its configuration name,
// its IKEv1 attribute value or IPsec DOI transform ID, its key and block
// sizes, whether it is weak (allowed only with allow_weak), and its
// constructor. conf validates names against these rows, ike encodes and
// chooses proposals from them, and esp builds its transforms from them, so
// the three cannot disagree about what an algorithm is.
//
// Each enum's value is the algorithm's configuration name, so a model
// built from a configuration file reads naturally in tests and messages;
// the empty value means "none". Only the declared constants are valid:
// Info returns nil for anything else. The string enums have no String
// method: fmt prints a string type as its value anyway, string(c) gives
// the name, and each method was kept (with its pointer wrapper) because
// the types are boxed into interfaces (flash).
package algo

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"

	"golang.org/x/crypto/chacha20poly1305"
)

// Cipher is an ESP encryption transform.
type Cipher string

// ESP ciphers.
const (
	CipherNone       Cipher = ""
	AES128GCM16      Cipher = "aes128gcm16"
	AES256GCM16      Cipher = "aes256gcm16"
	ChaCha20Poly1305 Cipher = "chacha20poly1305"
	AES128CBC        Cipher = "aes128"
	AES192CBC        Cipher = "aes192"
	AES256CBC        Cipher = "aes256"
	TripleDESCBC     Cipher = "3des"
	NullCipher       Cipher = "null"
)

// CipherNames lists every ESP cipher's name, in the order messages list
// them (the table's). The lists are built from the tables rather than
// written as composite literals, whose array types each needed a generated
// == function, and hold names, which is what conf checks a value against
// (a list of the enum type had to be copied into one: flash).
func CipherNames() []string {
	out := make([]string, len(ciphers))
	for i := range ciphers {
		out[i] = ciphers[i].Name
	}
	return out
}

// IPsec DOI ESP transform IDs (RFC 2407 section 4.4.4 and the IANA
// registry; ChaCha20-Poly1305 uses the value strongSwan shares with
// IKEv2's ENCR_CHACHA20_POLY1305).
const (
	ESPTransform3DES     uint8 = 3
	ESPTransformNULL     uint8 = 11
	ESPTransformAESCBC   uint8 = 12
	ESPTransformAESGCM16 uint8 = 20
	ESPTransformChaCha20 uint8 = 28
)

// aeadPadAlign is the ESP padding boundary for the AEAD ciphers. RFC 4303
// only needs 4, but padding to the 16-byte block makes every payload a whole
// number of AES/ChaCha blocks, which Go's assembly implementations process
// markedly faster than a ragged tail (1408 bytes seal faster than 1400). It
// costs at most 12 bytes per packet on the wire, and routers without AES
// instructions, the target, are CPU bound long before they are link bound.
const aeadPadAlign = 16

// CipherInfo is one row of the ESP cipher table.
type CipherInfo struct {
	Name        string // configuration name
	TransformID uint8  // ESP transform ID
	KeyBits     int    // key-length attribute sent in Quick Mode; 0: none
	KeyLen      int    // cipher key in bytes, without the salt
	SaltLen     int    // AEAD nonce salt after the key (RFC 4106 §8.1, RFC 7634 §2)
	IVLen       int    // explicit IV carried in every packet
	PadAlign    int    // payload+trailer is padded to a multiple of this
	TagLen      int    // AEAD tag; 0 for CBC and NULL (those use a separate HMAC)
	Weak        bool
	NewAEAD     func(key []byte) (cipher.AEAD, error)  // AEAD ciphers
	NewBlock    func(key []byte) (cipher.Block, error) // CBC ciphers
}

// AEAD reports whether the cipher also authenticates (and so takes no
// separate integrity algorithm).
func (c *CipherInfo) AEAD() bool { return c.NewAEAD != nil }

// KeymatLen is the key material the cipher takes: key plus salt. It is
// the manual-keying key length and what Quick Mode's KEYMAT gives it.
func (c *CipherInfo) KeymatLen() int { return c.KeyLen + c.SaltLen }

// ciphers is the ESP cipher table: static data, searched by name (a
// map would be built at start: flash).
var ciphers = [...]CipherInfo{
	{Name: string(AES128GCM16), TransformID: ESPTransformAESGCM16, KeyBits: 128, KeyLen: 16, SaltLen: 4, IVLen: 8, PadAlign: aeadPadAlign, TagLen: 16, NewAEAD: newGCM},
	{Name: string(AES256GCM16), TransformID: ESPTransformAESGCM16, KeyBits: 256, KeyLen: 32, SaltLen: 4, IVLen: 8, PadAlign: aeadPadAlign, TagLen: 16, NewAEAD: newGCM},
	{Name: string(ChaCha20Poly1305), TransformID: ESPTransformChaCha20, KeyLen: 32, SaltLen: 4, IVLen: 8, PadAlign: aeadPadAlign, TagLen: 16, NewAEAD: chacha20poly1305.New},
	{Name: string(AES128CBC), TransformID: ESPTransformAESCBC, KeyBits: 128, KeyLen: 16, IVLen: 16, PadAlign: 16, NewBlock: aes.NewCipher},
	{Name: string(AES192CBC), TransformID: ESPTransformAESCBC, KeyBits: 192, KeyLen: 24, IVLen: 16, PadAlign: 16, NewBlock: aes.NewCipher},
	{Name: string(AES256CBC), TransformID: ESPTransformAESCBC, KeyBits: 256, KeyLen: 32, IVLen: 16, PadAlign: 16, NewBlock: aes.NewCipher},
	{Name: string(TripleDESCBC), TransformID: ESPTransform3DES, KeyLen: 24, IVLen: 8, PadAlign: 8, NewBlock: des.NewTripleDESCipher},
	{Name: string(NullCipher), TransformID: ESPTransformNULL, PadAlign: 4},
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// Info returns the cipher's row, or nil for CipherNone and unknown values.
func (c Cipher) Info() *CipherInfo {
	for i := range ciphers {
		if ciphers[i].Name == string(c) {
			return &ciphers[i]
		}
	}
	return nil
}

// AEAD reports whether c authenticates by itself.
func (c Cipher) AEAD() bool { i := c.Info(); return i != nil && i.AEAD() }

// CipherByTransform finds the ESP cipher of a transform ID and key-length
// attribute (bits; 0 when absent).
func CipherByTransform(id uint8, keyBits int) (Cipher, bool) {
	for j := range ciphers {
		i := &ciphers[j]
		if i.TransformID == id && (i.KeyBits == keyBits || id == ESPTransformAESCBC && keyBits == 0 && i.KeyBits == 128) {
			return Cipher(i.Name), true
		}
	}
	return CipherNone, false
}

// Hash is a hash function: the phase 1 hash (and HMAC PRF), and the HMAC
// integrity algorithm of ESP and AH.
type Hash string

// Hashes.
const (
	HashNone Hash = ""
	SHA1     Hash = "sha1"
	SHA256   Hash = "sha256"
	SHA384   Hash = "sha384"
	SHA512   Hash = "sha512"
	MD5      Hash = "md5"
)

// HashNames lists every hash's name, in the order messages list them
// (the table's).
func HashNames() []string {
	out := make([]string, len(hashes))
	for i := range hashes {
		out[i] = hashes[i].Name
	}
	return out
}

// HashInfo is one row of the hash table.
type HashInfo struct {
	Name          string // configuration name
	IKEAttr       uint16 // phase 1 hash attribute (RFC 2409 appendix A, RFC 4878)
	AuthAttr      uint16 // IPsec DOI authentication-algorithm attribute (RFC 2407 4.5, RFC 4868)
	AHTransformID uint8  // AH transform ID (RFC 2407 4.4.3)
	Size          int    // digest size; also the HMAC key length in ESP and AH
	ICVLen        int    // truncated ICV in ESP and AH (RFC 2403, 2404, 4868)
	Weak          bool
	New           func() hash.Hash
}

var hashes = [...]HashInfo{
	{Name: string(SHA1), IKEAttr: 2, AuthAttr: 2, AHTransformID: 3, Size: 20, ICVLen: 12, New: sha1.New},
	{Name: string(SHA256), IKEAttr: 4, AuthAttr: 5, AHTransformID: 5, Size: 32, ICVLen: 16, New: sha256.New},
	{Name: string(SHA384), IKEAttr: 5, AuthAttr: 6, AHTransformID: 6, Size: 48, ICVLen: 24, New: sha512.New384},
	{Name: string(SHA512), IKEAttr: 6, AuthAttr: 7, AHTransformID: 7, Size: 64, ICVLen: 32, New: sha512.New},
	{Name: string(MD5), IKEAttr: 1, AuthAttr: 1, AHTransformID: 2, Size: 16, ICVLen: 12, Weak: true, New: md5.New},
}

// Info returns the hash's row, or nil for HashNone and unknown values.
func (h Hash) Info() *HashInfo {
	for i := range hashes {
		if hashes[i].Name == string(h) {
			return &hashes[i]
		}
	}
	return nil
}

// HashByIKEAttr finds the hash of a phase 1 hash attribute value.
func HashByIKEAttr(v uint16) (Hash, bool) {
	for i := range hashes {
		if hashes[i].IKEAttr == v {
			return Hash(hashes[i].Name), true
		}
	}
	return HashNone, false
}

// HashByAuthAttr finds the hash of an IPsec authentication-algorithm
// attribute value.
func HashByAuthAttr(v uint16) (Hash, bool) {
	for i := range hashes {
		if hashes[i].AuthAttr == v {
			return Hash(hashes[i].Name), true
		}
	}
	return HashNone, false
}

// HashByAHTransform finds the hash of an AH transform ID.
func HashByAHTransform(id uint8) (Hash, bool) {
	for i := range hashes {
		if hashes[i].AHTransformID == id {
			return Hash(hashes[i].Name), true
		}
	}
	return HashNone, false
}

// P1Cipher is a phase 1 (ISAKMP SA) encryption algorithm.
type P1Cipher string

// Phase 1 ciphers.
const (
	P1CipherNone P1Cipher = ""
	P1AES128     P1Cipher = "aes128"
	P1AES192     P1Cipher = "aes192"
	P1AES256     P1Cipher = "aes256"
	P13DES       P1Cipher = "3des"
	P1DES        P1Cipher = "des"
)

// P1CipherNames lists every phase 1 cipher's name, in the order messages
// list them (the table's).
func P1CipherNames() []string {
	out := make([]string, len(p1Ciphers))
	for i := range p1Ciphers {
		out[i] = p1Ciphers[i].Name
	}
	return out
}

// Phase 1 encryption attribute values (RFC 2409 appendix A, RFC 3602).
const (
	IKECipherDES  uint16 = 1
	IKECipher3DES uint16 = 5
	IKECipherAES  uint16 = 7
)

// P1CipherInfo is one row of the phase 1 cipher table.
type P1CipherInfo struct {
	Name      string // configuration name
	IKEAttr   uint16 // encryption-algorithm attribute
	KeyBits   int    // key-length attribute; 0: none sent
	KeyLen    int    // key in bytes
	BlockSize int    // block size and IV length
	Weak      bool
	NewBlock  func(key []byte) (cipher.Block, error)
}

var p1Ciphers = [...]P1CipherInfo{
	{Name: string(P1AES128), IKEAttr: IKECipherAES, KeyBits: 128, KeyLen: 16, BlockSize: aes.BlockSize, NewBlock: aes.NewCipher},
	{Name: string(P1AES192), IKEAttr: IKECipherAES, KeyBits: 192, KeyLen: 24, BlockSize: aes.BlockSize, NewBlock: aes.NewCipher},
	{Name: string(P1AES256), IKEAttr: IKECipherAES, KeyBits: 256, KeyLen: 32, BlockSize: aes.BlockSize, NewBlock: aes.NewCipher},
	{Name: string(P13DES), IKEAttr: IKECipher3DES, KeyLen: 24, BlockSize: des.BlockSize, NewBlock: des.NewTripleDESCipher},
	{Name: string(P1DES), IKEAttr: IKECipherDES, KeyLen: 8, BlockSize: des.BlockSize, Weak: true, NewBlock: des.NewCipher},
}

// Info returns the cipher's row, or nil for P1CipherNone and unknown values.
func (c P1Cipher) Info() *P1CipherInfo {
	for i := range p1Ciphers {
		if p1Ciphers[i].Name == string(c) {
			return &p1Ciphers[i]
		}
	}
	return nil
}

// P1CipherByAttr finds the phase 1 cipher of an encryption attribute and
// key-length attribute (bits; 0 when absent). RFC 3602 makes the key
// length mandatory for AES; Cisco treats a missing one as 128, and so do we.
func P1CipherByAttr(attr uint16, keyBits int) (P1Cipher, bool) {
	if attr == IKECipherAES && keyBits == 0 {
		keyBits = 128
	}
	for j := range p1Ciphers {
		i := &p1Ciphers[j]
		if i.IKEAttr == attr && i.KeyBits == keyBits {
			return P1Cipher(i.Name), true
		}
	}
	return P1CipherNone, false
}

// Group is a Diffie-Hellman group by its number (RFC 2409, RFC 3526,
// RFC 5903, RFC 8031), as in the group-description attributes. The
// arithmetic lives in ike, the only user.
type Group uint16

// GroupInfo is one row of the DH group table.
type GroupInfo struct {
	_    [0]func() // not comparable: no generated == function (flash)
	Name string    // "modp2048", "ecp256", "curve25519"
	Weak bool
}

// groups is the DH group table in ascending number (static data).
var groups = [...]struct {
	g    Group
	info GroupInfo
}{
	{1, GroupInfo{Name: "modp768", Weak: true}},
	{2, GroupInfo{Name: "modp1024", Weak: true}},
	{5, GroupInfo{Name: "modp1536", Weak: true}},
	{14, GroupInfo{Name: "modp2048"}},
	{15, GroupInfo{Name: "modp3072"}},
	{16, GroupInfo{Name: "modp4096"}},
	{19, GroupInfo{Name: "ecp256"}},
	{20, GroupInfo{Name: "ecp384"}},
	{21, GroupInfo{Name: "ecp521"}},
	{31, GroupInfo{Name: "curve25519"}},
}

// Groups lists every supported DH group, in ascending number.
func Groups() []Group {
	out := make([]Group, len(groups))
	for i := range groups {
		out[i] = groups[i].g
	}
	return out
}

// Info returns the group's row, or nil for an unsupported group: a
// pointer into the table, as the other Info methods return, not to a copy
// made on the heap at each call.
func (g Group) Info() *GroupInfo {
	for i := range groups {
		if groups[i].g == g {
			return &groups[i].info
		}
	}
	return nil
}

// Weak reports whether the group needs allow_weak (groups 1, 2 and 5).
func (g Group) Weak() bool { i := g.Info(); return i != nil && i.Weak }

// Auth is a phase 1 authentication method as configured.
type Auth string

// Authentication methods. RSA encryption modes are deliberately absent.
const (
	AuthNone Auth = ""
	PreShare Auth = "pre-share"
	RSASig   Auth = "rsa-sig"
	ECDSASig Auth = "ecdsa-sig"
)

// AuthNames lists every authentication method's name, in the order
// messages list them (the table's).
func AuthNames() []string {
	out := make([]string, len(auths))
	for i := range auths {
		out[i] = auths[i].Name
	}
	return out
}

// AuthInfo is one row of the authentication method table.
type AuthInfo struct {
	_       [0]func() // not comparable: no generated == function (flash)
	Name    string    // configuration name
	IKEAttr uint16    // authentication-method attribute (RFC 2409, RFC 4754); for ECDSA the P-256 value, adapted to the key's curve by ike
}

var auths = [...]AuthInfo{
	{Name: string(PreShare), IKEAttr: 1},
	{Name: string(RSASig), IKEAttr: 3},
	{Name: string(ECDSASig), IKEAttr: 9},
}

// Info returns the method's row, or nil for AuthNone and unknown values.
func (a Auth) Info() *AuthInfo {
	for i := range auths {
		if auths[i].Name == string(a) {
			return &auths[i]
		}
	}
	return nil
}
