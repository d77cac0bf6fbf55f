package testconf

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"tinyipsec/internal/algo"
)

// Manual describes one side of a manually keyed pair of daemons, A and B:
// crypto maps CMAP 10, 20, ... towards Peer, map i protecting Rules[i]
// (the one rule of its ACL VPNi, as this side writes it) with the
// transform set TS. A map's SPIs and keys are derived from Seed, the map's
// number and the direction, so A's file and B's, written apart, agree: A
// sends under what B receives.
type Manual struct {
	LogLevel         string // default debug
	Peer             string
	ESP, ESPAuth, AH string // the transform set's algorithms, "" for none
	Transport        bool
	Rules            []string
	B                bool // this is B: in and out swapped
	Seed             string
}

// SPIs of map i: A sends ESP under 0x10000+i, B under 0x20000+i; AH beside
// ESP (a bundle) uses these plus ahSPIOffset.
const (
	spiAToB     = 0x10000
	spiBToA     = 0x20000
	ahSPIOffset = 0x20000
)

// TOML renders the configuration; control is the control socket ("" for
// the default).
func (m Manual) TOML(control string) string {
	if m.LogLevel == "" {
		m.LogLevel = "debug"
	}
	mode := "tunnel"
	if m.Transport {
		mode = "transport"
	}
	var b strings.Builder
	b.WriteString(global(m.LogLevel, control, ""))
	b.WriteString(transformSet(m.ESP, m.ESPAuth, m.AH, mode))
	for i, rule := range m.Rules {
		n := i + 1
		fmt.Fprintf(&b, "\n[acl.VPN%d]\nrules = [%q]\n\n", n, rule)
		fmt.Fprintf(&b, "[[crypto_map]]\nname = \"CMAP\"\nseq = %d\nkeying = \"manual\"\npeer = %q\nmatch = \"VPN%d\"\ntransform_set = [\"TS\"]\n", n*10, m.Peer, n)
		in, out, spiIn, spiOut := "b2a", "a2b", spiBToA+n, spiAToB+n
		if m.B {
			in, out, spiIn, spiOut = out, in, spiOut, spiIn
		}
		fmt.Fprintf(&b, "spi_in = %d\nspi_out = %d\n", spiIn, spiOut)
		keys := func(name, what string, size int) {
			fmt.Fprintf(&b, "%s_in = %q\n%s_out = %q\n", name, m.key(in, n, what, size), name, m.key(out, n, what, size))
		}
		if c := algo.Cipher(m.ESP).Info(); c != nil {
			keys("esp_key", "enc", c.KeymatLen())
		}
		if h := algo.Hash(m.ESPAuth).Info(); h != nil {
			keys("esp_auth_key", "auth", h.Size)
		}
		if h := algo.Hash(m.AH).Info(); h != nil {
			keys("ah_key", "ah", h.Size)
			if m.ESP != "" {
				fmt.Fprintf(&b, "ah_spi_in = %d\nah_spi_out = %d\n", spiIn+ahSPIOffset, spiOut+ahSPIOffset)
			}
		}
	}
	return b.String()
}

// key is size deterministic key bytes, in hex, for one direction of map n.
func (m Manual) key(dir string, n int, what string, size int) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s %s %d %s", m.Seed, dir, n, what)))
	k := h[:]
	for len(k) < size {
		h2 := sha256.Sum256(k)
		k = append(k, h2[:]...)
	}
	return hex.EncodeToString(k[:size])
}

// Write writes the configuration as dir/tinyipsec.toml (mode 0600) with
// its control socket at dir/ctl.sock, and returns both paths.
func (m Manual) Write(dir string) (config, control string, err error) {
	return write(dir, m.TOML)
}
