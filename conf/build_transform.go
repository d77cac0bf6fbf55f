package conf

import "tinyipsec/internal/algo"

// transformSets reads every [transform_set.NAME].
func (b *builder) transformSets(t *table) {
	b.named(t, b.tsDefined, b.transformSet)
}

// transformSet reads [transform_set.NAME] and keeps it if it is valid.
func (b *builder) transformSet(name string, t *table) {
	weakOK := b.cfg.Global.AllowWeak
	ts := &TransformSet{Name: name}
	valid := true

	var ok bool
	if ts.ESP, ok = algorithm(t, "esp", algo.Ciphers()); !ok {
		valid = false
	}
	if ts.ESPAuth, ok = algorithm(t, "esp_auth", algo.Hashes()); !ok {
		valid = false
	}
	if ts.AH, ok = algorithm(t, "ah", algo.Hashes()); !ok {
		valid = false
	}
	if ts.Mode, ok = enum(t, "mode", ModeTunnel, ModeTunnel, ModeTransport); !ok {
		valid = false
	}

	switch {
	case !t.has("esp") && !t.has("ah"):
		b.fail(t.path, "needs esp, ah or both")
		valid = false
	case ts.ESP == algo.CipherNone && t.has("esp_auth") && !t.has("esp"):
		t.fail("esp_auth", "given without esp")
		valid = false
	case ts.ESP.AEAD() && t.has("esp_auth"):
		t.errorf("esp_auth", "must not be set: %s already authenticates", ts.ESP)
		valid = false
	case ts.ESP != algo.CipherNone && !ts.ESP.AEAD() && !t.has("esp_auth"):
		t.errorf("esp_auth", "missing: esp = %q needs an integrity algorithm (or use an AEAD cipher such as aes128gcm16)", ts.ESP)
		valid = false
	}
	for _, h := range []struct {
		key string
		alg algo.Hash
	}{{"esp_auth", ts.ESPAuth}, {"ah", ts.AH}} {
		if i := h.alg.Info(); i != nil && i.Weak && !weakOK {
			t.fail(h.key, weakHint(`hash "`+i.Name+`"`))
			valid = false
		}
	}
	if valid {
		b.cfg.TransformSets[name] = ts
	}
}
