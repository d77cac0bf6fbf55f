package conf

import (
	"strconv"
	"strings"

	"tinyipsec/internal/algo"
)

// manualMap reads the SPIs and keys of a keying = "manual" crypto map
// (IOS "crypto map NAME SEQ ipsec-manual").
func (b *builder) manualMap(t *table, m *CryptoMap) {
	m.NATT = NATTOff
	if m.Dynamic || (m.Peer != "" && !m.PeerAddr.IsValid() && validHostname(m.Peer)) {
		t.fail("peer", "keying = \"manual\" needs a literal peer address")
	}
	if len(m.TransformSet) > 1 {
		t.fail("transform_set", "keying = \"manual\" takes exactly one transform set")
	}

	mk := &ManualKeys{}
	m.Manual = mk
	mk.SPIIn = b.spi(t, "spi_in", true, 0)
	mk.SPIOut = b.spi(t, "spi_out", true, 0)

	var ts *TransformSet
	if len(m.TransformSets) == 1 && len(m.TransformSet) == 1 {
		ts = m.TransformSets[0]
	}
	if ts == nil {
		// The transform set is missing or broken (reported elsewhere):
		// the key lengths cannot be checked, but the keys are known.
		for _, k := range manualOnlyKeys {
			t.get(k)
		}
		return
	}

	espKeyLen := -1 // -1: the key must be absent
	if c := ts.ESP.Info(); c != nil {
		espKeyLen = c.KeymatLen()
	}
	mk.ESPKeyIn = b.hexKey(t, "esp_key_in", espKeyLen, string(ts.ESP), ts.ESP.AEAD())
	mk.ESPKeyOut = b.hexKey(t, "esp_key_out", espKeyLen, string(ts.ESP), ts.ESP.AEAD())

	authLen := -1
	if h := ts.ESPAuth.Info(); h != nil {
		authLen = h.Size
	}
	mk.ESPAuthKeyIn = b.hexKey(t, "esp_auth_key_in", authLen, string(ts.ESPAuth), false)
	mk.ESPAuthKeyOut = b.hexKey(t, "esp_auth_key_out", authLen, string(ts.ESPAuth), false)

	ahLen := -1
	if h := ts.AH.Info(); h != nil {
		ahLen = h.Size
	}
	mk.AHKeyIn = b.hexKey(t, "ah_key_in", ahLen, string(ts.AH), false)
	mk.AHKeyOut = b.hexKey(t, "ah_key_out", ahLen, string(ts.AH), false)

	// AH+ESP bundles may use separate SPIs; AH alone uses spi_in/spi_out.
	bundle := ts.AH != algo.HashNone && ts.ESP != algo.CipherNone
	mk.AHSPIIn = b.spi(t, "ah_spi_in", false, mk.SPIIn)
	mk.AHSPIOut = b.spi(t, "ah_spi_out", false, mk.SPIOut)
	for _, k := range []string{"ah_spi_in", "ah_spi_out"} {
		if t.has(k) && !bundle {
			t.fail(k, "only used when the transform set has both ah and esp")
		}
	}
	if ts.AH == algo.HashNone {
		mk.AHSPIIn, mk.AHSPIOut = 0, 0
	}
}

// spi reads an SPI; def when absent and not required.
func (b *builder) spi(t *table, key string, required bool, def uint32) uint32 {
	if !t.has(key) {
		if required {
			t.fail(key, "missing (required with keying = \"manual\")")
		}
		return def
	}
	n, _ := t.integer(key, int64(def), minSPI, maxSPI)
	return uint32(n)
}

// hexKey reads a hex key of exactly want bytes for algorithm alg (salted:
// the key ends in an AEAD salt); want -1 means the key must not be there.
// The value is never echoed.
func (b *builder) hexKey(t *table, key string, want int, alg string, salted bool) Secret {
	need := alg + " needs a " + strconv.Itoa(want) + "-byte key (" + strconv.Itoa(2*want) + " hex digits)"
	if salted {
		need += " including the 4-byte salt"
	}
	if !t.has(key) {
		if want > 0 {
			t.fail(key, "missing: "+need)
		}
		return nil
	}
	s, ok := t.str(key, "")
	if !ok {
		return nil
	}
	if want < 0 {
		t.fail(key, "not used by this transform set")
		return nil
	}
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		s = s[2:]
	}
	// Two digits per byte through strconv, which the daemon links anyway,
	// rather than encoding/hex's decoder and its error type, linked for
	// this alone (flash).
	key2 := make([]byte, len(s)/2)
	valid := len(s)%2 == 0
	for i := 0; valid && i < len(key2); i++ {
		v, err := strconv.ParseUint(s[2*i:2*i+2], 16, 8)
		key2[i], valid = byte(v), err == nil
	}
	if !valid {
		clear(key2) // the part of a key read so far
		t.fail(key, "is not a hex string (digits 0-9a-f, optionally after 0x)")
		return nil
	}
	if len(key2) != want {
		t.fail(key, need+", not "+strconv.Itoa(len(key2))+" bytes")
		return nil
	}
	if want == 0 {
		return nil
	}
	return Secret(key2)
}
