package ike

import (
	"net/netip"
	"testing"

	"tinyipsec/conf"
)

// TestLocalAddrFor: without a configured local address, the source the
// kernel would pick towards the peer; a configured one wins; an unknown
// IPv6 zone is an error.
func TestLocalAddrFor(t *testing.T) {
	cm := &conf.CryptoMap{}
	if a, err := localAddrFor(cm, netip.MustParseAddr("127.0.0.1")); err != nil || a != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("towards 127.0.0.1: %v, %v", a, err)
	}
	if a, err := localAddrFor(cm, netip.MustParseAddr("::1")); err == nil && a != netip.MustParseAddr("::1") {
		t.Errorf("towards ::1: %v", a) // no error check: a host without IPv6
	}
	if _, err := localAddrFor(cm, netip.MustParseAddr("fe80::1%nosuchif0")); err == nil {
		t.Error("an unknown zone gave no error")
	}
	cm.Local = netip.MustParseAddr("192.0.2.1")
	if a, err := localAddrFor(cm, netip.MustParseAddr("127.0.0.1")); err != nil || a != cm.Local {
		t.Errorf("configured local address: %v, %v", a, err)
	}
}
