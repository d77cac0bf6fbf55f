package ike

// The Transaction exchange (ISAKMP exchange type 6) that carries XAUTH
// (draft-beaulieu-ike-xauth-02) and Mode-Config
// (draft-dukes-ike-mode-cfg-02) after phase 1. Every message is encrypted
// with the phase 1 keys and starts with
//
//	HASH = prf(SKEYID_a, M-ID | ATTR)
//
// in both directions (no nonces, unlike Quick Mode). A request and its
// reply share a message ID and chain their CBC IV; each new request
// (REQUEST or SET) takes a fresh message ID and starts from the phase 1
// IV (RFC 2409 appendix B), as Quick Mode does.

// Configuration message types of the attribute payload.
const (
	CfgRequest uint8 = 1
	CfgReply   uint8 = 2
	CfgSet     uint8 = 3
	CfgAck     uint8 = 4
)

var cfgTypeNames = [...]string{CfgRequest: "REQUEST", CfgReply: "REPLY", CfgSet: "SET", CfgAck: "ACK"}

func cfgTypeName(t uint8) string { return nameIn(cfgTypeNames[:], int(t), "CFG(%d)") }

// txn is one Transaction exchange (a request and its answer) of an IKE
// SA, in either direction.
type txn struct {
	mid     uint32
	iv      []byte // the next IV of this exchange
	lastIn  []byte // the peer's last message, to recognise retransmissions
	lastOut []byte // what we sent last, re-sent for a retransmission
}

// newTxn is an exchange under message ID mid: a fresh one
// (newMessageID) for ours, the peer's for one it started.
func newTxn(sec *p1Secrets, mid uint32) *txn {
	return &txn{mid: mid, iv: sec.exchangeIV(mid)}
}

// open decrypts and authenticates the next message of t and checks the
// payloads every Transaction message carries (HASH, one attribute
// payload; txnPayloads). A message whose HASH does not verify returns
// errUnauthenticated, one with other payloads ErrMalformed; either
// leaves t as it was. The attribute payload's type then picks the row of
// transactionTable (ra.go).
func (t *txn) open(sec *p1Secrets, pkt []byte) (*AttributesPayload, error) {
	m, next, err := openHashed(sec, pkt, t.iv, [][]byte{be32(t.mid)}, true, "Transaction HASH")
	if err != nil {
		return nil, err
	}
	if err := checkPayloads("Transaction message", txnPayloads, 0, m); err != nil {
		return nil, err
	}
	ap := Find[*AttributesPayload](m)
	t.iv, t.lastIn = next, pkt
	return ap, nil
}
