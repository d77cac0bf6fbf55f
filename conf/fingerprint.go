package conf

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"reflect"
	"strconv"

	"tinyipsec/acl"
)

// fingerprintKey makes fingerprints unguessable: they cover pre-shared
// and manual keys, and a plain hash of a short PSK could be brute-forced
// by anyone who sees a fingerprint in a log. The price is that
// fingerprints only compare within one process, which is all hot reload
// needs.
var fingerprintKey = func() []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic("conf: no randomness: " + err.Error())
	}
	return k
}()

// Fingerprint summarises everything that shapes this crypto map's
// tunnels: its own settings and keys, the rules of its ACL, its transform
// sets, the ISAKMP policies (all of them are offered in phase 1, so they
// belong to every IKE-keyed map) and the contents of its cert/key/ca
// files. Two maps with equal fingerprints from the same process can keep
// their SAs across a reload. Global settings are not included; compare
// Config.Global for those.
func (m *CryptoMap) Fingerprint() string {
	h := hmac.New(sha256.New, fingerprintKey)
	m.writeFingerprint(h)
	return hex.EncodeToString(h.Sum(nil))
}

// plainRule prints every field of an ACL rule, not its String form.
type plainRule acl.Rule

// fpWriter writes length-prefixed fields, "name LEN value\n", so that no
// two different maps write the same bytes. Strings and numbers have
// their own methods: a boxed argument at each of some forty call sites
// cost more machine code than the fields themselves (flash).
type fpWriter struct{ h hash.Hash }

func (f fpWriter) str(name, s string) {
	f.head(name, len(s))
	f.h.Write([]byte(s))
	f.h.Write([]byte{'\n'})
}

func (f fpWriter) head(name string, n int) {
	f.h.Write([]byte(name))
	f.h.Write([]byte{' '})
	f.h.Write(strconv.AppendInt(nil, int64(n), 10))
	f.h.Write([]byte{' '})
}

func (f fpWriter) num(name string, n int64) { f.str(name, strconv.FormatInt(n, 10)) }

// val writes what fmt prints for v (%v).
func (f fpWriter) val(name string, v any) { f.str(name, fmt.Sprint(v)) }

func (f fpWriter) secret(name string, v Secret) {
	f.head(name, len(v))
	f.h.Write(v)
	f.h.Write([]byte{'\n'})
}

func (m *CryptoMap) writeFingerprint(h hash.Hash) {
	f := fpWriter{h}
	f.str("name", m.Name)
	f.num("seq", int64(m.Seq))
	f.str("keying", string(m.Keying))
	f.str("peer", m.Peer)
	f.str("local", m.Local.String())
	f.str("local_id", m.LocalID.Type+":"+m.LocalID.Value)
	f.str("remote_id", m.RemoteID.Type+":"+m.RemoteID.Value)
	f.secret("psk", m.PSK)
	f.str("psk_file", m.PSKFile)
	f.str("cert", m.Cert)
	f.str("key", m.Key)
	f.str("ca", m.CA)
	h.Write(m.credDigest[:])
	f.str("match", m.Match)
	if m.ACL != nil {
		for _, r := range m.ACL.Rules {
			f.str("rule", fmt.Sprintf("%+v", (*plainRule)(&r))) // a pointer: a plainRule value in an interface would need a generated == function
		}
	}
	for _, ts := range m.TransformSets {
		f.str("transform_set", fmt.Sprintf("%+v", *ts))
	}
	f.num("pfs", int64(m.PFS))
	f.num("lifetime", int64(m.Lifetime))
	f.num("lifetime_kb", int64(m.LifetimeKB))
	f.str("exchange", string(m.Exchange))
	f.str("initiate", string(m.Initiate))
	f.str("dpd", strconv.FormatInt(int64(m.DPDDelay), 10)+" "+strconv.FormatInt(int64(m.DPDTimeout), 10))
	f.str("nat_t", string(m.NATT))
	f.num("replay_window", int64(m.ReplayWindow))
	f.str("esn", strconv.FormatBool(m.ESN))
	for _, p := range m.policies {
		f.str("isakmp_policy", fmt.Sprintf("%+v", p))
	}
	f.str("xauth_user", m.XAuthUser)
	f.secret("xauth_password", m.XAuthPassword)
	f.str("xauth_password_file", m.XAuthPasswordFile)
	f.str("modecfg", m.ModeCfg)
	f.str("resolv_file", m.ResolvFile)
	// The users file's path, not its users: adding a user or changing a
	// password must not drop the clients that are connected (the new
	// list applies to the next XAUTH, as on a Cisco gateway).
	f.str("xauth_users_file", m.XAuthUsersFile)
	f.str("pool", m.PoolFirst.String()+" "+m.PoolLast.String())
	f.val("dns", m.DNS)
	f.val("split_networks", m.SplitNetworks)
	if k := m.Manual; k != nil {
		f.val("spi", [4]uint32{k.SPIIn, k.SPIOut, k.AHSPIIn, k.AHSPIOut})
		k.eachKey(f.secret)
	}
}

// Equal reports whether two configurations are the same apart from the
// file they were read from.
func (c *Config) Equal(o *Config) bool {
	if c == nil || o == nil {
		return c == o
	}
	a, b := *c, *o
	a.Source, b.Source = "", ""
	return reflect.DeepEqual(a, b)
}
