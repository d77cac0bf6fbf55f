package ike

import (
	"encoding/binary"
)

// The Informational exchange on an established IKE SA as a table, in
// the manner of the other exchanges' tables. openInfo (info.go) decrypts
// the message, verifies HASH(1) and splits it into items, one per Delete
// or notify that asks for something. Each row is one kind of item: the
// stages of the IKE SA's life it is acted on in (a retired SA, dead and
// kept a while for late Deletes, only takes the peer's Deletes of IPsec
// SAs: manager_orphan.go), how the message must come, the payloads it
// must and may carry, and the handler. runInfo checks the message
// against the row before the handler runs; items that no row of the
// SA's life takes are ignored. Rows run in table order, so the IKE SA's
// own Delete is acted on last. (Constant life sets keep the table static
// data, not code run at start.)
var infoTable = []infoRow{
	{infoRUThere, onceEstablished, encrypted, withHashN, infoAllowed},
	{infoRUThereAck, onceEstablished, encrypted, withHashN, infoAllowed},
	{infoError, onceEstablished, encrypted, withHashN, infoAllowed},
	{infoDeleteChild, onceEstablished | 1<<lifeDead, encrypted, withHashD, infoAllowed},
	{infoInitialContact, onceEstablished, encrypted, withHashN, infoAllowed},
	{infoDeleteIKE, onceEstablished, encrypted, withHashD, infoAllowed},
}

// infoRow is one kind of Informational item.
type infoRow struct {
	kind     infoKind
	in       lifeSet // the stages of the IKE SA's life it is acted on in
	crypt    crypt
	required payloadSet // HASH(1) and the payload that carries the item
	allowed  payloadSet // besides required; VID and N always
}

const (
	withHashN = withHash | 1<<PayloadNotify
	withHashD = withHash | withDelete
)

// lifeSet is a set of ikeLife values: s&(1<<l) != 0 when it holds l
// (tested in place: a method would be a function of its own; flash).
type lifeSet uint8

// handleInfo processes an Informational exchange on an established SA.
func (m *Manager) handleInfo(sa *ikeSA, in *inbound) {
	now := in.now
	msg, items, ok := m.openInfoOnce(sa, in.pkt, "Informational dropped")
	if !ok {
		return
	}
	in.adopt(sa)
	sa.phase1Confirmed()
	if sa.dpd != nil {
		sa.dpd.heard(now)
	}
	m.runInfo(infoTable, (*Manager).actOnInfo, sa, msg, items, now)
}

// openInfoOnce opens an Informational message for sa and refuses a
// replay. HASH(1) authenticates but does not prevent replay: a recorded
// R-U-THERE sent again must not pass for a sign of life, nor a recorded
// Delete kill a newer pair. Informational exchanges are never
// retransmitted, so a message ID seen before is a replay.
func (m *Manager) openInfoOnce(sa *ikeSA, pkt []byte, what string) (*Message, []infoItem, bool) {
	msg, items, err := openInfo(sa.out.sec, pkt)
	if err != nil {
		m.drop(dropReasonOf(err), what, "peer", &sa.remote, "err", err)
		return nil, nil, false
	}
	// A message ID among the last ones remembered is a replay; a new one
	// is remembered.
	mid, r := binary.BigEndian.Uint32(pkt[20:24]), &sa.infoSeen
	for i := range r.n {
		if r.ids[i] == mid {
			m.drop(DropReplay, "replayed Informational dropped", "peer", &sa.remote, "message_id", mid)
			return nil, nil, false
		}
	}
	r.ids[r.next] = mid
	r.next = (r.next + 1) % len(r.ids)
	r.n = min(r.n+1, len(r.ids))
	return msg, items, true
}

// runInfo acts on the items of an authenticated message, row by row in
// table order: each row of sa's life (as it was when the message came)
// checks the message and has act do what the items of its kind ask
// (actOnInfo; tests record instead).
func (m *Manager) runInfo(rows []infoRow, act func(m *Manager, sa *ikeSA, it *infoItem, now mono), sa *ikeSA, msg *Message, items []infoItem, now mono) {
	life := sa.life
	for i := range rows {
		r := &rows[i]
		if r.in&(1<<life) == 0 {
			continue
		}
		for j := range items {
			it := &items[j]
			if it.kind != r.kind {
				continue
			}
			if (r.crypt == encrypted) != msg.Encrypted() {
				m.drop(DropMalformed, "Informational refused", "peer", &sa.remote, "item", r.kind)
				continue
			}
			if err := checkPayloads(r.kind.String(), r.required, r.allowed, msg); err != nil {
				m.drop(DropMalformed, "Informational refused", "peer", &sa.remote, "err", err)
				continue
			}
			act(m, sa, it, now)
		}
	}
	for j := range items {
		k, taken := items[j].kind, false
		for i := range rows {
			taken = taken || rows[i].kind == k && rows[i].in&(1<<life) != 0
		}
		if !taken {
			m.log.Debug("Informational item ignored", "peer", &sa.remote, "item", k, "life", life)
		}
	}
}

// actOnInfo does what one item of an authenticated Informational message
// asks, once runInfo has found a row for it. One switch for the kinds,
// not a handler function per row: each function costs its own entry in
// the binary's tables (flash).
func (m *Manager) actOnInfo(sa *ikeSA, it *infoItem, now mono) {
	switch it.kind {
	case infoRUThere:
		// A DPD probe: answer it.
		if ack, err := sealInfo(sa.out.sec, sa.out.sec.dpdNotify(true, it.seq)); err == nil {
			m.send(sa, ack)
		}
	case infoRUThereAck:
		// The answer to our DPD probe.
		if sa.dpd != nil {
			sa.dpd.ack(it.seq, now)
		}
	case infoError:
		// The peer refused something, most likely our Quick Mode: stop
		// retransmitting it, and show why.
		t := it.notify.Type
		m.log.Warn("peer reports an error", "peer", &sa.remote, "notify", notifyName(t))
		switch t {
		case NotifyNoProposalChosen:
			sa.p2Error = "the peer refused phase 2 (NO-PROPOSAL-CHOSEN): PFS set on one end only, or the transform sets do not match"
		case NotifyInvalidIDInformation:
			sa.p2Error = "the peer refused phase 2 (INVALID-ID-INFORMATION): the proxy IDs do not match; the crypto ACLs must be mirror images"
		default:
			sa.p2Error = "the peer reported " + notifyName(t)
		}
		if qs := refusedQuick(sa, &it.notify); qs != nil {
			m.abandonQM(sa, qs, now)
		}
	case infoDeleteChild:
		m.infoDeleteChild(sa, &it.child)
	case infoInitialContact:
		m.initialContact(sa, now)
	case infoDeleteIKE:
		m.log.Info("peer deleted the IKE SA", "peer", &sa.remote)
		m.retireIKE(sa, true, "deleted by peer", now)
	}
}
