package inittest

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

const (
	tomlPath = "/etc/tinyipsec/tinyipsec.toml"
	uciPath  = "/etc/config/tinyipsec"
)

// one returns the single recorded call starting with prefix.
func one(t *testing.T, calls [][]string, prefix ...string) []string {
	t.Helper()
	got := find(calls, prefix...)
	if len(got) != 1 {
		t.Fatalf("want exactly one %v call, got %d; all calls:\n%s", prefix, len(got), dump(calls))
	}
	return got[0]
}

// wantParam checks the one set_param call for name: its arguments.
func wantParam(t *testing.T, calls [][]string, name string, args ...string) {
	t.Helper()
	wantArgs(t, name, one(t, calls, "set_param", name), append([]string{"set_param", name}, args...))
}

func wantArgs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func (r *router) initScript(env []string, action string) (string, int) {
	r.t.Helper()
	r.resetLogs()
	stdout, stderr, code := r.run(env, "", "/etc/init.d/tinyipsec", action)
	return stdout + stderr, code
}

func TestInitScriptHeader(t *testing.T) {
	b, err := os.ReadFile(repoFile(t, "init/tinyipsec.init"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.HasPrefix(s, "#!/bin/sh /etc/rc.common\n") {
		t.Errorf("first line must be the rc.common shebang")
	}
	for _, want := range []string{"\nUSE_PROCD=1\n", "\nSTART=90\n", "\nSTOP=10\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q", strings.TrimSpace(want))
		}
	}
	if fi, err := os.Stat(repoFile(t, "init/tinyipsec.init")); err != nil || fi.Mode().Perm()&0o111 == 0 {
		t.Errorf("init script must be executable (mode %v)", fi.Mode())
	}
}

// With only the TOML file the daemon gets it, and every default.
func TestInitStartTOMLDefaults(t *testing.T) {
	r := newRouter(t)
	out, code := r.initScript(nil, "start")
	if code != 0 {
		t.Fatalf("start: exit %d\n%s", code, out)
	}
	calls := r.calls()
	one(t, calls, "open_instance")
	one(t, calls, "close_instance")
	wantParam(t, calls, "command", "/usr/sbin/tinyipsec", "run", "-c", tomlPath)
	wantParam(t, calls, "respawn", "3600", "5", "5")
	wantParam(t, calls, "env", "GOMEMLIMIT=24MiB", "GOGC=50")
	wantParam(t, calls, "stdout", "1")
	wantParam(t, calls, "stderr", "1")
	wantParam(t, calls, "file", uciPath, tomlPath)
	wantArgs(t, "reload trigger", one(t, calls, "reload_trigger"), []string{"reload_trigger", "tinyipsec"})
	wantArgs(t, "interface trigger", one(t, calls, "interface_trigger"),
		[]string{"interface_trigger", "interface.*.up", "wan", "/etc/init.d/tinyipsec", "reload"})
	// The configuration was validated before procd got the instance.
	if log := r.read("tmp/tinyipsec.log"); log != "check -c "+tomlPath+"\n" {
		t.Errorf("tinyipsec calls: %q", log)
	}
}

// A UCI file with crypto maps is used, and its global options tune procd.
func TestInitStartUCI(t *testing.T) {
	r := newRouter(t)
	r.write("etc/config/tinyipsec", `
config global 'global'
	option gomemlimit '32MiB'
	option gogc '80'
	option respawn_retry '10'
	list trigger_interface 'wan'
	list trigger_interface 'wwan'

config crypto_map
	option name 'outside'
	option seq '10'
	option peer '192.0.2.1'
`)
	out, code := r.initScript(nil, "start")
	if code != 0 {
		t.Fatalf("start: exit %d\n%s", code, out)
	}
	calls := r.calls()
	wantParam(t, calls, "command", "/usr/sbin/tinyipsec", "run", "-c", uciPath)
	wantParam(t, calls, "respawn", "3600", "5", "10")
	wantParam(t, calls, "env", "GOMEMLIMIT=32MiB", "GOGC=80")
	triggers := find(calls, "interface_trigger")
	want := [][]string{
		{"interface_trigger", "interface.*.up", "wan", "/etc/init.d/tinyipsec", "reload"},
		{"interface_trigger", "interface.*.up", "wwan", "/etc/init.d/tinyipsec", "reload"},
	}
	if !reflect.DeepEqual(triggers, want) {
		t.Errorf("interface triggers:\n%s", dump(triggers))
	}

	// The environment wins over UCI for a one-off start.
	out, code = r.initScript([]string{"GOMEMLIMIT=16MiB"}, "start")
	if code != 0 {
		t.Fatalf("start: exit %d\n%s", code, out)
	}
	wantArgs(t, "env override", one(t, r.calls(), "set_param", "env"),
		[]string{"set_param", "env", "GOMEMLIMIT=16MiB", "GOGC=80"})
}

// A UCI file with only service options leaves the daemon on the TOML file;
// config_file names any other file.
func TestInitConfigChoice(t *testing.T) {
	r := newRouter(t)
	r.write("etc/config/tinyipsec", "config global 'global'\n\toption gogc '40'\n")
	if out, code := r.initScript(nil, "start"); code != 0 {
		t.Fatalf("start: exit %d\n%s", code, out)
	}
	wantArgs(t, "command", one(t, r.calls(), "set_param", "command"),
		[]string{"set_param", "command", "/usr/sbin/tinyipsec", "run", "-c", tomlPath})

	r.write("etc/config/tinyipsec", "config global 'global'\n\toption config_file '/etc/tinyipsec/lab.toml'\n")
	r.write("etc/tinyipsec/lab.toml", "# lab\n")
	if out, code := r.initScript(nil, "start"); code != 0 {
		t.Fatalf("start: exit %d\n%s", code, out)
	}
	calls := r.calls()
	wantParam(t, calls, "command", "/usr/sbin/tinyipsec", "run", "-c", "/etc/tinyipsec/lab.toml")
	wantParam(t, calls, "file", uciPath, tomlPath, "/etc/tinyipsec/lab.toml")
}

// Reload is SIGHUP to the running instance: no new instance, no stop.
func TestInitReloadSendsHUP(t *testing.T) {
	r := newRouter(t)
	if out, code := r.initScript(nil, "reload"); code != 0 {
		t.Fatalf("reload: exit %d\n%s", code, out)
	}
	calls := r.calls()
	wantArgs(t, "signal", one(t, calls, "send_signal"), []string{"send_signal", "tinyipsec", "*", "HUP"})
	if len(calls) != 1 {
		t.Errorf("reload must only signal, got:\n%s", dump(calls))
	}
}

// An invalid configuration or a missing file never reaches procd.
func TestInitRefusesBadConfig(t *testing.T) {
	r := newRouter(t)
	r.write("tmp/fail-check", "tinyipsec.toml:3: unknown key \"peeer\"\n")
	out, code := r.initScript(nil, "start")
	if code == 0 {
		t.Errorf("start with an invalid configuration succeeded")
	}
	if len(find(r.calls(), "open_instance")) != 0 {
		t.Errorf("instance registered for an invalid configuration:\n%s", dump(r.calls()))
	}
	if !strings.Contains(out, "peeer") || !strings.Contains(r.read("tmp/logger.log"), "peeer") {
		t.Errorf("check's error not shown and logged: out=%q log=%q", out, r.read("tmp/logger.log"))
	}

	r.remove("tmp/fail-check")
	r.remove("etc/tinyipsec/tinyipsec.toml")
	out, code = r.initScript(nil, "start")
	if code == 0 || len(find(r.calls(), "open_instance")) != 0 {
		t.Errorf("start without a configuration: exit %d, calls:\n%s", code, dump(r.calls()))
	}
	if !strings.Contains(out, "missing") {
		t.Errorf("no message about the missing file: %q", out)
	}
}

func TestInitDisabledInUCI(t *testing.T) {
	r := newRouter(t)
	r.write("etc/config/tinyipsec", "config global 'global'\n\toption enabled '0'\n\nconfig crypto_map\n\toption name 'x'\n")
	if out, code := r.initScript(nil, "start"); code != 0 {
		t.Fatalf("start: exit %d\n%s", code, out)
	}
	if len(find(r.calls(), "open_instance")) != 0 {
		t.Errorf("disabled service started:\n%s", dump(r.calls()))
	}
}

// enable links the script at START=90 (after network) and STOP=10.
func TestInitEnableOrder(t *testing.T) {
	r := newRouter(t)
	if out, code := r.initScript(nil, "enable"); code != 0 {
		t.Fatalf("enable: exit %d\n%s", code, out)
	}
	for _, l := range []string{"etc/rc.d/S90tinyipsec", "etc/rc.d/K10tinyipsec"} {
		if !r.exists(l) {
			t.Errorf("%s missing", l)
		}
	}
}
