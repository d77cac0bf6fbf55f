package conf

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestUCIWords(t *testing.T) {
	cases := []struct {
		in   string
		want [][]string
	}{
		{"option a b", [][]string{{"option", "a", "b"}}},
		{"option a 'x y'", [][]string{{"option", "a", "x y"}}},
		{`option a "x \"y\" \\ \z"`, [][]string{{"option", "a", `x "y" \ z`}}},
		{`option a 'it'\''s'`, [][]string{{"option", "a", "it's"}}},
		{`option a 'ab'"cd"ef`, [][]string{{"option", "a", "abcdef"}}},
		{`option a x\ y`, [][]string{{"option", "a", "x y"}}},
		{"option a '# not a comment' # a comment", [][]string{{"option", "a", "# not a comment"}}},
		{`option a "#x"`, [][]string{{"option", "a", "#x"}}},
		{"option a b#c d", [][]string{{"option", "a", "b"}}},
		{"option a ''", [][]string{{"option", "a", ""}}},
		{`option a ""`, [][]string{{"option", "a", ""}}},
		{"\t option\ta\t'b'  \r\n", [][]string{{"option", "a", "b"}}},
		{"# only a comment\n\n  # indented\n", nil},
		{"option a b; option c d", [][]string{{"option", "a", "b"}, {"option", "c", "d"}}},
		{"option a 'x;y'", [][]string{{"option", "a", "x;y"}}},
		{"option a \\\n 'b'", [][]string{{"option", "a", "b"}}},
		{"option a \"one \\\ntwo\"", [][]string{{"option", "a", "one two"}}},
		{"list r 'permit ip any any'\nlist r \"deny ip any any\"", [][]string{{"list", "r", "permit ip any any"}, {"list", "r", "deny ip any any"}}},
	}
	for _, tc := range cases {
		st, errs := uciStatements([]byte(tc.in))
		if len(errs) > 0 {
			t.Errorf("%q: %v", tc.in, errs)
			continue
		}
		var got [][]string
		for _, s := range st {
			got = append(got, s.Words)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q:\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestUCISyntaxErrors(t *testing.T) {
	cases := []struct{ in, msg string }{
		{"option a 'b", "unterminated ' quote"},
		{"option a \"b", "unterminated \" quote"},
		{"option a b", "outside of a config section"},
		{"config", "config takes a type"},
		{"config a b c", "config takes a type"},
		{"config a-b", "invalid section type"},
		{"config a\noption b", "option takes a name and one value"},
		{"config a\noption b c d", "option takes a name and one value"},
		{"config a\noption b-c d", "invalid option name"},
		{"config a\noption b c\noption b d", "set twice"},
		{"config a\nlist b c\noption b d", "set twice"},
		{"set a b", "unknown statement"},
	}
	for _, tc := range cases {
		_, errs := parseUCI([]byte(tc.in))
		found := false
		for _, e := range errs {
			if strings.Contains(e.Msg, tc.msg) && e.Line > 0 {
				found = true
			}
		}
		if !found {
			t.Errorf("%q: want %q, got %v", tc.in, tc.msg, errs)
		}
	}
}

const uciBase = `package tinyipsec

config global
	option allow_weak 'no'

config isakmp_policy 'p10'
	option priority 10
	option encryption aes256
	option hash sha256
	option authentication pre-share
	option group 14

config transform_set 'ts1'
	option esp 'aes128gcm16'

config acl 'a1'
	list rule 'permit ip 10.1.0.0 0.0.0.255 10.2.0.0 0.0.0.255'

config crypto_map 'branch1'
	option name 'm'
	option seq '10'
	option peer '192.0.2.2'
	option psk 'secret'
	option match 'a1'
	list transform_set 'ts1'
`

func TestUCIValidationMessages(t *testing.T) {
	cases := []struct {
		name, extra string
		line        int
		key, msg    string
	}{
		{"pfs", "\toption pfs 'group2'\n", 26, "crypto_map 'branch1' option 'pfs'", "weak DH group 2; set allow_weak = true"},
		{"bool", "\toption esn 'maybe'\n", 26, "crypto_map 'branch1' option 'esn'", "not a boolean"},
		{"int", "\toption replay_window 'many'\n", 26, "crypto_map 'branch1' option 'replay_window'", `"many" is not an integer`},
		{"list for scalar", "\tlist peer '192.0.2.3'\n", 0, "", "set twice"},
		{"list element", "\tlist transform_set 'nope'\n", 26, "crypto_map 'branch1' list 'transform_set'", `unknown transform set "nope"`},
		{"unknown option", "\toption colour 'blue'\n", 26, "crypto_map 'branch1' option 'colour'", "unknown option"},
		{"anonymous map", "\nconfig crypto_map\n\toption seq 20\n\toption peer 192.0.2.9\n\toption psk x\n\toption match a1\n\toption transform_set ts1\n", 27, "crypto_map @crypto_map[1] option 'name'", "missing"},
		{"acl rule", "\nconfig acl 'a2'\n\tlist rule 'permit ip any any'\n\tlist rule 'permit ipx any any'\n", 29, "acl 'a2' list 'rule'", "ipx"},
		{"acl no rule", "\nconfig acl 'a2'\n", 27, "acl 'a2' option 'rule'", "missing"},
		{"unnamed transform set", "\nconfig transform_set\n\toption esp null\n", 27, "transform_set @transform_set[1]", "needs a name"},
		{"unknown section", "\nconfig tunnel 'x'\n", 27, "tunnel 'x'", "unknown section type"},
		{"two globals", "\nconfig global\n", 27, "global @global[1]", "only one global"},
		{"scalar given as list", "\tlist pfs 14\n", 26, "crypto_map 'branch1' list 'pfs'", "not a list"},
		{"duplicate transform set", "\nconfig transform_set 'ts1'\n\toption esp null\n", 27, "transform_set 'ts1'", "defined twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			es := mustErrors(t, "tinyipsec", uciBase+tc.extra)
			for _, e := range es {
				if strings.Contains(e.Msg, tc.msg) && e.Key == tc.key && (tc.line == 0 || e.Line == tc.line) {
					return
				}
			}
			t.Fatalf("want tinyipsec:%d: %s: ...%s...; got\n%v", tc.line, tc.key, tc.msg, es)
		})
	}
	// The wording of a whole message, as an admin reads it.
	es := mustErrors(t, "tinyipsec", uciBase+"\toption pfs '5'\n")
	if got, want := es.Error(), "tinyipsec:26: crypto_map 'branch1' option 'pfs': weak DH group 5; set allow_weak = true to permit it"; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestUCIBooleans(t *testing.T) {
	for v, want := range map[string]bool{"1": true, "0": false, "yes": true, "no": false, "on": true, "off": false, "true": true, "false": false, "TRUE": true} {
		c := mustParse(t, "tinyipsec", uciBase+"\toption esn '"+v+"'\n")
		if c.CryptoMaps[0].ESN != want {
			t.Errorf("%q: got %v", v, !want)
		}
	}
}

// UCI -> model -> TOML -> model must give the same model.
func TestUCIRoundTrip(t *testing.T) {
	dir := t.TempDir()
	psk := filepath.Join(dir, "b2.psk")
	if err := os.WriteFile(psk, []byte("from a file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"cert.pem", "key.pem", "ca.pem"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("-----BEGIN X-----\n"+name+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	full := `
config global
	option log_level 'debug'
	list listen '192.0.2.1'
	list listen '2001:db8::1'
	option tun 'vpn0'
	option mtu 1380
	option control_socket '/tmp/t.sock'
	option allow_weak 1
	option dh_keys_ready 64

config isakmp_policy
	option priority 5
	option encryption 3des
	option hash md5
	option authentication pre-share
	option group 2
	option lifetime '90m'

config isakmp_policy
	option priority 7
	option encryption aes128
	option hash sha384
	option authentication rsa-sig
	option group 20
	option lifetime 3601

config transform_set 'bundle'
	option esp aes192
	option esp_auth sha512
	option ah sha1
	option mode transport

config transform_set 'ahonly'
	option ah 'sha256'

config acl 'a2'
	list rule 'remark to the lab'
	list rule 'deny tcp any any eq 22'
	list rule "permit udp host 192.0.2.1 eq 500 198.51.100.0/24"

config crypto_map
	option name 'm2'
	option seq 5
	option peer 'gw.example.net'
	option local '192.0.2.1'
	option local_id 'user-fqdn:vpn@example.net'
	option remote_id '2001:db8::2'
	option psk_file '` + psk + `'
	option cert '` + filepath.Join(dir, "cert.pem") + `'
	option key '` + filepath.Join(dir, "key.pem") + `'
	option ca '` + filepath.Join(dir, "ca.pem") + `'
	option match 'a2'
	list transform_set 'bundle'
	list transform_set 'ahonly'
	option pfs group21
	option lifetime 7200
	option lifetime_kb 4608000
	option exchange aggressive
	option initiate always
	option dpd_delay 10
	option dpd_timeout 1m
	option nat_t force
	option replay_window 0
	option esn on

config crypto_map 'dyn'
	option name 'm2'
	option seq 9
	option peer dynamic
	option psk "it's \"quoted\" # and \\ backslashed"
	option match a2
	option transform_set ahonly
	option dpd_delay 0

config keyring
	option address '198.51.100.0/24'
	option psk 'spokes'

config keyring
	option identity 'fqdn:Spoke3.example'
	option psk_file '` + psk + `'

config crypto_map
	option name 'man'
	option seq 1
	option keying manual
	option peer '192.0.2.7'
	option match a2
	option transform_set bundle
	option spi_in 300
	option spi_out 301
	option ah_spi_in 400
	option esp_key_in '` + strings.Repeat("0a", 24) + `'
	option esp_key_out '0x` + strings.Repeat("0b", 24) + `'
	option esp_auth_key_in '` + strings.Repeat("0c", 64) + `'
	option esp_auth_key_out '` + strings.Repeat("0d", 64) + `'
	option ah_key_in '` + strings.Repeat("0e", 20) + `'
	option ah_key_out '` + strings.Repeat("0f", 20) + `'
`
	for _, tc := range []struct{ name, text string }{
		{"full", full},
		{"base", uciBase},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := mustParse(t, filepath.Join(dir, "tinyipsec"), tc.text)
			var buf bytes.Buffer
			if err := WriteTOML(&buf, u); err != nil {
				t.Fatal(err)
			}
			m := mustParse(t, filepath.Join(dir, "tinyipsec.toml"), buf.String())
			if want := map[string]int{"full": 64, "base": DefaultDHKeysReady}[tc.name]; m.Global.DHKeysReady != want {
				t.Errorf("dh_keys_ready %d, want %d", m.Global.DHKeysReady, want)
			}
			if !u.Equal(m) {
				t.Fatalf("models differ:\nUCI:  %+v\nTOML: %+v\nTOML text:\n%s", u, m, buf.String())
			}
			a, b := *u, *m
			a.Source, b.Source = "", ""
			if !reflect.DeepEqual(a, b) {
				t.Fatal("Equal but not DeepEqual")
			}
			for i := range u.CryptoMaps {
				if u.CryptoMaps[i].Fingerprint() != m.CryptoMaps[i].Fingerprint() {
					t.Errorf("fingerprint of %s differs", u.CryptoMaps[i].ID())
				}
			}
		})
	}
}

func TestUCIExampleMirrorsTOML(t *testing.T) {
	u, err := Load(filepath.Join("..", "init", "tinyipsec.config"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(filepath.Join("..", "init", "tinyipsec.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if !u.Equal(c) {
		t.Fatalf("init/tinyipsec.config and init/tinyipsec.toml differ:\n%+v\n%+v", u, c)
	}
}

func TestLooksLikeUCI(t *testing.T) {
	for in, want := range map[string]bool{
		"config global\n":              true,
		"\n# c\n  package tinyipsec\n": true,
		"config\tglobal":               true,
		"[global]\n":                   false,
		"config = 1\n":                 false,
		"configuration = 1\n":          false,
		"# config global\n[global]\n":  false,
		"":                             false,
	} {
		if got := LooksLikeUCI([]byte(in)); got != want {
			t.Errorf("%q: %v", in, got)
		}
	}
}

// TestUCIServiceOptions: the init script's options in the global section
// are accepted and do not reach the model.
func TestUCIServiceOptions(t *testing.T) {
	base, err := os.ReadFile(filepath.Join("..", "init", "tinyipsec.config"))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := ParseUCI("tinyipsec", base)
	if err != nil {
		t.Fatal(err)
	}
	withService := strings.Replace(string(base), "config global 'global'\n",
		"config global 'global'\n\toption enabled '1'\n\toption gomemlimit '20MiB'\n\toption gogc '40'\n"+
			"\toption respawn_threshold '3600'\n\toption respawn_timeout '5'\n\toption respawn_retry '5'\n"+
			"\toption config_file '/etc/config/tinyipsec'\n\tlist trigger_interface 'wan'\n", 1)
	got, err := ParseUCI("tinyipsec", []byte(withService))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(plain) {
		t.Fatal("service options changed the model")
	}
}
