// Package conf turns a TOML or UCI crypto-map configuration into one
// validated, immutable model that every other package reads.
//
// The model is built once by Load (or Parse, ParseTOML, ParseUCI) and never changed
// afterwards; a reload builds a new model and the daemon compares the two.
// Key names in the files are a contract with users, documentation and the
// UCI bridge: they are listed next to each field.
package conf

import (
	"net/netip"
	"strconv"
	"sync"
	"time"

	"tinyipsec/acl"
	"tinyipsec/internal/algo"
)

// Defaults that admins know from Cisco IOS/ASA.
const (
	DefaultConfigPath    = "/etc/tinyipsec/tinyipsec.toml"
	DefaultTun           = "ipsec0"
	DefaultControlSocket = "/var/run/tinyipsec.sock"
	DefaultMTU           = 1400
	// DefaultDHKeysReady Diffie-Hellman key pairs per group are made ahead
	// (dh_keys_ready); a hub that must answer bursts of spokes quickly
	// keeps more, up to MaxDHKeysReady (each MODP-2048 key about 0.4 KB).
	DefaultDHKeysReady  = 2
	MaxDHKeysReady      = 1024
	DefaultP1Lifetime   = 86400 * time.Second // crypto isakmp policy default
	DefaultP2Lifetime   = 3600 * time.Second  // crypto ipsec security-association lifetime default
	DefaultReplayWindow = 64
	MaxReplayWindow     = 4096
)

// Config is the whole validated configuration.
type Config struct {
	// Source is the file the configuration was read from (for messages).
	Source string

	Global Global
	// Policies are the ISAKMP policies sorted by ascending priority
	// (Cisco: lower number = preferred).
	Policies []ISAKMPPolicy
	// TransformSets sorted by name (TransformSetNamed finds one). Slices,
	// not maps by name: each map type costs its type data and hash code,
	// and the TOML writer sorted the names (flash).
	TransformSets []*TransformSet
	// ACLs sorted by name (ACLNamed finds one).
	ACLs []*ACL
	// CryptoMaps sorted by (Name, Seq).
	CryptoMaps []*CryptoMap
	// Keyring holds the pre-shared keys of peers whose crypto map has no
	// psk of its own, in file order ([[keyring]]).
	Keyring []KeyringEntry
}

// Global is the [global] table.
type Global struct {
	LogLevel      string       // log_level: error|warn|info|debug (default info)
	Listen        []netip.Addr // listen: local addresses for UDP 500/4500; empty = all
	Tun           string       // tun: device name (default ipsec0)
	MTU           int          // mtu: TUN MTU (default 1400)
	ControlSocket string       // control_socket (default /var/run/tinyipsec.sock)
	AllowWeak     bool         // allow_weak: permit des, md5, DH groups 1/2/5
	DHKeysReady   int          // dh_keys_ready: DH key pairs per group made ahead (default 2)
}

// ISAKMPPolicy is one [[isakmp_policy]], Cisco's "crypto isakmp policy N".
type ISAKMPPolicy struct {
	_          [0]func()     // not comparable: no generated == function (flash)
	Priority   int           // priority
	Encryption algo.P1Cipher // encryption: aes128|aes192|aes256|3des|des
	Hash       algo.Hash     // hash: md5|sha1|sha256|sha384|sha512
	Auth       algo.Auth     // authentication: pre-share|rsa-sig|ecdsa-sig
	Group      algo.Group    // group: 1,2,5,14,15,16,19,20,21,31
	Lifetime   time.Duration // lifetime (default 86400 s)
}

// TransformSet is one [transform_set.NAME], Cisco's "crypto ipsec transform-set".
type TransformSet struct {
	_       [0]func() // not comparable: no generated == function (flash)
	Name    string
	ESP     algo.Cipher // esp: aes128gcm16|aes256gcm16|aes128|aes192|aes256|3des|chacha20poly1305|null; CipherNone = no ESP
	ESPAuth algo.Hash   // esp_auth: sha1|sha256|sha384|sha512|md5; HashNone for AEAD
	AH      algo.Hash   // ah: sha1|sha256|sha384|sha512|md5; HashNone = no AH
	Mode    Mode        // mode: tunnel|transport (default tunnel)
}

// ACL is one [acl.NAME]: Cisco extended-ACL lines, first match wins,
// implicit deny at the end.
type ACL struct {
	Name  string
	Rules []acl.Rule // parsed, in order; not changed once List was called

	mu   sync.Mutex // guards list
	list *acl.List  // Rules compiled
}

// List is the ACL compiled for matching, shared: the data plane's packet
// path and the IKE manager's proxy IDs use the same *acl.List (immutable,
// safe for concurrent use). The crypto maps' ACLs are compiled when the
// configuration is built, so that Equal, which compares the whole model,
// sees two compiled lists of the same rules, never one compiled and one
// not; an ACL made otherwise is compiled on first use.
// Under a mutex rather than a sync.Once, whose callback was a closure
// (flash); it is asked for at set-up, not per packet.
func (a *ACL) List() *acl.List {
	a.mu.Lock()
	if a.list == nil {
		a.list = acl.Compile(a.Rules)
	}
	l := a.list
	a.mu.Unlock()
	return l
}

// TransformSetNamed is the transform set called name, nil if there is
// none. The builder scans the list itself; this is for the model's
// readers.
func (c *Config) TransformSetNamed(name string) *TransformSet {
	for _, ts := range c.TransformSets {
		if ts.Name == name {
			return ts
		}
	}
	return nil
}

// ACLNamed is the ACL called name, nil if there is none.
func (c *Config) ACLNamed(name string) *ACL {
	for _, a := range c.ACLs {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// Identity is an IKE identity (local_id / remote_id).
type Identity struct {
	_ [0]func() // not comparable: no generated == function (flash)

	// Type is "" (unset: use the address, or the certificate's DN),
	// "ipv4", "ipv6", "fqdn", "user-fqdn", "dn" or "keyid" (ID_KEY_ID,
	// a Cisco remote-access group name).
	Type  string
	Value string     // as written after the prefix ("host.example", "a@b", "C=CH, O=...")
	Addr  netip.Addr // for ipv4/ipv6
}

// CryptoMap is one [[crypto_map]], Cisco's "crypto map NAME SEQ".
type CryptoMap struct {
	Name   string // name
	Seq    int    // seq
	Keying Keying // keying: isakmp|manual (default isakmp)

	Peer     string     // peer: address, hostname or "dynamic" (kept as written)
	PeerAddr netip.Addr // resolved when Peer is a literal address; invalid for "dynamic" or hostnames
	Dynamic  bool       // peer = "dynamic": responder only, any authenticated peer
	Local    netip.Addr // local: optional local address for this tunnel (outer source)

	LocalID  Identity // local_id
	RemoteID Identity // remote_id

	PSK     Secret // psk, or the content of psk_file (never printed)
	PSKFile string // psk_file (kept so the model can be written back)
	Cert    string // cert: PEM path
	Key     string // key: PEM path
	CA      string // ca: PEM path

	Match         string          // match: ACL name
	ACL           *ACL            // the ACL named by Match
	TransformSet  []string        // transform_set: names in preference order
	TransformSets []*TransformSet // resolved, same order

	PFS          algo.Group    // pfs: DH group, 0 = no PFS
	Lifetime     time.Duration // lifetime (default 3600 s)
	LifetimeKB   uint64        // lifetime_kb: 0 = no volume limit
	Exchange     Exchange      // exchange: main|aggressive (default main)
	Initiate     Initiate      // initiate: on-traffic|always|never (default on-traffic)
	DPDDelay     time.Duration // dpd_delay: 0 = DPD off
	DPDTimeout   time.Duration // dpd_timeout
	NATT         NATT          // nat_t: auto|force|off (default auto)
	ReplayWindow int           // replay_window (default 64, at most 4096; 0 disables anti-replay)
	ESN          bool          // esn

	Manual *ManualKeys // keying = "manual" only

	// Remote access, client side (XAUTH user, Mode-Config): set by
	// xauth_user. The crypto ACL is then built from what the gateway
	// assigns (no match).
	XAuthUser         string // xauth_user
	XAuthPassword     Secret // xauth_password, or the content of xauth_password_file (never printed)
	XAuthPasswordFile string // xauth_password_file
	ModeCfg           string // modecfg: pull|push (default pull): who starts Mode-Config
	ResolvFile        string // resolv_file: where the pushed DNS servers are written

	// Remote access, gateway side: set by pool (peer = "dynamic"). The
	// crypto ACL is synthesized: one line "permit ip any host A" per pool
	// address A.
	XAuthUsersFile string            // xauth_users_file
	XAuthUsers     map[string]string // user name -> bcrypt hash, from xauth_users_file
	PoolFirst      netip.Addr        // pool: first and last address handed out
	PoolLast       netip.Addr
	DNS            []netip.Addr   // dns: servers handed out
	SplitNetworks  []netip.Prefix // split_networks: networks routed through the tunnel (none: all)

	// credDigest is a hash of the cert, key and ca file contents read at
	// load time, so that a renewed certificate changes the Fingerprint.
	credDigest [32]byte
	// certPEM, keyPEM and caPEM are those contents (CredentialPEM).
	certPEM, caPEM []byte
	keyPEM         Secret
	// policies are the Config's ISAKMP policies (IKE-keyed maps only),
	// part of the Fingerprint because phase 1 offers all of them.
	policies []ISAKMPPolicy
}

// ManualKeys are Cisco ipsec-manual keys. "in" is what the peer sends to us.
// For AES-GCM and ChaCha20-Poly1305 the ESP key is the cipher key followed
// by its 4-byte salt (RFC 4106 / RFC 7634 KEYMAT layout).
type ManualKeys struct {
	SPIIn, SPIOut               uint32 // spi_in, spi_out
	ESPKeyIn, ESPKeyOut         Secret // esp_key_in, esp_key_out
	ESPAuthKeyIn, ESPAuthKeyOut Secret // esp_auth_key_in, esp_auth_key_out
	AHKeyIn, AHKeyOut           Secret // ah_key_in, ah_key_out
	AHSPIIn, AHSPIOut           uint32 // ah_spi_in, ah_spi_out: for AH+ESP bundles (default spi_in/spi_out)
}

// RemoteAccessClient reports whether the map joins a remote-access
// gateway (XAUTH and Mode-Config as the client).
func (m *CryptoMap) RemoteAccessClient() bool { return m.XAuthUser != "" }

// RemoteAccessGateway reports whether the map serves remote-access
// clients from an address pool.
func (m *CryptoMap) RemoteAccessGateway() bool { return m.PoolFirst.IsValid() }

// ID returns "name/seq", the crypto map's identity in logs and status.
func (m *CryptoMap) ID() string { return m.Name + "/" + strconv.Itoa(m.Seq) }

// CredentialPEM returns the contents of the cert, key and ca files as
// read when the configuration was loaded: they are not read again, and a
// renewed certificate takes effect with a reload (which sees it in the
// Fingerprint), as every other setting does. All nil for a map without
// certificates.
func (m *CryptoMap) CredentialPEM() (cert []byte, key Secret, ca []byte) {
	return m.certPEM, m.keyPEM, m.caPEM
}

// IKEKeyed reports whether IKE negotiates the SAs of some crypto map, so
// that the IKE ports are needed.
func (c *Config) IKEKeyed() bool {
	for _, m := range c.CryptoMaps {
		if m.IKEKeyed() {
			return true
		}
	}
	return false
}

// IKEKeyed reports whether IKE negotiates the map's SAs (keying = "isakmp").
func (m *CryptoMap) IKEKeyed() bool { return m.Keying == "" || m.Keying == KeyingISAKMP }

// The enumerated configuration values. Each type's constants are its only
// valid values; the underlying string is the configuration spelling.
type (
	Mode     string // transform_set mode
	Keying   string // crypto_map keying
	Exchange string // crypto_map exchange (phase 1 mode)
	Initiate string // crypto_map initiate
	NATT     string // crypto_map nat_t
)

// Valid values of the enumerated configuration keys.
const (
	ModeTunnel    Mode = "tunnel"
	ModeTransport Mode = "transport"

	KeyingISAKMP Keying = "isakmp"
	KeyingManual Keying = "manual"

	ExchangeMain       Exchange = "main"
	ExchangeAggressive Exchange = "aggressive"

	InitiateOnTraffic Initiate = "on-traffic"
	InitiateAlways    Initiate = "always"
	InitiateNever     Initiate = "never"

	NATTAuto  NATT = "auto"
	NATTForce NATT = "force"
	NATTOff   NATT = "off"
)

// The values of each enumerated key (and of the plain string choices), in
// the order messages list them.
var (
	modes     = [...]string{string(ModeTunnel), string(ModeTransport)}
	keyings   = [...]string{string(KeyingISAKMP), string(KeyingManual)}
	exchanges = [...]string{string(ExchangeMain), string(ExchangeAggressive)}
	initiates = [...]string{string(InitiateOnTraffic), string(InitiateAlways), string(InitiateNever)}
	natts     = [...]string{string(NATTAuto), string(NATTForce), string(NATTOff)}
	logLevels = [...]string{"error", "warn", "info", "debug"}
	modeCfgs  = [...]string{"pull", "push"}
)
