package ike

import (
	"errors"

	"tinyipsec/conf"
)

// Hot reload. Crypto maps are matched by ID ("name/seq") and compared by
// conf.CryptoMap.Fingerprint, which covers everything that shapes their
// tunnels (ACL rules, transform sets, ISAKMP policies, keys, certificate
// contents):
//
//   - unchanged: the map keeps its IKE and IPsec SAs, the ACL lines it
//     wants and its backoff; traffic never notices the reload;
//   - changed or removed: its IPsec SAs are deleted (Delete notification to
//     the peer, pair taken out of the data plane) and its Quick Modes in
//     progress abandoned; an IKE SA negotiated for it goes too (Delete)
//     unless it still carries IPsec SAs of a kept map with the same peer,
//     which then takes it over (phase 1 is per peer, so maps that share a
//     peer share the IKE SA);
//   - new (or changed): starts as at startup, initiate = always at once,
//     on-traffic when the data plane asks.

// ReloadResult lists what Reload did, by crypto map ID.
type ReloadResult struct {
	Kept    []string // same fingerprint: SAs kept
	Changed []string // SAs deleted; renegotiated under the new settings
	Removed []string // SAs deleted
	Added   []string
}

// newMapState is the manager's initial view of an IKE-keyed crypto map:
// its compiled ACL and one proxy ID per permit line.
func newMapState(cm *conf.CryptoMap) *mapState {
	ms := &mapState{cm: cm, wanted: map[int]bool{}}
	if cm.ACL != nil {
		ms.acl = cm.ACL.List() // shared with the data plane
		for i := range ms.acl.Len() {
			if s, ok := ms.acl.ProxyID(i, false); ok {
				ms.rules = append(ms.rules, proxyRule{index: i, sel: s})
			}
		}
	}
	return ms
}

// Reload switches to c, an already validated configuration; see above.
// The IPsec SAs of changed and removed maps are gone from the data plane
// when it returns. ISAKMP policy and allow_weak changes apply to phase 1
// negotiations from now on (the policies are part of every map's
// fingerprint, so their maps are renegotiated).
func (m *Manager) Reload(c *conf.Config) (ReloadResult, error) {
	var res ReloadResult
	if c == nil {
		return res, errors.New("ike: reload without a configuration")
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return res, errors.New("ike: manager closed")
	}
	now := monoNow()
	old := make(map[string]*mapState, len(m.maps))
	for _, ms := range m.maps {
		old[ms.cm.ID()] = ms
	}
	kept := map[*mapState]bool{}
	var next []*mapState
	for _, cm := range c.CryptoMaps {
		if !cm.IKEKeyed() {
			continue
		}
		id := cm.ID()
		prev := old[id]
		old[id] = nil // in the new configuration: not removed
		// One append per list, the case choosing the map and the list
		// (each append is its own growth path; flash).
		ms, list := prev, &res.Kept
		switch {
		case prev != nil && prev.cm.Fingerprint() == cm.Fingerprint():
			// Same settings: point at the new configuration's object so
			// that nothing keeps the old one alive.
			prev.cm = cm
			kept[prev] = true
		case prev != nil:
			ms, list = newMapState(cm), &res.Changed
		default:
			ms, list = newMapState(cm), &res.Added
		}
		push(&next, ms)
		*list = append(*list, id)
	}
	var retired []*mapState
	for _, ms := range m.maps {
		if kept[ms] {
			continue
		}
		push(&retired, ms)
		if id := ms.cm.ID(); old[id] == ms {
			res.Removed = append(res.Removed, id)
		}
	}
	m.cfg.Conf = c
	m.maps = next
	// Everything that belongs to a changed or removed crypto map goes.
	for _, ms := range retired {
		for i, o := range m.orphans {
			if o.c.ms == ms {
				m.log.Info("deleting IPsec SA of a changed or removed crypto map", "crypto_map", ms, "peer", &o.remote)
				m.dropOrphan(o)
				m.orphans[i] = nil
			} else if o.ms == ms {
				o.ms = o.c.ms // adopted by an IKE SA of the map that carries it
			}
		}
		m.orphans = withoutNil(m.orphans)
		for _, sa := range snapshot(m.sas) {
			if sa.dead() {
				continue
			}
			for _, c := range snapshot(sa.children) {
				if c.ms == ms {
					m.log.Info("deleting IPsec SA of a changed or removed crypto map", "crypto_map", ms, "peer", &sa.remote)
					m.removeChild(sa, c, true)
				}
			}
			for mid, qs := range sa.qms {
				if qs.ms == ms {
					m.dropQM(sa, mid)
				}
			}
			if sa.ms != ms {
				continue
			}
			// A kept crypto map with IPsec SAs on sa?
			var heir *mapState
			for _, c := range sa.children {
				if kept[c.ms] {
					heir = c.ms
					break
				}
			}
			if heir != nil {
				// The IKE SA still carries a kept map's IPsec SAs: that map
				// takes it over (rekeying, DPD) instead of losing them.
				sa.ms = heir
				continue
			}
			m.deleteIKE(sa, true, "crypto map changed or removed")
		}
	}
	if m.started {
		m.tickMaps(nil, monoNow())
	}
	m.prepareKeys()
	// Changed maps change their SAs' timers: every SA is looked at.
	m.scheduleAll(now)
	m.mu.Unlock()
	return res, nil
}
