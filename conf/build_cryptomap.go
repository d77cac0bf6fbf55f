package conf

import (
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// TestShortLifetimesEnv is a switch for tests only: with it set to "1" in
// the environment of `tinyipsec check` and `tinyipsec run`, phase 1 and
// phase 2 lifetimes down to 5 s are accepted, so that the rekey soak tests
// see a hundred rekeys in minutes instead of hours. Nothing else changes.
// A router must never run with it (a rekey every few seconds burns CPU
// for nothing); the daemon warns at start when it is set.
const TestShortLifetimesEnv = "TINYIPSEC_TEST_SHORT_LIFETIMES"

// minLifetime is the configuration minimum min, or 5 s under
// TestShortLifetimesEnv.
func minLifetime(min time.Duration) time.Duration {
	if os.Getenv(TestShortLifetimesEnv) == "1" {
		return 5 * time.Second
	}
	return min
}

// Phase 2 defaults and limits beyond those in model.go.
const (
	// DefaultDPDDelay: DPD (RFC 3706) is on by default so dead peers are
	// noticed without traffic; these are strongSwan's dpddelay/dpdtimeout
	// values, which IOS admins know as "crypto isakmp keepalive 30".
	DefaultDPDDelay = 30 * time.Second
	// DefaultDPDTimeoutFactor: dpd_timeout defaults to 5 x dpd_delay (150 s).
	DefaultDPDTimeoutFactor = 5
	// IOS "crypto ipsec security-association lifetime" ranges.
	minP2Lifetime   = 120 * time.Second
	maxP2Lifetime   = 86400 * time.Second
	minLifetimeKB   = 2560
	maxLifetimeKB   = 1<<32 - 1
	maxDPDDelay     = time.Hour
	maxDPDTimeout   = 24 * time.Hour
	minSPI          = 256 // 1..255 are reserved (RFC 4303 2.1)
	maxSPI          = 1<<32 - 1
	maxSeq          = 65535
	maxTransformSet = 6 // IOS accepts up to six transform sets per map entry
)

// Keys that only make sense with one kind of keying.
var (
	isakmpOnlyKeys = []string{"psk", "psk_file", "cert", "key", "ca", "local_id", "remote_id", "pfs",
		"lifetime", "lifetime_kb", "exchange", "initiate", "dpd_delay", "dpd_timeout", "nat_t",
		"xauth_user", "xauth_password", "xauth_password_file", "modecfg", "resolv_file",
		"xauth_users_file", "pool", "dns", "split_networks"}
	manualOnlyKeys = []string{"spi_in", "spi_out", "esp_key_in", "esp_key_out", "esp_auth_key_in",
		"esp_auth_key_out", "ah_key_in", "ah_key_out", "ah_spi_in", "ah_spi_out"}
)

// cryptoMap reads one [[crypto_map]]; nil when it has errors.
func (b *builder) cryptoMap(t *table, seen map[string]string) *CryptoMap {
	m := &CryptoMap{}
	nerr := len(b.errs)

	m.Name, _ = t.requiredStr("name")
	// Absent, integer gives 0 and ok, and need reports it missing.
	if seq, ok := t.integer("seq", 0, 1, maxSeq); ok && t.need("seq") {
		m.Seq = int(seq)
		if id := m.ID(); m.Name != "" {
			if first, dup := seen[id]; dup {
				t.fail("seq", "crypto map "+m.Name+" "+strconv.Itoa(m.Seq)+" is already defined by "+first)
			} else {
				seen[id] = t.path.String()
			}
		}
	}
	keying, _ := t.oneOf("keying", string(KeyingISAKMP), keyings[:])
	m.Keying = Keying(keying)

	if peer, ok := t.requiredStr("peer"); ok {
		// An address, a host name, or "dynamic".
		m.Peer = peer
		a, err := netip.ParseAddr(peer)
		switch {
		case peer == "dynamic":
			m.Dynamic = true
		case err == nil && (a.IsUnspecified() || a.IsMulticast()):
			t.fail("peer", a.String()+" cannot be a peer address")
		case err == nil:
			m.PeerAddr = a
		case !validHostname(peer):
			t.fail("peer", strconv.Quote(peer)+" is neither an IP address, a host name nor \"dynamic\"")
		}
	}
	if local, ok := t.str("local", ""); ok && local != "" {
		a, err := netip.ParseAddr(local)
		listed := len(b.cfg.Global.Listen) == 0 // no list: any address
		for _, l := range b.cfg.Global.Listen {
			listed = listed || l == a
		}
		switch {
		case err != nil:
			t.fail("local", strconv.Quote(local)+" is not an IP address")
		case !listed:
			t.fail("local", a.String()+" is not one of the global listen addresses")
		case m.PeerAddr.IsValid() && a.Is4() != m.PeerAddr.Is4():
			t.fail("local", a.String()+" and peer "+m.PeerAddr.String()+" are of different address families")
		default:
			m.Local = a
		}
	}

	if t.has("xauth_user") || t.has("pool") {
		// Remote access: the crypto ACL comes from Mode-Config.
		b.remoteAccess(t, m)
	} else if name, ok := t.requiredStr("match"); ok {
		m.Match = name
		if b.aclDefined[name] {
			// The ACL itself is missing from the list when it has errors
			// (reported there): m.ACL stays nil.
			for _, a := range b.cfg.ACLs {
				if a.Name == name {
					m.ACL = a
				}
			}
		} else {
			t.fail("match", "unknown ACL "+strconv.Quote(name))
		}
	}
	// The transform sets, in preference order.
	if names, ok := t.requiredList("transform_set", "required"); ok && len(names) == 0 {
		t.fail("transform_set", "needs at least one transform set")
	} else if ok {
		if len(names) > maxTransformSet {
			t.fail("transform_set", "at most "+strconv.Itoa(maxTransformSet)+" transform sets per crypto map")
		}
		listed := map[string]bool{}
		for i, name := range names {
			p := t.path.key("transform_set").index(i)
			switch {
			case !b.tsDefined[name]:
				b.fail(p, "unknown transform set "+strconv.Quote(name))
			case listed[name]:
				b.fail(p, "transform set "+strconv.Quote(name)+" is listed twice")
			default:
				listed[name] = true
				for _, ts := range b.cfg.TransformSets {
					if ts.Name == name {
						m.TransformSets = append(m.TransformSets, ts)
					}
				}
			}
		}
		m.TransformSet = names
	}

	rw, _ := t.integer("replay_window", DefaultReplayWindow, 0, MaxReplayWindow)
	m.ReplayWindow = int(rw)
	m.ESN, _ = t.boolean("esn", false)

	// The keys of the other kind of keying are rejected rather than
	// silently ignored.
	if m.Keying == KeyingManual {
		t.reject(isakmpOnlyKeys, `not used with keying = "manual"`)
		b.manualMap(t, m)
	} else {
		t.reject(manualOnlyKeys, `only used with keying = "manual"`)
		b.isakmpMap(t, m)
	}
	if len(b.errs) > nerr {
		return nil
	}
	return m
}

// validHostname checks RFC 1123 host name syntax (an optional final dot).
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	allDigits := true
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			switch {
			case c >= '0' && c <= '9':
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-':
				allDigits = false
			default:
				return false
			}
		}
	}
	// "10.1.2" is a typo of an address, not a host name.
	return !allDigits
}
