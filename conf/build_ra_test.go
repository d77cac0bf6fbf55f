package conf

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// A bcrypt hash of "correct horse" (cost 4), as htpasswd -nbB writes it.
const testUserHash = "$2y$04$MYpOk9hcTU54vCgl9ynsB.JlPbc4uTMZNXT/Zmt2GPAm1x3tN1xOW"

// tRAClient is tMap as a remote-access client: no ACL (the gateway
// assigns the networks), XAUTH credentials.
var tRAClient = with(tMap, `psk = "group-key"
xauth_user = "alice"
xauth_password = "pw-that-must-not-leak"
resolv_file = "/tmp/vpn-resolv.conf"
`, "match", "psk")

func raUsers(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(f, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(f, mode); err != nil {
		t.Fatal(err)
	}
	return f
}

// tRAGateway is tMap as a remote-access gateway for any peer, with an
// address pool and the users of the file users.
func tRAGateway(users string) string {
	return with(tMap, `peer = "dynamic"
psk = "group-key"
pool = "10.9.0.0/29"
xauth_users_file = "`+users+`"
dns = ["10.2.0.53"]
split_networks = ["10.2.0.0/16", "10.3.0.1/24"]
`, "peer", "psk", "match")
}

func TestRemoteAccessClientConfig(t *testing.T) {
	c := mustParse(t, "t.toml", doc(tGlobal, tPolicy, tTS, tRAClient))
	m := c.CryptoMaps[0]
	if !m.RemoteAccessClient() || m.XAuthUser != "alice" || string(m.XAuthPassword) != "pw-that-must-not-leak" ||
		m.ModeCfg != "pull" || m.Initiate != "always" || m.ACL != nil || m.ResolvFile != "/tmp/vpn-resolv.conf" {
		t.Fatalf("client map %+v", m)
	}
	for _, verb := range []string{"%v", "%+v", "%s", "%x", "%#v"} {
		if s := fmt.Sprintf(verb, m); strings.Contains(s, "pw-that-must-not-leak") || strings.Contains(s, fmt.Sprintf("%x", "pw-that-must-not-leak")) {
			t.Fatalf("%s prints the XAUTH password: %s", verb, s)
		}
	}
}

func TestRemoteAccessGatewayConfig(t *testing.T) {
	users := raUsers(t, "# users\nalice:"+testUserHash+"\n", 0o600)
	c := mustParse(t, "t.toml", doc(tGlobal, tPolicy, tTS, tRAGateway(users)))
	m := c.CryptoMaps[0]
	if !m.RemoteAccessGateway() || m.PoolFirst.String() != "10.9.0.1" || m.PoolLast.String() != "10.9.0.6" ||
		m.XAuthUsers["alice"] != testUserHash || len(m.DNS) != 1 || len(m.SplitNetworks) != 2 ||
		m.SplitNetworks[1].String() != "10.3.0.0/24" || m.Initiate != "never" {
		t.Fatalf("gateway map %+v", m)
	}
	if m.ACL == nil || len(m.ACL.Rules) != 6 || m.ACL.Rules[5].Text != "permit ip any host 10.9.0.6" {
		t.Fatalf("pool ACL %+v", m.ACL)
	}
	if addrs := m.PoolAddrs(); len(addrs) != 6 {
		t.Fatalf("pool %v", addrs)
	}
}

func TestRemoteAccessConfigErrors(t *testing.T) {
	worldReadable := raUsers(t, "alice:"+testUserHash+"\n", 0o644)
	badLines := raUsers(t, "alice:"+testUserHash+"\nbob:plaintext-secret\nnocolon\n", 0o600)
	pwFile := raUsers(t, "pw-that-must-not-leak\n", 0o644)
	for _, tc := range []struct {
		name, text, key, msg string
	}{
		{"no password", with(tRAClient, "", "xauth_password"), "crypto_map[0].xauth_password", "xauth_user needs xauth_password or xauth_password_file"},
		{"both passwords", with(tRAClient, "xauth_password_file = \""+pwFile+"\"\n"), "crypto_map[0].xauth_password_file", "not both"},
		{"world-readable password file", with(tRAClient, "xauth_password_file = \""+pwFile+"\"\n", "xauth_password"), "crypto_map[0].xauth_password_file", "readable by every user"},
		{"client with match", with(tRAClient, "match = \"a1\"\n"), "crypto_map[0].match", "not used with remote access"},
		{"client of dynamic", with(tRAClient, "peer = \"dynamic\"\n", "peer"), "crypto_map[0].xauth_user", "gateway's address"},
		{"bad modecfg", with(tRAClient, "modecfg = \"pushy\"\n"), "crypto_map[0].modecfg", "pull"},
		{"gateway key on client", with(tRAClient, "dns = [\"10.0.0.1\"]\n"), "crypto_map[0].dns", "only used by a remote-access gateway"},
		{"world-readable users", tRAGateway(worldReadable), "crypto_map[0].xauth_users_file", "readable by every user"},
		{"bad user lines", tRAGateway(badLines), "crypto_map[0].xauth_users_file", "line 2: the hash of user \"bob\" is not bcrypt"},
		{"pool too small", with(tRAGateway(raUsers(t, "alice:"+testUserHash, 0o600)), "pool = \"10.9.0.0/31\"\n", "pool"), "crypto_map[0].pool", "at least 4 addresses"},
		{"pool range", with(tRAGateway(raUsers(t, "alice:"+testUserHash, 0o600)), "pool = \"10.9.0.9-10.9.0.1\"\n", "pool"), "crypto_map[0].pool", "not an IPv4 range"},
		{"gateway with fixed peer", with(tRAGateway(raUsers(t, "alice:"+testUserHash, 0o600)), "peer = \"192.0.2.9\"\n", "peer"), "crypto_map[0].pool", "peer = \"dynamic\""},
		{"bad split", with(tRAGateway(raUsers(t, "alice:"+testUserHash, 0o600)), "split_networks = [\"10.2.0.0\"]\n", "split_networks"), "crypto_map[0].split_networks[0]", "not a network"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es := mustErrors(t, "t.toml", doc(tGlobal, tPolicy, tTS, tACL, tc.text))
			if !findError(es, tc.key, tc.msg) {
				t.Fatalf("want %s: %q, got:\n%v", tc.key, tc.msg, es)
			}
			for _, secret := range []string{"pw-that-must-not-leak", "plaintext-secret", testUserHash} {
				if strings.Contains(es.Error(), secret) {
					t.Fatalf("error shows a secret: %v", es)
				}
			}
		})
	}
}

// TestRemoteAccessUCI: the UCI options are the TOML keys; a UCI
// configuration converts to TOML and back to the same model.
func TestRemoteAccessUCI(t *testing.T) {
	dir := t.TempDir()
	users := raUsers(t, "alice:"+testUserHash+"\n", 0o600)
	uci := `
config isakmp_policy
	option priority 10
	option encryption aes128
	option hash sha256
	option authentication pre-share
	option group 14

config transform_set 'ts1'
	option esp aes128gcm16

config crypto_map
	option name 'ra'
	option seq 10
	option peer '192.0.2.2'
	option psk 'group-key'
	option transform_set ts1
	option exchange aggressive
	option xauth_user 'alice'
	option xauth_password 'pw'
	option modecfg push
	option resolv_file '/tmp/vpn-resolv.conf'

config crypto_map
	option name 'gw'
	option seq 20
	option peer dynamic
	option psk 'group-key'
	option transform_set ts1
	option pool '10.9.0.10-10.9.0.20'
	option modecfg push
	option xauth_users_file '` + users + `'
	list dns '10.2.0.53'
	list dns '10.2.0.54'
	list split_networks '10.2.0.0/16'
`
	u := mustParse(t, filepath.Join(dir, "tinyipsec"), uci)
	if m := u.CryptoMaps[1]; m.ModeCfg != "push" || m.XAuthUser != "alice" || m.Exchange != "aggressive" {
		t.Fatalf("UCI client %+v", m)
	}
	if m := u.CryptoMaps[0]; len(m.DNS) != 2 || m.PoolLast.String() != "10.9.0.20" || m.ModeCfg != "push" {
		t.Fatalf("UCI gateway %+v", m)
	}
	var buf bytes.Buffer
	if err := WriteTOML(&buf, u); err != nil {
		t.Fatal(err)
	}
	m := mustParse(t, filepath.Join(dir, "tinyipsec.toml"), buf.String())
	a, b := *u, *m
	a.Source, b.Source = "", ""
	if !u.Equal(m) || !reflect.DeepEqual(a, b) {
		t.Fatalf("models differ:\nUCI:  %+v\nTOML: %+v\nTOML text:\n%s", u, m, buf.String())
	}
}

// TestParsePoolBounds: a pool's first and last host are computed, not
// stepped to: a network of any size is read (or refused) at once.
func TestParsePoolBounds(t *testing.T) {
	for _, c := range []struct{ in, first, last, err string }{
		{in: "10.9.0.0/24", first: "10.9.0.1", last: "10.9.0.254"},
		{in: "10.9.0.5/30", first: "10.9.0.5", last: "10.9.0.6"},
		{in: "10.8.0.0/22", first: "10.8.0.1", last: "10.8.3.254"},
		{in: "10.8.0.0/21", err: "more than 1024 addresses"},
		{in: "0.0.0.0/0", err: "more than 1024 addresses"},
		{in: "10.9.0.10-10.9.0.50", first: "10.9.0.10", last: "10.9.0.50"},
		{in: "10.0.0.0-10.0.4.0", err: "more than 1024 addresses"},
		{in: "10.9.0.0/31", err: "at least 4 addresses"},
	} {
		lo, hi, err := parsePool(c.in)
		first, last := ipv4String(lo), ipv4String(hi)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || first != c.first || last != c.last {
			t.Errorf("%s: %v-%v %v, want %s-%s", c.in, first, last, err, c.first, c.last)
		}
	}
}

// ipv4String writes an IPv4 number as a dotted address.
func ipv4String(n uint32) string {
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}).String()
}
