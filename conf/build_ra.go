package conf

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"

	"tinyipsec/acl"
)

// Remote access (XAUTH + Mode-Config) keys of a crypto map:
//
//	client:  xauth_user, xauth_password | xauth_password_file, modecfg, resolv_file
//	gateway: pool, xauth_users_file, dns, split_networks (peer = "dynamic")
//
// The crypto ACL of such a map is not written by the admin: a client's
// comes from what the gateway assigns, a gateway's from its pool.

const (
	// MaxPoolSize bounds a gateway's address pool: one ACL line (and one
	// possible client) per address.
	MaxPoolSize = 1024
	maxUsers    = 4096
)

// The keys only one side of remote access uses (besides xauth_user and
// pool, which tell the sides apart).
var (
	raClientKeys  = [...]string{"xauth_password", "xauth_password_file", "resolv_file"}
	raGatewayKeys = [...]string{"xauth_users_file", "dns", "split_networks"}
)

func (b *builder) remoteAccess(t *table, m *CryptoMap) {
	if t.has("match") {
		t.get("match")
		t.fail("match", "not used with remote access: the networks come from Mode-Config (xauth_user) or the pool (pool)")
	}
	if t.has("xauth_user") && t.has("pool") {
		t.fail("pool", "a crypto map is either a remote-access client (xauth_user) or a gateway (pool), not both")
		return
	}
	if k, _ := t.m["keying"].(string); k == "manual" {
		return // reported as isakmp-only keys
	}
	// Each side written here, its one caller (two functions fewer: flash).
	if t.has("xauth_user") {
		user, _ := t.requiredStr("xauth_user")
		if user == "" && t.has("xauth_user") {
			t.fail("xauth_user", "must not be empty")
		}
		m.XAuthUser = user
		m.XAuthPassword, m.XAuthPasswordFile = b.secretOrFile(t, "xauth_password", "xauth_user needs xauth_password or xauth_password_file")
		m.ModeCfg, _ = t.oneOf("modecfg", "pull", modeCfgs[:])
		if rf, ok := t.str("resolv_file", ""); ok && rf != "" {
			m.ResolvFile = b.path(rf)
		}
		if m.Dynamic {
			t.fail("xauth_user", "a remote-access client needs the gateway's address as peer, not \"dynamic\"")
		}
		if !t.has("psk") && !t.has("psk_file") {
			t.fail("xauth_user", "a remote-access client needs the group key: psk or psk_file")
		}
		t.reject(raGatewayKeys[:], "only used by a remote-access gateway (pool)")
		return
	}
	if !m.Dynamic && m.Peer != "" {
		t.fail("pool", "a remote-access gateway answers any client: set peer = \"dynamic\"")
	}
	if !t.has("psk") && !t.has("psk_file") {
		t.fail("pool", "a remote-access gateway needs the group key: psk or psk_file")
	}
	m.ModeCfg, _ = t.oneOf("modecfg", "pull", modeCfgs[:])
	t.reject(raClientKeys[:], "only used by a remote-access client (xauth_user)")
	if s, ok := t.str("pool", ""); ok {
		lo, hi, err := parsePool(s)
		if err != nil {
			t.fail("pool", err.Error())
		} else {
			m.PoolFirst = netip.AddrFrom4([4]byte{byte(lo >> 24), byte(lo >> 16), byte(lo >> 8), byte(lo)})
			m.PoolLast = netip.AddrFrom4([4]byte{byte(hi >> 24), byte(hi >> 16), byte(hi >> 8), byte(hi)})
			// The crypto ACL: traffic to each pool address, in PoolAddrs'
			// order (one walk through a pool, written once: flash).
			m.ACL = &ACL{Name: "pool:" + m.ID()}
			for _, a := range m.PoolAddrs() {
				m.ACL.Rules = append(m.ACL.Rules, PoolRule(a))
			}
			m.Match = m.ACL.Name
		}
	}
	if f, ok := t.requiredStr("xauth_users_file"); ok {
		// "user:hash" lines (htpasswd -B format: bcrypt hashes); #
		// starts a comment. Like a psk_file it must not be readable by
		// every user. Errors name the line, never its content.
		path := b.path(f)
		m.XAuthUsersFile = path
		data, err := readPSKFile(path)
		users := map[string]string{}
		line := 0
		var errs []string
		// Lines split by hand: bufio.Scanner is linked nowhere else, and a
		// range over strings.Lines compiles the body as a function (flash).
		for rest := string(data); rest != ""; {
			var text string
			text, rest, _ = strings.Cut(rest, "\n")
			line++
			s := strings.TrimSpace(text)
			if s == "" || s[0] == '#' {
				continue
			}
			user, hash, ok := strings.Cut(s, ":")
			var why string
			switch {
			case !ok || user == "":
				why = "expected user:hash"
			case !strings.HasPrefix(hash, "$2a$") && !strings.HasPrefix(hash, "$2b$") && !strings.HasPrefix(hash, "$2y$"):
				why = "the hash of user " + strconv.Quote(user) + " is not bcrypt (make it with htpasswd -nB " + user + ")"
			case users[user] != "":
				why = "user " + strconv.Quote(user) + " is listed twice"
			case len(users) >= maxUsers:
				why = "more than " + strconv.Itoa(maxUsers) + " users"
			default:
				users[user] = hash
				continue
			}
			errs = append(errs, "line "+strconv.Itoa(line)+": "+why) // one append site (flash)
		}
		switch {
		case err != nil:
			t.fail("xauth_users_file", err.Error())
		case len(errs) > 0:
			t.fail("xauth_users_file", strconv.Quote(path)+": "+strings.Join(errs, "; "))
		case len(users) == 0:
			t.fail("xauth_users_file", strconv.Quote(path)+" lists no users")
		default:
			m.XAuthUsers = users
		}
	}
	// Each element that does not parse is reported at its own path. Plain
	// loops: a parse callback for each list was two closures and a helper
	// (flash).
	dns, _ := t.strList("dns")
	for i, s := range dns {
		a, err := netip.ParseAddr(s)
		if err != nil {
			b.fail(t.path.key("dns").index(i), strconv.Quote(s)+" is not an IP address")
			continue
		}
		m.DNS = append(m.DNS, a)
	}
	split, _ := t.strList("split_networks")
	for i, s := range split {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			b.fail(t.path.key("split_networks").index(i), strconv.Quote(s)+" is not a network (address/length)")
			continue
		}
		m.SplitNetworks = append(m.SplitNetworks, p.Masked())
	}
}

// parsePool accepts "10.9.0.0/24" (its host addresses) or
// "10.9.0.10-10.9.0.50"; IPv4 only. It returns the bounds as 32-bit
// numbers, computed as such rather than by stepping netip.Addr.Next
// through the pool, 128-bit arithmetic on a 32-bit router (flash, and a
// /8 took 16 million steps before it was refused); the caller makes the
// two addresses.
func parsePool(s string) (lo, hi uint32, err error) {
	if p, perr := netip.ParsePrefix(s); perr == nil {
		if !p.Addr().Is4() || p.Bits() > 30 {
			return 0, 0, errors.New(strconv.Quote(s) + ": an IPv4 network of at least 4 addresses (/30) is needed")
		}
		lo = ipv4Number(p.Masked().Addr()) + 1         // the network address is not a host
		hi = lo + uint32(uint64(1)<<(32-p.Bits())) - 3 // nor is the broadcast address
	} else if a, z, ok := strings.Cut(s, "-"); ok {
		first, err := netip.ParseAddr(strings.TrimSpace(a))
		last, lerr := netip.ParseAddr(strings.TrimSpace(z))
		if err != nil || lerr != nil || !first.Is4() || !last.Is4() || last.Less(first) {
			return 0, 0, errors.New(strconv.Quote(s) + " is not an IPv4 range FIRST-LAST")
		}
		lo, hi = ipv4Number(first), ipv4Number(last)
	} else {
		return 0, 0, errors.New(strconv.Quote(s) + " is neither a network (10.9.0.0/24) nor a range (10.9.0.10-10.9.0.50)")
	}
	if hi-lo >= MaxPoolSize {
		return 0, 0, errors.New(strconv.Quote(s) + " has more than " + strconv.Itoa(MaxPoolSize) + " addresses")
	}
	return lo, hi, nil
}

func ipv4Number(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// PoolAddrs lists a gateway's pool addresses in order; line i of its
// synthesized crypto ACL is address i.
func (m *CryptoMap) PoolAddrs() []netip.Addr {
	if !m.PoolFirst.IsValid() {
		return nil
	}
	var out []netip.Addr
	for a := m.PoolFirst; ; a = a.Next() {
		out = append(out, a)
		if a == m.PoolLast || len(out) >= MaxPoolSize {
			return out
		}
	}
}

// PoolRule is the gateway's crypto ACL line for pool address a.
func PoolRule(a netip.Addr) acl.Rule {
	return acl.Rule{Permit: true, SrcAny: true, Dst: netip.PrefixFrom(a, 32), Text: "permit ip any host " + a.String()}
}
