package tun

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// TestRequestAttrs: the attributes request writes are byte for byte what
// netlink's AttributeEncoder writes, odd lengths padded included.
func TestRequestAttrs(t *testing.T) {
	ae := netlink.NewAttributeEncoder()
	ae.Bytes(unix.RTA_DST, []byte{192, 0, 2, 1})
	ae.Uint32(unix.RTA_TABLE, 0xc0ffee)
	ae.Uint8(unix.FRA_PROTOCOL, routeProtocol)
	ae.Bytes(unix.RTA_GATEWAY, netip.MustParseAddr("2001:db8::1").AsSlice())
	ae.Bytes(7, []byte{1, 2, 3, 4, 5})
	want, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	q := request{}.attr(unix.RTA_DST, []byte{192, 0, 2, 1}).u32(unix.RTA_TABLE, 0xc0ffee).
		attr(unix.FRA_PROTOCOL, []byte{routeProtocol}).
		attr(unix.RTA_GATEWAY, netip.MustParseAddr("2001:db8::1").AsSlice()).attr(7, []byte{1, 2, 3, 4, 5})
	if !bytes.Equal(q, want) {
		t.Errorf("request attributes\n got %x\nwant %x", []byte(q), want)
	}
}

// TestAttrs: attrs reads what netlink's encoder wrote, a nested
// attribute's flag taken off its type, and stops at a malformed one.
func TestAttrs(t *testing.T) {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(unix.RTA_OIF, 7)
	ae.Nested(unix.RTA_METRICS, func(nae *netlink.AttributeEncoder) error {
		nae.Uint32(unix.RTAX_MTU, 1400)
		return nil
	})
	ae.Bytes(unix.RTA_PREFSRC, []byte{10, 0, 0, 1})
	ae.Uint32(unix.RTA_TABLE, 9) // beyond the table below: ignored
	b, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	hdr := make([]byte, unix.SizeofRtMsg)
	hdr[1] = 32
	rt, err := parseRoute(append(hdr, b...))
	if err != nil || rt.IfIndex != 7 || rt.MTU != 1400 || rt.Src != netip.MustParseAddr("10.0.0.1") || rt.Dst.IsValid() {
		t.Errorf("parseRoute = %+v, %v", rt, err)
	}
	var tab [unix.RTA_METRICS + 1][]byte
	if !attrs(b, tab[:]) {
		t.Fatal("attrs refused well-formed attributes")
	}
	for typ, v := range tab {
		switch typ {
		case unix.RTA_OIF, unix.RTA_METRICS, unix.RTA_PREFSRC:
			if v == nil {
				t.Errorf("attribute %d missing", typ)
			}
		default:
			if v != nil {
				t.Errorf("attribute %d = %x, want none", typ, v)
			}
		}
	}
	if len(tab[unix.RTA_METRICS]) != 8 || len(tab[unix.RTA_PREFSRC]) != 4 {
		t.Errorf("metrics %x, preferred source %x", tab[unix.RTA_METRICS], tab[unix.RTA_PREFSRC])
	}
	for _, bad := range [][]byte{
		{8, 0, 1, 0, 0, 0},    // length beyond the buffer
		{2, 0, 1, 0},          // length shorter than the header
		{8, 0, 1, 0, 0, 0, 0}, // truncated value
		{4, 0, 1, 0, 9},       // a whole attribute, then a runt
	} {
		if attrs(bad, tab[:]) {
			t.Errorf("attrs(%x) accepted a malformed attribute", bad)
		}
		if _, err := parseRoute(append(hdr[:unix.SizeofRtMsg:unix.SizeofRtMsg], bad...)); err == nil {
			t.Errorf("parseRoute accepted malformed attributes %x", bad)
		}
	}
}
