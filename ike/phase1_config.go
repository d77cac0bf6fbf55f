package ike

import (
	"crypto/rand"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"time"

	"tinyipsec/conf"
	"tinyipsec/internal/algo"
)

// Policy is one ISAKMP policy (Cisco "crypto isakmp policy N").
type Policy struct {
	_        [0]func() // not comparable: no generated == function (flash)
	Priority int
	Cipher   CipherAlg
	KeyBits  int // AES key size in bits; 0 for DES/3DES
	Hash     HashAlg
	Auth     AuthMethod
	Group    Group
	Lifetime time.Duration
}

// Weak reports whether the policy needs allow_weak: its cipher, hash or
// group does (the registry rows say; no Weak method of each: every
// method is listed twice in the type data, for T and *T: flash).
func (p *Policy) Weak() bool {
	c, h := p.Cipher.info(0), p.Hash.info()
	return c != nil && c.Weak || h != nil && h.Weak || algo.Group(p.Group).Weak()
}

// policyFromTransform decodes a phase 1 transform. Unknown attributes,
// a PRF attribute, a private group or kilobyte lifetimes make it
// unacceptable (false). p, which starts zero, gets the policy (passed by
// pointer: a Policy is copied at every return otherwise).
func policyFromTransform(t *Transform, p *Policy) bool {
	if t.ID != TransformKeyIKE {
		return false
	}
	lifeType := uint64(0)
	for i := range t.Attributes {
		a := &t.Attributes[i]
		v, ok := a.Uint()
		if !ok {
			return false
		}
		switch a.Type {
		case AttrEncryption:
			p.Cipher = CipherAlg(v)
		case AttrKeyLength:
			p.KeyBits = int(v)
		case AttrHash:
			p.Hash = HashAlg(v)
		case AttrAuthMethod:
			p.Auth = AuthMethod(v)
		case AttrGroupDesc:
			p.Group = Group(v)
		case AttrLifeType:
			lifeType = v
		case AttrLifeDuration:
			switch lifeType {
			case LifeSeconds:
				if v > 1<<31 {
					v = 1 << 31
				}
				p.Lifetime = time.Duration(v) * time.Second
			case LifeKilobytes:
				// Volume limits on the IKE SA are ignored, as Cisco does.
			default:
				return false
			}
		default:
			return false
		}
	}
	if p.Cipher == CipherAES && p.KeyBits == 0 {
		p.KeyBits = 128
	}
	// Some peers state the fixed key size of DES/3DES; it changes nothing.
	if (p.Cipher == Cipher3DES && p.KeyBits == 192) || (p.Cipher == CipherDES && p.KeyBits == 64) {
		p.KeyBits = 0
	}
	return p.Cipher != 0 && p.Hash != 0 && p.Auth != 0 && p.Group != 0
}

// sameSuite compares everything but the lifetime and priority (by
// pointer: a Policy is seven words on 32-bit).
func (p *Policy) sameSuite(q *Policy) bool {
	return p.Cipher == q.Cipher && p.KeyBits == q.KeyBits && p.Hash == q.Hash && p.Auth == q.Auth && p.Group == q.Group
}

// DefaultPhase1Lifetime is used when a policy has none (Cisco default).
const DefaultPhase1Lifetime = 86400 * time.Second

// NATTMode selects NAT traversal behaviour (crypto map nat_t).
type NATTMode int

// NAT-T modes.
const (
	NATTAuto  NATTMode = iota // float when a NAT is detected
	NATTForce                 // pretend a NAT so that ESP is always UDP-encapsulated
	NATTOff                   // do not announce NAT-T
)

// Phase1Config is what one phase 1 negotiation needs. The manager builds
// it from the crypto map and ISAKMP policies.
type Phase1Config struct {
	// Exchange is ExchangeMain or ExchangeAggressive (initiator only; a
	// responder follows the initiator's choice unless NoAggressive).
	Exchange     ExchangeType
	NoAggressive bool

	// Policies in priority order (lowest Priority first).
	Policies  []Policy
	AllowWeak bool

	// Local and Remote are the UDP endpoints of the exchange (port 500 at
	// the start).
	Local, Remote netip.AddrPort

	// LocalID defaults to the certificate's subject DN with certificates,
	// else to the local address. RemoteID, when set, must equal the peer's
	// ID (and with certificates, the certificate must also match the ID).
	LocalID, RemoteID *ID

	PSK []byte
	// keyring, for an Aggressive Mode responder, chooses the key by the
	// identity in message 1 (pskForPeerID); PSK is then the key for a
	// peer no entry names, and without one the peer is refused.
	keyring *conf.Config
	Creds   *Credentials // for rsa-sig / ecdsa-sig

	NATT NATTMode

	// Fragmentation announces IKEv1 fragmentation; when the peer announces
	// it too, our messages larger than one 1280-byte packet (those with
	// certificates) are sent as fragments, and so are the peer's.
	Fragmentation bool

	// InitialContact adds INITIAL-CONTACT to MM5/AM3 (and MM6): the peer
	// then drops older SAs with us (set when we hold none with it).
	InitialContact bool

	// RemoteAccess announces XAUTH and Cisco Unity (vendor IDs) for a
	// remote-access client or gateway: strongSwan hands out split-include
	// networks only to a peer that announced Unity.
	RemoteAccess bool
	// pooledKeys: Main Mode and an Aggressive Mode responder take their
	// key pair from the pool of keys made ahead when it has one
	// (dh_pool.go). Off for benchmarks that count each
	// handshake's whole cost. (Next to RemoteAccess: the padding before
	// ResponderCookie holds it.)
	pooledKeys bool

	// ResponderCookie, when set, is the responder's cookie instead of a
	// random one: the manager derives it from a rotating secret (RFC 2408
	// section 2.5.3) so that it can tell the cookies it issued.
	ResponderCookie Cookie

	// Rand defaults to crypto/rand.Reader (tests inject determinism).
	Rand io.Reader

	// dhKey is an Aggressive Mode initiator's key pair for the first
	// policy's group, made ahead off the manager's lock (dh_pool.go).
	dhKey *DHKey
}

// setup checks cfg and fills the shared part of a negotiation from it,
// for either role: the policies, resolved to the key's ECDSA curve and
// given the default lifetime where they have none.
func (p *Phase1) setup(cfg *Phase1Config) error {
	if cfg == nil {
		return errorText("ike: nil phase 1 config")
	}
	if len(cfg.Policies) == 0 {
		return errorText("ike: no ISAKMP policies")
	}
	for i := range cfg.Policies {
		pol := &cfg.Policies[i]
		if _, err := pol.Cipher.KeyLen(pol.KeyBits); err != nil {
			return err
		}
		if pol.Hash.info() == nil {
			return fmt.Errorf("ike: unsupported hash %v", pol.Hash)
		}
		if !pol.Group.Supported() {
			return fmt.Errorf("ike: unsupported DH group %d", uint16(pol.Group))
		}
		switch pol.Auth {
		case AuthPSK, AuthXAuthInitPSK, AuthRSASig, AuthECDSA256, AuthECDSA384, AuthECDSA521:
		default:
			return fmt.Errorf("ike: unsupported authentication %v", pol.Auth)
		}
		if pol.Weak() && !cfg.AllowWeak {
			// No String method: Policy is a field of types the daemon puts
			// in interfaces, which would keep it linked for fmt (flash).
			c := pol.Cipher.String()
			if pol.KeyBits != 0 {
				c += strconv.Itoa(pol.KeyBits)
			}
			return fmt.Errorf("ike: policy %s-%v-%v-%v-%ds is weak (needs allow_weak)", c, pol.Hash, pol.Group, pol.Auth, int(pol.Lifetime/time.Second))
		}
		if pol.Auth.PreShared() && len(cfg.PSK) == 0 && cfg.keyring == nil {
			return errorText("ike: pre-share policy without a pre-shared key")
		}
		if !pol.Auth.PreShared() && (cfg.Creds == nil || cfg.Creds.Key == nil || cfg.Creds.Cert == nil) {
			return fmt.Errorf("ike: %v policy without certificate and key", pol.Auth)
		}
	}
	if !cfg.Local.IsValid() || !cfg.Remote.IsValid() {
		return errorText("ike: local and remote endpoints are required")
	}
	p.cfg, p.out.Local, p.out.Remote, p.rand = *cfg, cfg.Local, cfg.Remote, cfg.Rand
	if p.rand == nil {
		p.rand = rand.Reader
	}
	for _, pol := range cfg.Policies {
		if pol.Auth.IsECDSA() {
			m, ok := ECDSAMethodFor(cfg.Creds.Key.Public())
			if !ok {
				return errorText("ike: ecdsa-sig policy but the key is not ECDSA")
			}
			pol.Auth = m
		}
		if pol.Lifetime <= 0 {
			pol.Lifetime = DefaultPhase1Lifetime
		}
		p.policies = append(p.policies, pol)
	}
	return nil
}
