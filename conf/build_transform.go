package conf

// transformSets reads every [transform_set.NAME].
func (b *builder) transformSets(t *table) {
	defer t.done()
	b.subtables(t, func(name string, s *table) {
		b.tsDefined[name] = true
		if ts := b.transformSet(name, s); ts != nil {
			b.cfg.TransformSets[name] = ts
		}
	})
}

func (b *builder) transformSet(name string, t *table) *TransformSet {
	defer t.done()
	weakOK := b.cfg.Global.AllowWeak
	ts := &TransformSet{Name: name}
	valid := true

	var ok bool
	if ts.ESP, ok = t.oneOf("esp", "", espCiphers...); !ok {
		valid = false
	}
	if ts.ESPAuth, ok = t.oneOf("esp_auth", "", hashes...); !ok {
		valid = false
	}
	if ts.AH, ok = t.oneOf("ah", "", hashes...); !ok {
		valid = false
	}
	if ts.Mode, ok = t.oneOf("mode", "tunnel", "tunnel", "transport"); !ok {
		valid = false
	}

	switch {
	case !t.has("esp") && !t.has("ah"):
		b.errorf(t.path, "needs esp, ah or both")
		valid = false
	case ts.ESP == "" && t.has("esp_auth") && !t.has("esp"):
		t.errorf("esp_auth", "given without esp")
		valid = false
	case IsAEAD(ts.ESP) && t.has("esp_auth"):
		t.errorf("esp_auth", "must not be set: %s already authenticates", ts.ESP)
		valid = false
	case ts.ESP != "" && !IsAEAD(ts.ESP) && !t.has("esp_auth"):
		t.errorf("esp_auth", "missing: esp = %q needs an integrity algorithm (or use an AEAD cipher such as aes128gcm16)", ts.ESP)
		valid = false
	}
	if weakHash(ts.ESPAuth) && !weakOK {
		t.errorf("esp_auth", "%s", weakHint(`hash "md5"`))
		valid = false
	}
	if weakHash(ts.AH) && !weakOK {
		t.errorf("ah", "%s", weakHint(`hash "md5"`))
		valid = false
	}
	if !valid {
		return nil
	}
	return ts
}
