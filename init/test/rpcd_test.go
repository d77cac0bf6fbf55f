package inittest

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const plugin = "/usr/libexec/rpcd/tinyipsec"

// rpcdCall runs the plugin the way rpcd does and decodes its JSON answer.
func (r *router) rpcdCall(args ...string) map[string]any {
	r.t.Helper()
	r.resetLogs()
	stdout, stderr, code := r.run(nil, "{}", append([]string{plugin}, args...)...)
	var v map[string]any
	if err := json.Unmarshal([]byte(stdout), &v); err != nil {
		r.t.Fatalf("%v: output is not one JSON object (exit %d): %v\nstdout: %q\nstderr: %q", args, code, err, stdout, stderr)
	}
	return v
}

func TestRPCDList(t *testing.T) {
	r := newRouter(t)
	got := r.rpcdCall("list")
	want := map[string]any{"status": map[string]any{}, "reload": map[string]any{}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("list = %v, want %v", got, want)
	}
	if fi, err := os.Stat(repoFile(t, "init/rpcd/tinyipsec")); err != nil || fi.Mode().Perm()&0o111 == 0 {
		t.Errorf("rpcd plugin must be executable")
	}
}

func TestRPCDStatus(t *testing.T) {
	r := newRouter(t)
	got := r.rpcdCall("call", "status")
	if _, ok := got["ike_sas"]; !ok {
		t.Errorf("status did not relay the daemon's JSON: %v", got)
	}
	if log := r.read("tmp/tinyipsec.log"); log != "status -c "+tomlPath+" --json\n" {
		t.Errorf("tinyipsec calls: %q", log)
	}

	// With crypto maps in UCI the daemon runs on (and status reads) UCI.
	r.write("etc/config/tinyipsec", "config global 'global'\n\nconfig crypto_map 'outside_10'\n\toption peer '192.0.2.1'\n")
	r.rpcdCall("call", "status")
	if log := r.read("tmp/tinyipsec.log"); log != "status -c "+uciPath+" --json\n" {
		t.Errorf("tinyipsec calls with UCI: %q", log)
	}
	r.write("tmp/uci-tinyipsec.@global[0].config_file", "/etc/tinyipsec/lab.toml\n")
	r.rpcdCall("call", "status")
	if log := r.read("tmp/tinyipsec.log"); log != "status -c /etc/tinyipsec/lab.toml --json\n" {
		t.Errorf("tinyipsec calls with config_file: %q", log)
	}
}

// A daemon that is down still gives rpcd valid JSON, with the message
// escaped.
func TestRPCDStatusDaemonDown(t *testing.T) {
	r := newRouter(t)
	r.write("tmp/fail-status", "dial unix /var/run/tinyipsec.sock: connect: no such file \"x\\y\"\nsecond line\n")
	got := r.rpcdCall("call", "status")
	msg, _ := got["error"].(string)
	if !strings.Contains(msg, `no such file "x\y"`) || !strings.Contains(msg, "second line") {
		t.Errorf("error = %q", msg)
	}
}

// reload goes through the real init script and ends as SIGHUP.
func TestRPCDReload(t *testing.T) {
	r := newRouter(t)
	got := r.rpcdCall("call", "reload")
	if !reflect.DeepEqual(got, map[string]any{"result": "ok"}) {
		t.Errorf("reload = %v", got)
	}
	wantArgs(t, "signal", one(t, r.calls(), "send_signal"), []string{"send_signal", "tinyipsec", "*", "HUP"})
}

func TestRPCDUnknownMethod(t *testing.T) {
	r := newRouter(t)
	if got := r.rpcdCall("call", "reboot"); got["error"] == nil {
		t.Errorf("unknown method answered %v", got)
	}
}

// The ACL grants status to readers and reload (plus the UCI package) to
// writers of the luci-app-tinyipsec group.
func TestRPCDACL(t *testing.T) {
	b, err := os.ReadFile(repoFile(t, "init/rpcd/tinyipsec.json"))
	if err != nil {
		t.Fatal(err)
	}
	var acl map[string]struct {
		Description string
		Read        struct {
			Ubus map[string][]string `json:"ubus"`
			UCI  []string            `json:"uci"`
		} `json:"read"`
		Write struct {
			Ubus map[string][]string `json:"ubus"`
			UCI  []string            `json:"uci"`
		} `json:"write"`
	}
	if err := json.Unmarshal(b, &acl); err != nil {
		t.Fatal(err)
	}
	g, ok := acl["luci-app-tinyipsec"]
	if !ok {
		t.Fatalf("no luci-app-tinyipsec group: %s", b)
	}
	if g.Description == "" {
		t.Errorf("group has no description")
	}
	if !slices.Equal(g.Read.Ubus["tinyipsec"], []string{"status"}) {
		t.Errorf("read ubus = %v, want status only", g.Read.Ubus)
	}
	if !slices.Equal(g.Write.Ubus["tinyipsec"], []string{"reload"}) {
		t.Errorf("write ubus = %v, want reload", g.Write.Ubus)
	}
	// PSKs live in the UCI package: read-only users must not get it.
	if slices.Contains(g.Read.UCI, "tinyipsec") || !slices.Contains(g.Write.UCI, "tinyipsec") {
		t.Errorf("uci read=%v write=%v", g.Read.UCI, g.Write.UCI)
	}
}
