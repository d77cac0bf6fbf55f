package acl

import (
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"strconv"
	"strings"
)

// ErrRemark is returned by ParseRule for "remark ..." lines. They are valid
// ACL content that matches nothing, so a config loader may skip them.
var ErrRemark = errors.New("remark")

// The parser's errors without arguments, made once as static data: an
// errors.New at each site was an allocation and its stores in line
// (flash).
var (
	errEmptyRule      = errors.New("empty rule")
	errNoProtocol     = errors.New("missing protocol")
	errIPv6WithIPv4   = errors.New("ipv6 with IPv4 addresses (use ip)")
	errNoHostAddress  = errors.New("missing address after host")
	errNeq            = errors.New("neq is not allowed in a crypto ACL (a proxy ID is one port range); use lt and gt lines")
	errLtZero         = errors.New("lt 0 matches no port")
	errGtMax          = errors.New("gt 65535 matches no port")
	errPortZero       = errors.New("port 0 cannot be matched")
	errFamilies       = errors.New("source and destination are different address families")
	errICMPWithIPv6   = errors.New("icmp with IPv6 addresses (use icmp6)")
	errICMPv6WithIPv4 = errors.New("icmp6 with IPv4 addresses (use icmp)")
)

// ParseRule parses one Cisco extended-ACL line as used in crypto ACLs:
//
//	permit|deny PROTO SRC [PORTS] DST [PORTS] [log]
//
// PROTO is ip (any), a keyword such as tcp, udp, icmp, icmp6, esp, ahp, gre
// or sctp, or a number; ipv6 means any protocol over IPv6 only, as in IOS
// IPv6 ACLs.
// Keywords are case-insensitive. Addresses are any, any4, any6, host ADDR,
// ADDR WILDCARD (IPv4) or ADDR/LEN (IPv4 or IPv6). Host bits under the mask
// are cleared silently, as IOS does. Port operators eq, lt, gt and range are
// accepted for tcp, udp and sctp; neq is rejected because a crypto ACL entry
// becomes one IKE proxy ID, and an ID is a single range.
//
// Errors are short and name the offending token, since the caller puts
// them next to the file, line and key.
func ParseRule(line string) (Rule, error) {
	var r Rule
	if err := parseRule(line, &r); err != nil {
		return Rule{}, err
	}
	return r, nil
}

// parseRule fills r; ParseRule returns the zero Rule on an error. Written
// through a pointer: each "return Rule{}, err" cleared the whole Rule
// (flash).
func parseRule(line string, r *Rule) error {
	p := &ruleParser{f: strings.Fields(line)}
	r.Text = strings.TrimSpace(line)

	action, ok := p.next()
	if !ok {
		return errEmptyRule
	}
	switch strings.ToLower(action) {
	case "permit":
		r.Permit = true
	case "deny":
	case "remark":
		return ErrRemark
	default:
		return errorf("unknown action %q (want permit or deny)", action)
	}

	proto, ok := p.next()
	if !ok {
		return errNoProtocol
	}
	var err error
	// "ipv6" is how IOS IPv6 ACLs say "any protocol"; it also pins the
	// family, so that "permit ipv6 any any" does not match IPv4.
	onlyV6 := strings.EqualFold(proto, "ipv6")
	if onlyV6 {
		proto = "ip"
	}
	if r.Proto, err = parseProto(proto); err != nil {
		return err
	}

	if err = p.address("source", &r.Src, &r.SrcAny); err != nil {
		return err
	}
	if err = p.ports(r.Proto, &r.SrcPorts); err != nil {
		return err
	}
	if err = p.address("destination", &r.Dst, &r.DstAny); err != nil {
		return err
	}
	if err = p.ports(r.Proto, &r.DstPorts); err != nil {
		return err
	}

	// Logging is a property of the hardware ACL on IOS; here it changes
	// nothing, but configs copied from a router must still load.
	if t, ok := p.peek(); ok && (strings.EqualFold(t, "log") || strings.EqualFold(t, "log-input")) {
		p.i++
	}
	if t, ok := p.peek(); ok {
		return errorf("unexpected %q", t)
	}

	if onlyV6 {
		if err := onlyIPv6(&r.Src, &r.SrcAny); err != nil {
			return err
		}
		if err := onlyIPv6(&r.Dst, &r.DstAny); err != nil {
			return err
		}
	}
	return checkFamilies(r)
}

// onlyIPv6 narrows one side of an "ipv6" line: any becomes ::/0, and an
// IPv4 prefix is an error.
//
//go:noinline
func onlyIPv6(p *netip.Prefix, isAny *bool) error {
	if *isAny {
		*p, *isAny = anyPrefix(true), false
	} else if p.Addr().Is4() {
		return errIPv6WithIPv4
	}
	return nil
}

// anyPrefix is 0.0.0.0/0 or ::/0, parsed: building them inline from
// netip.IPv4Unspecified is a kilobyte of 128-bit arithmetic on a 32-bit
// router (flash).
func anyPrefix(v6 bool) netip.Prefix {
	s := "0.0.0.0/0"
	if v6 {
		s = "::/0"
	}
	p, _ := netip.ParsePrefix(s)
	return p
}

// maskedPrefix is a/bits with the host bits cleared; bits < 0 means the
// whole address (host). Not inlined: 128-bit address arithmetic on a
// 32-bit router is long code, better once than at every use (flash).
//
//go:noinline
func maskedPrefix(a netip.Addr, bits int) netip.Prefix {
	if bits < 0 {
		bits = a.BitLen()
	}
	return netip.PrefixFrom(a, bits).Masked()
}

// masked is p.Masked() out of line, for the proxy ID checks: each inlined
// copy cost flash.
//
//go:noinline
func masked(p netip.Prefix) netip.Prefix { return p.Masked() }

// ruleParser walks the whitespace-separated tokens of one line.
type ruleParser struct {
	f []string
	i int
}

func (p *ruleParser) next() (string, bool) {
	if p.i >= len(p.f) {
		return "", false
	}
	p.i++
	return p.f[p.i-1], true
}

func (p *ruleParser) peek() (string, bool) {
	if p.i >= len(p.f) {
		return "", false
	}
	return p.f[p.i], true
}

func parseProto(tok string) (uint8, error) {
	if n, ok := lookup(protoNames[:], strings.ToLower(tok)); ok {
		return uint8(n), nil
	}
	if isDigits(tok) {
		n, err := strconv.ParseUint(tok, 10, 8)
		if err != nil {
			return 0, errorf("protocol %s out of range 0-255", tok)
		}
		return uint8(n), nil
	}
	return 0, errorf("unknown protocol %q", tok)
}

// address parses one SRC or DST specification into pfx and isAny. what
// is "source" or "destination", for messages. Every form ends in one
// store of the prefix (each store of a Prefix, which holds a pointer, is
// a copy with a write barrier: flash).
func (p *ruleParser) address(what string, pfx *netip.Prefix, isAny *bool) error {
	tok, ok := p.next()
	if !ok {
		return errorf("missing %s address", what)
	}
	var addr netip.Addr
	bits := -1 // the whole address
	switch low := strings.ToLower(tok); low {
	case "any":
		*isAny = true
		return nil
	case "any4", "any6":
		*pfx = anyPrefix(low == "any6")
		return nil
	case "host":
		a, ok := p.next()
		if !ok {
			return errNoHostAddress
		}
		var err error
		if addr, err = parseAddr(a); err != nil {
			return err
		}
	default:
		if strings.Contains(tok, "/") {
			pp, err := netip.ParsePrefix(tok)
			if err != nil || pp.Addr().Zone() != "" {
				return errorf("invalid prefix %q", tok)
			}
			addr, bits = pp.Addr(), pp.Bits()
			break
		}
		var err error
		if addr, err = parseAddr(tok); err != nil {
			return err
		}
		if addr.Is6() {
			return errorf("IPv6 address %s needs /LEN or host", tok)
		}
		w, ok := p.next()
		if !ok {
			return errorf("missing wildcard after %s", tok)
		}
		if bits, err = wildcardLen(w); err != nil {
			return err
		}
	}
	*pfx = maskedPrefix(addr, bits)
	return nil
}

func parseAddr(tok string) (netip.Addr, error) {
	a, err := netip.ParseAddr(tok)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, errorf("invalid address %q", tok)
	}
	return a, nil
}

// wildcardLen converts a Cisco wildcard (inverse mask) to a prefix length.
// Only contiguous wildcards (0s then 1s) describe a prefix; other
// wildcards match scattered address sets that no IKE proxy ID can carry.
func wildcardLen(tok string) (int, error) {
	a, err := netip.ParseAddr(tok)
	if err != nil || !a.Is4() {
		return 0, errorf("invalid wildcard %q", tok)
	}
	b := a.As4()
	w := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	if w&(w+1) != 0 {
		// A netmask pasted where IOS wants a wildcard is the usual
		// mistake (ASA syntax); say so rather than only "not contiguous".
		if inv := ^w; inv&(inv+1) == 0 {
			return 0, fmt.Errorf("wildcard %s is not contiguous (a netmask? use %s)", tok, netip.AddrFrom4([4]byte{byte(inv >> 24), byte(inv >> 16), byte(inv >> 8), byte(inv)}))
		}
		return 0, errorf("wildcard %s is not contiguous", tok)
	}
	return 32 - bits.OnesCount32(w), nil
}

// The port operators, in the order ports switches on them.
const (
	opEq = iota
	opLt
	opGt
	opRange
	opNeq
)

var portOps = [...]keyword{{"eq", opEq}, {"lt", opLt}, {"gt", opGt}, {"range", opRange}, {"neq", opNeq}}

// ports parses an optional port operator. Only protocols with ports may
// have one; for the others a port keyword is reported as such, not as a bad
// address, because that is what the admin meant.
func (p *ruleParser) ports(proto uint8, into *PortRange) error {
	*into = AnyPort
	tok, ok := p.peek()
	if !ok {
		return nil
	}
	op := strings.ToLower(tok)
	k, ok := lookup(portOps[:], op)
	if !ok {
		return nil
	}
	p.i++
	if !hasPorts(proto) {
		return errorf("port operator %q needs tcp, udp or sctp", tok)
	}
	if k == opNeq {
		return errNeq
	}
	a, err := p.port(op)
	if err != nil {
		return err
	}
	r := PortRange{a, a} // eq
	switch k {
	case opLt:
		if a == 0 {
			return errLtZero
		}
		r = PortRange{0, a - 1}
	case opGt:
		if a == 65535 {
			return errGtMax
		}
		r = PortRange{a + 1, 65535}
	case opRange:
		b, err := p.port(op)
		if err != nil {
			return err
		}
		if b < a {
			return fmt.Errorf("range %d %d is reversed", a, b)
		}
		r = PortRange{a, b}
	}
	// Port 0 alone cannot be told apart from "any" in a proxy ID.
	if r.Lo == 0 && r.Hi == 0 {
		return errPortZero
	}
	*into = r
	return nil
}

func (p *ruleParser) port(op string) (uint16, error) {
	tok, ok := p.next()
	if !ok {
		return 0, errorf("missing port after %s", op)
	}
	if n, ok := lookup(portNames[:], strings.ToLower(tok)); ok {
		return n, nil
	}
	if !isDigits(tok) {
		return 0, errorf("unknown port %q", tok)
	}
	n, err := strconv.ParseUint(tok, 10, 16)
	if err != nil {
		return 0, errorf("port %s out of range 0-65535", tok)
	}
	return uint16(n), nil
}

// checkFamilies rejects lines that can never match: an IPv4 source with an
// IPv6 destination, or an ICMP version that does not exist in the family.
func checkFamilies(r *Rule) error {
	// Each side's family: 0 for any, 4 or 6. The sides are read in
	// place; a list of the two copied both prefixes (flash).
	sf, df := 0, 0
	if !r.SrcAny {
		sf = 6
		if r.Src.Addr().Is4() {
			sf = 4
		}
	}
	if !r.DstAny {
		df = 6
		if r.Dst.Addr().Is4() {
			df = 4
		}
	}
	if sf != 0 && df != 0 && sf != df {
		return errFamilies
	}
	fam := max(sf, df) // the one known, or both alike
	switch {
	case fam == 6 && r.Proto == ProtoICMP:
		return errICMPWithIPv6
	case fam == 4 && r.Proto == ProtoICMPv6:
		return errICMPv6WithIPv4
	}
	return nil
}

// errorf is fmt.Errorf with one string argument, out of line: boxing the
// argument and building the argument list at each of fifteen sites was
// longer code than this call (flash).
//
//go:noinline
func errorf(format, arg string) error { return fmt.Errorf(format, arg) }

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
