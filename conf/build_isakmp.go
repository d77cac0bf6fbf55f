package conf

import (
	"crypto/sha256"
	"errors"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"tinyipsec/internal/algo"
)

// isakmpMap reads the keys of a crypto map keyed by IKE.
func (b *builder) isakmpMap(t *table, m *CryptoMap) {
	for _, id := range []struct {
		key string
		dst *Identity
	}{{"local_id", &m.LocalID}, {"remote_id", &m.RemoteID}} {
		if s, ok := t.str(id.key, ""); ok && s != "" {
			v, err := ParseIdentity(s)
			if err != nil {
				t.fail(id.key, err.Error())
			}
			*id.dst = v
		}
	}

	// The credentials: psk / psk_file / cert / key / ca, and a check that
	// at least one ISAKMP policy can use them (read here, the one caller:
	// flash).
	m.PSK, m.PSKFile = b.secretOrFile(t, "psk", "")

	var files [3]string
	var given int
	for i, k := range credentialKeys {
		if s, _ := t.str(k, ""); s != "" {
			files[i] = b.path(s)
			given++
		}
	}
	m.Cert, m.Key, m.CA = files[0], files[1], files[2]
	hasCert := given == 3
	if given > 0 && given < 3 {
		for i, k := range credentialKeys {
			if files[i] == "" {
				t.fail(k, "missing: cert, key and ca are needed together")
			}
		}
	}
	if given > 0 {
		h := sha256.New()
		for i, k := range credentialKeys {
			if files[i] == "" {
				continue
			}
			data, err := readSmallFile(files[i], maxPEMFile, false)
			if err != nil {
				t.fail(k, err.Error())
				continue
			}
			io.WriteString(h, k+" "+strconv.Itoa(len(data))+"\n")
			h.Write(data)
			switch k {
			case "cert":
				m.certPEM = data
			case "key":
				m.keyPEM = Secret(data)
			case "ca":
				m.caPEM = data
			}
		}
		h.Sum(m.credDigest[:0])
	}

	hasPSK := t.has("psk") || t.has("psk_file")
	switch {
	case !hasPSK && given == 0 && b.hasKeyring:
		// Pre-shared keys from the [[keyring]], chosen per peer.
	case !hasPSK && given == 0:
		b.fail(t.path, "no credentials: set psk or psk_file (pre-share), or cert, key and ca (rsa-sig, ecdsa-sig), or add [[keyring]] entries")
	case len(b.cfg.Policies) > 0: // else nothing to check against; reported elsewhere
		var policyPSK, policyCert bool
		for _, p := range b.cfg.Policies {
			if p.Auth == algo.PreShare {
				policyPSK = true
			} else {
				policyCert = true
			}
		}
		if hasPSK && !policyPSK {
			key := "psk"
			if t.has("psk_file") {
				key = "psk_file"
			}
			t.fail(key, "no isakmp_policy uses authentication = \"pre-share\"")
		}
		if hasCert && !policyCert {
			t.fail("cert", "no isakmp_policy uses authentication = \"rsa-sig\" or \"ecdsa-sig\"")
		}
	}

	if v, present, ok := t.scalar("pfs"); present && ok {
		// A DH group, or 0, "", "0" or "none" for no PFS.
		none := v == int64(0)
		if x, isStr := v.(string); isStr {
			x = strings.TrimSpace(strings.ToLower(x))
			none = x == "" || x == "none" || x == "0"
		}
		if !none {
			g, err := parseDHGroup(v)
			switch {
			case err != nil:
				t.fail("pfs", err.Error())
			case g.Weak() && !b.cfg.Global.AllowWeak:
				t.fail("pfs", weakHint("DH group "+strconv.Itoa(int(g))))
			default:
				m.PFS = g
			}
		}
	}

	lt, ok := t.duration("lifetime", DefaultP2Lifetime)
	if ok && (lt < minLifetime(minP2Lifetime) || lt > maxP2Lifetime) {
		t.fail("lifetime", lt.String()+" is out of range 120s..86400s")
	}
	m.Lifetime = lt
	kb, ok := t.integer("lifetime_kb", 0, 0, maxLifetimeKB)
	if ok && kb != 0 && kb < minLifetimeKB {
		t.fail("lifetime_kb", strconv.FormatInt(kb, 10)+" is below the minimum of "+strconv.Itoa(minLifetimeKB)+" (or 0 for no volume limit)")
	}
	m.LifetimeKB = uint64(kb)

	exchange, _ := t.oneOf("exchange", string(ExchangeMain), exchanges[:])
	m.Exchange = Exchange(exchange)
	initiate := InitiateOnTraffic
	if m.Dynamic {
		initiate = InitiateNever
	}
	if m.RemoteAccessClient() {
		// The inner address and the networks come with the tunnel: no
		// traffic can ask for it before it is up.
		initiate = InitiateAlways
	}
	s, ok := t.oneOf("initiate", string(initiate), initiates[:])
	m.Initiate = Initiate(s)
	if ok && m.Dynamic && m.Initiate != InitiateNever {
		t.fail("initiate", "a crypto map with peer = \"dynamic\" only responds; use initiate = \"never\"")
	}
	natt, _ := t.oneOf("nat_t", string(NATTAuto), natts[:])
	m.NATT = NATT(natt)

	// DPD last: its returns end the map's reading.
	delay, ok := t.duration("dpd_delay", DefaultDPDDelay)
	if ok && delay > maxDPDDelay {
		t.fail("dpd_delay", delay.String()+" is longer than "+maxDPDDelay.String())
		return
	}
	m.DPDDelay = delay
	timeout, ok := t.duration("dpd_timeout", DefaultDPDTimeoutFactor*delay)
	if !ok {
		return
	}
	switch {
	case delay == 0 && t.has("dpd_timeout"):
		t.fail("dpd_timeout", "has no effect with dpd_delay = 0 (DPD off); remove it")
	case delay > 0 && timeout <= delay:
		t.fail("dpd_timeout", timeout.String()+" must be longer than dpd_delay ("+delay.String()+")")
	case timeout > maxDPDTimeout:
		t.fail("dpd_timeout", timeout.String()+" is longer than "+maxDPDTimeout.String())
	}
	m.DPDTimeout = timeout
}

// identityTypes are the identities written TYPE:VALUE. A static array:
// a slice literal in the function was built on the stack at every call;
// the prefixes are matched by hand, as strings.CutPrefix is linked for
// nothing but this package (flash).
var identityTypes = [...]string{"fqdn", "user-fqdn", "dn", "keyid"}

// ParseIdentity parses a local_id / remote_id value: an IPv4 or IPv6
// address, "fqdn:host.example", "user-fqdn:user@host.example" or
// "dn:C=CH, O=Example, CN=gw.example".
func ParseIdentity(s string) (Identity, error) {
	for _, typ := range identityTypes {
		if len(s) > len(typ) && s[len(typ)] == ':' && s[:len(typ)] == typ {
			v := strings.TrimSpace(s[len(typ)+1:])
			if v == "" {
				return Identity{}, errors.New(strconv.Quote(s) + " has an empty value after " + strconv.Quote(typ+":"))
			}
			if typ == "user-fqdn" && !strings.Contains(v, "@") {
				return Identity{}, errors.New(strconv.Quote(s) + ": a user-fqdn looks like user@host.example")
			}
			return Identity{Type: typ, Value: v}, nil
		}
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return Identity{}, errors.New(strconv.Quote(s) + " is not an identity (want an IP address, \"fqdn:NAME\", \"user-fqdn:USER@NAME\", \"dn:DN\" or \"keyid:GROUP\")")
	}
	a = a.Unmap()
	typ := "ipv6"
	if a.Is4() {
		typ = "ipv4"
	}
	return Identity{Type: typ, Value: a.String(), Addr: a}, nil
}

// String gives the identity as it is written in the configuration.
func (id Identity) String() string {
	switch id.Type {
	case "":
		return ""
	case "ipv4", "ipv6":
		return id.Addr.String()
	}
	return id.Type + ":" + id.Value
}
