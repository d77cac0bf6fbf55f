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

	// The six keys in manualOnlyKeys[2:8]'s order, in and out for each
	// of ESP, ESP's integrity and AH, read by one loop rather than a
	// helper called six times (flash). A key of want bytes for algorithm
	// alg (salted: it ends in an AEAD salt); want -1 means the key must
	// not be there. The value is never echoed.
	algs := [3]string{string(ts.ESP), string(ts.ESPAuth), string(ts.AH)}
	wants := [3]int{-1, -1, -1}
	if c := ts.ESP.Info(); c != nil {
		wants[0] = c.KeymatLen()
	}
	if h := ts.ESPAuth.Info(); h != nil {
		wants[1] = h.Size
	}
	if h := ts.AH.Info(); h != nil {
		wants[2] = h.Size
	}
	keys := [...]*Secret{&mk.ESPKeyIn, &mk.ESPKeyOut, &mk.ESPAuthKeyIn, &mk.ESPAuthKeyOut, &mk.AHKeyIn, &mk.AHKeyOut}
	for i, key := range manualOnlyKeys[2:8] {
		want := wants[i/2]
		need := algs[i/2] + " needs a " + strconv.Itoa(want) + "-byte key (" + strconv.Itoa(2*want) + " hex digits)"
		if i < 2 && ts.ESP.AEAD() {
			need += " including the 4-byte salt"
		}
		if !t.has(key) {
			if want > 0 {
				t.fail(key, "missing: "+need)
			}
			continue
		}
		s, ok := t.str(key, "")
		if !ok {
			continue
		}
		if want < 0 {
			t.fail(key, "not used by this transform set")
			continue
		}
		s = strings.TrimSpace(s)
		if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
			s = s[2:]
		}
		// Two digits per byte through strconv, which the daemon links
		// anyway, rather than encoding/hex's decoder and its error type,
		// linked for this alone (flash).
		k := make([]byte, len(s)/2)
		valid := len(s)%2 == 0
		for j := 0; valid && j < len(k); j++ {
			v, err := strconv.ParseUint(s[2*j:2*j+2], 16, 8)
			k[j], valid = byte(v), err == nil
		}
		switch {
		case !valid:
			clear(k) // the part of a key read so far
			t.fail(key, "is not a hex string (digits 0-9a-f, optionally after 0x)")
		case len(k) != want:
			t.fail(key, need+", not "+strconv.Itoa(len(k))+" bytes")
		case want > 0:
			*keys[i] = Secret(k)
		}
	}

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
