package conf

import (
	"bytes"
	"tinyipsec/internal/algo"

	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// WriteTOML prints c as TOML that loads back to the same model. It is the
// output of "tinyipsec uci": a conversion, so inline secrets (psk, manual
// keys) are printed; a psk_file stays a path. Every value is written
// explicitly, defaults included, so the result is also a reference of
// what the daemon runs with.
func WriteTOML(w io.Writer, c *Config) error {
	if c == nil {
		return errors.New("conf: nil configuration")
	}
	tw := &tomlWriter{}
	tw.config(c)
	if tw.err != nil {
		return tw.err
	}
	_, err := w.Write(tw.w.Bytes())
	return err
}

// tomlWriter collects the file in memory (a few kilobytes) and writes
// it at once; bytes.Buffer rather than bufio.Writer, which the daemon
// links nowhere else (flash).
type tomlWriter struct {
	w   bytes.Buffer
	err error
}

func (tw *tomlWriter) line(format string, args ...any) {
	fmt.Fprintf(&tw.w, format+"\n", args...)
}

// str writes key = "value"; TOML strings must be valid UTF-8.
func (tw *tomlWriter) str(key, v string) {
	if !utf8.ValidString(v) {
		if tw.err == nil {
			tw.err = fmt.Errorf("conf: %s is not valid UTF-8 and cannot be written as TOML", key)
		}
		return
	}
	tw.line("%s = %s", key, tomlString(v))
}

func (tw *tomlWriter) strList(key string, vs []string) {
	q := make([]string, len(vs))
	for i, v := range vs {
		if !utf8.ValidString(v) && tw.err == nil {
			tw.err = fmt.Errorf("conf: %s is not valid UTF-8 and cannot be written as TOML", key)
		}
		q[i] = tomlString(v)
	}
	tw.line("%s = [%s]", key, strings.Join(q, ", "))
}

// formatDuration writes whole hours, minutes or seconds: "24h", "90m", "45s".
func formatDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

func (tw *tomlWriter) config(c *Config) {
	g := c.Global
	tw.line("[global]")
	tw.str("log_level", g.LogLevel)
	listen := make([]string, len(g.Listen))
	for i, a := range g.Listen {
		listen[i] = a.String()
	}
	tw.strList("listen", listen)
	tw.str("tun", g.Tun)
	tw.line("mtu = %d", g.MTU)
	tw.str("control_socket", g.ControlSocket)
	tw.line("allow_weak = %t", g.AllowWeak)
	if g.DHKeysReady != DefaultDHKeysReady {
		tw.line("dh_keys_ready = %d", g.DHKeysReady)
	}

	for _, p := range c.Policies {
		tw.line("\n[[isakmp_policy]]")
		tw.line("priority = %d", p.Priority)
		tw.str("encryption", p.Encryption.String())
		tw.str("hash", p.Hash.String())
		tw.str("authentication", p.Auth.String())
		tw.line("group = %d", p.Group)
		tw.str("lifetime", formatDuration(p.Lifetime))
	}

	for _, name := range sortedKeys(c.TransformSets) {
		ts := c.TransformSets[name]
		tw.line("\n[transform_set.%s]", tomlKey(name))
		if ts.ESP != algo.CipherNone {
			tw.str("esp", ts.ESP.String())
		}
		if ts.ESPAuth != algo.HashNone {
			tw.str("esp_auth", ts.ESPAuth.String())
		}
		if ts.AH != algo.HashNone {
			tw.str("ah", ts.AH.String())
		}
		tw.str("mode", string(ts.Mode))
	}

	for _, name := range sortedKeys(c.ACLs) {
		a := c.ACLs[name]
		tw.line("\n[acl.%s]", tomlKey(name))
		tw.line("rules = [")
		for _, r := range a.Rules {
			tw.line("  %s,", tomlString(r.Text))
		}
		tw.line("]")
	}

	for _, e := range c.Keyring {
		tw.line("\n[[keyring]]")
		if e.Identity.Type != "" {
			tw.str("identity", e.Identity.String())
		} else {
			tw.str("address", e.Address.String())
		}
		if e.PSKFile != "" {
			tw.str("psk_file", e.PSKFile)
		} else {
			tw.str("psk", string(e.PSK))
		}
	}

	for _, m := range c.CryptoMaps {
		tw.cryptoMap(m)
	}
}

func (tw *tomlWriter) cryptoMap(m *CryptoMap) {
	tw.line("\n[[crypto_map]]")
	tw.str("name", m.Name)
	tw.line("seq = %d", m.Seq)
	tw.str("keying", string(m.Keying))
	tw.str("peer", m.Peer)
	if m.Local.IsValid() {
		tw.str("local", m.Local.String())
	}
	if !m.RemoteAccessGateway() && !m.RemoteAccessClient() {
		tw.str("match", m.Match)
	}
	tw.strList("transform_set", m.TransformSet)
	tw.line("replay_window = %d", m.ReplayWindow)
	tw.line("esn = %t", m.ESN)
	if m.Manual != nil {
		tw.manual(m.Manual, m.TransformSets)
		return
	}
	if m.LocalID.Type != "" {
		tw.str("local_id", m.LocalID.String())
	}
	if m.RemoteID.Type != "" {
		tw.str("remote_id", m.RemoteID.String())
	}
	switch {
	case m.PSKFile != "":
		tw.str("psk_file", m.PSKFile)
	case len(m.PSK) > 0:
		tw.str("psk", string(m.PSK))
	}
	if m.Cert != "" {
		tw.str("cert", m.Cert)
		tw.str("key", m.Key)
		tw.str("ca", m.CA)
	}
	if m.PFS != 0 {
		tw.line("pfs = %d", m.PFS)
	}
	tw.str("lifetime", formatDuration(m.Lifetime))
	tw.line("lifetime_kb = %d", m.LifetimeKB)
	tw.str("exchange", string(m.Exchange))
	tw.str("initiate", string(m.Initiate))
	tw.str("dpd_delay", formatDuration(m.DPDDelay))
	if m.DPDDelay > 0 {
		tw.str("dpd_timeout", formatDuration(m.DPDTimeout))
	}
	tw.str("nat_t", string(m.NATT))
	tw.remoteAccess(m)
}

func (tw *tomlWriter) remoteAccess(m *CryptoMap) {
	if m.RemoteAccessClient() {
		tw.str("xauth_user", m.XAuthUser)
		if m.XAuthPasswordFile != "" {
			tw.str("xauth_password_file", m.XAuthPasswordFile)
		} else {
			tw.str("xauth_password", string(m.XAuthPassword))
		}
		tw.str("modecfg", m.ModeCfg)
		if m.ResolvFile != "" {
			tw.str("resolv_file", m.ResolvFile)
		}
	}
	if m.RemoteAccessGateway() {
		tw.str("pool", m.PoolFirst.String()+"-"+m.PoolLast.String())
		tw.str("modecfg", m.ModeCfg)
		tw.str("xauth_users_file", m.XAuthUsersFile)
		var dns, split []string
		for _, a := range m.DNS {
			dns = append(dns, a.String())
		}
		for _, p := range m.SplitNetworks {
			split = append(split, p.String())
		}
		if len(dns) > 0 {
			tw.strList("dns", dns)
		}
		if len(split) > 0 {
			tw.strList("split_networks", split)
		}
	}
}

func (tw *tomlWriter) manual(k *ManualKeys, ts []*TransformSet) {
	tw.line("spi_in = %d", k.SPIIn)
	tw.line("spi_out = %d", k.SPIOut)
	k.eachKey(func(key string, v Secret) {
		if len(v) > 0 {
			tw.line("%s = \"%x\"", key, []byte(v))
		}
	})
	if len(ts) == 1 && ts[0].AH != algo.HashNone && ts[0].ESP != algo.CipherNone {
		tw.line("ah_spi_in = %d", k.AHSPIIn)
		tw.line("ah_spi_out = %d", k.AHSPIOut)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, strings.Compare) // shares crypto/x509's instantiation; sort.Strings would add one
	return keys
}
