package conf

import (
	"errors"

	"tinyipsec/acl"
)

// acl reads [acl.NAME] and keeps it if it is valid.
func (b *builder) acl(name string, t *table) {
	lines, ok := t.requiredList("rules", "an ACL needs at least one permit rule")
	if !ok {
		return
	}
	a := &ACL{Name: name}
	permits := 0
	for i, line := range lines {
		r, err := acl.ParseRule(line)
		if errors.Is(err, acl.ErrRemark) {
			continue
		}
		if err != nil {
			b.fail(t.path.key("rules").index(i), err.Error())
			ok = false
			continue
		}
		if r.Permit {
			permits++
		}
		a.Rules = append(a.Rules, r)
	}
	if !ok {
		return
	}
	if permits == 0 {
		t.fail("rules", "an ACL needs at least one permit rule")
		return
	}
	b.cfg.ACLs = append(b.cfg.ACLs, a) // in name order: see named
}
