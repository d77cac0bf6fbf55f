package conf

import (
	"time"

	"tinyipsec/internal/algo"
	"tinyipsec/internal/order"
)

// Phase 1 lifetime range of IOS "crypto isakmp policy" (60 s .. 1 day).
const (
	minP1Lifetime = 60 * time.Second
	maxP1Lifetime = 86400 * time.Second
)

// policies reads the [[isakmp_policy]] array and sorts it by priority.
func (b *builder) policies(ts []*table) {
	byPrio := map[int]keyPath{} // int keys: a map of int64 links its own lookup code (flash)
	for _, t := range ts {
		if b.stopArray() {
			break
		}
		b.policy(t, byPrio)
		t.done()
	}
	ps := b.cfg.Policies
	order.Stable(len(ps), func(i, j int) bool { return ps[i].Priority < ps[j].Priority },
		func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
}

func (b *builder) policy(t *table, byPrio map[int]keyPath) {
	weakOK := b.cfg.Global.AllowWeak
	var p ISAKMPPolicy
	valid := true
	need := func(key string) bool {
		if !t.has(key) {
			t.fail(key, "missing (required)")
			valid = false
			return false
		}
		return true
	}
	check := func(ok bool) {
		if !ok {
			valid = false
		}
	}

	if need("priority") {
		prio, ok := t.integer("priority", 0, 1, 10000)
		check(ok)
		if ok {
			if first, dup := byPrio[int(prio)]; dup {
				t.errorf("priority", "priority %d is already used by %s", prio, first)
				valid = false
			} else {
				byPrio[int(prio)] = t.path
			}
		}
		p.Priority = int(prio)
	}
	// weak refuses a weak algorithm without allow_weak.
	weak := func(key, what, name string, isWeak bool) {
		if isWeak && !weakOK {
			t.fail(key, weakHint(what+` "`+name+`"`))
			valid = false
		}
	}
	if need("encryption") {
		var ok bool
		p.Encryption, ok = algorithm(t, "encryption", algo.P1Ciphers())
		check(ok)
		weak("encryption", "cipher", p.Encryption.String(), ok && p.Encryption.Info().Weak)
	}
	if need("hash") {
		var ok bool
		p.Hash, ok = algorithm(t, "hash", algo.Hashes())
		check(ok)
		weak("hash", "hash", p.Hash.String(), ok && p.Hash.Info().Weak)
	}
	if need("authentication") {
		var ok bool
		p.Auth, ok = algorithm(t, "authentication", algo.Auths())
		check(ok)
	}
	if need("group") {
		v, _, ok := t.scalar("group")
		g, err := parseDHGroup(v)
		if !ok {
			valid = false
		} else if err != nil {
			t.fail("group", err.Error())
			valid = false
		} else if g.Weak() && !weakOK {
			t.errorf("group", "%s", weakHint("DH group "+itoa(g)))
			valid = false
		}
		p.Group = g
	}
	lt, ok := t.duration("lifetime", DefaultP1Lifetime)
	if ok && (lt < minLifetime(minP1Lifetime) || lt > maxP1Lifetime) {
		t.errorf("lifetime", "%s is out of range 60s..86400s", lt)
		ok = false
	}
	check(ok)
	p.Lifetime = lt

	if valid {
		b.cfg.Policies = append(b.cfg.Policies, p)
	}
}
