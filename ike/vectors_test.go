package ike

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// vectors is one parsed vectors.txt: name -> value text.
type vectors struct {
	t    testing.TB
	name string
	v    map[string]string
}

func loadVectors(t testing.TB, name string) *vectors {
	t.Helper()
	f, err := os.Open(filepath.Join(vectorDir(name), "vectors.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v := &vectors{t: t, name: name, v: map[string]string{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, val, ok := strings.Cut(line, " = ")
		if !ok {
			t.Fatalf("%s: bad line %q", name, line)
		}
		v.v[strings.TrimSpace(k)] = strings.TrimSpace(val)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return v
}

func (v *vectors) has(k string) bool { _, ok := v.v[k]; return ok }

func (v *vectors) str(k string) string {
	v.t.Helper()
	s, ok := v.v[k]
	if !ok {
		v.t.Fatalf("%s: no %s", v.name, k)
	}
	return s
}

func (v *vectors) hex(k string) []byte {
	v.t.Helper()
	b, err := hex.DecodeString(v.str(k))
	if err != nil {
		v.t.Fatalf("%s: %s: %v", v.name, k, err)
	}
	return b
}

// num parses "256" or "7 (AES-CBC)".
func (v *vectors) num(k string) int {
	v.t.Helper()
	f := strings.Fields(v.str(k))
	n, err := strconv.Atoi(f[0])
	if err != nil {
		v.t.Fatalf("%s: %s: %v", v.name, k, err)
	}
	return n
}

func (v *vectors) cookie(k string) Cookie {
	var c Cookie
	copy(c[:], v.hex(k))
	return c
}

// hashAlg and cipher of the phase 1 proposal.
func (v *vectors) suite() (HashAlg, CipherAlg, int) {
	h := HashAlg(v.num("p1_attr_2_hash_algorithm"))
	c := CipherAlg(v.num("p1_attr_1_encryption_algorithm"))
	bits := 0
	if v.has("p1_attr_14_key_length") {
		bits = v.num("p1_attr_14_key_length")
	}
	kl, err := c.KeyLen(bits)
	if err != nil {
		v.t.Fatal(err)
	}
	return h, c, kl
}

func eq(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\n got %x\nwant %x", what, got, want)
	}
}

// phase1KeysFromVectors recomputes the phase 1 keys from the file's inputs.
func phase1KeysFromVectors(t *testing.T, v *vectors) *Phase1Keys {
	h, c, kl := v.suite()
	var psk []byte
	if v.has("psk") {
		psk = []byte(v.str("psk"))
	}
	k, err := DerivePhase1Keys(h, c, kl, psk, v.hex("ni_b"), v.hex("nr_b"), v.hex("g_xy"), v.hex("g_xi"), v.hex("g_xr"), v.cookie("cky_i"), v.cookie("cky_r"))
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "SKEYID", k.SKEYID, v.hex("skeyid"))
	eq(t, "SKEYID_d", k.SKEYIDd, v.hex("skeyid_d"))
	eq(t, "SKEYID_a", k.SKEYIDa, v.hex("skeyid_a"))
	eq(t, "SKEYID_e", k.SKEYIDe, v.hex("skeyid_e"))
	eq(t, "Ka", k.Ka, v.hex("ka"))
	eq(t, "IV", k.IV, v.hex("iv"))
	return k
}

// encryptedMessages returns the encrypted IKE messages of the capture in
// order, fragments reassembled.
func encryptedMessages(t *testing.T, name string) [][]byte {
	var out [][]byte
	var r Reassembler
	for _, d := range pcapIKEMessages(t, filepath.Join(vectorDir(name), "exchange.pcap")) {
		h, err := ParseHeader(d.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if h.NextPayload == PayloadFragment && !h.Encrypted() {
			m, err := Unmarshal(d.Payload)
			if err != nil {
				t.Fatal(err)
			}
			full, err := r.Add(m.opaque(PayloadFragment))
			if err != nil {
				t.Fatal(err)
			}
			if full != nil {
				out = append(out, full)
			}
			continue
		}
		if h.Encrypted() {
			out = append(out, d.Payload)
		}
	}
	return out
}

func TestVectors(t *testing.T) {
	for _, name := range vectorCases {
		t.Run(name, func(t *testing.T) { testVectorCase(t, name) })
	}
}

func testVectorCase(t *testing.T, name string) {
	v := loadVectors(t, name)
	k := phase1KeysFromVectors(t, v)
	h := k.Hash
	ckyI, ckyR := v.cookie("cky_i"), v.cookie("cky_r")
	gxi, gxr := v.hex("g_xi"), v.hex("g_xr")

	// HASH_I / HASH_R.
	hashI := HashI(h, k.SKEYID, gxi, gxr, ckyI, ckyR, v.hex("sai_b"), v.hex("idii_b"))
	hashR := HashR(h, k.SKEYID, gxi, gxr, ckyI, ckyR, v.hex("sai_b"), v.hex("idir_b"))
	eq(t, "HASH_I", hashI, v.hex("hash_i"))
	eq(t, "HASH_R", hashR, v.hex("hash_r"))
	if v.has("sig_i") {
		verifyVectorSignatures(t, v, hashI, hashR)
	}

	// NAT-D: the destination hashes are reproducible (the source ones are
	// faked by the peer).
	ini := netip.MustParseAddr(v.str("initiator_addr"))
	res := netip.MustParseAddr(v.str("responder_addr"))
	aggressive := strings.HasPrefix(name, "am-")
	if aggressive {
		eq(t, "NAT-D AM2 dst", NATDHash(h, ckyI, ckyR, ptr(netip.AddrPortFrom(ini, 500))), v.hex("natd_am2_dst"))
		eq(t, "NAT-D AM3 dst", NATDHash(h, ckyI, ckyR, ptr(netip.AddrPortFrom(res, 4500))), v.hex("natd_am3_dst"))
	} else {
		eq(t, "NAT-D MM3 dst", NATDHash(h, ckyI, ckyR, ptr(netip.AddrPortFrom(res, 500))), v.hex("natd_mm3_dst"))
		eq(t, "NAT-D MM4 dst", NATDHash(h, ckyI, ckyR, ptr(netip.AddrPortFrom(ini, 500))), v.hex("natd_mm4_dst"))
	}

	// Decrypt every encrypted message: phase 1 first, then Quick Mode.
	_, c, _ := v.suite()
	ci := c.info(8 * len(k.Ka)) // AES; DES and 3DES have a row for attribute 0 only
	if ci == nil {
		ci = c.info(0)
	}
	blk, err := ci.NewBlock(k.Ka)
	if err != nil {
		t.Fatal(err)
	}
	enc := encryptedMessages(t, name)
	p1 := []string{"mm5", "mm6"}
	if aggressive {
		p1 = []string{"am3"}
	}
	names := append(p1, "qm1", "qm2", "qm3")
	if len(enc) < len(names) {
		t.Fatalf("%d encrypted messages in the capture, want %d", len(enc), len(names))
	}
	iv := k.IV
	msgs := map[string]*Message{}
	for i, n := range names {
		if n == "qm1" {
			mid := uint32(v.num2hex("qm_message_id"))
			iv = Phase2IV(h, iv, mid, blk.BlockSize())
		}
		eq(t, n+" IV", iv, v.hex(n+"_iv"))
		eq(t, n+" ciphertext", enc[i][HeaderLen:], v.hex(n+"_ciphertext"))
		m, next, err := Open(enc[i], blk, iv)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		var chain []byte
		for _, r := range m.Raw {
			chain = append(chain, r...)
		}
		want := v.hex(n + "_plaintext")
		if len(chain) == 0 || !bytes.HasPrefix(want, chain) || len(want)-len(chain) >= blk.BlockSize()+1 {
			t.Errorf("%s plaintext:\n got %x\nwant %x", n, chain, want)
		}
		msgs[n] = m
		iv = next
	}

	// Phase 1 authentication payloads inside the decrypted messages.
	if aggressive {
		eq(t, "AM3 HASH", msgs["am3"].opaque(PayloadHash).Data, v.hex("hash_i"))
	} else if !v.has("sig_i") {
		eq(t, "MM5 HASH", msgs["mm5"].opaque(PayloadHash).Data, v.hex("hash_i"))
		eq(t, "MM6 HASH", msgs["mm6"].opaque(PayloadHash).Data, v.hex("hash_r"))
	} else {
		eq(t, "MM5 SIG", msgs["mm5"].opaque(PayloadSig).Data, v.hex("sig_i"))
		eq(t, "MM6 SIG", msgs["mm6"].opaque(PayloadSig).Data, v.hex("sig_r"))
	}
	if !aggressive {
		eq(t, "MM5 ID", Find[*ID](msgs["mm5"]).Body(), v.hex("idii_b"))
		eq(t, "MM6 ID", Find[*ID](msgs["mm6"]).Body(), v.hex("idir_b"))
	}

	// Quick Mode hashes over the payloads as received.
	mid := uint32(v.num2hex("qm_message_id"))
	ni, nr := v.hex("qm_ni_b"), v.hex("qm_nr_b")
	after := func(m *Message) []byte {
		var b []byte
		for _, r := range m.Raw[1:] {
			b = append(b, r...)
		}
		return b
	}
	eq(t, "HASH(1)", QuickHash1(h, k.SKEYIDa, mid, after(msgs["qm1"])), v.hex("qm_hash_1"))
	eq(t, "HASH(2)", QuickHash2(h, k.SKEYIDa, mid, ni, after(msgs["qm2"])), v.hex("qm_hash_2"))
	eq(t, "HASH(3)", QuickHash3(h, k.SKEYIDa, mid, ni, nr), v.hex("qm_hash_3"))
	eq(t, "QM1 HASH payload", msgs["qm1"].opaque(PayloadHash).Data, v.hex("qm_hash_1"))
	eq(t, "QM nonce i", msgs["qm1"].opaque(PayloadNonce).Data, ni)
	eq(t, "QM nonce r", msgs["qm2"].opaque(PayloadNonce).Data, nr)

	// KEYMAT per direction (the receiver's SPI keys its SA).
	var gqm []byte
	if v.has("qm_g_xy") {
		gqm = v.hex("qm_g_xy")
	}
	i2r, r2i := v.hex("keymat_i2r"), v.hex("keymat_r2i")
	eq(t, "KEYMAT i2r", QuickKeymat(h, k.SKEYIDd, gqm, ProtoESP, v.hex("qm_spi_r"), ni, nr, len(i2r)), i2r)
	eq(t, "KEYMAT r2i", QuickKeymat(h, k.SKEYIDd, gqm, ProtoESP, v.hex("qm_spi_i"), ni, nr, len(r2i)), r2i)
	if v.has("qm_g_xi") {
		// The PFS KE values are valid points for our ECP decoding.
		key, err := GroupECP256.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"qm_g_xi", "qm_g_xr"} {
			if _, err := key.SharedSecret(v.hex(n)); err != nil {
				t.Errorf("%s: %v", n, err)
			}
		}
		eq(t, "QM1 KE", msgs["qm1"].opaque(PayloadKE).Data, v.hex("qm_g_xi"))
	}
	sa := Find[*SA](msgs["qm2"])
	eq(t, "QM SPI r", sa.Proposals[0].SPI, v.hex("qm_spi_r"))
}

// num2hex parses a hex-encoded 32-bit value such as the message ID.
func (v *vectors) num2hex(k string) uint64 {
	n, err := strconv.ParseUint(v.str(k), 16, 64)
	if err != nil {
		v.t.Fatal(err)
	}
	return n
}

func readPEMCert(t *testing.T, path string) *x509.Certificate {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// vectorTime is inside the test certificates' validity window.
var vectorTime = time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)

func verifyVectorSignatures(t *testing.T, v *vectors, hashI, hashR []byte) {
	dir := vectorDir(v.name)
	ca := readPEMCert(t, filepath.Join(dir, v.str("ca_cert")))
	ci := readPEMCert(t, filepath.Join(dir, v.str("cert_i")))
	cr := readPEMCert(t, filepath.Join(dir, v.str("cert_r")))
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, c := range []*x509.Certificate{ci, cr} {
		if _, err := c.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: vectorTime, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("chain of %s: %v", c.Subject, err)
		}
	}
	// IKEv1 RSA signatures are PKCS#1 v1.5 over the bare hash, no DigestInfo.
	if err := rsa.VerifyPKCS1v15(ci.PublicKey.(*rsa.PublicKey), crypto.Hash(0), hashI, v.hex("sig_i")); err != nil {
		t.Errorf("SIG_I: %v", err)
	}
	if err := rsa.VerifyPKCS1v15(cr.PublicKey.(*rsa.PublicKey), crypto.Hash(0), hashR, v.hex("sig_r")); err != nil {
		t.Errorf("SIG_R: %v", err)
	}
	eq(t, "IDii is the subject DN", IDFromDN(ci.RawSubject).Body(), v.hex("idii_b"))
	eq(t, "IDir is the subject DN", IDFromDN(cr.RawSubject).Body(), v.hex("idir_b"))
}

func ptr[T any](v T) *T { return &v }
