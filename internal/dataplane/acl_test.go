package dataplane

import (
	"net/netip"
	"testing"

	"tinyipsec/acl"
	"tinyipsec/conf"
)

// Crypto ACLs are compiled once per configuration: two maps naming one
// ACL, the data plane and the IKE manager (ike.newMapState) all use the
// same compiled list.
func TestACLCompiledOnce(t *testing.T) {
	a := &conf.ACL{Name: "vpn", Rules: []acl.Rule{{Permit: true, Src: netip.MustParsePrefix("10.1.0.0/16"),
		Dst: netip.MustParsePrefix("10.2.0.0/16"), SrcPorts: acl.AnyPort, DstPorts: acl.AnyPort}}}
	maps := []*conf.CryptoMap{{Name: "m", Seq: 10, ACL: a}, {Name: "m", Seq: 20, ACL: a}, {Name: "m", Seq: 30}}
	lists, ids := compileACLs(maps)
	if len(lists) != 3 || len(ids) != 3 || lists[2] != nil {
		t.Fatalf("lists %v ids %v", lists, ids)
	}
	if lists[0] == nil || lists[0] != lists[1] || lists[0] != a.List() {
		t.Fatal("the maps' ACL was compiled more than once")
	}
}
