package ike

import "bytes"

// IKEKey is what a packet analyser needs to decrypt one IKEv1 SA's
// encrypted messages (Wireshark's ikev1_decryption_table): the
// initiator's cookie names the SA, Ka is the phase 1 cipher key. The IVs
// it computes itself from the captured exchange.
type IKEKey struct {
	CookieI [8]byte
	Ka      []byte
	Peer    string
}

// ExportIKEKeys returns copies of the keys of every established IKE SA,
// for an admin who asked for them explicitly (tinyipsec keys --wireshark).
func (m *Manager) ExportIKEKeys() []IKEKey {
	m.mu.Lock()
	var out []IKEKey
	for _, sa := range m.sas {
		if sa.dead() || sa.out == nil || len(sa.out.sec.Ka) == 0 {
			continue
		}
		out = append(out, IKEKey{CookieI: sa.out.sec.CookieI, Ka: bytes.Clone(sa.out.sec.Ka), Peer: hostString(&sa.remote)})
	}
	m.mu.Unlock()
	return out
}
