package conf

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"reflect"

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

func (m *CryptoMap) writeFingerprint(h hash.Hash) {
	// Length-prefixed fields: no two different maps write the same bytes.
	field := func(name string, v any) {
		s := fmt.Sprint(v)
		fmt.Fprintf(h, "%s %d %s\n", name, len(s), s)
	}
	secret := func(name string, v Secret) {
		fmt.Fprintf(h, "%s %d ", name, len(v))
		h.Write(v)
		h.Write([]byte{'\n'})
	}
	field("name", m.Name)
	field("seq", m.Seq)
	field("keying", m.Keying)
	field("peer", m.Peer)
	field("local", m.Local)
	field("local_id", m.LocalID.Type+":"+m.LocalID.Value)
	field("remote_id", m.RemoteID.Type+":"+m.RemoteID.Value)
	secret("psk", m.PSK)
	field("psk_file", m.PSKFile)
	field("cert", m.Cert)
	field("key", m.Key)
	field("ca", m.CA)
	h.Write(m.credDigest[:])
	field("match", m.Match)
	if m.ACL != nil {
		for _, r := range m.ACL.Rules {
			field("rule", fmt.Sprintf("%+v", (*plainRule)(&r))) // a pointer: a plainRule value in an interface would need a generated == function
		}
	}
	for _, ts := range m.TransformSets {
		field("transform_set", fmt.Sprintf("%+v", *ts))
	}
	field("pfs", m.PFS)
	field("lifetime", int64(m.Lifetime))
	field("lifetime_kb", m.LifetimeKB)
	field("exchange", m.Exchange)
	field("initiate", m.Initiate)
	field("dpd", fmt.Sprint(int64(m.DPDDelay), int64(m.DPDTimeout)))
	field("nat_t", m.NATT)
	field("replay_window", m.ReplayWindow)
	field("esn", m.ESN)
	for _, p := range m.policies {
		field("isakmp_policy", fmt.Sprintf("%+v", p))
	}
	field("xauth_user", m.XAuthUser)
	secret("xauth_password", m.XAuthPassword)
	field("xauth_password_file", m.XAuthPasswordFile)
	field("modecfg", m.ModeCfg)
	field("resolv_file", m.ResolvFile)
	// The users file's path, not its users: adding a user or changing a
	// password must not drop the clients that are connected (the new
	// list applies to the next XAUTH, as on a Cisco gateway).
	field("xauth_users_file", m.XAuthUsersFile)
	field("pool", fmt.Sprint(m.PoolFirst, m.PoolLast))
	field("dns", fmt.Sprint(m.DNS))
	field("split_networks", fmt.Sprint(m.SplitNetworks))
	if k := m.Manual; k != nil {
		field("spi", fmt.Sprint(k.SPIIn, k.SPIOut, k.AHSPIIn, k.AHSPIOut))
		k.eachKey(secret)
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
