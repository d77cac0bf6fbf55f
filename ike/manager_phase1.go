package ike

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"tinyipsec/conf"
)

// The manager's side of phase 1: building a Phase1Config from a crypto
// map and the ISAKMP policies, and driving *Phase1 for the manager
// (p1Adapter).

// phase1ConfigFor builds the phase 1 parameters of sa's crypto map. Only
// the policies whose authentication the map can do are offered, with
// the pre-shared key from the [[keyring]] where it applies (keyring.go).
func (m *Manager) phase1ConfigFor(sa *ikeSA, aggressiveResponder bool) (*Phase1Config, error) {
	cm := sa.ms.cm
	all, err := PoliciesFromConf(m.cfg.Conf.Policies, m.cfg.Conf.Global.AllowWeak)
	if err != nil {
		return nil, err
	}
	hasCert := cm.Cert != "" && cm.Key != ""
	remoteAccess := cm.RemoteAccessClient() || cm.RemoteAccessGateway()
	var pols []Policy
	for _, p := range all {
		hasPSK := len(cm.PSK) > 0 || keyringApplies(m.cfg.Conf, cm)
		if (p.Auth == AuthPSK && hasPSK) || (p.Auth != AuthPSK && hasCert && !remoteAccess) {
			if remoteAccess {
				// The group key authenticates phase 1, XAUTH the user.
				p.Auth = AuthXAuthInitPSK
			}
			pols = append(pols, p)
		}
	}
	if len(pols) == 0 {
		return nil, fmt.Errorf("crypto map %s: no ISAKMP policy usable with its credentials", cm.ID())
	}
	localID, err := IDFromConf(cm.LocalID)
	if err != nil {
		return nil, err
	}
	remoteID, err := IDFromConf(cm.RemoteID)
	if err != nil {
		return nil, err
	}
	c := &Phase1Config{
		Policies:  pols,
		AllowWeak: m.cfg.Conf.Global.AllowWeak,
		Local:     sa.local,
		Remote:    sa.remote,
		LocalID:   localID,
		RemoteID:  remoteID,
		PSK:       []byte(cm.PSK),

		RemoteAccess: remoteAccess,
		pooledKeys:   !m.inlineCompute,
	}
	if !sa.initiator {
		c.ResponderCookie = sa.cookieR
	}
	if cm.Exchange == conf.ExchangeAggressive {
		c.Exchange = ExchangeAggressive
	}
	// INITIAL-CONTACT tells a peer that remembers SAs from before our
	// restart to drop them; only when we hold none with it (IPsec SAs
	// that outlived their IKE SA count: the new IKE SA takes them over).
	c.InitialContact = true
	for _, o := range m.sas {
		if o != sa && !o.dead() && o.out != nil && sameHost(&o.remote, &sa.remote) {
			c.InitialContact = false
		}
	}
	for _, o := range m.orphans {
		if sameHost(&o.remote, &sa.remote) {
			c.InitialContact = false
		}
	}
	switch cm.NATT {
	case "force":
		c.NATT = NATTForce
	case "off":
		c.NATT = NATTOff
	}
	if hasCert {
		creds, err := sa.ms.credentials()
		if err != nil {
			return nil, err
		}
		c.Creds = creds
	}
	// The keyring's key for the peer at sa.remote and, for an Aggressive
	// Mode responder, the keyring to look up the identity the peer will
	// send in (pskForPeerID). Without a key only the policies the map
	// can do without one are kept, and the peer is refused if none is
	// left.
	cfg := m.cfg.Conf
	if !keyringApplies(cfg, cm) {
		return c, nil
	}
	peer := sa.remote.Addr()
	c.PSK = nil
	if e := cfg.KeyringFor(peer, nil); e != nil {
		c.PSK = []byte(e.PSK)
	} else if len(cm.PSK) > 0 {
		c.PSK = []byte(cm.PSK)
	}
	if aggressiveResponder {
		c.keyring = cfg // pskForPeerID, once AM1 names the peer
		return c, nil
	}
	if len(c.PSK) > 0 {
		return c, nil
	}
	var kept []Policy
	for _, p := range c.Policies {
		if !p.Auth.PreShared() {
			kept = append(kept, p)
		}
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("no pre-shared key for peer %s: no [[keyring]] address entry contains it (Main Mode chooses the key by the peer's address)", peer)
	}
	c.Policies = kept
	return c, nil
}

// credentials are the map's certificate, key and CA, parsed on first
// use from what the configuration read (conf.CryptoMap.CredentialPEM) and
// then kept: a reload that changes them makes a new mapState.
func (ms *mapState) credentials() (*Credentials, error) {
	if ms.creds == nil && ms.credsErr == nil {
		certPEM, keyPEM, caPEM := ms.cm.CredentialPEM()
		if certPEM == nil || keyPEM == nil {
			ms.credsErr = fmt.Errorf("crypto map %s: the cert and key files were not loaded with the configuration", ms.cm.ID())
		} else {
			ms.creds, ms.credsErr = ParseCredentials(certPEM, keyPEM, caPEM)
		}
	}
	return ms.creds, ms.credsErr
}

// p1Adapter drives a *Phase1 for the manager: a Main or Aggressive Mode
// exchange in progress. It is the only kind, so the manager holds it by
// its type, not through an interface (no method table, no type
// assertions for wipe; flash).
//
//   - handle processes a received message and returns the answer to send
//     (nil for none); errors leave the exchange as it was unless
//     p.state.Active() (phase 1 complete; for the responder in Main Mode:
//     after sending MM6) turns true;
//   - p.state.String() is the Cisco state name (MM_WAIT_MSG2, AM_ACTIVE,
//     ...);
//   - p.floated: the following messages go to UDP 4500 (NAT-T
//     negotiated and a NAT found, RFC 3947 section 4);
//   - outcome is valid once the state is active;
//   - pending is what handle asked to send before its answer
//     (fragments, a failure notify): handle may run without the
//     manager's lock, sending needs it, so the caller sends them.
//
// The state machine's fields and Wipe are used directly, not through
// one-line forwarding methods here (flash).
//
// It holds no manager, map or SA of its own: the IKE SA holds it, and
// knows those (fields are type data in the binary; flash).
type p1Adapter struct {
	p *Phase1
	// pending are datagrams to send before handle's answer.
	pending [][]byte
}

// newPhase1Responder answers a first message. With several candidate
// maps, a map for this exact peer address wins over dynamic ones.
func newPhase1Responder(m *Manager, cands []*mapState, sa *ikeSA, pkt []byte) (*p1Adapter, error) {
	ms := cands[0]
	// Parsing the offer again costs as much as answering it: only when
	// the choice depends on it (a flood of first messages meets this).
	// A remote-access client offers XAUTHInitPreShared.
	xauth := false
	if len(cands) > 1 {
		if msg, err := Unmarshal(pkt); err == nil {
			if offer := Find[*SA](msg); offer != nil {
				for _, p := range offer.Proposals {
					for _, t := range p.Transforms {
						if v, ok := t.Attributes.Uint(AttrAuthMethod); ok && AuthMethod(v) == AuthXAuthInitPSK {
							xauth = true
						}
					}
				}
			}
		}
	}
	for _, c := range cands {
		if hostIs(&sa.remote, &c.cm.PeerAddr) {
			ms = c
			break
		}
		// A remote-access client offers XAUTHInitPreShared: it belongs
		// to the gateway map, a site-to-site peer to the others.
		if ms.cm.RemoteAccessGateway() != xauth && c.cm.RemoteAccessGateway() == xauth {
			ms = c
		}
	}
	// The map is known from here on, so a refusal shows in its status.
	sa.ms = ms
	var h Header
	h.parse(pkt)
	cfg, err := m.phase1ConfigFor(sa, h.Exchange == ExchangeAggressive)
	if err != nil {
		return nil, err
	}
	p, err := NewResponder(cfg)
	if err != nil {
		return nil, err
	}
	return &p1Adapter{p: p}, nil
}

func (a *p1Adapter) handle(in *inbound) ([]byte, error) {
	// What Handle does, with the packet and the result by pointer, not
	// copied in and out (flash).
	a.p.now = time.Now()
	r, err := a.p.handle(&Packet{Data: in.pkt, Local: in.local, Remote: in.remote})
	if err != nil || r == nil {
		return nil, err
	}
	// What goes out before the answer, sent by the caller: after a
	// failure, what the state machine wants the peer to know (a clear
	// notify) before the SA goes; else all but the last datagram of a
	// fragmented answer, the last one being the answer the caller sends
	// (and retransmits).
	send, last := r.Send, []byte(nil)
	if r.Failed == nil && len(send) > 0 {
		send, last = send[:len(send)-1], send[len(send)-1]
	}
	a.pending = append(a.pending, send...)
	if r.Failed != nil {
		return nil, fmt.Errorf("%w: %v", errPhase1Fatal, r.Failed)
	}
	return last, nil
}

func (a *p1Adapter) outcome() *p1Outcome {
	d := a.p.done
	if d == nil {
		return nil
	}
	// Copies: the state machine (and its keys) is wiped once established.
	sec := &p1Secrets{CookieI: d.CookieI, CookieR: d.CookieR, Hash: d.Keys.Hash, SKEYIDd: bytes.Clone(d.Keys.SKEYIDd),
		SKEYIDa: bytes.Clone(d.Keys.SKEYIDa), Block: d.Block, LastIV: bytes.Clone(d.Keys.IV), Ka: bytes.Clone(d.Keys.Ka)}
	o := &p1Outcome{
		sec:         sec,
		lifetime:    d.Lifetime,
		exchange:    "main",
		hash:        d.Policy.Hash.String(),
		group:       int(d.Policy.Group),
		natDetected: d.NATT != NATTNone && (d.LocalNAT || d.PeerNAT),
		behindNAT:   d.NATT != NATTNone && d.LocalNAT,
		natt:        d.NATT,
		peerDPD:     d.Peer.DPD,
		peerUnity:   d.Peer.Unity,

		initialContact: d.PeerInitialContact,
	}
	if d.Exchange == ExchangeAggressive {
		o.exchange = "aggressive"
	}
	// Who the peer is (manager_peer.go): its ID, with the outer address
	// for an address ID; the address alone without an ID payload.
	if id := d.PeerID; id == nil {
		o.peer.addr = d.Remote.Addr()
	} else {
		o.peer.idType, o.peer.id = id.IDType, string(id.Data)
		switch id.IDType {
		case IDIPv4Addr, IDIPv6Addr, IDIPv4AddrSubnet, IDIPv6AddrSubnet, IDIPv4AddrRange, IDIPv6AddrRange:
			o.peer.addr = d.Remote.Addr()
		}
	}
	// The authentication as status names it.
	switch a := d.Policy.Auth; {
	case a == AuthPSK:
		o.auth = "pre-share"
	case a == AuthXAuthInitPSK:
		o.auth = "xauth-pre-share"
	case a == AuthRSASig:
		o.auth = "rsa-sig"
	case a.IsECDSA():
		o.auth = "ecdsa-sig"
	default:
		o.auth = a.String()
	}
	o.encryption = d.Policy.Cipher.String()
	if d.Policy.KeyBits != 0 {
		o.encryption += strconv.Itoa(int(d.Policy.KeyBits))
	}
	return o
}
