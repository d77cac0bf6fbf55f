package conf

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"reflect"
	"strconv"
)

// fingerprintKey makes fingerprints unguessable: they cover pre-shared
// and manual keys, and a plain hash of a short PSK could be brute-forced
// by anyone who sees a fingerprint in a log. The price is that
// fingerprints only compare within one process, which is all hot reload
// needs. An array filled by init, not a slice made by a function
// literal called at start, which was a function more (flash).
var fingerprintKey [32]byte

func init() {
	// Read never returns an error: without randomness it ends the
	// program itself.
	rand.Read(fingerprintKey[:])
}

// Fingerprint summarises everything that shapes this crypto map's
// tunnels: its own settings and keys, the rules of its ACL, its transform
// sets, the ISAKMP policies (all of them are offered in phase 1, so they
// belong to every IKE-keyed map) and the contents of its cert/key/ca
// files. Two maps with equal fingerprints from the same process can keep
// their SAs across a reload. Global settings are not included; compare
// Config.Global for those.
func (m *CryptoMap) Fingerprint() string {
	h := hmac.New(sha256.New, fingerprintKey[:])
	// The map's own settings as WriteTOML writes them, strings exactly
	// (length-prefixed, not quoted): WriteTOML writes every setting that
	// loads back into the model, so one writer serves both (flash).
	tw := &TOMLWriter{exact: true}
	tw.cryptoMap(m)
	// Its transform sets and the ISAKMP policies, written by the same
	// writer as a configuration of nothing else (rather than formatted
	// by fmt's %+v: flash).
	tw.config(&Config{Policies: m.policies, TransformSets: m.TransformSets})
	text := tw.Bytes()
	fpField(h, "crypto_map", text)
	clear(text) // it holds the inline keys
	// What the settings name rather than hold: the keys read from files,
	// the certificate files' contents and the ACL's rules.
	fpField(h, "psk", m.PSK)
	fpField(h, "xauth_password", m.XAuthPassword)
	h.Write(m.credDigest[:])
	if m.ACL != nil {
		// A rule's text: every rule is parsed from it (acl.ParseRule,
		// PoolRule), so equal texts are equal rules, and the text was
		// part of the fields printed before (no twin type of acl.Rule
		// and its formatting by reflection: flash).
		for i := range m.ACL.Rules {
			fpField(h, "rule", []byte(m.ACL.Rules[i].Text))
		}
	}
	// The users file's path (in the settings), not its users: adding a
	// user or changing a password must not drop the clients that are
	// connected (the new list applies to the next XAUTH, as on a Cisco
	// gateway).
	return hex.EncodeToString(h.Sum(nil))
}

// fpField writes one length-prefixed field, "name LEN value\n", so that
// no two different maps write the same bytes. One function for strings
// and secrets, not a writer type with three methods (flash).
func fpField(h hash.Hash, name string, v []byte) {
	h.Write(append(strconv.AppendInt(append([]byte(name), ' '), int64(len(v)), 10), ' '))
	h.Write(v)
	h.Write([]byte{'\n'})
}

// Equal reports whether two configurations are the same apart from the
// file they were read from. The crypto maps' ACLs were compiled when each
// was built (see ACL.List), so an ACL compares as what its rules say,
// whether or not the running configuration has used it since.
func (c *Config) Equal(o *Config) bool {
	if c == nil || o == nil {
		return c == o
	}
	a, b := *c, *o
	a.Source, b.Source = "", ""
	return reflect.DeepEqual(a, b)
}
