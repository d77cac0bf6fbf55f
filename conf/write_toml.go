package conf

import (
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"bytes"
	"tinyipsec/internal/algo"
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
	tw := &TOMLWriter{}
	tw.config(c)
	if tw.Err != nil {
		return tw.Err
	}
	_, err := w.Write(tw.Bytes())
	return err
}

// TOMLWriter collects a TOML file in memory (a few kilobytes) for
// WriteTOML and the Cisco importer, so that both quote strings one way.
// Each method writes one line; keys are written as given. A bytes.Buffer
// rather than bufio.Writer, which the daemon links nowhere else, and
// typed methods rather than format strings, whose boxed arguments cost
// more machine code at every call (flash).
type TOMLWriter struct {
	b bytes.Buffer
	// Err is the first string that was not valid UTF-8 (TOML strings
	// must be): it is written with U+FFFD in place of the bad bytes.
	Err error
	// exact writes strings as LEN:bytes instead of quoting them: not
	// TOML, but every string exactly (the Fingerprint).
	exact bool
}

// Bytes is what was written.
func (tw *TOMLWriter) Bytes() []byte { return tw.b.Bytes() }

// Raw writes s as it is.
func (tw *TOMLWriter) Raw(s string) { tw.b.WriteString(s) }

// Table starts a table after a blank line, with "# comment" above its
// header ("[[keyring]]") when comment is not empty.
func (tw *TOMLWriter) Table(comment, header string) {
	tw.b.WriteByte('\n')
	if comment != "" {
		tw.b.WriteString("# ")
		tw.b.WriteString(comment)
		tw.b.WriteByte('\n')
	}
	tw.b.WriteString(header)
	tw.b.WriteByte('\n')
}

// Value writes key = v, v already in TOML syntax.
func (tw *TOMLWriter) Value(key, v string) {
	tw.b.WriteString(key)
	tw.b.WriteString(" = ")
	tw.b.WriteString(v)
	tw.b.WriteByte('\n')
}

// Str writes key = "v".
func (tw *TOMLWriter) Str(key, v string) { tw.Value(key, tw.quote(key, v)) }

// Int writes key = n.
func (tw *TOMLWriter) Int(key string, n int64) { tw.Value(key, strconv.FormatInt(n, 10)) }

// Bool writes key = true or false.
func (tw *TOMLWriter) Bool(key string, v bool) {
	s := "false" // not strconv.FormatBool, linked for nothing else (flash)
	if v {
		s = "true"
	}
	tw.Value(key, s)
}

// StrList writes key = ["a", "b"].
func (tw *TOMLWriter) StrList(key string, vs []string) {
	var l strings.Builder
	l.WriteByte('[')
	for i, v := range vs {
		if i > 0 {
			l.WriteString(", ")
		}
		l.WriteString(tw.quote(key, v))
	}
	l.WriteByte(']')
	tw.Value(key, l.String())
}

func (tw *TOMLWriter) quote(key, v string) string {
	if tw.exact {
		return strconv.Itoa(len(v)) + ":" + v
	}
	if tw.Err == nil && !utf8.ValidString(v) {
		tw.Err = errors.New("conf: " + key + " is not valid UTF-8 and cannot be written as TOML")
	}
	return TOMLString(v)
}

// formatDuration writes whole hours, minutes or seconds: "24h", "90m",
// "45s". The durations it is given are validated ones, whole seconds and
// at most a day, so after one 64-bit division the rest is done in int:
// each 64-bit division or remainder is a runtime call on a 32-bit router
// (flash).
func formatDuration(d time.Duration) string {
	s := int(d / time.Second)
	switch {
	case s == 0:
		return "0s"
	case s%3600 == 0:
		return strconv.Itoa(s/3600) + "h"
	case s%60 == 0:
		return strconv.Itoa(s/60) + "m"
	}
	return strconv.Itoa(s) + "s"
}

func (tw *TOMLWriter) config(c *Config) {
	g := c.Global
	tw.Raw("[global]\n")
	tw.Str("log_level", g.LogLevel)
	listen := make([]string, len(g.Listen))
	for i, a := range g.Listen {
		listen[i] = a.String()
	}
	tw.StrList("listen", listen)
	tw.Str("tun", g.Tun)
	tw.Int("mtu", int64(g.MTU))
	tw.Str("control_socket", g.ControlSocket)
	tw.Bool("allow_weak", g.AllowWeak)
	if g.DHKeysReady != DefaultDHKeysReady {
		tw.Int("dh_keys_ready", int64(g.DHKeysReady))
	}

	for _, p := range c.Policies {
		tw.Table("", "[[isakmp_policy]]")
		tw.Int("priority", int64(p.Priority))
		tw.Str("encryption", string(p.Encryption))
		tw.Str("hash", string(p.Hash))
		tw.Str("authentication", string(p.Auth))
		tw.Int("group", int64(p.Group))
		tw.Str("lifetime", formatDuration(p.Lifetime))
	}

	for _, ts := range c.TransformSets {
		tw.Table("", "[transform_set."+tomlKey(ts.Name)+"]")
		if ts.ESP != algo.CipherNone {
			tw.Str("esp", string(ts.ESP))
		}
		if ts.ESPAuth != algo.HashNone {
			tw.Str("esp_auth", string(ts.ESPAuth))
		}
		if ts.AH != algo.HashNone {
			tw.Str("ah", string(ts.AH))
		}
		tw.Str("mode", string(ts.Mode))
	}

	for _, a := range c.ACLs {
		tw.Table("", "[acl."+tomlKey(a.Name)+"]")
		tw.Raw("rules = [\n")
		for _, r := range a.Rules {
			tw.Raw("  " + TOMLString(r.Text) + ",\n")
		}
		tw.Raw("]\n")
	}

	for _, e := range c.Keyring {
		tw.Table("", "[[keyring]]")
		if e.Identity.Type != "" {
			tw.Str("identity", e.Identity.String())
		} else {
			tw.Str("address", e.Address.String())
		}
		if e.PSKFile != "" {
			tw.Str("psk_file", e.PSKFile)
		} else {
			tw.Str("psk", string(e.PSK))
		}
	}

	for _, m := range c.CryptoMaps {
		tw.cryptoMap(m)
	}
}

func (tw *TOMLWriter) cryptoMap(m *CryptoMap) {
	tw.Table("", "[[crypto_map]]")
	tw.Str("name", m.Name)
	tw.Int("seq", int64(m.Seq))
	tw.Str("keying", string(m.Keying))
	tw.Str("peer", m.Peer)
	if m.Local.IsValid() {
		tw.Str("local", m.Local.String())
	}
	if !m.RemoteAccessGateway() && !m.RemoteAccessClient() {
		tw.Str("match", m.Match)
	}
	tw.StrList("transform_set", m.TransformSet)
	tw.Int("replay_window", int64(m.ReplayWindow))
	tw.Bool("esn", m.ESN)
	if k := m.Manual; k != nil {
		tw.Int("spi_in", int64(k.SPIIn))
		tw.Int("spi_out", int64(k.SPIOut))
		// The keys in the order manualOnlyKeys[2:8] names them: a loop,
		// not a callback per key, which was two functions (flash).
		for i, v := range [...]Secret{k.ESPKeyIn, k.ESPKeyOut, k.ESPAuthKeyIn, k.ESPAuthKeyOut, k.AHKeyIn, k.AHKeyOut} {
			if len(v) > 0 {
				tw.Value(manualOnlyKeys[2+i], `"`+hex.EncodeToString(v)+`"`)
			}
		}
		if ts := m.TransformSets; len(ts) == 1 && ts[0].AH != algo.HashNone && ts[0].ESP != algo.CipherNone {
			tw.Int("ah_spi_in", int64(k.AHSPIIn))
			tw.Int("ah_spi_out", int64(k.AHSPIOut))
		}
		return
	}
	if m.LocalID.Type != "" {
		tw.Str("local_id", m.LocalID.String())
	}
	if m.RemoteID.Type != "" {
		tw.Str("remote_id", m.RemoteID.String())
	}
	switch {
	case m.PSKFile != "":
		tw.Str("psk_file", m.PSKFile)
	case len(m.PSK) > 0:
		tw.Str("psk", string(m.PSK))
	}
	if m.Cert != "" {
		tw.Str("cert", m.Cert)
		tw.Str("key", m.Key)
		tw.Str("ca", m.CA)
	}
	if m.PFS != 0 {
		tw.Int("pfs", int64(m.PFS))
	}
	tw.Str("lifetime", formatDuration(m.Lifetime))
	tw.Int("lifetime_kb", int64(m.LifetimeKB))
	tw.Str("exchange", string(m.Exchange))
	tw.Str("initiate", string(m.Initiate))
	tw.Str("dpd_delay", formatDuration(m.DPDDelay))
	if m.DPDDelay > 0 {
		tw.Str("dpd_timeout", formatDuration(m.DPDTimeout))
	}
	tw.Str("nat_t", string(m.NATT))
	// Remote access, either side.
	if m.RemoteAccessClient() {
		tw.Str("xauth_user", m.XAuthUser)
		if m.XAuthPasswordFile != "" {
			tw.Str("xauth_password_file", m.XAuthPasswordFile)
		} else {
			tw.Str("xauth_password", string(m.XAuthPassword))
		}
		tw.Str("modecfg", m.ModeCfg)
		if m.ResolvFile != "" {
			tw.Str("resolv_file", m.ResolvFile)
		}
	}
	if m.RemoteAccessGateway() {
		tw.Str("pool", m.PoolFirst.String()+"-"+m.PoolLast.String())
		tw.Str("modecfg", m.ModeCfg)
		tw.Str("xauth_users_file", m.XAuthUsersFile)
		var dns, split []string
		for _, a := range m.DNS {
			dns = append(dns, a.String())
		}
		for _, p := range m.SplitNetworks {
			split = append(split, p.String())
		}
		if len(dns) > 0 {
			tw.StrList("dns", dns)
		}
		if len(split) > 0 {
			tw.StrList("split_networks", split)
		}
	}
}
