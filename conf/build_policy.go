package conf

import (
	"strconv"
	"time"

	"tinyipsec/internal/algo"
)

// Phase 1 lifetime range of IOS "crypto isakmp policy" (60 s .. 1 day).
const (
	minP1Lifetime = 60 * time.Second
	maxP1Lifetime = 86400 * time.Second
)

func (b *builder) policy(t *table, byPrio map[int]string) {
	weakOK := b.cfg.Global.AllowWeak
	var p ISAKMPPolicy
	// Kept only if reading it reported no error, counting those dropped
	// past maxErrors: every reader that fails reports why, so no validity
	// flag and no closures to set it (flash).
	nerr := len(b.errs) + b.dropped

	if t.need("priority") {
		prio, ok := t.integer("priority", 0, 1, 10000)
		if ok {
			if first, dup := byPrio[int(prio)]; dup {
				t.fail("priority", "priority "+strconv.FormatInt(prio, 10)+" is already used by "+first)
			} else {
				byPrio[int(prio)] = t.path.String()
			}
		}
		p.Priority = int(prio)
	}
	if t.need("encryption") {
		s, ok := t.oneOf("encryption", "", algo.P1CipherNames())
		p.Encryption = algo.P1Cipher(s)
		if ok && p.Encryption.Info().Weak && !weakOK {
			t.fail("encryption", weakHint(`cipher "`+string(p.Encryption)+`"`))
		}
	}
	if t.need("hash") {
		s, ok := t.oneOf("hash", "", algo.HashNames())
		p.Hash = algo.Hash(s)
		if ok && p.Hash.Info().Weak && !weakOK {
			t.fail("hash", weakHint(`hash "`+string(p.Hash)+`"`))
		}
	}
	if t.need("authentication") {
		s, _ := t.oneOf("authentication", "", algo.AuthNames())
		p.Auth = algo.Auth(s)
	}
	if t.need("group") {
		v, _, ok := t.scalar("group")
		g, err := parseDHGroup(v)
		switch {
		case !ok: // t.scalar reported it
		case err != nil:
			t.fail("group", err.Error())
		case g.Weak() && !weakOK:
			t.fail("group", weakHint("DH group "+strconv.Itoa(int(g))))
		}
		p.Group = g
	}
	lt, ok := t.duration("lifetime", DefaultP1Lifetime)
	if ok && (lt < minLifetime(minP1Lifetime) || lt > maxP1Lifetime) {
		t.fail("lifetime", lt.String()+" is out of range 60s..86400s")
	}
	p.Lifetime = lt

	if len(b.errs)+b.dropped == nerr {
		ps := append(b.cfg.Policies, ISAKMPPolicy{})
		i := len(ps) - 1
		for ; i > 0 && ps[i-1].Priority > p.Priority; i-- {
			ps[i] = ps[i-1]
		}
		ps[i] = p
		b.cfg.Policies = ps
	}
}
