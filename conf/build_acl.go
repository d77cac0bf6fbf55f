package conf

import (
	"errors"

	"tinyipsec/acl"
)

// acls reads every [acl.NAME].
func (b *builder) acls(t *table) {
	named(b, t, b.aclDefined, b.cfg.ACLs, b.acl)
}

func (b *builder) acl(name string, t *table) *ACL {
	if !t.has("rules") {
		t.get("rules")
		t.fail("rules", "missing (an ACL needs at least one permit rule)")
		return nil
	}
	lines, ok := t.strList("rules")
	if !ok {
		return nil
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
		return nil
	}
	if permits == 0 {
		t.fail("rules", "an ACL needs at least one permit rule")
		return nil
	}
	return a
}
