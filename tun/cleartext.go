package tun

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"tinyipsec/internal/spawn"
)

// Cleartext policy: inbound traffic that a crypto ACL says must be
// encrypted is dropped when it arrives in the clear, like the inbound
// check of a Cisco crypto map.
//
// The packet paths only see what the kernel routes into the TUN, so a peer
// (or anyone spoofing its inside addresses) could otherwise reach the
// protected hosts unencrypted over the WAN. The check therefore lives in the
// kernel: an nftables table with input and forward chains that drop packets
// whose source/destination match a mirrored crypto ACL entry, unless they
// came in through the TUN (decrypted traffic) or over lo (the host talking
// to itself). ESP, AH and IKE (UDP 500 and 4500) are exempt, since in
// transport mode the ACL covers the outer addresses, and so is IPv6
// neighbour discovery.
//
// Each crypto map entry's ACL becomes its own chain, jumped to in crypto
// map order: a deny line returns from that chain (the entry does not cover
// the packet, the next entry may), a permit line drops, so the kernel
// evaluates the ACLs exactly as the outbound classifier does. The table is
// replaced atomically at start and deleted on shutdown.
//
// An output chain guards against routing loops: packets the data plane
// sends itself (ESP/AH, IKE, and cleartext that no crypto ACL entry
// permits) carry the bypass mark and must leave by the main table; should
// that table route them into the TUN anyway (say, a route an admin added
// for an "any" ACL), they would come straight back to the data plane,
// which would send them again, forever. They are dropped (and counted)
// instead.
//
// The rules are loaded with the nft command (present wherever nftables is,
// including OpenWrt's fw4) rather than nftables netlink messages: building
// rule expressions by hand would be several hundred lines of bytecode
// assembly for a handful of rules installed once.

// CleartextPolicy is an installed nftables table.
type CleartextPolicy struct {
	table string
}

// DefaultCleartextTable is the nftables table name (family inet).
const DefaultCleartextTable = "tinyipsec"

// InstallCleartextPolicy loads (or atomically replaces) table "inet
// <table>" with one group of rules per crypto map entry, in entry order,
// exempting packets received on tunName. bypassMark, when not 0, is the
// firewall mark of the data plane's own packets, which may never be
// routed into tunName (the loop guard).
func InstallCleartextPolicy(table, tunName string, bypassMark uint32, entries []Entry) (*CleartextPolicy, error) {
	script := CleartextScript(table, tunName, bypassMark, entries)
	if err := nft(script); err != nil {
		return nil, err
	}
	return &CleartextPolicy{table: table}, nil
}

// Remove deletes the table.
func (p *CleartextPolicy) Remove() error {
	if p == nil {
		return nil
	}
	return nft("delete table inet " + p.table + "\n")
}

func nft(script string) error {
	if out, err := spawn.Run("nft", []string{"-f", "-"}, script); err != nil {
		return fmt.Errorf("tun: nft: %v: %s", err, strings.TrimSpace(out))
	}
	return nil
}

// CleartextScript returns the nft script InstallCleartextPolicy loads:
// every entry's crypto ACL lines mirrored, since what we would send from
// Src to Dst must not arrive in the clear from Dst to Src. A permit line
// drops (must be encrypted), a deny line returns (exempt from encryption:
// stop checking). The lines are mirrored as they are written, and written
// into one builder as strings rather than through a fmt.Fprintf each and
// a list of parts per rule (flash; the output is the same,
// TestCleartextScriptGolden).
func CleartextScript(table, tunName string, bypassMark uint32, entries []Entry) string {
	var b strings.Builder
	// Declaring then deleting the table makes the load an atomic replace
	// whether or not the table existed.
	b.WriteString("table inet " + table + " {}\ndelete table inet " + table + "\ntable inet " + table + " {\n")
	for i := range entries {
		b.WriteString("\tchain entry" + strconv.Itoa(i) + " {\n")
		lines := entries[i].Lines
	rule:
		for j := range lines {
			// The rule line of l mirrored (its match and verdict), or
			// nothing when the line can never match an address family
			// (mixed families). The source is the remote side, l.Dst.
			l := &lines[j]
			fam := ""
			ends := [2]*netip.Prefix{&l.Dst, &l.Src}
			for _, p := range ends {
				if !p.IsValid() {
					continue
				}
				f := "ip"
				if p.Addr().Is6() {
					f = "ip6"
				}
				if fam != "" && fam != f {
					continue rule
				}
				fam = f
			}
			// Each part starts with the separator: a tab pair for the
			// first, a space for the others.
			sep := "\t\t"
			for i, p := range ends {
				if p.IsValid() {
					b.WriteString(sep + fam + [2]string{" saddr ", " daddr "}[i] + p.Masked().String())
					sep = " "
				}
			}
			if l.Proto != 0 {
				b.WriteString(sep + "meta l4proto " + strconv.Itoa(int(l.Proto)))
				sep = " "
				if l.Proto == 6 || l.Proto == 17 {
					if pr := portRange(l.DstPorts[0], l.DstPorts[1]); pr != "" {
						b.WriteString(" th sport " + pr)
					}
					if pr := portRange(l.SrcPorts[0], l.SrcPorts[1]); pr != "" {
						b.WriteString(" th dport " + pr)
					}
				}
			}
			if sep != " " {
				b.WriteString("\t\tmeta nfproto { ipv4, ipv6 }")
			}
			if l.Permit {
				b.WriteString(" counter drop\n")
			} else {
				b.WriteString(" return\n")
			}
		}
		b.WriteString("\t}\n")
	}
	for _, hook := range []string{"input", "forward"} {
		b.WriteString("\tchain " + hook + " {\n\t\ttype filter hook " + hook + " priority filter - 10; policy accept;\n")
		b.WriteString("\t\tiifname { " + strconv.Quote(tunName) + ", \"lo\" } return\n")
		b.WriteString("\t\tmeta l4proto { 50, 51 } return\n")
		b.WriteString("\t\tudp dport { 500, 4500 } return\n")
		// IPv6 neighbour discovery between the peers themselves (transport
		// mode) is link-local business and never protected.
		b.WriteString("\t\ticmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } return\n")
		for i := range entries {
			b.WriteString("\t\tjump entry" + strconv.Itoa(i) + "\n")
		}
		b.WriteString("\t}\n")
	}
	if bypassMark != 0 {
		b.WriteString("\tchain output {\n\t\ttype filter hook output priority filter - 10; policy accept;\n")
		fmt.Fprintf(&b, "\t\toifname %q meta mark 0x%x counter drop\n\t}\n", tunName, bypassMark)
	}
	b.WriteString("}\n")
	return b.String()
}

func portRange(lo, hi uint16) string {
	switch {
	case hi == 0 || (lo == 0 && hi == 65535):
		return ""
	case lo == hi:
		return strconv.Itoa(int(lo))
	default:
		return strconv.Itoa(int(lo)) + "-" + strconv.Itoa(int(hi))
	}
}
