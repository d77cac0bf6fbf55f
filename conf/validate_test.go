package conf

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestValidation has one case per validation rule: a configuration that
// breaks exactly that rule, the key path the error must name and a piece
// of its message.
func TestValidation(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("content\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // umask-proof
			t.Fatal(err)
		}
		return p
	}
	pskOK := write("ok.psk", 0o600)
	pskWorld := write("world.psk", 0o644)
	cert := write("cert.pem", 0o644)
	key := write("key.pem", 0o600)
	ca := write("ca.pem", 0o644)
	rsaPolicy := with(tPolicy, "", "authentication") + `authentication = "rsa-sig"` + "\n"
	certs := `cert = "` + cert + `"` + "\nkey = \"" + key + "\"\nca = \"" + ca + "\"\n"
	manualTS := "[transform_set.ts1]\nesp = \"aes128gcm16\"\n"
	manual := with(tMap, tManual, "psk")

	cases := []struct {
		name string
		text string
		key  string
		msg  string
	}{
		// [global]
		{"log level", doc(`[global]
log_level = "verbose"`, tPolicy, tTS, tACL, tMap), "global.log_level", `unknown value "verbose"`},
		{"mtu range", doc("[global]\nmtu = 100", tPolicy, tTS, tACL, tMap), "global.mtu", "out of range 576..9000"},
		{"dh_keys_ready range", doc("[global]\ndh_keys_ready = 0", tPolicy, tTS, tACL, tMap), "global.dh_keys_ready", "out of range 1..1024"},
		{"mtu type", doc("[global]\nmtu = \"1400\"", tPolicy, tTS, tACL, tMap), "global.mtu", "must be an integer, not a string"},
		{"listen address", doc("[global]\nlisten = [\"192.0.2.1\", \"nope\"]", tPolicy, tTS, tACL, tMap), "global.listen[1]", `"nope" is not an IP address`},
		{"listen twice", doc("[global]\nlisten = [\"192.0.2.1\", \"192.0.2.1\"]", tPolicy, tTS, tACL, tMap), "global.listen[1]", "listed twice"},
		{"tun name", doc("[global]\ntun = \"a-very-long-interface-name\"", tPolicy, tTS, tACL, tMap), "global.tun", "longer than 15"},
		{"allow_weak type", doc("[global]\nallow_weak = \"yes\"", tPolicy, tTS, tACL, tMap), "global.allow_weak", "must be a boolean"},
		{"control socket", doc("[global]\ncontrol_socket = \"\"", tPolicy, tTS, tACL, tMap), "global.control_socket", "must not be empty"},
		{"unknown global key", doc("[global]\nlogging = 1", tPolicy, tTS, tACL, tMap), "global.logging", "unknown key"},
		{"global not a table", doc("global = 1", tPolicy, tTS, tACL, tMap), "global", "must be a table"},

		// top level
		{"unknown table", doc(tGlobal, "[extra]\na = 1", tPolicy, tTS, tACL, tMap), "extra", "unknown key"},
		{"no crypto map", doc(tGlobal, tPolicy, tTS, tACL), "crypto_map", "at least one crypto_map"},
		{"no policy", doc(tGlobal, tTS, tACL, tMap), "isakmp_policy", "at least one isakmp_policy"},

		// [[isakmp_policy]]
		{"priority range", doc(with(tPolicy, "priority = 0", "priority"), tTS, tACL, tMap), "isakmp_policy[0].priority", "out of range 1..10000"},
		{"priority missing", doc(with(tPolicy, "", "priority"), tTS, tACL, tMap), "isakmp_policy[0].priority", "missing"},
		{"priority duplicate", doc(tPolicy, tPolicy, tTS, tACL, tMap), "isakmp_policy[1].priority", "already used by isakmp_policy[0]"},
		{"encryption unknown", doc(with(tPolicy, `encryption = "blowfish"`, "encryption"), tTS, tACL, tMap), "isakmp_policy[0].encryption", `unknown value "blowfish"`},
		{"encryption des weak", doc(with(tPolicy, `encryption = "des"`, "encryption"), tTS, tACL, tMap), "isakmp_policy[0].encryption", "weak cipher \"des\"; set allow_weak = true to permit it"},
		{"hash md5 weak", doc(with(tPolicy, `hash = "md5"`, "hash"), tTS, tACL, tMap), "isakmp_policy[0].hash", "weak hash \"md5\"; set allow_weak = true to permit it"},
		{"hash unknown", doc(with(tPolicy, `hash = "sha3"`, "hash"), tTS, tACL, tMap), "isakmp_policy[0].hash", `unknown value "sha3"`},
		{"auth unknown", doc(with(tPolicy, `authentication = "rsa-encr"`, "authentication"), tTS, tACL, tMap), "isakmp_policy[0].authentication", `unknown value "rsa-encr"`},
		{"group weak", doc(with(tPolicy, "group = 2", "group"), tTS, tACL, tMap), "isakmp_policy[0].group", "weak DH group 2; set allow_weak = true to permit it"},
		{"group unknown", doc(with(tPolicy, "group = 3", "group"), tTS, tACL, tMap), "isakmp_policy[0].group", "unknown DH group 3"},
		{"group type", doc(with(tPolicy, "group = true", "group"), tTS, tACL, tMap), "isakmp_policy[0].group", "must be a DH group number"},
		{"p1 lifetime short", doc(with(tPolicy, `lifetime = "30s"`), tTS, tACL, tMap), "isakmp_policy[0].lifetime", "out of range 60s..86400s"},
		{"p1 lifetime long", doc(with(tPolicy, `lifetime = 86401`), tTS, tACL, tMap), "isakmp_policy[0].lifetime", "out of range"},
		{"p1 lifetime syntax", doc(with(tPolicy, `lifetime = "one day"`), tTS, tACL, tMap), "isakmp_policy[0].lifetime", "not a duration"},
		{"policy unknown key", doc(with(tPolicy, `prf = "sha256"`), tTS, tACL, tMap), "isakmp_policy[0].prf", "unknown key"},
		{"policy not array", doc("isakmp_policy = 1", tTS, tACL, tMap), "isakmp_policy", "must be an array of tables"},

		// [transform_set.NAME]
		{"esp unknown", doc(tPolicy, "[transform_set.ts1]\nesp = \"aes512\"", tACL, tMap), "transform_set.ts1.esp", `unknown value "aes512"`},
		{"aead with esp_auth", doc(tPolicy, "[transform_set.ts1]\nesp = \"aes256gcm16\"\nesp_auth = \"sha256\"", tACL, tMap), "transform_set.ts1.esp_auth", "must not be set"},
		{"cbc without esp_auth", doc(tPolicy, "[transform_set.ts1]\nesp = \"aes256\"", tACL, tMap), "transform_set.ts1.esp_auth", "missing"},
		{"null without esp_auth", doc(tPolicy, "[transform_set.ts1]\nesp = \"null\"", tACL, tMap), "transform_set.ts1.esp_auth", "missing"},
		{"neither esp nor ah", doc(tPolicy, "[transform_set.ts1]\nmode = \"tunnel\"", tACL, tMap), "transform_set.ts1", "needs esp, ah or both"},
		{"esp_auth without esp", doc(tPolicy, "[transform_set.ts1]\nah = \"sha256\"\nesp_auth = \"sha256\"", tACL, tMap), "transform_set.ts1.esp_auth", "given without esp"},
		{"esp_auth md5 weak", doc(tPolicy, "[transform_set.ts1]\nesp = \"aes128\"\nesp_auth = \"md5\"", tACL, tMap), "transform_set.ts1.esp_auth", "weak hash \"md5\"; set allow_weak = true"},
		{"ah md5 weak", doc(tPolicy, "[transform_set.ts1]\nah = \"md5\"", tACL, tMap), "transform_set.ts1.ah", "weak hash \"md5\"; set allow_weak = true"},
		{"mode unknown", doc(tPolicy, "[transform_set.ts1]\nesp = \"aes128gcm16\"\nmode = \"tunel\"", tACL, tMap), "transform_set.ts1.mode", `unknown value "tunel"`},
		{"transform set not a table", doc(tPolicy, "[transform_set]\nts1 = \"aes\"", tACL, tMap), "transform_set.ts1", "must be a table"},
		{"transform set unknown key", doc(tPolicy, with(tTS, "pfs = 14"), tACL, tMap), "transform_set.ts1.pfs", "unknown key"},

		// [acl.NAME]
		{"acl bad rule", doc(tPolicy, tTS, "[acl.a1]\nrules = [\"permit ip any any\", \"allow ip any any\"]", tMap), "acl.a1.rules[1]", "unknown action"},
		{"acl no permit", doc(tPolicy, tTS, "[acl.a1]\nrules = [\"deny ip any any\"]", tMap), "acl.a1.rules", "at least one permit"},
		{"acl only remarks", doc(tPolicy, tTS, "[acl.a1]\nrules = [\"remark nothing\"]", tMap), "acl.a1.rules", "at least one permit"},
		{"acl no rules", doc(tPolicy, tTS, "[acl.a1]\nrule = [\"permit ip any any\"]", tMap), "acl.a1.rules", "missing"},
		{"acl rule type", doc(tPolicy, tTS, "[acl.a1]\nrules = [\"permit ip any any\", 5]", tMap), "acl.a1.rules[1]", "must be a string, not an integer"},

		// [[crypto_map]]
		{"map name missing", doc(tPolicy, tTS, tACL, with(tMap, "", "name")), "crypto_map[0].name", "missing"},
		{"map seq missing", doc(tPolicy, tTS, tACL, with(tMap, "", "seq")), "crypto_map[0].seq", "missing"},
		{"map seq range", doc(tPolicy, tTS, tACL, with(tMap, "seq = 0", "seq")), "crypto_map[0].seq", "out of range 1..65535"},
		{"map duplicate", doc(tPolicy, tTS, tACL, tMap, tMap), "crypto_map[1].seq", "crypto map m 10 is already defined by crypto_map[0]"},
		{"keying unknown", doc(tPolicy, tTS, tACL, with(tMap, `keying = "ike"`)), "crypto_map[0].keying", `unknown value "ike"`},
		{"peer missing", doc(tPolicy, tTS, tACL, with(tMap, "", "peer")), "crypto_map[0].peer", "missing"},
		{"peer garbage", doc(tPolicy, tTS, tACL, with(tMap, `peer = "not a host!"`, "peer")), "crypto_map[0].peer", "neither an IP address"},
		{"peer partial address", doc(tPolicy, tTS, tACL, with(tMap, `peer = "10.1.2"`, "peer")), "crypto_map[0].peer", "neither an IP address"},
		{"peer unspecified", doc(tPolicy, tTS, tACL, with(tMap, `peer = "0.0.0.0"`, "peer")), "crypto_map[0].peer", "cannot be a peer"},
		{"local bad", doc(tPolicy, tTS, tACL, with(tMap, `local = "lan"`)), "crypto_map[0].local", "not an IP address"},
		{"local not listened", doc("[global]\nlisten = [\"192.0.2.1\"]", tPolicy, tTS, tACL, with(tMap, `local = "192.0.2.9"`)), "crypto_map[0].local", "not one of the global listen"},
		{"local family", doc(tPolicy, tTS, tACL, with(tMap, `local = "2001:db8::1"`)), "crypto_map[0].local", "different address families"},
		{"local_id bad", doc(tPolicy, tTS, tACL, with(tMap, `local_id = "gw.example"`)), "crypto_map[0].local_id", "not an identity"},
		{"remote_id user-fqdn", doc(tPolicy, tTS, tACL, with(tMap, `remote_id = "user-fqdn:nobody"`)), "crypto_map[0].remote_id", "user@host"},
		{"match unknown", doc(tPolicy, tTS, tACL, with(tMap, `match = "a2"`, "match")), "crypto_map[0].match", `unknown ACL "a2"`},
		{"match missing", doc(tPolicy, tTS, tACL, with(tMap, "", "match")), "crypto_map[0].match", "missing"},
		{"transform set unknown", doc(tPolicy, tTS, tACL, with(tMap, `transform_set = ["ts1", "ts-foo"]`, "transform_set")), "crypto_map[0].transform_set[1]", `unknown transform set "ts-foo"`},
		{"transform set empty", doc(tPolicy, tTS, tACL, with(tMap, `transform_set = []`, "transform_set")), "crypto_map[0].transform_set", "at least one"},
		{"transform set twice", doc(tPolicy, tTS, tACL, with(tMap, `transform_set = ["ts1", "ts1"]`, "transform_set")), "crypto_map[0].transform_set[1]", "listed twice"},
		{"too many transform sets", doc(tPolicy, tTS, tACL, with(tMap, `transform_set = ["a", "b", "c", "d", "e", "f", "g"]`, "transform_set")), "crypto_map[0].transform_set", "at most 6"},
		{"transform set missing", doc(tPolicy, tTS, tACL, with(tMap, "", "transform_set")), "crypto_map[0].transform_set", "missing"},
		{"no credentials", doc(tPolicy, tTS, tACL, with(tMap, "", "psk")), "crypto_map[0]", "no credentials"},
		{"psk empty", doc(tPolicy, tTS, tACL, with(tMap, `psk = ""`, "psk")), "crypto_map[0].psk", "must not be empty"},
		{"psk and psk_file", doc(tPolicy, tTS, tACL, with(tMap, `psk_file = "`+pskOK+`"`)), "crypto_map[0].psk_file", "not both"},
		{"psk_file world readable", doc(tPolicy, tTS, tACL, with(tMap, `psk_file = "`+pskWorld+`"`, "psk")), "crypto_map[0].psk_file", "readable by every user (mode 0644)"},
		{"psk_file missing", doc(tPolicy, tTS, tACL, with(tMap, `psk_file = "`+filepath.Join(dir, "none.psk")+`"`, "psk")), "crypto_map[0].psk_file", "no such file"},
		{"psk without pre-share policy", doc(rsaPolicy, tTS, tACL, tMap), "crypto_map[0].psk", `no isakmp_policy uses authentication = "pre-share"`},
		{"cert without key", doc(rsaPolicy, tTS, tACL, with(tMap, `cert = "`+cert+`"`, "psk")), "crypto_map[0].key", "cert, key and ca are needed together"},
		{"cert file missing", doc(rsaPolicy, tTS, tACL, with(tMap, strings.Replace(certs, "cert.pem", "gone.pem", 1), "psk")), "crypto_map[0].cert", "no such file"},
		{"cert without rsa policy", doc(tPolicy, tTS, tACL, with(tMap, certs)), "crypto_map[0].cert", `no isakmp_policy uses authentication = "rsa-sig"`},
		{"pfs weak", doc(tPolicy, tTS, tACL, with(tMap, "pfs = 5")), "crypto_map[0].pfs", "weak DH group 5; set allow_weak = true to permit it"},
		{"pfs unknown", doc(tPolicy, tTS, tACL, with(tMap, "pfs = 13")), "crypto_map[0].pfs", "unknown DH group 13"},
		{"p2 lifetime short", doc(tPolicy, tTS, tACL, with(tMap, "lifetime = 60")), "crypto_map[0].lifetime", "out of range 120s..86400s"},
		{"p2 lifetime negative", doc(tPolicy, tTS, tACL, with(tMap, "lifetime = -5")), "crypto_map[0].lifetime", "negative"},
		{"lifetime_kb small", doc(tPolicy, tTS, tACL, with(tMap, "lifetime_kb = 100")), "crypto_map[0].lifetime_kb", "below the minimum"},
		{"exchange unknown", doc(tPolicy, tTS, tACL, with(tMap, `exchange = "quick"`)), "crypto_map[0].exchange", `unknown value "quick"`},
		{"initiate unknown", doc(tPolicy, tTS, tACL, with(tMap, `initiate = "now"`)), "crypto_map[0].initiate", `unknown value "now"`},
		{"dynamic initiates", doc(tPolicy, tTS, tACL, with(tMap, `peer = "dynamic"`+"\n"+`initiate = "always"`, "peer")), "crypto_map[0].initiate", "only responds"},
		{"dpd timeout short", doc(tPolicy, tTS, tACL, with(tMap, "dpd_delay = \"30s\"\ndpd_timeout = \"10s\"")), "crypto_map[0].dpd_timeout", "longer than dpd_delay"},
		{"dpd timeout without delay", doc(tPolicy, tTS, tACL, with(tMap, "dpd_delay = 0\ndpd_timeout = 100")), "crypto_map[0].dpd_timeout", "no effect"},
		{"dpd delay long", doc(tPolicy, tTS, tACL, with(tMap, `dpd_delay = "2h"`)), "crypto_map[0].dpd_delay", "longer than"},
		{"nat_t unknown", doc(tPolicy, tTS, tACL, with(tMap, `nat_t = "yes"`)), "crypto_map[0].nat_t", `unknown value "yes"`},
		{"replay window", doc(tPolicy, tTS, tACL, with(tMap, "replay_window = 5000")), "crypto_map[0].replay_window", "out of range 0..4096"},
		{"esn type", doc(tPolicy, tTS, tACL, with(tMap, `esn = "yes"`)), "crypto_map[0].esn", "must be a boolean"},
		{"manual key on isakmp map", doc(tPolicy, tTS, tACL, with(tMap, "spi_in = 300")), "crypto_map[0].spi_in", `only used with keying = "manual"`},
		{"map unknown key", doc(tPolicy, tTS, tACL, with(tMap, `set_peer = "x"`)), "crypto_map[0].set_peer", "unknown key"},
		{"map wrong type", doc(tPolicy, tTS, tACL, with(tMap, `peer = 5`, "peer")), "crypto_map[0].peer", "must be a string, not an integer"},

		// keying = "manual"
		{"manual hostname peer", doc(manualTS, tACL, with(manual, `peer = "gw.example"`, "peer")), "crypto_map[0].peer", "literal peer address"},
		{"manual dynamic peer", doc(manualTS, tACL, with(manual, `peer = "dynamic"`, "peer")), "crypto_map[0].peer", "literal peer address"},
		{"manual with psk", doc(manualTS, tACL, with(manual, `psk = "x"`)), "crypto_map[0].psk", `not used with keying = "manual"`},
		{"manual with pfs", doc(manualTS, tACL, with(manual, `pfs = 14`)), "crypto_map[0].pfs", `not used with keying = "manual"`},
		{"manual spi low", doc(manualTS, tACL, with(manual, "spi_in = 255", "spi_in")), "crypto_map[0].spi_in", "out of range 256..4294967295"},
		{"manual spi missing", doc(manualTS, tACL, with(manual, "", "spi_out")), "crypto_map[0].spi_out", "missing"},
		{"manual key short", doc(manualTS, tACL, with(manual, `esp_key_in = "00112233445566778899aabbccddeeff"`, "esp_key_in")), "crypto_map[0].esp_key_in", "aes128gcm16 needs a 20-byte key (40 hex digits) including the 4-byte salt, not 16 bytes"},
		{"manual key missing", doc(manualTS, tACL, with(manual, "", "esp_key_out")), "crypto_map[0].esp_key_out", "missing"},
		{"manual key not hex", doc(manualTS, tACL, with(manual, `esp_key_in = "zz112233445566778899aabbccddeeff01020304"`, "esp_key_in")), "crypto_map[0].esp_key_in", "not a hex string"},
		{"manual auth key with aead", doc(manualTS, tACL, with(manual, `esp_auth_key_in = "00112233445566778899aabbccddeeff00112233"`)), "crypto_map[0].esp_auth_key_in", "not used by this transform set"},
		{"manual two transform sets", doc(manualTS, "[transform_set.ts2]\nesp = \"aes256gcm16\"", tACL, with(manual, `transform_set = ["ts1", "ts2"]`, "transform_set")), "crypto_map[0].transform_set", "exactly one transform set"},
		{"manual ah spi without bundle", doc(manualTS, tACL, with(manual, "ah_spi_in = 4000")), "crypto_map[0].ah_spi_in", "both ah and esp"},
		{"manual sha256 key length", doc("[transform_set.ts1]\nesp = \"aes256\"\nesp_auth = \"sha256\"", tACL, with(manual, `esp_key_in = "`+strings.Repeat("11", 32)+`"
esp_key_out = "`+strings.Repeat("22", 32)+`"
esp_auth_key_in = "`+strings.Repeat("33", 20)+`"
esp_auth_key_out = "`+strings.Repeat("44", 32)+`"
`, "esp_key_in", "esp_key_out")), "crypto_map[0].esp_auth_key_in", "sha256 needs a 32-byte key"},
		{"manual ah key missing", doc("[transform_set.ts1]\nah = \"sha1\"", tACL, with(manual, "", "esp_key_in", "esp_key_out")), "crypto_map[0].ah_key_in", "sha1 needs a 20-byte key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			es := mustErrors(t, "test.toml", tc.text)
			if !findError(es, tc.key, tc.msg) {
				t.Fatalf("want an error for %s containing %q; got:\n%v\ninput:\n%s", tc.key, tc.msg, es, tc.text)
			}
			for _, e := range es {
				if e.File != "test.toml" {
					t.Errorf("error without the file name: %+v", e)
				}
				if e.Line == 0 && e.Key != "crypto_map" && e.Key != "isakmp_policy" {
					t.Errorf("error without a line: %v", e)
				}
			}
		})
	}
}

// TestValidConfigs are configurations that must load, one per feature.
func TestValidConfigs(t *testing.T) {
	manualGCM := with(tMap, tManual, "psk")
	cases := []struct {
		name  string
		text  string
		check func(t *testing.T, c *Config)
	}{
		{"defaults", doc(tPolicy, tTS, tACL, tMap), func(t *testing.T, c *Config) {
			g := c.Global
			if g.LogLevel != "info" || g.Tun != "ipsec0" || g.MTU != 1400 || g.ControlSocket != DefaultControlSocket || g.AllowWeak || g.Listen != nil {
				t.Errorf("global defaults: %+v", g)
			}
			p := c.Policies[0]
			if p.Lifetime != DefaultP1Lifetime {
				t.Errorf("policy lifetime %v", p.Lifetime)
			}
			if c.TransformSetNamed("ts1").Mode != "tunnel" {
				t.Errorf("mode default")
			}
			m := c.CryptoMaps[0]
			if m.Keying != "isakmp" || m.Lifetime != DefaultP2Lifetime || m.LifetimeKB != 0 || m.Exchange != "main" ||
				m.Initiate != "on-traffic" || m.DPDDelay != 30e9 || m.DPDTimeout != 150e9 || m.NATT != "auto" ||
				m.ReplayWindow != 64 || m.ESN || m.PFS != 0 || string(m.PSK) != "secret" {
				t.Errorf("map defaults: %+v", *m)
			}
			if !m.PeerAddr.IsValid() || m.ACL != c.ACLNamed("a1") || len(m.TransformSets) != 1 || m.TransformSets[0] != c.TransformSetNamed("ts1") {
				t.Errorf("references not resolved: %+v", *m)
			}
		}},
		{"weak allowed", doc("[global]\nallow_weak = true", with(tPolicy, "encryption = \"des\"\nhash = \"md5\"\ngroup = 2", "encryption", "hash", "group"),
			"[transform_set.ts1]\nesp = \"3des\"\nesp_auth = \"md5\"\nah = \"md5\"", tACL, with(tMap, "pfs = 1")), func(t *testing.T, c *Config) {
			if c.Policies[0].Group != 2 || c.CryptoMaps[0].PFS != 1 {
				t.Errorf("%+v", c.Policies[0])
			}
		}},
		{"dynamic defaults to never", doc(tPolicy, tTS, tACL, with(tMap, `peer = "dynamic"`, "peer")), func(t *testing.T, c *Config) {
			if m := c.CryptoMaps[0]; !m.Dynamic || m.Initiate != "never" || m.PeerAddr.IsValid() {
				t.Errorf("%+v", *m)
			}
		}},
		{"hostname peer and identities", doc(tPolicy, tTS, tACL, with(tMap, `peer = "vpn.example.net"
local_id = "fqdn:gw1.example"
remote_id = "dn:C=CH, O=Example, CN=gw.example"
`, "peer")), func(t *testing.T, c *Config) {
			m := c.CryptoMaps[0]
			if m.PeerAddr.IsValid() || !reflect.DeepEqual(m.LocalID, Identity{Type: "fqdn", Value: "gw1.example"}) || m.RemoteID.Type != "dn" || m.RemoteID.Value != "C=CH, O=Example, CN=gw.example" {
				t.Errorf("%+v", *m)
			}
		}},
		{"pfs group string and dpd off", doc(tPolicy, tTS, tACL, with(tMap, "pfs = \"group19\"\ndpd_delay = 0")), func(t *testing.T, c *Config) {
			if m := c.CryptoMaps[0]; m.PFS != 19 || m.DPDDelay != 0 || m.DPDTimeout != 0 {
				t.Errorf("%+v", *m)
			}
		}},
		{"sorted policies and maps", doc(with(tPolicy, "priority = 30", "priority"), tPolicy, tTS, tACL,
			with(tMap, "seq = 20", "seq"), tMap, with(tMap, `name = "a"`, "name")), func(t *testing.T, c *Config) {
			if c.Policies[0].Priority != 10 || c.Policies[1].Priority != 30 {
				t.Errorf("policies not sorted")
			}
			var ids []string
			for _, m := range c.CryptoMaps {
				ids = append(ids, m.ID())
			}
			if strings.Join(ids, " ") != "a/10 m/10 m/20" {
				t.Errorf("maps not sorted: %v", ids)
			}
		}},
		{"manual gcm", doc(tTS, tACL, manualGCM), func(t *testing.T, c *Config) {
			mk := c.CryptoMaps[0].Manual
			if mk == nil || mk.SPIIn != 1000 || mk.SPIOut != 0x1001 || len(mk.ESPKeyIn) != 20 || len(mk.ESPKeyOut) != 20 || mk.AHSPIIn != 0 {
				t.Errorf("%+v", mk)
			}
		}},
		{"manual ah+esp bundle", doc("[transform_set.ts1]\nesp = \"aes128\"\nesp_auth = \"sha1\"\nah = \"sha256\"", tACL, with(tMap, `keying = "manual"
spi_in = 1000
spi_out = 1001
ah_spi_out = 2001
esp_key_in = "`+strings.Repeat("ab", 16)+`"
esp_key_out = "`+strings.Repeat("cd", 16)+`"
esp_auth_key_in = "`+strings.Repeat("01", 20)+`"
esp_auth_key_out = "`+strings.Repeat("02", 20)+`"
ah_key_in = "`+strings.Repeat("03", 32)+`"
ah_key_out = "`+strings.Repeat("04", 32)+`"
`, "psk")), func(t *testing.T, c *Config) {
			mk := c.CryptoMaps[0].Manual
			if mk.AHSPIIn != 1000 || mk.AHSPIOut != 2001 || len(mk.AHKeyIn) != 32 || len(mk.ESPAuthKeyOut) != 20 {
				t.Errorf("%+v", mk)
			}
		}},
		{"manual null", doc("[transform_set.ts1]\nesp = \"null\"\nesp_auth = \"sha512\"", tACL, with(tMap, `keying = "manual"
spi_in = 1000
spi_out = 1001
esp_auth_key_in = "`+strings.Repeat("01", 64)+`"
esp_auth_key_out = "`+strings.Repeat("02", 64)+`"
`, "psk")), func(t *testing.T, c *Config) {
			if mk := c.CryptoMaps[0].Manual; len(mk.ESPKeyIn) != 0 || len(mk.ESPAuthKeyIn) != 64 {
				t.Errorf("%+v", mk)
			}
		}},
		{"inline tables", `
global = { mtu = 1300 }
isakmp_policy = [{ priority = 1, encryption = "aes128", hash = "sha256", authentication = "pre-share", group = 19 }]
transform_set = { t = { esp = "chacha20poly1305", mode = "transport" } }
acl.a = { rules = ["permit udp host 10.0.0.1 eq 500 host 10.0.0.2 eq 500"] }
[[crypto_map]]
name = "x"
seq = 1
peer = "2001:db8::2"
psk = "k"
match = "a"
transform_set = "t"
`, func(t *testing.T, c *Config) {
			if c.Global.MTU != 1300 || c.TransformSetNamed("t").Mode != "transport" {
				t.Errorf("%+v", c)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, mustParse(t, "test.toml", tc.text))
		})
	}
}

// TestPSKFile covers the psk_file permission rule and how the file is read.
func TestPSKFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "k.psk")
	if err := os.WriteFile(p, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode os.FileMode
		ok   bool
	}{{0o600, true}, {0o640, true}, {0o400, true}, {0o604, false}, {0o644, false}, {0o666, false}} {
		if err := os.Chmod(p, tc.mode); err != nil {
			t.Fatal(err)
		}
		// Relative to the configuration file's directory.
		c, err := Parse(filepath.Join(dir, "tinyipsec.toml"), []byte(doc(tPolicy, tTS, tACL, with(tMap, `psk_file = "k.psk"`, "psk"))))
		if tc.ok != (err == nil) {
			t.Fatalf("mode %04o: err = %v", tc.mode, err)
		}
		if tc.ok {
			m := c.CryptoMaps[0]
			if string(m.PSK) != "s3cret" || m.PSKFile != p {
				t.Fatalf("mode %04o: PSK %q from %q", tc.mode, []byte(m.PSK), m.PSKFile)
			}
		} else if !strings.Contains(err.Error(), "chmod o-r") {
			t.Fatalf("mode %04o: %v", tc.mode, err)
		}
	}
	if err := os.WriteFile(p, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o600)
	if _, err := Parse(filepath.Join(dir, "x.toml"), []byte(doc(tPolicy, tTS, tACL, with(tMap, `psk_file = "k.psk"`, "psk")))); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Fatalf("empty psk_file: %v", err)
	}
}

// One mistake gives one message, not a cascade of consequences.
func TestOneMistakeOneError(t *testing.T) {
	manual := with(tMap, "keying = \"manual\"\nspi_in = 1000\nspi_out = 1001\nesp_key_in = \"00112233445566778899aabbccddeeff01020304\"\nesp_key_out = \"00112233445566778899aabbccddeeff01020304\"", "psk")
	for name, text := range map[string]string{
		"psk type":                  doc(tPolicy, tTS, tACL, with(tMap, "psk = 5", "psk")),
		"manual bad peer":           doc(tTS, tACL, with(manual, `peer = "not a host!"`, "peer")),
		"manual unknown ts":         doc(tTS, tACL, with(manual, `transform_set = "nope"`, "transform_set")),
		"broken acl referenced":     doc(tPolicy, tTS, "[acl.a1]\nrules = [\"permit ipx any any\"]", tMap),
		"broken ts referenced":      doc(tPolicy, "[transform_set.ts1]\nesp = \"aes\"", tACL, tMap),
		"pfs as array":              doc(tPolicy, tTS, tACL, with(tMap, "pfs = [14]")),
		"group as string garbage":   doc(with(tPolicy, `group = "modp"`, "group"), tTS, tACL, tMap),
		"lifetime wrong type":       doc(tPolicy, tTS, tACL, with(tMap, "lifetime = true")),
		"transform_set wrong type":  doc(tPolicy, tTS, tACL, with(tMap, "transform_set = 1", "transform_set")),
		"policy broken, map fine":   doc(with(tPolicy, `hash = "sha3"`, "hash"), tTS, tACL, tMap),
		"duplicate map, one report": doc(tPolicy, tTS, tACL, tMap, tMap),
	} {
		es := mustErrors(t, "one.toml", text)
		if len(es) != 1 {
			t.Errorf("%s: %d errors:\n%v", name, len(es), es)
		}
	}
}

// pfs = 0, "", "0" or "none" (any case, spaces around) turn PFS off; a
// group by number or name sets it; anything else names the key.
func TestPFSValues(t *testing.T) {
	for _, v := range []string{`0`, `""`, `"0"`, `"none"`, `" None "`} {
		c := mustParse(t, "t.toml", doc(tPolicy, tTS, tACL, with(tMap, "pfs = "+v)))
		if got := c.CryptoMaps[0].PFS; got != 0 {
			t.Errorf("pfs = %s: PFS %d, want 0 (none)", v, got)
		}
	}
	for _, v := range []string{`14`, `"14"`, `"group14"`} {
		c := mustParse(t, "t.toml", doc(tPolicy, tTS, tACL, with(tMap, "pfs = "+v)))
		if got := c.CryptoMaps[0].PFS; got != 14 {
			t.Errorf("pfs = %s: PFS %d, want 14", v, got)
		}
	}
	es := mustErrors(t, "t.toml", doc(tPolicy, tTS, tACL, with(tMap, `pfs = "nine"`)))
	if !findError(es, "crypto_map[0].pfs", "is not a DH group") {
		t.Errorf("pfs = \"nine\": %v", es)
	}
}

// A manual key is read as encoding/hex reads it (after an optional 0x):
// either digit case, and nothing else (no signs, blanks inside or an odd
// count of digits).
func TestManualKeyHex(t *testing.T) {
	const k = "00112233445566778899aabbccddeeff01020304"
	for _, v := range []string{k, strings.ToUpper(k), "0X" + k, " 0x" + k + " "} {
		c := mustParse(t, "t.toml", doc(tPolicy, tTS, tACL, with(tMap, with(tManual, "esp_key_in = \""+v+"\"\n", "esp_key_in"), "psk")))
		if got := hex.EncodeToString(c.CryptoMaps[0].Manual.ESPKeyIn); got != k {
			t.Errorf("esp_key_in = %q: key %s", v, got)
		}
	}
	for _, v := range []string{k[:39], "+1" + k[2:], k[:20] + " 1" + k[22:], k[:38] + "0x", k[:38] + "g0", k[:38] + "-1", k + "0x"} {
		es := mustErrors(t, "t.toml", doc(tPolicy, tTS, tACL, with(tMap, with(tManual, "esp_key_in = \""+v+"\"\n", "esp_key_in"), "psk")))
		if !findError(es, "crypto_map[0].esp_key_in", "is not a hex string") {
			t.Errorf("esp_key_in = %q: %v", v, es)
		}
	}
}
