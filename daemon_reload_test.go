package main

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"tinyipsec/conf"
	"tinyipsec/internal/logx"
)

// TestKeepRestartOnly: the [global] settings bound at start keep their
// running values across a reload, each change is logged, and the others
// (log_level, allow_weak) take the file's value.
func TestKeepRestartOnly(t *testing.T) {
	running := &conf.Config{Global: conf.Global{LogLevel: "info", Tun: "ipsec0", MTU: 1400, ControlSocket: "/run/a.sock"}}
	next := &conf.Config{Global: conf.Global{LogLevel: "debug", Tun: "ipsec1", MTU: 1300, ControlSocket: "/run/b.sock",
		Listen: []netip.Addr{netip.MustParseAddr("192.0.2.1")}, AllowWeak: true}}
	var logs bytes.Buffer
	keepRestartOnly(logx.New(&logs, nil), running, next)
	g := next.Global
	if g.Tun != "ipsec0" || g.MTU != 1400 || g.ControlSocket != "/run/a.sock" || g.Listen != nil {
		t.Fatalf("restart-only settings changed: %+v", g)
	}
	if g.LogLevel != "debug" || !g.AllowWeak {
		t.Fatalf("live settings not taken: %+v", g)
	}
	for _, key := range []string{"global.tun", "global.mtu", "global.listen", "global.control_socket"} {
		if !strings.Contains(logs.String(), "key="+key) {
			t.Errorf("no warning for %s:\n%s", key, logs.String())
		}
	}
	if strings.Contains(logs.String(), "log_level") {
		t.Errorf("log_level reported as needing a restart:\n%s", logs.String())
	}

	// The same listen addresses in another list, or in another order,
	// and nothing else changed.
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	for _, c := range []struct {
		listen  []netip.Addr
		changed bool
	}{{[]netip.Addr{a, b}, false}, {[]netip.Addr{b, a}, true}, {[]netip.Addr{a}, true}} {
		running := &conf.Config{Global: conf.Global{Tun: "ipsec0", Listen: []netip.Addr{a, b}}}
		next := &conf.Config{Global: conf.Global{Tun: "ipsec0", Listen: c.listen}}
		logs.Reset()
		keepRestartOnly(logx.New(&logs, nil), running, next)
		if got := strings.Contains(logs.String(), "key=global.listen"); got != c.changed || strings.Count(logs.String(), "\n") > 1 {
			t.Errorf("listen %v after %v: logged %q", c.listen, running.Global.Listen, logs.String())
		}
	}
}
