// Package status is the report `tinyipsec status` prints: its types,
// defined once for the daemon that fills them, the IKE manager that
// supplies the phase 1 part and the tests that read them back, and its
// JSON and text (Cisco ASA style) renderings.
package status

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"tinyipsec/internal/jsonenc"
)

// Report is what `tinyipsec status` shows. The JSON field names are
// a contract with scripts, the rpcd plugin and LuCI.
type Report struct {
	Version  string    `json:"version"`
	Config   string    `json:"config"`
	UptimeS  int64     `json:"uptime_s"`
	IKESAs   []IKESA   `json:"ike_sas"`
	IPsecSAs []IPsecSA `json:"ipsec_sas"`
	// Drops counts packets the data plane dropped outside any SA (no SA
	// yet, queue full, cleartext that should have been encrypted, ...).
	Drops map[string]uint64 `json:"drops,omitempty"`
	// Bypassed counts packets routed towards a protected network that no
	// crypto ACL entry permits (deny lines): sent in cleartext.
	Bypassed uint64 `json:"bypassed,omitempty"`
	// KernelDrops counts packets the kernel dropped on the data plane's
	// sockets and TUN before the daemon saw them: tun_tx (routed into
	// the TUN, its queue full), tun_rx (written by the daemon, not
	// delivered), esp_socket (raw ESP/AH receive buffers full) and
	// udp_socket (IKE/NAT-T receive buffers full). Only non-zero
	// counters appear.
	KernelDrops map[string]uint64 `json:"kernel_drops,omitempty"`
	// IKEDrops counts IKE datagrams dropped or ignored, by reason
	// (malformed, no-sa, foreign-cookie, wrong-endpoint, cleartext-notify,
	// unauthenticated, replay, half-open-evicted, ...; see ike.DropReason),
	// and failed or timed-out negotiations. Only non-zero counters appear.
	IKEDrops map[string]uint64 `json:"ike_drops,omitempty"`
	// IKEHalfOpen is the number of Main Mode responders waiting for the
	// peer to prove its address (its MM3), which cost no SA yet.
	IKEHalfOpen int `json:"ike_half_open,omitempty"`
}

// Summary is what `tinyipsec status --summary` shows: the SAs counted,
// without rendering each (cheap enough for a monitor, or a test waiting
// for hundreds of tunnels, to ask every few milliseconds).
type Summary struct {
	IKESAs   int `json:"ike_sas"`
	IPsecSAs int `json:"ipsec_sas"`
}

// IKESA is one phase 1 SA, in the terms of Cisco ASA's
// "show crypto isakmp sa detail".
type IKESA struct {
	Peer          string `json:"peer"`
	Local         string `json:"local"`
	CryptoMap     string `json:"crypto_map,omitempty"`
	Role          string `json:"role"` // initiator|responder
	Type          string `json:"type"` // L2L
	State         string `json:"state"`
	Rekey         bool   `json:"rekey"`
	Hint          string `json:"hint,omitempty"`
	Exchange      string `json:"exchange"` // main|aggressive
	Encryption    string `json:"encryption"`
	Hash          string `json:"hash"`
	Group         int    `json:"group"`
	Auth          string `json:"auth"`
	LifetimeLeftS int64  `json:"lifetime_left_s"`
	NATT          bool   `json:"nat_t"`
	// Remote access (XAUTH + Mode-Config): waiting-for-xauth, configuring
	// or active; the XAUTH user, the assigned address, the DNS servers and
	// split networks pushed.
	RemoteAccess string   `json:"remote_access,omitempty"`
	User         string   `json:"user,omitempty"`
	Assigned     string   `json:"assigned,omitempty"`
	DNS          []string `json:"dns,omitempty"`
	Split        []string `json:"split,omitempty"`
	// RemoteID is the identity the peer authenticated with, and
	// RemotePort its outer UDP port: several peers may share an address.
	RemoteID   string `json:"remote_id,omitempty"`
	RemotePort uint16 `json:"remote_port,omitempty"`
}

// IPsecSA is one IPsec SA pair, as "show crypto ipsec sa" shows it.
type IPsecSA struct {
	Peer           string            `json:"peer"`
	Local          string            `json:"local,omitempty"`
	CryptoMap      string            `json:"crypto_map,omitempty"`
	LocalSelector  string            `json:"local_selector"`
	RemoteSelector string            `json:"remote_selector"`
	Protocol       string            `json:"protocol"` // esp|ah|ah+esp
	Mode           string            `json:"mode"`     // tunnel|transport
	SPIIn          string            `json:"spi_in"`
	SPIOut         string            `json:"spi_out"`
	Encryption     string            `json:"encryption"`
	Integrity      string            `json:"integrity"`
	Keying         string            `json:"keying,omitempty"` // isakmp|manual
	LifetimeLeftS  int64             `json:"lifetime_left_s"`
	LifetimeLeftKB int64             `json:"lifetime_left_kb,omitempty"`
	PktsIn         uint64            `json:"pkts_in"`
	PktsOut        uint64            `json:"pkts_out"`
	BytesIn        uint64            `json:"bytes_in"`
	BytesOut       uint64            `json:"bytes_out"`
	Drops          map[string]uint64 `json:"drops"`
	// WithoutIKESA: the IKE SA that negotiated the pair is gone (the
	// peer deleted it, or it expired); IKEv1 pairs live on until their
	// lifetime ends, a Delete names them, or a new IKE SA with the peer
	// takes them over.
	WithoutIKESA bool `json:"without_ike_sa,omitempty"`
}

// WriteJSON writes the report as `status --json` prints it:
// indented, as encoding/json's MarshalIndent would, with a final newline.
func WriteJSON(w io.Writer, r *Report) error {
	b, err := jsonenc.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteText prints the report in the layout Cisco ASA admins read
// every day, so that troubleshooting habits carry over.
func WriteText(w io.Writer, r *Report) {
	// The uptime as 12h03m09s. In int: 64-bit division is a runtime call
	// on a 32-bit router, and an uptime fits (flash).
	up := int(r.UptimeS)
	upb := strconv.AppendInt(nil, int64(up/3600), 10)
	upb = append(upb, 'h', byte('0'+up%3600/600), byte('0'+up%600/60), 'm', byte('0'+up%60/10), byte('0'+up%10), 's')
	fmt.Fprintf(w, "tinyipsec %s, configuration %s, up %s\n\nIKEv1 SAs:\n\n", r.Version, r.Config, upb)
	if len(r.IKESAs) == 0 {
		io.WriteString(w, "There are no IKEv1 SAs\n")
	}
	for i, sa := range r.IKESAs {
		fmt.Fprintf(w, "%d   IKE Peer: %s\n", i+1, sa.Peer)
		row(w, "Type", sa.Type, "Role", sa.Role)
		row(w, "Rekey", yesNo(sa.Rekey), "State", sa.State)
		if sa.Encryption != "" {
			row(w, "Encrypt", sa.Encryption, "Hash", sa.Hash)
			row(w, "Auth", sa.Auth, "Group", strconv.Itoa(sa.Group))
			row(w, "Lifetime", strconv.FormatInt(sa.LifetimeLeftS, 10), "Exchange", sa.Exchange)
		}
		if sa.Local != "" {
			row(w, "Local", sa.Local, "NAT-T", yesNo(sa.NATT))
		}
		if sa.RemoteID != "" {
			// Spokes behind one NAT share the peer address.
			row(w, "Peer ID", sa.RemoteID, "Port", strconv.Itoa(int(sa.RemotePort)))
		}
		if sa.RemoteAccess != "" {
			row(w, "User", sa.User, "RA state", sa.RemoteAccess)
			if sa.Assigned != "" {
				row(w, "Assigned", sa.Assigned, "DNS", strings.Join(sa.DNS, " "))
				split := strings.Join(sa.Split, " ")
				if split == "" {
					split = "none (all traffic through the tunnel)"
				}
				fmt.Fprintf(w, "    Split   : %s\n", split)
			}
		}
		if sa.Hint != "" {
			fmt.Fprintf(w, "    Hint    : %s\n", sa.Hint)
		}
		io.WriteString(w, "\n")
	}
	io.WriteString(w, "\nIPsec SAs:\n")
	if len(r.IPsecSAs) == 0 {
		io.WriteString(w, "\nThere are no ipsec sas\n")
	}
	for _, sa := range r.IPsecSAs {
		io.WriteString(w, "\n")
		if sa.CryptoMap != "" {
			fmt.Fprintf(w, "    Crypto map tag: %s, local addr: %s\n", sa.CryptoMap, sa.Local)
		}
		keying := sa.Keying
		if keying == "" {
			keying = "-"
		}
		// The lines every pair has, in one call: a call per line
		// repeated the writer and format arguments (flash).
		fmt.Fprintf(w, "      local ident:  %s\n"+
			"      remote ident: %s\n"+
			"      current_peer: %s\n"+
			"      #pkts encaps: %d, #bytes encaps: %d\n"+
			"      #pkts decaps: %d, #bytes decaps: %d\n"+
			"      #drops: %s\n"+
			"      protocol: %s, mode: %s, keying: %s\n"+
			"      inbound spi: %s, outbound spi: %s\n"+
			"      transform: %s\n",
			sa.LocalSelector, sa.RemoteSelector, sa.Peer, sa.PktsOut, sa.BytesOut, sa.PktsIn, sa.BytesIn,
			fmtDrops(sa.Drops), sa.Protocol, sa.Mode, keying, sa.SPIIn, sa.SPIOut,
			strings.TrimSpace(sa.Encryption+" "+sa.Integrity))
		if sa.LifetimeLeftS >= 0 {
			fmt.Fprintf(w, "      sa timing: remaining key lifetime (sec): %d\n", sa.LifetimeLeftS)
		}
		if sa.WithoutIKESA {
			io.WriteString(w, "      no IKE SA: kept until a new IKE SA with the peer takes it over, or until it expires\n")
		}
	}
	if len(r.Drops) > 0 {
		fmt.Fprintf(w, "\nData plane drops outside SAs: %s\n", fmtDrops(r.Drops))
	}
	if len(r.KernelDrops) > 0 {
		fmt.Fprintf(w, "\nKernel drops (sockets and TUN): %s\n", fmtDrops(r.KernelDrops))
	}
	if r.IKEHalfOpen > 0 {
		fmt.Fprintf(w, "\nIKE first messages waiting for the peer's proof of address: %d\n", r.IKEHalfOpen)
	}
	if len(r.IKEDrops) > 0 {
		fmt.Fprintf(w, "\nIKE input dropped: %s\n", fmtDrops(r.IKEDrops))
	}
	if r.Bypassed > 0 {
		fmt.Fprintf(w, "\nSent in cleartext (not permitted by any crypto ACL): %d packets\n", r.Bypassed)
	}
}

// row writes two "Key     : value" pairs side by side, the first padded
// to 35 columns: one formatting call for every row (flash).
func row(w io.Writer, k1, v1, k2, v2 string) {
	fmt.Fprintf(w, "    %-35s %-8s: %s\n", fmt.Sprintf("%-8s: %s", k1, v1), k2, v2)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func fmtDrops(d map[string]uint64) string {
	if len(d) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, strings.Compare) // shares crypto/x509's instantiation; sort.Strings would add one
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", k, d[k])
	}
	return b.String()
}
