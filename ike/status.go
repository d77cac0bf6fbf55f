package ike

import (
	"net/netip"
	"time"
	"tinyipsec/internal/order"
	"tinyipsec/internal/status"
)

// IKESAStatus is one phase 1 SA for `tinyipsec status`; the report's
// types are defined once, in internal/status.
type IKESAStatus = status.IKESA

// SACount is the number of IKE SAs Status lists, without listing them.
func (m *Manager) SACount() int {
	m.mu.Lock()
	n := 0
	for _, sa := range m.sas {
		if !sa.dead() {
			n++
		}
	}
	m.mu.Unlock()
	return n
}

// second is time.Second in a variable, which Status divides durations by:
// a 64-bit division by a constant is spelled out in some seventy
// instructions on 32-bit routers, one by a variable is a call (flash).
var second = time.Second

// Status returns a snapshot of every IKE SA, sorted by peer.
func (m *Manager) Status() []IKESAStatus {
	now := monoNow()
	m.mu.Lock()
	out := []IKESAStatus{}
	for _, sa := range m.sas {
		if sa.dead() {
			continue
		}
		st := IKESAStatus{
			Peer:  hostString(&sa.remote),
			Local: hostString(&sa.local),
			Role:  "responder",
			Type:  "L2L",
			State: sa.stateName(),
			Rekey: sa.rekeying || sa.replaces != nil && sa.negotiating(),
		}
		if sa.initiator {
			st.Role = "initiator"
		}
		if sa.ms != nil {
			st.CryptoMap = sa.ms.cm.ID()
			st.Exchange = exchangeName(sa.ms.cm)
		}
		st.Hint = stateHint(st.State)
		if sa.negotiating() && sa.p1Note != "" {
			st.Hint = sa.p1Note + "; " + st.Hint
		}
		if st.Hint == "" && sa.p2Error != "" && len(sa.children) == 0 {
			st.Hint = sa.p2Error
		}
		if ra := sa.ra; ra != nil {
			st.Type = "RA"
			st.RemoteAccess, st.User = ra.phase.String(), ra.user
			if ra.phase != raActive {
				st.Hint = raHint(ra)
			}
			if l := ra.lease; l != nil {
				// The lists are made at their length: an append per
				// element is a growth path at each site (flash).
				for _, a := range [...]*netip.Addr{&l.IP4, &l.IP6} {
					if a.IsValid() {
						if st.Assigned != "" {
							st.Assigned += " "
						}
						st.Assigned += a.String()
					}
				}
				if len(l.DNS) > 0 {
					st.DNS = make([]string, len(l.DNS))
					for i := range l.DNS {
						st.DNS[i] = l.DNS[i].String()
					}
				}
				if len(l.Split) > 0 {
					st.Split = make([]string, len(l.Split))
					for i := range l.Split {
						st.Split[i] = l.Split[i].String()
					}
				}
			}
		}
		if o := sa.out; o != nil {
			st.Exchange, st.Encryption, st.Hash, st.Group, st.Auth = o.exchange, o.encryption, o.hash, o.group, o.auth
			st.LifetimeLeftS = max(0, int64(time.Duration(sa.expires-now)/second))
			st.NATT = o.natDetected
			st.RemoteID = o.peer.String()
		}
		st.RemotePort = sa.remote.Port()
		out = append(out, st)
	}
	// A map whose last phase 1 failed and that has no SA in progress shows
	// the failure: the state it stopped in and why.
	live := map[string]bool{}
	for i := range out {
		live[out[i].Peer] = true
	}
	for _, ms := range m.maps {
		for _, f := range ms.p1Failures {
			if live[f.peer] {
				continue
			}
			st := IKESAStatus{Peer: f.peer, Local: f.local, CryptoMap: ms.cm.ID(), Role: "responder", Type: "L2L",
				State: f.state, Exchange: exchangeName(ms.cm)}
			if f.initiator {
				st.Role = "initiator"
			}
			// How long ago, in whole seconds rounded as Duration.Round
			// would (not linked for this alone: flash).
			ago := (time.Duration(now-f.at) + time.Second/2) / second * time.Second
			st.Hint = "last attempt failed " + ago.String() + " ago: " + f.reason
			if h := stateHint(f.state); h != "" {
				st.Hint += "; " + h
			}
			out = append(out, st)
		}
	}
	order.Stable(len(out), func(i, j int) bool { return out[i].Peer < out[j].Peer },
		func(i, j int) { out[i], out[j] = out[j], out[i] })
	m.mu.Unlock()
	return out
}

// stateHints explain in plain words what usually keeps an SA in a state
// that should only be passing: a table searched by stateHint rather than
// a chain of string comparisons (flash).
var stateHints = [...]struct{ state, hint string }{
	{"MM_WAIT_MSG2", hintNoReply},
	{"AM_WAIT_MSG2", hintNoReply},
	{"MM_WAIT_MSG3", hintKeyExchange},
	{"MM_WAIT_MSG4", hintKeyExchange},
	{"MM_WAIT_MSG5", hintAuth},
	{"MM_WAIT_MSG6", hintAuth},
	{"AM_WAIT_MSG3", hintAuth},
	{"QM_WAIT_MSG2", hintQuick},
	{"QM_WAIT_MSG3", hintQuick},
}

const (
	hintNoReply     = "no reply from the peer: check the peer address, UDP 500 reachability and that a policy matches"
	hintKeyExchange = "key exchange stalled: check UDP 4500 through firewalls/NAT and that the DH group matches"
	hintAuth        = "authentication stalled: the pre-shared keys differ, or the certificate is not accepted"
	hintQuick       = "phase 2 stalled: PFS set on one end only, or the proxy IDs (crypto ACLs) or transform sets do not match"
)

// stateHint is the hint for a state, "" for a state that needs none.
func stateHint(state string) string {
	for i := range stateHints {
		if stateHints[i].state == state {
			return stateHints[i].hint
		}
	}
	return ""
}

// hostString is the address of an endpoint as text (by pointer: an
// AddrPort is six words on 32-bit, copied at each call).
func hostString(ap *netip.AddrPort) string {
	return ap.Addr().String()
}
