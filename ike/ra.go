package ike

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/crypto/bcrypt"

	"tinyipsec/acl"
	"tinyipsec/conf"
)

// Remote access: XAUTH and Mode-Config between phase 1 and Quick Mode, as
// Cisco and strongSwan run them.
//
//	client (initiator)                       gateway (responder)
//	MM1..MM6 / AM1..AM3 (auth XAUTHInitPreShared)
//	                    <-- REQUEST(user, password)      raXAuth
//	REPLY(user, password) -->
//	                    <-- SET(status)                   raXAuthAck
//	ACK -->
//	pull: REQUEST(addr..) -->   push:  <-- SET(addr..)    raConfig
//	            <-- REPLY(addr, dns, split)   ACK -->
//	Quick Modes: virtual address <-> each split network  raActive
//
// The Transaction exchange is a table (transactionTable): each row is one
// message a role takes in one phase, by its configuration type, with
// the phase its handler leaves. handleTransaction opens the message
// (HASH, transaction.go), checks it against the row and runs the
// handler, which only does the work. A failed XAUTH ends the IKE SA
// without a Delete and without a retry (as strongSwan and Cisco do): the
// password must be fixed first.

// raPhase is where a remote-access IKE SA stands.
type raPhase uint8

const (
	raXAuth    raPhase = iota // client: waiting for the gateway's questions; gateway: asked
	raXAuthAck                // gateway: verdict "accepted" sent, waiting for the ACK
	raRefused                 // gateway: verdict "refused" sent; the SA ends with the ACK
	raConfig                  // Mode-Config in progress (gateway: waiting for the client's pull)
	raPushed                  // gateway: address pushed (SET), waiting for the ACK
	raActive                  // address assigned: Quick Modes may run
)

// String is the phase as status shows it.
func (p raPhase) String() string {
	switch p {
	case raXAuth, raXAuthAck, raRefused:
		return "waiting-for-xauth"
	case raConfig, raPushed:
		return "configuring"
	}
	return "active"
}

// raTimeout bounds XAUTH plus Mode-Config; a person typing a password is
// not involved, so a minute is plenty.
var raTimeout = 60 * time.Second

// raState is the remote-access part of an IKE SA.
type raState struct {
	gateway bool
	phase   raPhase
	user    string
	lease   *Lease
	started mono
	// cur is the Transaction exchange in progress; retx re-sends our
	// request in it until the answer arrives.
	cur  *txn
	retx retx
	// verifying: the gateway checks a password outside the manager's
	// lock (bcrypt takes tens of milliseconds, far more on a router).
	verifying bool
	// done are the peer's finished exchanges, so that a retransmitted
	// request is answered again and not taken for a new one.
	done map[uint32]*txn
}

// txnRow is one transition of the Transaction exchange. Every message is
// encrypted, starts with HASH and carries one attribute payload.
type txnRow struct {
	from, to raPhase
	gateway  bool
	cfgType  uint8
	handle   func(m *Manager, sa *ikeSA, t *txn, ap *AttributesPayload, now mono) error
}

var transactionTable = []txnRow{
	// Client.
	{from: raXAuth, to: raXAuth, cfgType: CfgRequest, handle: (*Manager).raClientCredentials},
	{from: raXAuth, to: raConfig, cfgType: CfgSet, handle: (*Manager).raClientStatus},
	{from: raConfig, to: raActive, cfgType: CfgReply, handle: (*Manager).raClientLease},
	{from: raConfig, to: raActive, cfgType: CfgSet, handle: (*Manager).raClientLease},
	// Gateway.
	{from: raXAuth, to: raXAuthAck, gateway: true, cfgType: CfgReply, handle: (*Manager).raGatewayVerify},   // or raRefused
	{from: raXAuthAck, to: raConfig, gateway: true, cfgType: CfgAck, handle: (*Manager).raGatewayAcked},     // or raPushed
	{from: raXAuthAck, to: raActive, gateway: true, cfgType: CfgRequest, handle: (*Manager).raGatewayLease}, // the pull implies the ACK
	{from: raRefused, to: raRefused, gateway: true, cfgType: CfgAck, handle: (*Manager).raGatewayRefusedAcked},
	{from: raConfig, to: raActive, gateway: true, cfgType: CfgRequest, handle: (*Manager).raGatewayLease},
	{from: raPushed, to: raActive, gateway: true, cfgType: CfgRequest, handle: (*Manager).raGatewayLease},
	{from: raPushed, to: raActive, gateway: true, cfgType: CfgAck, handle: (*Manager).raGatewayActive},
}

// txnPayloads are what every Transaction message must carry.
const txnPayloads = withHash | withAttrs

// RemoteAccessHost applies what Mode-Config assigned to a client map: the
// daemon puts the addresses on the TUN, the routes and the crypto ACL in
// place and writes the resolv file. It is called with the manager's lock
// held and must not call back into the manager.
type RemoteAccessHost interface {
	ApplyLease(cm *conf.CryptoMap, l *Lease) error
}

// ACL is the lease's crypto ACL (ACLRules), compiled once: IKE takes its
// proxy IDs from it and the data plane classifies packets with it. Both
// call it with the manager's lock held (raClientLease, then ApplyLease:
// RemoteAccessHost), so a nil test does what a sync.Once did, without
// its closure (flash).
func (l *Lease) ACL() *acl.List {
	if l.acl == nil {
		l.acl = acl.Compile(l.ACLRules())
	}
	return l.acl
}

// ACLRules is a client's crypto ACL for the lease: its address to each
// split network, or to everything when the gateway sent no split network
// at all. (With split networks of one family only, the other family's
// address reaches nothing through the tunnel: a split tunnel stays
// split.)
func (l *Lease) ACLRules() []acl.Rule {
	var out []acl.Rule
	for _, a := range [...]netip.Addr{l.IP4, l.IP6} {
		fam := a.BitLen() // 0: not set
		if fam == 0 {
			continue
		}
		src := netip.PrefixFrom(a, fam)
		text := "permit ip host " + a.String() + " "
		nets := l.Split
		if len(nets) == 0 {
			// 0.0.0.0/0 or ::/0: the address with no bits kept.
			nets = []netip.Prefix{netip.PrefixFrom(a, 0).Masked()}
		}
		for _, p := range nets {
			if p.Addr().BitLen() != fam {
				continue
			}
			dst := "any"
			if len(l.Split) > 0 {
				dst = p.String()
			}
			out = append(out, acl.Rule{Permit: true, Src: src, Dst: p, Text: text + dst})
		}
	}
	return out
}

// raStart begins the remote-access exchanges of a freshly established SA:
// the gateway asks for the credentials right away (behind MM6 / after AM3);
// the client waits for that question.
func (m *Manager) raStart(sa *ikeSA, now mono) {
	cm := sa.ms.cm
	ra := &raState{started: now, done: map[uint32]*txn{}}
	switch {
	case cm.RemoteAccessGateway():
		ra.gateway, sa.ra = true, ra
		m.raSend(sa, nil, CfgRequest, 0, xauthQuestion, now)
		m.raLog(false, sa, "XAUTH: asking the client for user name and password")
	case cm.RemoteAccessClient():
		ra.user, sa.ra = cm.XAuthUser, ra
		// The gateway's XAUTH request may have overtaken its MM6.
		if early := sa.early; early != nil {
			sa.early = nil
			if h, err := ParseHeader(early); err == nil {
				// From the endpoints phase 1 runs on: adopting them
				// changes nothing.
				m.handleTransaction(sa, &inbound{h: h, pkt: early, local: sa.local, remote: sa.remote, now: now})
			}
		}
	}
}

// raSend sends a Transaction message: with t nil, a request of ours
// (REQUEST or SET) in a new exchange, re-sent until the answer arrives;
// else our answer (REPLY or ACK) to the peer's request id in exchange t.
// One function for the two (flash).
func (m *Manager) raSend(sa *ikeSA, t *txn, cfgType uint8, id uint16, as Attributes, now mono) {
	ours := t == nil
	if ours {
		t = newTxn(sa.out.sec, newMessageID())
		id = uint16(t.mid)
	}
	// The next message of exchange t (transaction.go).
	out, next, err := sealHashed(sa.out.sec, ExchangeTransaction, t.mid, t.iv, [][]byte{be32(t.mid)},
		[]Payload{&AttributesPayload{CfgType: cfgType, Identifier: id, Attributes: as}})
	if err != nil {
		m.log.Warn("cannot build Transaction message", "peer", &sa.remote, "err", err)
		return
	}
	t.iv, t.lastOut = next, out
	if ours {
		sa.ra.cur = t
		sa.ra.retx.arm(out, now)
	} else {
		sa.ra.done[t.mid] = t
	}
	m.send(sa, out)
}

// handleTransaction routes an XAUTH / Mode-Config message.
func (m *Manager) handleTransaction(sa *ikeSA, in *inbound) {
	h, pkt, now := &in.h, in.pkt, in.now
	ra := sa.ra
	if ra == nil {
		m.drop(DropUnsupported, "Transaction exchange on a crypto map without remote access", "peer", &sa.remote)
		return
	}
	if t := ra.done[h.MessageID]; t != nil {
		if t.lastIn != nil && string(t.lastIn) == string(pkt) && t.lastOut != nil {
			m.send(sa, t.lastOut) // the peer missed our answer
		}
		return
	}
	if ra.verifying {
		m.drop(DropBusy, "Transaction message while the password is being checked", "peer", &sa.remote)
		return
	}
	var t *txn
	if ra.cur != nil && ra.cur.mid == h.MessageID {
		t = ra.cur // the answer to our request
	} else {
		t = newTxn(sa.out.sec, h.MessageID)
	}
	ap, err := t.open(sa.out.sec, pkt)
	if err != nil {
		m.drop(dropReasonOf(err), "Transaction message dropped", "peer", &sa.remote, "err", err)
		return
	}
	in.adopt(sa)
	if sa.dpd != nil {
		sa.dpd.heard(now)
	}
	// The row for the message: the role, the phase and the message's
	// configuration type.
	var row *txnRow
	for i := range transactionTable {
		if r := &transactionTable[i]; r.gateway == ra.gateway && r.from == ra.phase && r.cfgType == ap.CfgType {
			row = r
		}
	}
	if row == nil {
		m.log.Debug("unexpected Transaction message", "peer", &sa.remote, "state", ra.phase.String(), "type", cfgTypeName(ap.CfgType))
		return
	}
	if t == ra.cur {
		ra.cur = nil
		ra.retx.clear()
	}
	// Finished or answered below: a repeat of this message is a
	// retransmission, not a new request.
	ra.done[t.mid] = t
	if err := row.handle(m, sa, t, ap, now); err != nil {
		m.raFailed(sa, err, now)
		return
	}
	// The handler's outcome must fit the row: its to-state, or the other
	// outcome the rows name (a refused password, a pushed address). A
	// password being checked outside the lock moves the phase later
	// (raGatewayVerdict).
	p := ra.phase
	if !sa.dead() && !ra.verifying && p != row.to && !(row.from == raXAuth && row.gateway && p == raRefused ||
		row.from == raXAuthAck && row.cfgType == CfgAck && p == raPushed) {
		m.raFailed(sa, fmt.Errorf("internal: %s in %v left %v", cfgTypeName(row.cfgType), row.from, ra.phase), now)
	}
}

// raLog logs a remote-access event of sa, a warning or news: the peer
// and the crypto map, then args (written once instead of at each of the
// calls: flash).
func (m *Manager) raLog(warn bool, sa *ikeSA, msg string, args ...any) {
	args = append([]any{"peer", &sa.remote, "crypto_map", sa.ms}, args...)
	if warn {
		m.log.Warn(msg, args...)
	} else {
		m.log.Info(msg, args...)
	}
}

// errXAuthRefused is a gateway's "wrong user name or password".
var errXAuthRefused error = errorText("XAUTH refused")

// raFailed ends a remote-access SA that cannot go on. Like strongSwan
// and Cisco, no Delete is sent; a client does not retry after a refused
// password until a reload changes it.
func (m *Manager) raFailed(sa *ikeSA, err error, now mono) {
	ms := sa.ms
	reason := err.Error()
	m.raLog(true, sa, "remote access failed", "user", sa.ra.user, "state", sa.ra.phase.String(), "err", reason)
	ms.noteFailure(&phase1Failure{peer: hostString(&sa.remote), local: hostString(&sa.local),
		initiator: sa.initiator, state: sa.stateName(), reason: reason, at: now})
	if !sa.ra.gateway {
		if errors.Is(err, errXAuthRefused) {
			ms.raRefused = true
		} else {
			ms.failed(now)
		}
	}
	sa.replacedBy = nil
	m.deleteIKE(sa, false, reason)
}

// Client rows.

// raClientCredentials answers the gateway's XAUTH REQUEST.
func (m *Manager) raClientCredentials(sa *ikeSA, t *txn, ap *AttributesPayload, now mono) error {
	cm := sa.ms.cm
	as, ok := xauthCredentials(ap.Attributes, cm.XAuthUser, cm.XAuthPassword)
	if !ok {
		return errorText("the gateway asked for an XAUTH type other than user name and password (generic), which is not supported")
	}
	m.log.Info("XAUTH: sending user name and password", "peer", &sa.remote, "user", cm.XAuthUser)
	m.raSend(sa, t, CfgReply, ap.Identifier, as, now)
	return nil
}

// raClientStatus takes the gateway's verdict.
func (m *Manager) raClientStatus(sa *ikeSA, t *txn, ap *AttributesPayload, now mono) error {
	st, ok := ap.Attributes.Uint(XAuthStatus)
	if !ok {
		return errorText("XAUTH: the gateway's SET has no status")
	}
	m.raSend(sa, t, CfgAck, ap.Identifier, xauthVerdict[btoi(st == xauthStatusOK)], now)
	if st != xauthStatusOK {
		return fmt.Errorf("%w: the gateway refused user %q: wrong user name or password (xauth_user, xauth_password); not retrying until a reload changes the password", errXAuthRefused, sa.ms.cm.XAuthUser)
	}
	m.log.Info("XAUTH: accepted by the gateway", "peer", &sa.remote, "user", sa.ms.cm.XAuthUser)
	sa.ra.phase = raConfig
	if sa.ms.cm.ModeCfg != "push" {
		m.raSend(sa, nil, CfgRequest, 0, leaseRequest(sa.ms.raLease), now)
	}
	return nil
}

// raClientLease takes the address and networks (a REPLY to our pull, or a
// pushed SET that we acknowledge).
func (m *Manager) raClientLease(sa *ikeSA, t *txn, ap *AttributesPayload, now mono) error {
	l, ok := parseLease(ap.Attributes)
	if ap.CfgType == CfgSet {
		var ack Attributes
		for _, a := range ap.Attributes {
			ack.add(a.Type, nil)
		}
		m.raSend(sa, t, CfgAck, ap.Identifier, ack, now)
	}
	if !ok {
		return errorText("Mode-Config: the gateway assigned no address (check its address pool)")
	}
	ms := sa.ms
	sa.ra.lease, sa.ra.phase = l, raActive
	m.setLife(sa, lifeActive)
	// A lease that assigns the same addresses, DNS servers and networks
	// as the one applied is not applied again. Two leases read by
	// parseLease are the same when they encode to the same attributes
	// (a comparison of the four fields cost more code: flash).
	o := ms.raLease
	changed := o == nil || !bytes.Equal(attributeBytes(o.attributes(false)), attributeBytes(l.attributes(false))) || !ms.raApplied
	ms.raLease = l
	if changed {
		// The lease is the map's crypto ACL: one Quick Mode per split
		// network, all of them wanted.
		ms.acl = l.ACL()
		ms.rules = nil
		for i := range ms.acl.Len() {
			if s, ok := ms.acl.ProxyID(i, false); ok {
				ms.rules = append(ms.rules, proxyRule{index: i, sel: s})
			}
		}
		ms.raApplied = false
		if h := m.cfg.RemoteAccess; h != nil {
			if err := h.ApplyLease(ms.cm, l); err != nil {
				// The next connection asks for the same address and
				// tries again.
				return fmt.Errorf("cannot apply the assigned address: %v", err)
			}
		}
		ms.raApplied = true
	}
	m.raLog(false, sa, "Mode-Config: address assigned", "address", &l.IP4,
		"address6", &l.IP6, "dns", l.DNS, "split", l.Split)
	m.tickMaps(nil, now)
	return nil
}

// Gateway rows.

// dummyHash keeps an unknown user as slow to refuse as a wrong password:
// the bcrypt hash of "tinyipsec" at bcrypt.MinCost (TestDummyHash),
// written out rather than made at start, which took time and linked
// bcrypt's hash generation.
var dummyHash = []byte("$2a$04$Jj7kAmidAI2u3dMejnz0Lu991HURePWSUDU4BC2WYPdhDvQnl6z9u")

// raGatewayVerify checks the client's user name and password.
func (m *Manager) raGatewayVerify(sa *ikeSA, t *txn, ap *AttributesPayload, now mono) error {
	cm := sa.ms.cm
	var user string
	var passA []byte
	if a := ap.Attributes.Get(XAuthUserName); a != nil {
		user = string(a.Value)
	}
	if a := ap.Attributes.Get(XAuthPassword); a != nil {
		passA = a.Value
	}
	if len(user) > 128 {
		user = user[:128]
	}
	sa.ra.user = user
	hash, known := cm.XAuthUsers[user]
	h := []byte(hash)
	if !known {
		h = dummyHash
	}
	if m.inlineCompute {
		m.raGatewayVerdict(sa, user, bcrypt.CompareHashAndPassword(h, passA) == nil && known, known, now)
		return nil
	}
	// bcrypt outside the lock, as phase 1's DH (manager_compute.go).
	pass := bytes.Clone(passA)
	sa.ra.verifying = true
	var ok bool
	m.computeForSA(sa, func() {
		ok = bcrypt.CompareHashAndPassword(h, pass) == nil && known
		clear(pass)
	}, func() {
		sa.ra.verifying = false
		if sa.dead() || m.closed {
			computationEnded(sa)
			return
		}
		now := monoNow()
		m.raGatewayVerdict(sa, user, ok, known, now)
		m.schedule(sa, now)
	})
	return nil
}

// raGatewayVerdict sends the outcome of a password check (m.mu held).
func (m *Manager) raGatewayVerdict(sa *ikeSA, user string, ok, known bool, now mono) {
	why := "wrong password"
	if !known {
		why = "unknown user"
	}
	// The verdict is a SET of its own exchange.
	sa.ra.phase = raXAuthAck
	if !ok {
		sa.ra.phase = raRefused
	}
	m.raSend(sa, nil, CfgSet, 0, xauthVerdict[btoi(ok)], now)
	if !ok {
		m.raLog(true, sa, "XAUTH: refused", "user", user, "reason", why)
		sa.ms.noteFailure(&phase1Failure{peer: hostString(&sa.remote), local: hostString(&sa.local),
			state: "waiting-for-xauth", reason: fmt.Sprintf("XAUTH refused user %q: %s", user, why), at: now})
		return
	}
	m.raLog(false, sa, "XAUTH: user authenticated", "user", user)
}

// raGatewayRefusedAcked: the client acknowledged our "refused": the SA
// ends, and status keeps why.
func (m *Manager) raGatewayRefusedAcked(sa *ikeSA, t *txn, ap *AttributesPayload, now mono) error {
	f := sa.ms.failureOf(hostString(&sa.remote))
	sa.replacedBy = nil
	m.deleteIKE(sa, false, "XAUTH refused")
	if f != nil {
		sa.ms.noteFailure(f)
	}
	return nil
}

// raGatewayAcked: the client acknowledged the verdict "accepted".
func (m *Manager) raGatewayAcked(sa *ikeSA, t *txn, ap *AttributesPayload, now mono) error {
	sa.ra.phase = raConfig
	if sa.ms.cm.ModeCfg == "push" {
		// Cisco's "client configuration address initiate": the gateway
		// sends the address; the client's ACK makes the SA active.
		l, err := m.raLeaseFor(sa, nil)
		if err != nil {
			return err
		}
		sa.ra.lease, sa.ra.phase = l, raPushed
		m.raSend(sa, nil, CfgSet, 0, l.attributes(sa.out.peerUnity), now)
		m.raLog(false, sa, "Mode-Config: pushing address", "user", sa.ra.user, "address", &l.IP4)
	}
	return nil
}

// raGatewayLease answers a client's Mode-Config pull with an address from
// the pool. A pull may also overtake the client's ACK of our XAUTH
// verdict (it sends both at once): the pull implies the ACK, and the
// verdict's exchange ends below as answered, so the late ACK is then
// ignored. Mode-Config is under way from here on (one function for the
// rows that pull, rather than a handler per phase).
func (m *Manager) raGatewayLease(sa *ikeSA, t *txn, ap *AttributesPayload, now mono) error {
	sa.ra.phase = raConfig
	var want *netip.Addr
	if a := ap.Attributes.Get(CfgIP4Address); a != nil && len(a.Value) == 4 {
		w := netip.AddrFrom4([4]byte(a.Value))
		want = &w
	}
	l, err := m.raLeaseFor(sa, want)
	if err != nil {
		return err
	}
	m.raSend(sa, t, CfgReply, ap.Identifier, l.attributes(sa.out.peerUnity), now)
	if c := sa.ra.cur; c != nil {
		// A pulling client answered our push with a pull (or its pull
		// overtook its ACK of our verdict): the pull wins.
		sa.ra.done[c.mid] = c
		sa.ra.cur = nil
		sa.ra.retx.clear()
	}
	sa.ra.lease = l
	return m.raGatewayActive(sa, t, ap, now)
}

// raGatewayActive: the client has its address (sa.ra.lease: the one it
// pulled, or the one we pushed and it acknowledged); Quick Modes may
// follow. A row of its own for the acknowledged push, hence the
// handler's arguments.
func (m *Manager) raGatewayActive(sa *ikeSA, t *txn, ap *AttributesPayload, now mono) error {
	l := sa.ra.lease
	sa.ra.phase = raActive
	m.setLife(sa, lifeActive)
	// The same user from the same address and port: the client rekeyed
	// its IKE SA; the older one hands its IPsec SAs over when it goes.
	for _, o := range m.sas {
		if o != sa && !o.dead() && o.ra != nil && o.ra.gateway && o.ra.user == sa.ra.user && o.remote == sa.remote && o.replacedBy == nil {
			o.replacedBy = sa
			m.schedule(o, monoNow())
		}
	}
	m.raLog(false, sa, "Mode-Config: address assigned", "user", sa.ra.user, "address", &l.IP4)
	return nil
}

// raLeaseFor picks the client's address: the one it holds already (an IKE
// rekey of the same client), else the one it asks for when free, else the
// first free one.
func (m *Manager) raLeaseFor(sa *ikeSA, want *netip.Addr) (*Lease, error) {
	ms := sa.ms
	owner := sa.ra.user + "@" + sa.remote.String()
	pool := ms.cm.PoolAddrs()
	var held, asked, free *netip.Addr
	for i := range pool {
		a := &pool[i]
		o := ms.poolOwner[*a]
		if o == owner {
			held = a
			break
		}
		if o == "" && want != nil && *a == *want {
			asked = a
		}
		if o == "" && free == nil {
			free = a
		}
	}
	pick := held
	if pick == nil {
		pick = asked
	}
	if pick == nil {
		pick = free
	}
	if pick == nil {
		return nil, fmt.Errorf("Mode-Config: the address pool of crypto map %s is exhausted", ms.cm.ID())
	}
	if ms.poolOwner == nil {
		ms.poolOwner = map[netip.Addr]string{}
	}
	ms.poolOwner[*pick] = owner
	return &Lease{IP4: *pick, DNS: ms.cm.DNS, Split: ms.cm.SplitNetworks}, nil
}

// raRelease returns a gateway SA's address to the pool when the SA goes
// without an heir that holds the same address.
func (m *Manager) raRelease(sa *ikeSA) {
	ra := sa.ra
	if ra == nil || !ra.gateway || ra.lease == nil || sa.ms == nil {
		return
	}
	for _, o := range m.sas {
		if o != sa && !o.dead() && o.ra != nil && o.ra.lease != nil && o.ra.lease.IP4 == ra.lease.IP4 {
			return
		}
	}
	delete(sa.ms.poolOwner, ra.lease.IP4)
	m.log.Info("address returned to the pool", "crypto_map", sa.ms, "user", ra.user, "address", &ra.lease.IP4)
	ra.lease = nil
}

// raOffer is the responder's Quick Mode lookup on a remote-access SA. Peers
// propose 0.0.0.0/0 on either side (strongSwan with Cisco Unity, Cisco
// clients) although the traffic is the virtual address to the split
// networks: the selector installed is narrowed to that.
func (m *Manager) raOffer(sa *ikeSA, qs *qmState, sel acl.Selector) (*childOffer, error) {
	ra := sa.ra
	if ra.phase != raActive || ra.lease == nil {
		return nil, errorText("Quick Mode before Mode-Config assigned an address")
	}
	ms := sa.ms
	vip := &ra.lease.IP4
	// The client's side of the proxy ID must hold its address and is
	// narrowed to it.
	side, whose := &sel.Local, "our"
	if ra.gateway {
		side, whose = &sel.Remote, "the client's"
	}
	if !side.Contains(*vip) {
		return nil, fmt.Errorf("proxy ID %s is not %s assigned address %s", *side, whose, vip)
	}
	*side = netip.PrefixFrom(*vip, 32)
	idx := 0
	if ra.gateway {
		if sel.Local.Bits() == 0 && len(ms.cm.SplitNetworks) == 1 {
			sel.Local = ms.cm.SplitNetworks[0]
		}
		pool := ms.cm.PoolAddrs()
		for i := range pool {
			if pool[i] == *vip {
				idx = i
			}
		}
	} else {
		var r *proxyRule
		theirs := &sel.Remote
		bits := theirs.Bits()
		for i := range ms.rules {
			// The split network holds the proposed network (or the peer
			// proposed 0/0): Overlaps, then Contains, written with Contains
			// alone (Overlaps was linked for this line only). Contains is
			// false for an invalid prefix or address.
			ours := &ms.rules[i].sel.Remote
			if ours.Contains(theirs.Addr()) || bits == 0 && theirs.Contains(ours.Addr()) {
				if bits < ours.Bits() {
					*theirs = *ours
				}
				r = &ms.rules[i]
				break
			}
		}
		if r == nil {
			return nil, fmt.Errorf("proxy ID %s is none of the split networks", sel.Remote)
		}
		idx = r.index
	}
	qs.sel, qs.ms = sel, ms
	qs.rule.index, qs.rule.sel = idx, sel
	return offerFor(ms, sa), nil
}

// tickRA retransmits our outstanding request and ends an SA that does not
// finish XAUTH and Mode-Config in time.
func (m *Manager) tickRA(sa *ikeSA, now mono) bool {
	ra := sa.ra
	if ra == nil || ra.phase == raActive {
		return true
	}
	if send, giveUp := ra.retx.due(now); send {
		m.send(sa, ra.retx.out)
	} else if giveUp || time.Duration(now-ra.started) > raTimeout {
		m.raFailed(sa, errors.New("timed out: "+raHint(ra)), now)
		return false
	}
	return true
}

// raHint explains a remote-access SA that is stuck.
func raHint(ra *raState) string {
	switch {
	case ra.gateway && ra.phase <= raRefused:
		return "the client has not answered the XAUTH request: is a user name and password configured on it (Cisco: username/password in the client profile; strongSwan: auth = xauth)?"
	case ra.gateway && ra.phase == raPushed:
		return "the client has not acknowledged the pushed address (Mode-Config push): it may expect to ask for it (modecfg = pull on both ends)"
	case ra.gateway:
		return "the client has not asked for its address (Mode-Config pull): it may expect the gateway to push it (modecfg = push)"
	case ra.phase == raXAuth:
		return "the gateway has not asked for (or not judged) the XAUTH user name and password: check that it runs XAUTH for this group (Cisco: crypto map client authentication list; strongSwan: auth = xauth with the xauth-generic plugin)"
	}
	return "the gateway has not assigned an address: check its address pool (Cisco: ip local pool / address-pool; strongSwan: pools) and that both ends agree on modecfg pull or push"
}

// raClientIdle starts phase 1 for a client map that has no address yet
// (its ACL lines, and so its wanted rules, come with the address). It
// reports true when the map has nothing else to do now.
func (m *Manager) raClientIdle(ms *mapState, now mono) bool {
	if ms.raRefused {
		return true
	}
	if ms.raLease != nil {
		return false
	}
	if now < ms.nextTry || !ms.cm.PeerAddr.IsValid() {
		return true
	}
	for _, sa := range m.sas {
		if !sa.dead() && sa.ms == ms {
			return true
		}
	}
	m.startPhase1(ms, now)
	return true
}
