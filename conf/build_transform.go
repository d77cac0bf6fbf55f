package conf

import (
	"strconv"

	"tinyipsec/internal/algo"
)

// transformSet reads [transform_set.NAME] and keeps it if it is valid.
func (b *builder) transformSet(name string, t *table) {
	weakOK := b.cfg.Global.AllowWeak
	ts := &TransformSet{Name: name}
	// Kept only if reading it reported no error, counting those dropped
	// past maxErrors: each reader that fails reports why (flash: no
	// validity flag set at every step).
	nerr := len(b.errs) + b.dropped

	esp, _ := t.oneOf("esp", "", algo.CipherNames())
	ts.ESP = algo.Cipher(esp)
	hashes := algo.HashNames()
	espAuth, _ := t.oneOf("esp_auth", "", hashes)
	ts.ESPAuth = algo.Hash(espAuth)
	ah, _ := t.oneOf("ah", "", hashes)
	ts.AH = algo.Hash(ah)
	mode, _ := t.oneOf("mode", string(ModeTunnel), modes[:])
	ts.Mode = Mode(mode)

	switch {
	case !t.has("esp") && !t.has("ah"):
		b.fail(t.path, "needs esp, ah or both")
	case ts.ESP == algo.CipherNone && t.has("esp_auth") && !t.has("esp"):
		t.fail("esp_auth", "given without esp")
	case ts.ESP.AEAD() && t.has("esp_auth"):
		t.fail("esp_auth", "must not be set: "+string(ts.ESP)+" already authenticates")
	case ts.ESP != algo.CipherNone && !ts.ESP.AEAD() && !t.has("esp_auth"):
		t.fail("esp_auth", "missing: esp = "+strconv.Quote(string(ts.ESP))+" needs an integrity algorithm (or use an AEAD cipher such as aes128gcm16)")
	}
	for _, h := range []struct {
		key string
		alg algo.Hash
	}{{"esp_auth", ts.ESPAuth}, {"ah", ts.AH}} {
		if i := h.alg.Info(); i != nil && i.Weak && !weakOK {
			t.fail(h.key, weakHint(`hash "`+i.Name+`"`))
		}
	}
	if len(b.errs)+b.dropped == nerr {
		b.cfg.TransformSets = append(b.cfg.TransformSets, ts) // in name order: see named
	}
}
