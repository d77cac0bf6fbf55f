package ike

import (
	"tinyipsec/internal/algo"

	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"time"
)

// Quick Mode (RFC 2409 section 5.5) as two small state machines, one per
// role. They take and return whole (encrypted) ISAKMP messages; the SA
// manager owns sockets, timers and retransmission.
//
//	QM1 I->R  HDR*, HASH(1), SA, Ni [,KE] [,IDci, IDcr] [,NAT-OAi, NAT-OAr]
//	QM2 R->I  HDR*, HASH(2), SA, Nr [,KE] [,IDci, IDcr] [,NAT-OAi, NAT-OAr] [,N(RESPONDER-LIFETIME)]
//	QM3 I->R  HDR*, HASH(3)
//
//	HASH(1) = prf(SKEYID_a, M-ID | the rest of QM1)
//	HASH(2) = prf(SKEYID_a, M-ID | Ni_b | the rest of QM2)
//	HASH(3) = prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b)

// QMState names the Quick Mode progress the way Cisco shows it.
type QMState string

// Quick Mode states.
const (
	qmNone     QMState = ""             // responder: nothing received yet
	QMWaitMsg2 QMState = "QM_WAIT_MSG2" // initiator sent QM1
	QMWaitMsg3 QMState = "QM_WAIT_MSG3" // responder sent QM2
	QMIdle     QMState = "QM_IDLE"      // done
)

// Quick Mode's tables: the messages each role receives, in the manner of
// the phase 1 tables (phase1_table.go). Every message is encrypted and
// starts with the HASH named in the row; quickMode.handle opens the
// message, verifies that HASH and checks the payloads against the row
// before the handler runs, and moves to the row's to-state after it.
var (
	quickInitiator = quickTable{
		{name: "QM2", from: QMWaitMsg2, to: QMIdle, hash: quickHash2,
			required: withHash | withSA | withNonce, allowed: withKE | withID | withNATOA, handle: (*quickMode).initiatorQM2},
	}
	quickResponder = quickTable{
		{name: "QM1", from: qmNone, to: QMWaitMsg3, hash: quickHash1,
			required: withHash | withSA | withNonce, allowed: withKE | withID | withNATOA, handle: (*quickMode).responderQM1},
		{name: "QM3", from: QMWaitMsg3, to: QMIdle, hash: quickHash3,
			required: withHash, handle: (*quickMode).responderQM3},
	}
)

// quickRow is one transition of Quick Mode.
type quickRow struct {
	name     string
	from, to QMState
	hash     quickHashKind
	required payloadSet
	allowed  payloadSet // besides required; VID and N are always allowed
	// handle does the work of the message; it returns what to send and,
	// when the exchange completes, its result.
	handle func(q *quickMode, m *Message) ([]byte, *quickResult, error)
}

// quickTable is one role's half of Quick Mode.
type quickTable []quickRow

// quickHashKind says which of the three Quick Mode hashes a message
// carries.
type quickHashKind uint8

const (
	quickHash1 quickHashKind = iota + 1
	quickHash2
	quickHash3
)

// hashPrefix is what a HASH of kind k covers before the rest of its
// message: M-ID for HASH(1), M-ID | Ni_b for HASH(2), and for HASH(3)
// 0 | M-ID | Ni_b | Nr_b, which covers nothing after it.
func (q *quickMode) hashPrefix(k quickHashKind) [][]byte {
	pre := [][]byte{{0}, be32(q.mid), q.ni, q.nr}
	switch k {
	case quickHash1:
		return pre[1:2:2]
	case quickHash2:
		return pre[1:3:3]
	}
	return pre
}

// seal builds our next message of the exchange, with the HASH of kind k
// first, and moves the IV on.
func (q *quickMode) seal(k quickHashKind, payloads []Payload) ([]byte, error) {
	out, next, err := sealHashed(q.sec, ExchangeQuick, q.mid, q.iv, q.hashPrefix(k), payloads)
	if err == nil {
		q.iv = next
	}
	return out, err
}

// handle takes the next message of the exchange. An unauthenticated
// message (errUnauthenticated) or one no row expects changes nothing; an
// authenticated one the row refuses, or whose handler fails, is a
// *NotifyError when the peer should hear about it.
func (q *quickMode) handle(pkt []byte) ([]byte, *quickResult, error) {
	t := quickResponder
	if q.initiator {
		t = quickInitiator
	}
	var r *quickRow
	for i := range t {
		if t[i].from == q.state {
			r = &t[i]
		}
	}
	if r == nil {
		return nil, nil, fmt.Errorf("ike: unexpected Quick Mode message in state %s", q.state)
	}
	// HASH(3) covers nothing after it.
	m, nextIV, err := openHashed(q.sec, pkt, q.iv, q.hashPrefix(r.hash), r.hash != quickHash3, r.name)
	if err != nil {
		return nil, nil, err
	}
	if err := checkPayloads(r.name, r.required, r.allowed, m); err != nil {
		return refuse(NotifyPayloadMalformed, err)
	}
	savedIV := q.iv
	q.iv = nextIV
	out, res, err := r.handle(q, m)
	if err != nil {
		q.iv = savedIV
		return nil, nil, err
	}
	q.state, q.lastIn = r.to, pkt
	if out != nil {
		q.lastOut = out
	}
	return out, res, nil
}

// quickNonceLen is the nonce size we send (RFC 2409 allows 8..256).
const quickNonceLen = 32

// NotifyError is a failure the other end should hear about: the manager
// sends Type in a protected Informational exchange.
type NotifyError struct {
	_    [0]func() // not comparable: no generated == function (flash)
	Type uint16
	Err  error
}

// refuse ends a handler with a failure the peer hears about as a notify
// of type t (one call instead of the error built at each site: flash).
func refuse(t uint16, err error) ([]byte, *quickResult, error) {
	return nil, nil, &NotifyError{Type: t, Err: err}
}

func (e *NotifyError) Error() string { return e.Err.Error() }
func (e *NotifyError) Unwrap() error { return e.Err }

// errUnauthenticated marks a message whose HASH did not verify: it is
// dropped without an answer and changes nothing.
var errUnauthenticated error = errorText("ike: message HASH does not verify")

// quickResult is a completed Quick Mode: the negotiated parameters, the
// traffic selectors from our point of view, and KEYMAT per direction.
type quickResult struct {
	Choice   *childChoice
	LocalTS  *ID
	RemoteTS *ID
	// Keys are KEYMAT for each protocol, cut into encryption key then
	// integrity key; In is what the peer sends to us.
	ESPIn, ESPOut childKeys
	AHIn, AHOut   childKeys
}

// childKeys are the keys of one direction of one protocol.
type childKeys struct {
	SPI     uint32
	EncKey  []byte
	AuthKey []byte
}

// wipe zeroes every key of the result (after the data plane copied them).
func (r *quickResult) wipe() {
	for _, k := range [...]*childKeys{&r.ESPIn, &r.ESPOut, &r.AHIn, &r.AHOut} {
		wipeBytes(k.EncKey)
		wipeBytes(k.AuthKey)
	}
}

// quickMode is one Quick Mode exchange in progress.
type quickMode struct {
	initiator bool
	mid       uint32
	sec       *p1Secrets
	offer     *childOffer
	iv        []byte
	state     QMState
	started   mono

	ourSA      *SA
	ni, nr     []byte
	dh         dhPrivate
	gxy        []byte
	idci, idcr *ID // as on the wire (initiator's view: ci = initiator side)
	choice     *childChoice
	// The responder's policy look-up and SPI source, for QM1 only.
	lookup   quickLookup
	allocSPI func() uint32

	// lastOut is the last message we sent, re-sent on retransmission and
	// when the peer repeats its previous message.
	lastOut []byte
	// lastIn is the last message accepted, to recognise duplicates.
	lastIn []byte
	// derived: result() has run (a responder may derive the keys at its
	// second message, to install the inbound SA before the third).
	derived bool
}

// dhPrivate is an ephemeral Diffie-Hellman key for PFS.
type dhPrivate interface {
	Public() []byte
	SharedSecret(peer []byte) ([]byte, error)
}

// newPFSKey makes an ephemeral key of a DH group: one made ahead when
// the pool has it (dh_pool.go). A variable so that in-memory tests can use
// a cheap stand-in.
var newPFSKey = func(group algo.Group) (dhPrivate, error) {
	g := Group(group)
	if !g.Supported() {
		return nil, fmt.Errorf("unsupported DH group %d", group)
	}
	if k := dhKeys.take(g); k != nil {
		return k, nil
	}
	return g.GenerateKey(rand.Reader)
}

// newMessageID returns a random non-zero Quick Mode / Informational M-ID.
func newMessageID() uint32 {
	var b [4]byte
	for {
		rand.Read(b[:])
		if v := binary.BigEndian.Uint32(b[:]); v != 0 {
			return v
		}
	}
}

func newNonce() []byte {
	n := make([]byte, quickNonceLen)
	rand.Read(n)
	return n
}

// sealHashed builds an encrypted message of exchange ex whose first
// payload is HASH = prf(SKEYID_a, pre | the marshalled rest) (hashOf).
// The prefix is data rather than a function: a closure per message
// kind cost more code than the slices (flash).
func sealHashed(sec *p1Secrets, ex ExchangeType, mid uint32, iv []byte, pre [][]byte, rest []Payload) (out, nextIV []byte, err error) {
	body, err := MarshalPayloads(rest)
	if err != nil {
		return nil, nil, err
	}
	m := &Message{
		Header:   Header{CookieI: sec.CookieI, CookieR: sec.CookieR, Exchange: ex, MessageID: mid},
		Payloads: append([]Payload{&Opaque{PayloadHash, sec.hashOf(pre, body)}}, rest...),
	}
	return m.Seal(sec.Block, iv)
}

// openHashed decrypts a message of an exchange after phase 1 and checks
// its leading HASH: prf(SKEYID_a, pre | the raw bytes of everything after
// the HASH payload), or with rest false prf(SKEYID_a, pre) alone
// (HASH(3)). A HASH that does not verify is errUnauthenticated, naming
// what; the message then changes nothing.
func openHashed(sec *p1Secrets, pkt, iv []byte, pre [][]byte, rest bool, what string) (m *Message, nextIV []byte, err error) {
	m, nextIV, err = Open(pkt, sec.Block, iv)
	if err != nil {
		return nil, nil, err
	}
	if len(m.Payloads) == 0 || m.Payloads[0].Type() != PayloadHash {
		return nil, nil, fmt.Errorf("%w: %v exchange without leading HASH", errUnauthenticated, m.Exchange)
	}
	// The payloads after the HASH lie back to back in the plaintext
	// that Raw aliases: the first of them, extended over their total
	// length, is what the HASH covers.
	var after []byte
	if rest && len(m.Raw) > 1 {
		n := 0
		for _, r := range m.Raw[1:] {
			n += len(r)
		}
		after = m.Raw[1][:n]
	}
	if !hmac.Equal(m.Payloads[0].(*Opaque).Data, sec.hashOf(pre, after)) {
		return nil, nil, fmt.Errorf("%w (%s)", errUnauthenticated, what)
	}
	return m, nextIV, nil
}

// newQuickInitiator builds QM1 for the given offer and proxy IDs (local =
// IDci, remote = IDcr; nil for none: the peers' own addresses).
func newQuickInitiator(sec *p1Secrets, offer *childOffer, local, remote *ID, spi func() uint32) (*quickMode, []byte, error) {
	q := &quickMode{initiator: true, mid: newMessageID(), sec: sec, offer: offer, idci: local, idcr: remote, started: monoNow()}
	q.iv = sec.exchangeIV(q.mid)
	sa, err := offer.buildSA(spi)
	if err != nil {
		return nil, nil, err
	}
	q.ourSA = sa
	q.ni = newNonce()
	if offer.PFS != 0 {
		if q.dh = offer.pfsKey; q.dh != nil {
			offer.pfsKey = nil // the exchange owns it now
		} else if q.dh, err = newPFSKey(offer.PFS); err != nil {
			return nil, nil, fmt.Errorf("PFS group %d: %w", offer.PFS, err)
		}
	}
	out, err := q.sealOffer(quickHash1, sa, q.ni, nil)
	if err != nil {
		return nil, nil, err
	}
	q.lastOut, q.state = out, QMWaitMsg2
	return q, out, nil
}

// sealOffer seals QM1 or QM2: the SA payload, our nonce, our PFS key
// when the exchange has one, the proxy IDs when it has them, then
// lifetime (the responder's RESPONDER-LIFETIME) unless nil. One builder
// for the two messages, which differ only in these.
func (q *quickMode) sealOffer(k quickHashKind, sa *SA, nonce []byte, lifetime *Notify) ([]byte, error) {
	ps := []Payload{sa, &Opaque{PayloadNonce, nonce}}
	if q.dh != nil {
		ps = append(ps, &Opaque{PayloadKE, q.dh.Public()})
	}
	if q.idci != nil && q.idcr != nil {
		ps = append(ps, q.idci, q.idcr)
	}
	if lifetime != nil {
		ps = append(ps, lifetime)
	}
	return q.seal(k, ps)
}

// initiatorQM2 takes the responder's answer: its choice, nonce, PFS key
// and lifetimes; it returns QM3 and the result.
func (q *quickMode) initiatorQM2(m *Message) ([]byte, *quickResult, error) {
	sa, nonce := Find[*SA](m), m.opaque(PayloadNonce)
	ids := FindAll[*ID](m)
	if q.idci != nil && (len(ids) != 2 || !bytes.Equal(ids[0].Body(), q.idci.Body()) || !bytes.Equal(ids[1].Body(), q.idcr.Body())) {
		return refuse(NotifyInvalidIDInformation, errorText("responder changed the proxy IDs (IDci/IDcr)"))
	}
	ch, err := q.offer.acceptReply(sa, q.ourSA)
	if err != nil {
		return refuse(NotifyNoProposalChosen, err)
	}
	ke := m.opaque(PayloadKE)
	switch {
	case q.dh != nil && ke == nil, q.dh == nil && ke != nil:
		return refuse(NotifyNoProposalChosen, ErrPFSMismatch)
	case ke != nil:
		if q.gxy, err = q.dh.SharedSecret(ke.Data); err != nil {
			return refuse(NotifyInvalidKeyInformation, fmt.Errorf("PFS: %w", err))
		}
	}
	// RESPONDER-LIFETIME shortens the lifetimes to what the responder
	// announced (RFC 2407 section 4.6.3.1).
	for _, n := range FindAll[*Notify](m) {
		if n.NotifyType != NotifyResponderLifetime {
			continue
		}
		as, err := parseAttributes(n.Data)
		if err != nil {
			continue
		}
		// Its attributes are the life ones of a transform.
		var life transformParams
		decodeTransform(as, &life)
		ch.Lifetime = minDur(ch.Lifetime, life.lifetime)
		ch.LifetimeKB = minNonZero(ch.LifetimeKB, life.lifeKB)
	}
	q.nr = bytes.Clone(nonce.Data)
	q.choice = ch
	out, err := q.seal(quickHash3, nil)
	if err != nil {
		return nil, nil, err
	}
	return out, q.result(), nil
}

// quickLookup finds the responder's policy for the proxy IDs the
// initiator sent: peerLocal is IDci (the initiator's side), peerRemote
// IDcr (ours); both nil when the initiator sent none. An error means
// INVALID-ID-INFORMATION.
type quickLookup func(peerLocal, peerRemote *ID) (*childOffer, error)

// newQuickResponder handles QM1 and returns QM2. Errors that deserve an
// answer are *NotifyError; errUnauthenticated-wrapped errors are dropped.
func newQuickResponder(sec *p1Secrets, pkt []byte, lookup quickLookup, spi func() uint32) (*quickMode, []byte, error) {
	var h Header // filled in place: ParseHeader returns a copy
	if err := h.parse(pkt); err != nil {
		return nil, nil, err
	}
	if h.MessageID == 0 {
		return nil, nil, errorText("ike: Quick Mode with message ID 0")
	}
	q := &quickMode{mid: h.MessageID, sec: sec, started: monoNow(), iv: sec.exchangeIV(h.MessageID), lookup: lookup, allocSPI: spi}
	out, _, err := q.handle(pkt)
	q.lookup, q.allocSPI = nil, nil
	if err != nil {
		return nil, nil, err
	}
	return q, out, nil
}

// responderQM1 takes the initiator's offer: it finds our policy for the
// proxy IDs, chooses a proposal and answers with QM2.
func (q *quickMode) responderQM1(m *Message) ([]byte, *quickResult, error) {
	sa, nonce := Find[*SA](m), m.opaque(PayloadNonce)
	q.ni = bytes.Clone(nonce.Data)
	ids := FindAll[*ID](m)
	switch len(ids) {
	case 0:
	case 2:
		q.idci, q.idcr = ids[0], ids[1]
	default:
		return refuse(NotifyInvalidIDInformation, fmt.Errorf("QM1 with %d ID payloads", len(ids)))
	}
	offer, err := q.lookup(q.idci, q.idcr)
	if err != nil {
		return refuse(NotifyInvalidIDInformation, err)
	}
	q.offer = offer
	reply, ch, err := offer.selectProposal(sa, q.allocSPI)
	if err != nil {
		return refuse(NotifyNoProposalChosen, err)
	}
	q.choice = ch
	ke := m.opaque(PayloadKE)
	if (ke != nil) != (ch.PFS != 0) {
		return refuse(NotifyNoProposalChosen, ErrPFSMismatch)
	}
	q.nr = newNonce()
	if ke != nil {
		if q.dh, err = newPFSKey(ch.PFS); err != nil {
			return refuse(NotifyNoProposalChosen, fmt.Errorf("PFS group %d: %w", ch.PFS, err))
		}
		if q.gxy, err = q.dh.SharedSecret(ke.Data); err != nil {
			return refuse(NotifyInvalidKeyInformation, fmt.Errorf("PFS: %w", err))
		}
	}
	// RESPONDER-LIFETIME when our lifetime is shorter than the one
	// offered.
	var offeredLife time.Duration
	var offeredKB uint64
	for i := range sa.Proposals {
		if p := &sa.Proposals[i]; p.Number == reply.Proposals[0].Number && len(p.Transforms) > 0 {
			var tp transformParams
			decodeTransform(p.Transforms[0].Attributes, &tp)
			offeredLife, offeredKB = tp.lifetime, tp.lifeKB
			break
		}
	}
	var lifetime *Notify
	if offeredLife != ch.Lifetime || offeredKB != ch.LifetimeKB {
		var as Attributes
		as.addLife(AttrSALifeType, ch.Lifetime, ch.LifetimeKB)
		p := &reply.Proposals[len(reply.Proposals)-1]
		lifetime = &Notify{DOI: DOIIPsec, Protocol: p.Protocol, NotifyType: NotifyResponderLifetime, SPI: p.SPI, Data: attributeBytes(as)}
	}
	out, err := q.sealOffer(quickHash2, reply, q.nr, lifetime)
	return out, nil, err
}

// responderQM3: HASH(3), verified by handle, completes the exchange.
func (q *quickMode) responderQM3(m *Message) ([]byte, *quickResult, error) {
	if q.derived {
		return nil, nil, nil // installed at QM2: the keys are the data plane's
	}
	return nil, q.result(), nil
}

// result derives KEYMAT for both directions and wipes the DH secret.
func (q *quickMode) result() *quickResult {
	q.derived = true
	ch := q.choice
	r := &quickResult{Choice: ch}
	if q.initiator {
		r.LocalTS, r.RemoteTS = q.idci, q.idcr
	} else {
		r.LocalTS, r.RemoteTS = q.idcr, q.idci
	}
	// SPIi is the initiator's inbound SPI, SPIr the responder's. A loop
	// over the two protocols rather than a closure (flash).
	for _, d := range [...]struct {
		pc      *protoChoice
		in, out *childKeys
	}{{ch.ESP, &r.ESPIn, &r.ESPOut}, {ch.AH, &r.AHIn, &r.AHOut}} {
		pc := d.pc
		if pc == nil {
			continue
		}
		// KEYMAT for the cipher, then for the integrity algorithm.
		encLen, authLen := 0, 0
		if c := pc.Encryption.Info(); c != nil && pc.Protocol == ProtoESP {
			encLen = c.KeymatLen()
		}
		if h := pc.Integrity.Info(); h != nil {
			authLen = h.Size
		}
		spis := [2]uint32{pc.SPIi, pc.SPIr}
		if !q.initiator {
			spis[0], spis[1] = pc.SPIr, pc.SPIi
		}
		// KEYMAT for the SA whose receiver chose the SPI: ours in, theirs
		// out.
		for j, k := range [2]*childKeys{d.in, d.out} {
			km := QuickKeymat(q.sec.Hash, q.sec.SKEYIDd, q.gxy, pc.Protocol, be32(spis[j]), q.ni, q.nr, encLen+authLen)
			*k = childKeys{SPI: spis[j], EncKey: km[:encLen], AuthKey: km[encLen:]}
		}
	}
	wipeBytes(q.gxy)
	q.gxy = nil
	if k, ok := q.dh.(*DHKey); ok {
		k.Wipe()
	}
	q.dh = nil
	return r
}
