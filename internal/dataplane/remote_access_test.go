package dataplane

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"tinyipsec/conf"
	"tinyipsec/ike"
	"tinyipsec/tun"
)

// TestRARoutes: a client without split networks routes each family's
// whole space as two halves through the TUN (the main table's default
// stays for the marked IKE and ESP packets), one with split networks
// only those of its address's family; a gateway routes its pool in the
// fewest prefixes.
func TestRARoutes(t *testing.T) {
	d := &Dataplane{dev: &tun.Device{}, ra: map[string]*raLease{}}
	client := &conf.CryptoMap{Name: "ra", Seq: 1, XAuthUser: "u"}
	if rs, ok := d.raRoutes(client); !ok || rs != nil {
		t.Fatalf("client without a lease: %v, %v", rs, ok)
	}
	lease := &ike.Lease{IP4: netip.MustParseAddr("10.9.0.5"), IP6: netip.MustParseAddr("fd00::5")}
	d.ra[client.ID()] = &raLease{lease: lease}
	for _, c := range []struct {
		split []netip.Prefix
		want  string
	}{
		{nil, "[0.0.0.0/1 via 10.9.0.5 128.0.0.0/1 via 10.9.0.5 ::/1 via fd00::5 8000::/1 via fd00::5]"},
		{[]netip.Prefix{netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("2001:db8::/32")},
			"[192.168.0.0/16 via 10.9.0.5 2001:db8::/32 via fd00::5]"},
	} {
		lease.Split = c.split
		rs, ok := d.raRoutes(client)
		if got := routesText(rs); !ok || got != c.want {
			t.Errorf("client, split %v: %s, %v; want %s", c.split, got, ok, c.want)
		}
	}

	gw := &conf.CryptoMap{Name: "gw", Seq: 1, PoolFirst: netip.MustParseAddr("10.8.0.3"), PoolLast: netip.MustParseAddr("10.8.0.17")}
	rs, ok := d.raRoutes(gw)
	if got, want := routesText(rs), "[10.8.0.3/32 10.8.0.4/30 10.8.0.8/29 10.8.0.16/31]"; !ok || got != want {
		t.Errorf("gateway: %s, %v; want %s", got, ok, want)
	}
	if _, ok := d.raRoutes(&conf.CryptoMap{Name: "site", Seq: 1}); ok {
		t.Error("a site-to-site map has remote-access routes")
	}
}

func routesText(rs []tun.Route) string {
	var out []string
	for _, r := range rs {
		s := r.Dst.String()
		if r.Src.IsValid() {
			s += " via " + r.Src.String()
		}
		if r.Table != tun.Table {
			s += fmt.Sprintf(" table %d", r.Table)
		}
		out = append(out, s)
	}
	return fmt.Sprint(out)
}

// TestWriteResolv: the pushed servers in resolv.conf form, replacing the
// file whole.
func TestWriteResolv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf.vpn")
	os.WriteFile(path, []byte("old\n"), 0o644)
	if err := writeResolv(path, "ra/1", []netip.Addr{netip.MustParseAddr("10.9.0.1"), netip.MustParseAddr("fd00::1")}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	want := "# DNS servers of remote-access crypto map ra/1 (written by tinyipsec)\nnameserver 10.9.0.1\nnameserver fd00::1\n"
	if string(b) != want {
		t.Fatalf("resolv file:\n%s\nwant:\n%s", b, want)
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*")); len(m) != 0 {
		t.Errorf("temporary file left: %v", m)
	}
	if err := writeResolv(filepath.Join(path, "x", "y"), "ra/1", nil); err == nil {
		t.Error("no error for a missing directory")
	}
}
